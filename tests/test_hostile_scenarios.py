"""Hostile input: generated broken and adversarial scenario files never produce a traceback.

Every generated file either validates or is rejected with ``error: FILE: ...`` naming the key;
nothing hangs (pytest-timeout and hypothesis deadlines) and nothing crashes.
"""

from __future__ import annotations

import copy
import math
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import TOY_SCENARIO, invoke

BASE = tomllib.loads(TOY_SCENARIO)

HOSTILE_SCALARS = st.one_of(
    st.sampled_from(
        [
            math.nan,
            math.inf,
            -math.inf,
            -1,
            0,
            -0.0,
            10**18,
            2**63 - 1,
            1e308,
            "",
            "NaN",
            "ünïcødé ✓",
            "\u202e\u0000",
            "../../etc/passwd",
            True,
            False,
            "0x10",
            " 3 ",
        ]
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.booleans(),
)


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for i in range(depth):
        value = {f"level{i}": value}
    return value


HOSTILE_VALUES = st.one_of(
    HOSTILE_SCALARS,
    st.lists(HOSTILE_SCALARS, max_size=5),
    st.dictionaries(st.text(min_size=1, max_size=10), HOSTILE_SCALARS, max_size=4),
    st.integers(min_value=1, max_value=400).map(nested),
    st.sampled_from([[], {}, [[1, 2], [3]], list(range(200_000)), [0.0] * 3]),
)

KEYS = st.one_of(
    st.sampled_from(
        [
            "title",
            "trials",
            "seed",
            "store",
            "system",
            "phases",
            "power",
            "sweep",
            "variants",
            "plugins",
            "model",
            "streams",
            "snr_db",
            "budget_w",
            "linked",
            "fail_on_trial",
            "system.snr_db",
            "toy_quantisation",
            "bits",
            "sleep_s",
        ]
    ),
    st.text(min_size=1, max_size=12),
)


def _paths(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in table.items():
        found.append((*prefix, key))
        if isinstance(value, dict):
            found.extend(_paths(value, (*prefix, key)))
    return found


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    scenario = tomllib.loads(TOY_SCENARIO)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(scenario)
        action = draw(st.sampled_from(["replace", "delete", "add", "add"]))
        if action == "add" or not paths:
            tables = [()] + [p for p in paths if isinstance(_get(scenario, p), dict)]
            where = draw(st.sampled_from(tables))
            # a copy: sampled values ({}, [[1, 2], [3]]) are shared between examples, and a
            # later mutation may add to them
            _get(scenario, where)[draw(KEYS)] = copy.deepcopy(draw(HOSTILE_VALUES))
            continue
        path = draw(st.sampled_from(paths))
        parent = _get(scenario, path[:-1])
        if action == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(HOSTILE_VALUES))
    return scenario


def _get(table: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        table = table[key]
    return table


def assert_clean_outcome(path: Path, *extra: str) -> str:
    result = invoke("validate", str(path), *extra)
    assert "Traceback" not in result.output
    # a valid scenario may warn first (a component's plausibility warnings), one line each
    lines = result.output.splitlines(keepends=True)
    output = "".join(line for line in lines if not line.startswith("warning: "))
    if result.exit_code == 0:
        assert output.startswith(f"{path}: valid")
    else:
        assert result.exit_code == 2, output
        assert output.startswith(f"error: {path}"), output
        assert "key '" in output or "TOML" in output or "UTF-8" in output, output
    return output


fuzz_settings = settings(
    max_examples=300,
    deadline=10_000,  # a hang fails; a loaded CI machine may take a second or two
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)


@fuzz_settings
@given(scenario=mutated_scenarios())
def test_mutated_scenarios_are_accepted_or_clearly_rejected(tmp_path, scenario):
    path = tmp_path / "fuzz.toml"
    path.write_text(tomli_w.dumps(scenario))
    assert_clean_outcome(path)


@settings(
    max_examples=100, deadline=10_000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_arbitrary_text_is_rejected_clearly(tmp_path, text):
    path = tmp_path / "garbage.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_clean_outcome(path)


@settings(
    max_examples=50, deadline=10_000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(override=st.text(max_size=40))
def test_arbitrary_overrides_are_rejected_clearly(toy_scenario, override):
    result = invoke("validate", str(toy_scenario), "--set", override)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), result.output


@pytest.mark.parametrize(
    "text",
    [
        b"\xff\xfe binary",
        ("a = " + "[" * 5000 + "]" * 5000).encode(),
        ("[sweep." + ".".join(f"k{i}" for i in range(3000)) + "]\nx = [1]\n").encode(),
        TOY_SCENARIO.replace("system.snr_db = [0.0, 10.0, 20.0]", "system.snr_db = []").encode(),
    ],
    ids=["binary", "deep-array", "deep-table", "empty-sweep"],
)
def test_pathological_files(tmp_path, text):
    path = tmp_path / "odd.toml"
    path.write_bytes(text)
    assert_clean_outcome(path)


def test_huge_sweep_is_refused_up_front(tmp_path):
    text = TOY_SCENARIO.replace(
        "system.snr_db = [0.0, 10.0, 20.0]",
        "system.snr_db = [" + ", ".join(str(float(i)) for i in range(2000)) + "]\n"
        "system.budget_w = [" + ", ".join(str(float(i + 1)) for i in range(2000)) + "]",
    )
    path = tmp_path / "huge.toml"
    path.write_text(text)
    output = assert_clean_outcome(path)
    assert "key 'sweep'" in output and "4,000,000 points" in output


def test_sizes_beyond_memory_are_refused_up_front_with_an_estimate():
    quickstart = Path(__file__).parents[1] / "scenarios" / "quickstart.toml"
    output = assert_clean_outcome(quickstart, "--set", "system.tx_atoms=100000000")
    assert "key 'system.tx_atoms': one trial would need about" in output and "GiB" in output


# The [run] and [precision] tables: each key with a value that may be sensible or hostile.
TOY_METRIC_NAMES = st.sampled_from(
    [
        "rate_bps_hz",
        "stream_rate_bps_hz",
        "objective_trace",
        "iterations",
        "channel",  # complex (declared when stored)
        "toy_bits",  # a hook's metric, not declared by the system
        "runtime_s",
        "error",
        "trials_run",
        "rate_bps",
        "",
    ]
)
SENSIBLE_SETTINGS = {
    "run": {"trial_block": st.integers(-2, 12)},
    "precision": {
        "metric": TOY_METRIC_NAMES,
        "half_width": st.floats(-0.5, 2.0),
        "relative": st.floats(-0.5, 2.0),
        "level": st.floats(-0.5, 1.5),
        "min_trials": st.integers(-1, 30),
        "max_trials": st.integers(-1, 30),
    },
}


@st.composite
def settings_tables(draw: st.DrawFn, hostile: bool) -> dict[str, Any]:
    """The toy scenario with ``[run]`` and ``[precision]`` tables of drawn keys and values."""
    scenario = tomllib.loads(TOY_SCENARIO)
    scenario["trials"] = draw(st.integers(1, 30))
    for table, keys in SENSIBLE_SETTINGS.items():
        if not draw(st.booleans()):
            continue
        chosen = draw(st.lists(st.sampled_from(sorted(keys)), unique=True, max_size=len(keys)))
        scenario[table] = {
            key: draw(st.one_of(keys[key], HOSTILE_VALUES) if hostile else keys[key])
            for key in chosen
        }
        if hostile and draw(st.integers(0, 9)) == 0:
            scenario[table][draw(KEYS)] = draw(HOSTILE_VALUES)  # an unknown key
        if hostile and draw(st.integers(0, 9)) == 0:
            scenario[table] = draw(HOSTILE_VALUES)  # not even a table
    if hostile and draw(st.booleans()):
        del scenario["trials"]  # [precision] max_trials may stand in for it
    return scenario


@fuzz_settings
@given(scenario=settings_tables(hostile=True))
def test_run_and_precision_tables_are_accepted_or_clearly_rejected(tmp_path, scenario):
    path = tmp_path / "settings.toml"
    path.write_text(tomli_w.dumps(scenario))
    assert_clean_outcome(path)


@settings(
    max_examples=25,
    deadline=None,  # each example runs the toy scenario
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=settings_tables(hostile=False))
def test_what_validate_accepts_runs_and_what_it_refuses_never_starts(tmp_path, scenario):
    """validate and run agree: no [run] or [precision] problem is found only after starting."""
    directory = Path(tempfile.mkdtemp(dir=tmp_path))  # tmp_path is shared by the examples
    path = directory / "settings.toml"
    path.write_text(tomli_w.dumps(scenario))
    valid = assert_clean_outcome(path).startswith(f"{path}: valid")
    out = directory / "settings.nc"
    result = invoke("run", str(path), "-o", str(out), "--workers", "1", "--quiet")
    assert "Traceback" not in result.output
    parts = out.with_name(out.name + ".parts")
    if valid:
        assert result.exit_code == 0, result.output
        assert out.exists() and not parts.exists()
    else:
        assert result.exit_code == 2, result.output
        assert not out.exists() and not parts.exists()


ODD_NAMES = st.one_of(
    st.sampled_from(
        [
            "",
            "a/b",
            "a b/c",
            "variant",
            "trial",
            "error",
            "runtime_s",
            "trials_run",
            "rate_bps_hz",
            "stream",
            "iteration",
            "phases_model",
            "snr_db",
            "ok_name",
            "1st",
        ]
    ),
    st.text(max_size=8),
)
SWEEP_VALUES = st.one_of(
    st.sampled_from([[1.0, 1], [0.0, -0.0], [True, 1], [1, 2], [2.0, 3.0], ["a", "a"]]),
    st.lists(st.sampled_from([0, 1, 1.0, 2.5, -0.0, True]), min_size=1, max_size=3),
)


@st.composite
def named_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """The toy scenario with hostile names where the dataset takes names from the file: a linked
    sweep group, variants and their labels, and hostile sweep values."""
    scenario = tomllib.loads(TOY_SCENARIO)
    scenario["sweep"] = {"linked": {draw(ODD_NAMES): {"system": {"snr_db": draw(SWEEP_VALUES)}}}}
    names = draw(st.lists(ODD_NAMES, min_size=1, max_size=3, unique=True))
    scenario["variants"] = {
        name: {"label": label} if (label := draw(st.none() | ODD_NAMES)) is not None else {}
        for name in names
    }
    return scenario


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=named_scenarios())
def test_what_validate_accepts_runs_to_the_end(tmp_path, scenario):
    """Names and coordinates are checked before the first trial: a scenario that validates
    runs to a written dataset, one that does not is refused with the key."""
    path = tmp_path / "named.toml"
    path.write_text(tomli_w.dumps(scenario))
    if not assert_clean_outcome(path).startswith(f"{path}: valid"):
        return
    out = tmp_path / "named.nc"
    result = invoke("run", str(path), "-o", str(out), "--trials", "1", "--quiet", "--fresh")
    assert result.exit_code == 0, result.output
    assert out.exists()
