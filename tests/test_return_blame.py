"""What a hook or component returns is checked where the core takes it, and a bad value is
blamed on its author (the hook and its plugin, or the component), not on who used it next."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import TOY_SCENARIO, invoke

HEADER = "import numpy as np\n\nfrom simframe import Metric, hookimpl\n\n\n@hookimpl\n"


def _plugin(tmp_path: Path, body: str, name: str = "returns") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + body)
    return path


def _run(tmp_path: Path, *plugins: Path, scenario: str = TOY_SCENARIO, **kwargs: str):
    path = tmp_path / "scenario.toml"
    path.write_text(scenario)
    extra = [item for plugin in plugins for item in ("--plugin", str(plugin))]
    result = invoke(
        "run", str(path), "-o", str(tmp_path / "out.nc"), "--quiet", "--workers", "1", *extra
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ("channel[:-1]", "estimate has shape (2,), expected (3,)"),
        ("list(channel)", "estimate is a list, expected a numpy array"),
        ("channel.real", "estimate is real (float64), expected complex"),
        ("np.zeros((3, 3), complex)", "estimate has shape (3, 3), expected (3,)"),
    ],
)
def test_a_bad_estimate_is_blamed_on_its_hook(tmp_path, returned, problem):
    plugin = _plugin(tmp_path, f"def simframe_channel_estimate(channel):\n    return {returned}\n")
    output = _run(tmp_path, plugin)
    assert f"ContractError in hook simframe_channel_estimate of plugin {plugin} ({plugin}:6)" in (
        output
    )
    assert problem in output
    assert "phase optimiser" not in output and "system model" not in output


def test_an_estimate_hook_cannot_change_the_true_channel(tmp_path):
    plugin = _plugin(
        tmp_path,
        "def simframe_channel_estimate(channel):\n    channel[:] = 0\n    return channel\n",
    )
    output = _run(tmp_path, plugin)
    assert f"in hook simframe_channel_estimate of plugin {plugin} ({plugin}:8)" in output
    assert "read-only" in output


def test_two_estimates_are_refused_naming_both_plugins(tmp_path):
    body = "def simframe_channel_estimate(channel):\n    return channel.copy()\n"
    first, second = _plugin(tmp_path, body, "first"), _plugin(tmp_path, body, "second")
    output = _run(tmp_path, first, second)
    assert f"of plugin {first}" in output and f"of plugin {second}" in output
    assert "only one plugin may model what the algorithms know" in output


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("values *= 2.0", "left the phases of stack 'surface' not unit modulus"),
        ("phases['surface'] = values[:, :1]", "of stack 'surface' with shape (1, 1) instead"),
        ("phases['surface'] = np.angle(values)", "not a complex numpy array"),
    ],
)
def test_bad_phases_are_blamed_on_the_hook_that_left_them(tmp_path, change, problem):
    plugin = _plugin(
        tmp_path,
        f"def simframe_phases_configured(phases):\n    values = phases['surface']\n    {change}\n",
    )
    output = _run(tmp_path, plugin)
    assert f"ContractError in hook simframe_phases_configured of plugin {plugin}" in output
    assert problem in output


def test_bad_trial_metrics_are_blamed_on_their_hook(tmp_path):
    plugin = _plugin(tmp_path, "def simframe_trial_metrics(trial):\n    return {'x': 1.0}\n")
    output = _run(tmp_path, plugin)
    assert f"ContractError in hook simframe_trial_metrics of plugin {plugin}" in output
    assert "returned 1.0 for 'x', expected a Metric" in output


BAD_OPTIMISER = """\
import numpy as np
from simframe_hmimo.interfaces import HmimoPhaseOptimiser, PhaseResult

from simframe import hookimpl


class TooFewAtoms(HmimoPhaseOptimiser):
    \"\"\"Returns one atom too few per TX layer.\"\"\"

    name = "too_few_atoms"

    def optimise(self, link, allocator, rng):
        tx, rx = link.random_phases(rng)
        powers = np.full(link.antennas, link.budget_w / link.antennas)
        return PhaseResult(tx[:, 1:], rx, powers, 1)


@hookimpl
def simframe_phase_optimisers():
    return [TooFewAtoms]
"""

LINK = """\
title = "link"
trials = 2
seed = 1

[system]
model = "sim_hmimo_link"
tx_atoms = 9
rx_atoms = 9
tx_layers = 1
rx_layers = 1

[phases]
model = "too_few_atoms"
"""


def test_a_phase_result_of_the_wrong_shape_is_blamed_on_the_optimiser(tmp_path):
    plugin = tmp_path / "too_few.py"
    plugin.write_text(BAD_OPTIMISER)
    output = _run(tmp_path, plugin, scenario=LINK)
    assert f"ContractError in phase optimiser 'too_few_atoms' from {plugin}" in output
    assert "returned a PhaseResult with tx_phases of shape (1, 8)" in output
    assert "expected a numpy array of shape (1, 9)" in output
    assert "system model" not in output


def test_physical_layer_hook_wrappers_are_refused(tmp_path):
    plugin = tmp_path / "wrapper.py"
    plugin.write_text(
        "from simframe import hookimpl\n\n\n@hookimpl(wrapper=True)\n"
        "def simframe_trial_metrics(trial):\n    return (yield)\n"
    )
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    result = invoke("validate", str(scenario), "--plugin", str(plugin))
    assert result.exit_code != 0
    assert "simframe_trial_metrics is declared as a hook wrapper" in result.output


def test_a_hook_taking_unknown_arguments_is_named_in_one_line(tmp_path):
    plugin = tmp_path / "misspelt.py"
    plugin.write_text(
        "from simframe import hookimpl\n\n\n@hookimpl\n"
        "def simframe_channel_estimate(trial, chanel):\n    return None\n"
    )
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    result = invoke("validate", str(scenario), "--plugin", str(plugin))
    assert result.exit_code != 0
    assert result.output.startswith(
        f"error: plugin {plugin}: hook simframe_channel_estimate(trial, chanel) takes 'chanel', "
        "which the hook does not pass; it passes trial, channel"
    )
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1


BAD_PILOTS = """\
import numpy as np
from simframe_cellfree.interfaces import CellFreePilotScheme

from simframe import hookimpl


class PilotTooFar(CellFreePilotScheme):
    \"\"\"Gives every UE the pilot tau_p, one past the last.\"\"\"

    name = "pilot_too_far"

    def assign(self, problem, phases_rad, rng):
        return np.full(problem.fading.gain.shape[1], problem.tau_p)


@hookimpl
def simframe_pilot_schemes():
    return [PilotTooFar]
"""

CELLFREE = """\
title = "cell-free"
trials = 1
seed = 1

[system]
model = "sim_cellfree_uplink"
aps = 2
ues = 3
antennas = 1
layers = 1
atoms_per_layer = 4
tau_p = 2

[pilots]
model = "pilot_too_far"
"""


def test_a_cellfree_component_returning_out_of_range_pilots_is_named(tmp_path):
    plugin = tmp_path / "pilots.py"
    plugin.write_text(BAD_PILOTS)
    output = _run(tmp_path, plugin, scenario=CELLFREE)
    assert f"ContractError in pilot scheme 'pilot_too_far' from {plugin}" in output
    assert "returned pilots outside [0, 1]" in output


def test_a_plugin_metric_named_like_a_sweep_dimension_is_blamed_on_its_hook(tmp_path):
    plugin = _plugin(
        tmp_path,
        "def simframe_trial_metrics(trial):\n    return {'snr_db': Metric(1.0, 'dB', 'x')}\n",
    )
    output = _run(tmp_path, plugin)
    assert f"ContractError in hook simframe_trial_metrics of plugin {plugin}" in output
    assert "using snr_db, the name of a dimension of the dataset" in output
