"""What a run would trip over later is refused by ``validate``, before the first trial: names
the dataset cannot hold, duplicate coordinates, option groups for another system, variants a
legend cannot tell apart; and the messages say what is wrong where."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import TOY_SCENARIO, invoke

SWEEP = "[sweep]\nsystem.snr_db = [0.0, 10.0, 20.0]"


def validate(tmp_path: Path, text: str, *extra: str):
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    result = invoke("validate", str(path), *extra)
    assert "Traceback" not in result.output
    return result


def refused(tmp_path: Path, text: str, *extra: str) -> str:
    result = validate(tmp_path, text, *extra)
    assert result.exit_code == 2, result.output
    return result.output


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ('"a/b"', "use letters, digits and underscores"),
        ('""', "use letters, digits and underscores"),
        ("rate_bps_hz", "it is the name of a metric of the system"),
        ("stream", "it is a dimension of the metric"),
        ("iteration", "it is a dimension of the metric 'objective_trace'"),
        ("phases_model", "it names the variants' [phases] model coordinate"),
        ("trials_run", "the dataset uses that name itself"),
        ("error", "the dataset uses that name itself"),
        ("variant", "the dataset uses that name itself"),
    ],
)
def test_sweep_dimension_names_the_dataset_cannot_hold_are_refused(tmp_path, name, why):
    text = TOY_SCENARIO.replace(SWEEP, f"[sweep.linked.{name}]\nsystem.snr_db = [0.0, 10.0]")
    output = refused(tmp_path, text)
    assert "cannot name a sweep dimension" in output and why in output


def test_a_model_sweep_keeps_its_model_dimension(tmp_path):
    text = TOY_SCENARIO.replace(SWEEP, "[sweep]\npower.model = ['toy_equal_power']")
    assert validate(tmp_path, text).exit_code == 0


@pytest.mark.parametrize("values", ["[1.0, 1]", "[0.0, -0.0]", "[2, 2.0, 3]"])
def test_duplicate_coordinates_are_refused(tmp_path, values):
    output = refused(tmp_path, TOY_SCENARIO.replace("[0.0, 10.0, 20.0]", values))
    assert "key 'sweep.system.snr_db': the values of a sweep dimension must be distinct" in output


HMIMO_ONLY_GROUP = """\
from simframe import OptionGroup, Parameter, hookimpl


@hookimpl
def simframe_option_groups():
    return [OptionGroup("link_only", (Parameter("x", float, 0.0),), systems=("sim_hmimo_link",))]
"""


def test_an_option_group_is_refused_for_a_system_it_does_not_declare(tmp_path):
    plugin = tmp_path / "link_only.py"
    plugin.write_text(HMIMO_ONLY_GROUP)
    text = TOY_SCENARIO + "\n[plugins.link_only]\nx = 1.0\n"
    output = refused(tmp_path, text, "--plugin", str(plugin))
    assert (
        f"key 'plugins.link_only': option group 'link_only' of plugin {plugin} works with "
        "sim_hmimo_link, not with 'toy_link'"
    ) in output


@pytest.mark.parametrize("name", ['""', '"a b/c"', "variant", "trial", '"-x"'])
def test_odd_variant_names_are_refused(tmp_path, name):
    text = TOY_SCENARIO.replace("[variants.two_watts]", f"[variants.{name}]")
    assert "cannot name a variant" in refused(tmp_path, text)


@pytest.mark.parametrize(
    ("labels", "where"),
    [
        (('"Same"', '"Same"'), "variants.two_watts.label"),
        (('"two_watts"', None), "variants.two_watts"),
    ],
)
def test_variants_a_legend_cannot_tell_apart_are_refused(tmp_path, labels, where):
    text = TOY_SCENARIO
    for variant, label in zip(("one_watt", "two_watts"), labels, strict=True):
        if label is not None:
            text = text.replace(f"[variants.{variant}]", f"[variants.{variant}]\nlabel = {label}")
    output = refused(tmp_path, text)
    assert f"key '{where}'" in output and "the figures could not tell them apart" in output


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TOY_SCENARIO.encode())
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output


def test_trials_on_the_command_line_against_max_trials_names_the_option(tmp_path):
    text = (
        TOY_SCENARIO + "\n[precision]\nmetric = 'rate_bps_hz'\nhalf_width = 0.1\nmax_trials = 6\n"
    )
    text = text.replace("trials = 6\n", "", 1)
    output = refused(tmp_path, text, "--set", "trials=3")
    assert "differs from --trials 3 (or --set trials=3) on the command line" in output
    assert "--set precision.max_trials=3" in output


def test_a_value_too_large_at_every_sweep_point_is_one_line(tmp_path):
    quickstart = Path(__file__).parents[1] / "scenarios" / "quickstart.toml"
    result = invoke("validate", str(quickstart), "--set", "system.tx_atoms=100000000")
    lines = [line for line in result.output.splitlines() if "system.tx_atoms" in line]
    assert len(lines) == 1, result.output
    assert "(at sweep point layers=1, and at 2 more sweep points with other values)" in lines[0]


def test_a_warning_at_many_points_names_a_few(tmp_path):
    """Where a warning arose is found in time linear in the sweep's points, and said briefly."""
    text = TOY_SCENARIO.replace(
        SWEEP,
        "[sweep]\nsystem.streams = [" + ", ".join(map(str, range(1, 61))) + "]\n"
        "system.snr_db = [" + ", ".join(str(float(i)) for i in range(60)) + "]",
    )
    result = validate(tmp_path, text)
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.output.splitlines() if line.startswith("warning")]
    assert warning == (
        "warning: toy warning: streams above 4 (at sweep points streams=5; streams=6; "
        "streams=7 and 53 more)"
    )
