"""A resumed run only continues work done by the same code: the code of every plugin that
takes part is fingerprinted, recorded in the parts and the dataset, and a change is refused."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from simframe.plugins import PluginSettings, get_registry
from simframe.provenance import code_changes, code_identity
from simframe.results import open_result
from simframe.runner import parts_directory
from simframe.scenario import load_scenario

from .conftest import TOY_PLUGIN, TOY_SCENARIO
from .faults import command

VERSIONED_PLUGIN = """\
from simframe import Metric, hookimpl


@hookimpl
def simframe_trial_metrics(trial, metrics):
    {body}
    return {{"plugin_version": Metric({version}, "1", "version of the plugin's code")}}
"""
BUGGY = VERSIONED_PLUGIN.format(
    body='if trial.point_index == 2:\n        raise RuntimeError("a bug at the third point")',
    version="1.0",
)
FIXED = VERSIONED_PLUGIN.format(body="pass", version="2.0")


@pytest.mark.timeout(180)
def test_a_changed_plugin_never_mixes_its_results_with_the_old_ones(tmp_path):
    """The reproduction: a plugin fails at the third point; fixed, its rerun is refused
    (exit 2, naming the plugin) until --fresh, and the dataset holds only the new code's."""
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    plugin = tmp_path / "plug.py"
    plugin.write_text(BUGGY)
    out = tmp_path / "r.nc"
    run = command(scenario, out, "--workers", "1", "--plugin", str(plugin))
    stopped = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 1 and "a bug at the third point" in stopped.stderr
    parts = parts_directory(out)
    finished = sorted(p.name for p in parts.glob("point-*.nc"))
    assert finished == ["point-000000.nc", "point-000001.nc"]

    plugin.write_text(FIXED)
    refused = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    assert f"{plugin.resolve()} changed from sha256" in refused.stderr
    assert "--fresh" in refused.stderr
    assert sorted(p.name for p in parts.glob("point-*.nc")) == finished
    assert not out.exists()

    fresh = subprocess.run([*run, "--fresh"], capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr
    ds = open_result(out)
    assert np.unique(ds.plugin_version.values).tolist() == [2.0]
    recorded = json.loads(ds.attrs["plugin_code"])
    assert recorded[str(plugin.resolve())]["sha256"] == hashlib.sha256(FIXED.encode()).hexdigest()
    assert "version" in recorded["simframe"] and len(recorded["simframe"]["sha256"]) == 64


def load(tmp_path: Path, *plugins: Path):
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    settings = PluginSettings(local_plugins=tuple(str(p) for p in (TOY_PLUGIN, *plugins)))
    registry = get_registry(settings)
    return registry, load_scenario(scenario, registry)


def test_only_plugins_that_take_part_are_fingerprinted(tmp_path):
    unused = tmp_path / "unused_optimiser.py"
    unused.write_text(
        "from simframe import Component, ComponentKind, hookimpl\n\n\n"
        "class Idle(Component):\n"
        '    """Never chosen by the scenario."""\n\n'
        "    kind = ComponentKind.PHASE_OPTIMISER\n"
        '    name = "idle_phases"\n\n\n'
        "@hookimpl\n"
        "def simframe_phase_optimisers():\n"
        "    return [Idle]\n"
    )
    hook = tmp_path / "hook.py"
    hook.write_text(
        "from simframe import hookimpl\n\n\n@hookimpl\n"
        "def simframe_channel_drawn(trial, channel):\n    pass\n"
    )
    registry, scenario = load(tmp_path, unused, hook)
    identity = code_identity(registry, scenario)
    assert str(TOY_PLUGIN.resolve()) in identity  # its system and components run
    assert str(hook.resolve()) in identity  # its hook runs in every trial
    assert str(unused.resolve()) not in identity  # registered, never run
    assert identity["simframe"]["version"]


def test_code_changes_name_what_changed():
    before = {"a": {"version": "1.0", "sha256": "0" * 64}, "b.py": {"sha256": "1" * 64}}
    after = {"a": {"version": "1.1", "sha256": "2" * 64}, "c.py": {"sha256": "3" * 64}}
    assert code_changes(before, after) == [
        "a changed from 1.0, sha256 000000000000 to 1.1, sha256 222222222222",
        "b.py (sha256 111111111111) no longer takes part",
        "c.py (sha256 333333333333) now takes part",
    ]
    assert code_changes(after, after) == []
