"""A failing hook or component is named with its plugin and file:line; --traceback shows all."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import TOY_PLUGIN, TOY_SCENARIO, invoke

HOOKS = {
    "simframe_channel_drawn": "trial, channel",
    "simframe_channel_estimate": "trial, channel",
    "simframe_phases_configured": "trial, phases",
    "simframe_trial_metrics": "trial, metrics",
}


def failing_plugin(tmp_path: Path, hook: str) -> tuple[Path, int]:
    """A plugin whose ``hook`` raises in trial 2; returns its path and the raising line."""
    path = tmp_path / f"bad_{hook}.py"
    path.write_text(
        "from simframe import hookimpl\n"
        "\n"
        "\n"
        "@hookimpl\n"
        f"def {hook}({HOOKS[hook]}):\n"
        "    if trial.trial_index == 2:\n"
        "        raise ValueError('the bad hook was told to fail')\n"
    )
    return path, 7


def run(tmp_path: Path, *extra: str):
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    out = tmp_path / "out.nc"
    return invoke("run", str(scenario), "-o", str(out), "--quiet", *extra)


@pytest.mark.parametrize("hook", list(HOOKS))
def test_hook_error_names_plugin_hook_and_line(tmp_path, hook):
    plugin, line = failing_plugin(tmp_path, hook)
    result = run(tmp_path, "--workers", "1", "--plugin", str(plugin))
    assert result.exit_code == 1
    assert (
        f"ValueError in hook {hook} of plugin {plugin} ({plugin}:{line}) at sweep point 0"
        in result.output
    )
    assert "trial 2" in result.output and "told to fail" in result.output
    assert "phase optimiser" not in result.output  # not blamed on an unrelated component
    assert "Traceback" not in result.output


def test_component_error_names_component_and_line(tmp_path):
    text = TOY_SCENARIO.replace(
        'model = "toy_random_phases"', 'model = "toy_random_phases"\nfail_on_trial = 1'
    )
    (tmp_path / "toy.toml").write_text(text)
    result = invoke(
        "run", str(tmp_path / "toy.toml"), "-o", str(tmp_path / "o.nc"), "--quiet", "--workers", "1"
    )
    source = TOY_PLUGIN.read_text().splitlines()
    line = 1 + next(i for i, s in enumerate(source) if "the toy optimiser was told to fail" in s)
    assert f"phase optimiser 'toy_random_phases' from {TOY_PLUGIN} ({TOY_PLUGIN}:{line})" in (
        result.output
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_traceback_option_prints_the_original_traceback(tmp_path, workers):
    plugin, _ = failing_plugin(tmp_path, "simframe_trial_metrics")
    result = run(tmp_path, "--workers", workers, "--plugin", str(plugin), "--traceback")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output
    assert f'File "{plugin}", line 7, in simframe_trial_metrics' in result.output
    assert "raise ValueError('the bad hook was told to fail')" in result.output


def test_traceback_environment_switch(tmp_path, monkeypatch):
    plugin, _ = failing_plugin(tmp_path, "simframe_channel_drawn")
    monkeypatch.setenv("SIMFRAME_TRACEBACK", "1")
    result = run(tmp_path, "--workers", "1", "--plugin", str(plugin))
    assert f'File "{plugin}", line 7, in simframe_channel_drawn' in result.output
    monkeypatch.setenv("SIMFRAME_TRACEBACK", "0")
    result = run(tmp_path, "--workers", "1", "--plugin", str(plugin), "--fresh")
    assert "Traceback" not in result.output
