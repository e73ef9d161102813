"""The example third-party plugin in docs/examples/: installed as a user would, then used.

If the package is installed in the running environment (``.ci/run`` installs it), the tests use
it. Otherwise they install a copy into a temporary directory of their own (``pip install
--target``), put it on ``sys.path`` and ``PYTHONPATH`` while they run and drop it afterwards:
the environment the tests run in is never changed. Where that install is impossible the tests
skip, except in CI (``CI=true``), where a missing plugin is a failure.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simframe import ComponentKind, TrialContext
from simframe.results import open_result

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "docs" / "examples" / "simframe-example-plugin"
DISTRIBUTION = "simframe-example-plugin"
INSTALL = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]


def _installed_version() -> str | None:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The version of the example plugin: the installed one, or a private copy's."""
    if (installed := _installed_version()) is not None:
        yield installed
        return
    private = tmp_path_factory.mktemp("example_plugin")
    # pip builds in the tree it is given: a copy, so that the checkout stays as it is
    skipped = shutil.ignore_patterns("build", "*.egg-info")
    source = shutil.copytree(PACKAGE, private / "source", ignore=skipped)
    target = private / "site"
    done = subprocess.run([*INSTALL, "--target", str(target), str(source)], capture_output=True)
    if done.returncode != 0:
        message = f"could not install {PACKAGE}: {done.stderr.decode().strip()[-2000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    python_path = os.environ.get("PYTHONPATH")
    sys.path.insert(0, str(target))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), python_path]))
    importlib.invalidate_caches()
    try:
        version = _installed_version()
        if version is None:
            pytest.fail(f"{target} holds no {DISTRIBUTION} after pip install --target")
        yield version
    finally:
        sys.path.remove(str(target))
        if python_path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = python_path
        for name in [m for m in sys.modules if m.split(".")[0] == "simframe_example"]:
            del sys.modules[name]
        importlib.invalidate_caches()


@settings(max_examples=50, deadline=None)
@given(
    bits=st.integers(1, 8),
    angles=st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=40),
)
def test_quantisation_moves_each_phase_to_the_nearest_grid_point(example_plugin, bits, angles):
    from simframe_example.quantisation import quantise_phases

    original = np.exp(1j * np.asarray(angles))
    quantised = original.copy()
    quantise_phases(quantised, bits)
    levels = np.angle(quantised) / (2 * np.pi / 2**bits)
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)
    np.testing.assert_allclose(np.abs(quantised), 1.0)
    distance = np.abs(np.angle(quantised / original))
    assert np.all(distance <= np.pi / 2**bits + 1e-12)


def test_hook_acts_only_when_its_option_group_is_present(example_plugin):
    from simframe_example import plugin

    rng = np.random.default_rng(3)
    phases = {"tx": np.exp(2j * np.pi * rng.random((2, 9))), "rx": np.exp(1j * rng.random((3, 4)))}
    untouched = {k: v.copy() for k, v in phases.items()}
    plugin.simframe_phases_configured(trial=TrialContext(0, 0, "v", {}, rng), phases=phases)
    for stack in phases:
        np.testing.assert_array_equal(phases[stack], untouched[stack])
    options = {"example_phase_quantisation": {"bits": 1}}
    plugin.simframe_phases_configured(TrialContext(0, 0, "v", {}, rng, options), phases)
    for values in phases.values():
        np.testing.assert_allclose(np.abs(values.real), 1.0, atol=1e-12)  # 1 bit: +1 or -1


def _simframe(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a fresh process, as a user runs it (sees the freshly installed plugin)."""
    return subprocess.run(
        [sys.executable, "-m", "simframe", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "SIMFRAME_DISABLE_PLUGIN_AUTOLOAD"},
    )


def test_plugin_is_listed_with_its_version(example_plugin, tmp_path):
    listed = _simframe("plugins", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"simframe_example ({DISTRIBUTION} {example_plugin})" in listed.stdout
    documented = _simframe("plugins", "example_phase_quantisation", cwd=tmp_path)
    assert "| `bits` | int | `2` |" in documented.stdout


class _EqualPower:
    """Fixed powers, so the optimiser's sweeps alone decide the rate trace."""

    def allocate(self, channel, noise_w, budget_w, initial_w=None):
        return np.full(channel.shape[0], budget_w / channel.shape[0])


def _random_link(rng, antennas, tx_atoms, rx_atoms, tx_layers, rx_layers):
    from simframe_hmimo.interfaces import HmimoLink

    def gaussian(*shape, scale=1.0):
        return scale * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))

    tx = (
        gaussian(tx_atoms, antennas),
        *(gaussian(tx_atoms, tx_atoms, scale=0.3),) * (tx_layers - 1),
    )
    rx = (
        gaussian(antennas, rx_atoms),
        *(gaussian(rx_atoms, rx_atoms, scale=0.3),) * (rx_layers - 1),
    )
    return HmimoLink(tx, rx, gaussian(rx_atoms, tx_atoms, scale=1e-2), 1e-3, 1.0)


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.tuples(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9)),
    layers=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    bits=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_coordinate_ascent_never_lowers_the_rate_and_reports_it_truthfully(
    example_plugin, sizes, layers, bits, seed
):
    from simframe_example.coordinate_ascent import CoordinateAscentPhases

    link = _random_link(np.random.default_rng(seed), *sizes, *layers)
    optimiser = CoordinateAscentPhases(candidate_bits=bits, max_sweeps=3, tolerance=0.0)
    result = optimiser.optimise(link, _EqualPower(), np.random.default_rng(seed))
    assert result.tx_phases.shape == (layers[0], sizes[1])
    assert result.rx_phases.shape == (layers[1], sizes[2])
    for phases in (result.tx_phases, result.rx_phases):
        np.testing.assert_allclose(np.abs(phases), 1.0, atol=1e-12)
    trace = np.asarray(result.objective_trace)
    assert len(trace) == result.iterations + 1
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[:-1]))
    truth = link.rate_bps_hz(result.tx_phases, result.rx_phases, result.powers_w)
    assert trace[-1] == pytest.approx(truth, rel=1e-9)
    start = link.random_phases(np.random.default_rng(seed))  # the optimiser's own start
    assert trace[0] == pytest.approx(link.rate_bps_hz(*start, result.powers_w), rel=1e-9)


SCENARIO = PACKAGE / "scenarios" / "example.toml"


def _missing_system_is_allowed(reason: str) -> None:
    """Skip while the built-in system is absent from this checkout; never in CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def test_example_scenario_quantises_on_the_grid_and_records_the_version(example_plugin, tmp_path):
    from simframe.plugins import PluginSettings, build_registry

    if (
        "sim_hmimo_link"
        not in build_registry(PluginSettings()).components[ComponentKind.SYSTEM_MODEL]
    ):
        _missing_system_is_allowed("the built-in system sim_hmimo_link is not registered")
    out = tmp_path / "example.nc"
    done = _simframe(
        "run", str(SCENARIO), "-o", str(out), "--workers", "1", "--quiet", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    dataset = open_result(out)
    versions = dataset.simframe.plugin_versions
    assert versions["simframe_example"] == f"{DISTRIBUTION} {example_plugin}"
    assert dataset["bits"].values.tolist() == [1, 2, 3]
    for stack in ("tx_phases", "rx_phases"):
        for bits in (1, 2, 3):
            phases = dataset[stack].sel(bits=bits).values
            phases = phases[~np.isnan(phases)]
            assert phases.size > 0
            levels = np.angle(phases) / (2 * np.pi / 2**bits)
            np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)
            np.testing.assert_allclose(np.abs(phases), 1.0, atol=1e-12)
    rates = dataset.rate_bps_hz.mean("trial")
    assert (rates.sel(variant="coordinate_ascent") > rates.sel(variant="random")).all()


def test_channel_estimate_is_the_truth_without_the_option_group(example_plugin):
    from simframe_example import imperfect_csi, plugin

    rng = np.random.default_rng(4)
    channel = rng.standard_normal((9, 9)) + 1j * rng.standard_normal((9, 9))
    assert plugin.simframe_channel_estimate(TrialContext(0, 0, "v", {}, rng), channel) is None
    options = {"example_imperfect_csi": {"nmse": 0.5, "gain_error_db": 1.0}}
    trial = TrialContext(0, 0, "v", {}, rng, options)
    estimates = [imperfect_csi.channel_estimate(trial, channel) for _ in range(400)]
    errors = [np.sum(np.abs(e - channel) ** 2) / np.sum(np.abs(channel) ** 2) for e in estimates]
    assert np.mean(errors) == pytest.approx(0.5, rel=0.05)  # the NMSE it promises


def _run_example(name: str, tmp_path: Path):
    out = tmp_path / f"{name}.nc"
    scenario = PACKAGE / "scenarios" / f"{name}.toml"
    done = _simframe(
        "run", str(scenario), "-o", str(out), "--workers", "1", "--quiet", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    return open_result(out)


def test_imperfect_csi_lowers_the_hmimo_rate_as_the_nmse_grows(example_plugin, tmp_path):
    """Design on H~ + E, evaluate on H~: the rate falls with the estimation error (it rose
    when the perturbed channel was also used to evaluate)."""
    dataset = _run_example("imperfect_csi", tmp_path)
    rates = dataset.rate_bps_hz.mean("trial").squeeze().values
    assert dataset["nmse"].values.tolist() == [0.0, 1.0, 10.0]
    assert rates[0] > rates[1] > rates[2], rates
    assert rates[2] < 0.5 * rates[0]
    realised = dataset.csi_nmse.mean("trial").squeeze().values
    np.testing.assert_allclose(realised, [0.0, 1.0, 10.0], rtol=0.15)


ZERO_ERROR_LINK = """\
title = "rmax on a small link"
trials = 3
seed = 11

[system]
model = "sim_hmimo_link"
tx_atoms = 9
rx_atoms = 9
tx_layers = 2
rx_layers = 2

[phases]
model = "rmax"
max_outer_iterations = 3
inner_iterations = 20
"""


def test_a_zero_error_estimate_equals_the_plain_run_bit_for_bit(example_plugin, tmp_path):
    """The plugin draws its error from its own stream (trial.rng_for): at NMSE 0 it leaves the
    optimiser's random starts, hence every rate, exactly as they are without it."""
    scenario = tmp_path / "link.toml"
    scenario.write_text(ZERO_ERROR_LINK)
    rates = []
    for name, extra in (
        ("plain", []),
        ("zero", ["--set", "plugins.example_imperfect_csi.nmse=0.0"]),
    ):
        out = tmp_path / f"{name}.nc"
        done = _simframe("run", str(scenario), "-o", str(out), "--quiet", *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        rates.append(open_result(out).rate_bps_hz.values)
    np.testing.assert_array_equal(rates[1], rates[0])


def test_imperfect_gains_lower_the_cellfree_max_min_se(example_plugin, tmp_path):
    dataset = _run_example("imperfect_csi_cellfree", tmp_path)
    lowest = dataset.min_se_bps_hz.mean("trial").squeeze().values
    assert dataset["gain_error_db"].values.tolist() == [0.0, 3.0, 10.0]
    assert lowest[0] > lowest[1] > lowest[2], lowest
