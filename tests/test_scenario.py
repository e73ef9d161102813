"""Scenario validation: every problem is reported with file, key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from simframe import ScenarioError
from simframe.plugins import PluginSettings, get_registry
from simframe.scenario import load_scenario

from .conftest import TOY_PLUGIN, TOY_SCENARIO, invoke


@pytest.fixture(scope="module")
def registry():
    return get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),)))


def problems(tmp_path: Path, registry, text: str, *overrides: str) -> str:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, registry, overrides)
    message = str(info.value)
    assert str(path) in message
    return message


def test_valid_scenario_expands_sweep_and_variants(tmp_path, registry, toy_scenario):
    scenario = load_scenario(toy_scenario, registry, ())
    assert scenario.shape == (3,)
    assert scenario.variants == ["one_watt", "two_watts"]
    assert scenario.point_coordinates(2) == {"snr_db": 20.0}
    config = scenario.configurations[(1, "two_watts")]
    assert config.system_params["budget_w"] == 2.0
    assert config.system_params["snr_db"] == 10.0


def test_linked_sweep_is_one_dimension(tmp_path, registry):
    text = TOY_SCENARIO.replace(
        "[sweep]\nsystem.snr_db = [0.0, 10.0, 20.0]",
        "[sweep.linked.setting]\nsystem.snr_db = [0.0, 10.0]\nsystem.streams = [1, 2]\n"
        "[sweep]\nphases.fail_on_trial = [-1, 99]",
    )
    path = tmp_path / "linked.toml"
    path.write_text(text)
    scenario = load_scenario(path, registry, ())
    assert scenario.shape == (2, 2)
    assert {a.dim for a in scenario.axes} == {"setting", "fail_on_trial"}
    coords = [scenario.point_coordinates(p) for p in range(4)]
    linked = {c["setting"] for c in coords}
    assert len(linked) == 2


def test_every_problem_is_reported_at_once(tmp_path, registry):
    text = TOY_SCENARIO.replace("trials = 6", "trials = -2").replace("streams = 3", "streems = 3")
    text = text.replace("budget_w = 2.0", "budget_w = -2.0")
    text = text.replace('model = "toy_random_phases"', 'model = "toy_random_phase"')
    message = problems(tmp_path, registry, text)
    assert "key 'trials'" in message
    assert "key 'system.streems'" in message and "did you mean 'streams'" in message
    assert "key 'variants.two_watts.system.budget_w'" in message
    assert "key 'phases.model'" in message and "'toy_random_phases'" in message


def test_unknown_top_level_key_and_system(tmp_path, registry):
    message = problems(tmp_path, registry, 'title = "t"\ntrials = 1\nseed = 1\nsweeep = 3\n')
    assert "key 'sweeep'" in message and "'sweep'" in message
    assert "key 'system'" in message


def test_sweep_path_must_name_a_parameter(tmp_path, registry):
    message = problems(
        tmp_path, registry, TOY_SCENARIO.replace("system.snr_db =", "system.snr ="), "trials=2"
    )
    assert "key 'sweep.system.snr'" in message and "'snr_db'" in message


def test_override_type_error_names_key(tmp_path, registry, toy_scenario):
    with pytest.raises(ScenarioError, match=r"key 'system.streams': expected an integer"):
        load_scenario(toy_scenario, registry, ("system.streams=abc",))


def test_constraint_between_parameters_is_checked_at_load(tmp_path, registry):
    message = problems(tmp_path, registry, TOY_SCENARIO.replace("streams = 3", "streams = 65"))
    assert "key 'system.streams'" in message and "at most 64" in message


def test_unknown_store_and_option_group(tmp_path, registry):
    text = TOY_SCENARIO.replace('store = ["channel"]', 'store = ["chanel"]')
    text += "\n[plugins.toy_quantisatio]\nbits = 2\n"
    message = problems(tmp_path, registry, text)
    assert "'chanel'" in message and "'channel'" in message
    assert "toy_quantisation" in message


def test_not_toml_is_a_clear_error(tmp_path, registry):
    message = problems(tmp_path, registry, "title = [unclosed\n")
    assert "TOML" in message or "toml" in message


def test_cli_error_is_one_paragraph_without_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(TOY_SCENARIO.replace("streams = 3", "streams = 0"))
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ") and str(path) in result.output
    assert "key 'system.streams'" in result.output


def test_missing_file_is_a_clear_error(tmp_path):
    result = invoke("run", str(tmp_path / "nowhere.toml"))
    assert result.exit_code == 2
    assert "nowhere.toml" in result.output and "Traceback" not in result.output


def test_a_warning_of_every_point_is_given_once(tmp_path, registry):
    path = tmp_path / "warn.toml"
    path.write_text(TOY_SCENARIO.replace("streams = 3", "streams = 5"))
    scenario = load_scenario(path, registry, ())  # 3 points x 2 variants, all with 5 streams
    assert scenario.warnings == ["toy warning: streams above 4"]


def test_a_warning_of_some_points_names_them_once(tmp_path, registry):
    path = tmp_path / "warn.toml"
    path.write_text(TOY_SCENARIO + "\n[sweep.linked.size]\nsystem.streams = [3, 5, 6]\n")
    scenario = load_scenario(path, registry, ())
    assert scenario.warnings == ["toy warning: streams above 4 (at sweep points size=5; size=6)"]
    one = tmp_path / "one.toml"
    one.write_text(
        TOY_SCENARIO.replace("[sweep]", "[sweep.linked.both]").replace(
            "system.snr_db = [0.0, 10.0, 20.0]",
            "system.snr_db = [0.0, 10.0, 20.0]\nsystem.streams = [3, 3, 5]",
        )
    )
    warned = load_scenario(one, registry, ()).warnings
    assert warned == ["toy warning: streams above 4 (at sweep point both=20.0)"]


def test_override_of_a_swept_key_is_refused(registry, toy_scenario):
    with pytest.raises(ScenarioError) as info:
        load_scenario(toy_scenario, registry, ("system.snr_db=3.0",))
    assert "key '--set system.snr_db'" in str(info.value)
    assert "sweep.system.snr_db=[...]" in str(info.value)
    swept = load_scenario(toy_scenario, registry, ("sweep.system.snr_db=[1.0, 2.0]",))
    assert swept.shape == (2,)


def test_variant_naming_the_default_model_merges_with_the_base_table(registry, tmp_path):
    text = TOY_SCENARIO.replace(
        '[phases]\nmodel = "toy_random_phases"\n', "[phases]\nsleep_s = 0.5\n"
    )
    text = text.replace(
        "[variants.two_watts]\n", '[variants.two_watts]\nphases = { model = "toy_random_phases" }\n'
    )
    path = tmp_path / "merge.toml"
    path.write_text(text)
    scenario = load_scenario(path, registry, ())
    assert scenario.configurations[(0, "two_watts")].slots["phases"].params["sleep_s"] == 0.5
