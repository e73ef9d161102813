"""Random streams of a trial: ``trial.rng`` for the algorithms, ``trial.rng_for(key)`` for
everyone else; both reproducible whatever the executor, worker count or block."""

from __future__ import annotations

import numpy as np
import pytest

from simframe import TrialContext
from simframe.results import open_result

from .conftest import invoke

DRAWING_PLUGIN = """
from simframe import Metric, hookimpl


@hookimpl
def simframe_trial_metrics(trial):
    draws = trial.rng_for("test_stream").random(2)
    return {"hook_draw": Metric(draws[0], "1", "first draw of the hook's stream")}
"""

ZERO_ERROR_PLUGIN = """
import numpy as np

from simframe import OptionGroup, Parameter, hookimpl

GROUP = OptionGroup("zero_error", (Parameter("nmse", float, 0.0, unit="1", minimum=0.0),))


@hookimpl
def simframe_option_groups():
    return [GROUP]


@hookimpl
def simframe_channel_estimate(trial, channel):
    options = trial.options.get("zero_error")
    if options is None:
        return None
    rng = trial.rng_for("zero_error")
    error = rng.standard_normal(channel.shape) + 1j * rng.standard_normal(channel.shape)
    return channel + np.sqrt(options["nmse"] / 2) * error
"""

SMALL_LINK = """\
title = "small link"
trials = 3
seed = 5

[system]
model = "sim_hmimo_link"
tx_atoms = 9
rx_atoms = 9
tx_layers = 2
rx_layers = 1

[phases]
model = "rmax"
max_outer_iterations = 3
inner_iterations = 20
"""


def _context(seed: int = 7, point: int = 0, trial: int = 3) -> TrialContext:
    sequence = np.random.SeedSequence(seed, spawn_key=(point, trial, 1))
    return TrialContext(point, trial, "v", {}, np.random.default_rng(sequence))


def test_rng_for_is_keyed_deterministic_and_independent_of_the_algorithms_stream():
    plain = _context().rng.random(5)
    trial = _context()
    hook = trial.rng_for("my_plugin").random(5)
    np.testing.assert_array_equal(trial.rng.random(5), plain)  # rng untouched by rng_for
    assert not np.array_equal(hook, plain)
    np.testing.assert_array_equal(_context().rng_for("my_plugin").random(5), hook)
    assert not np.array_equal(_context().rng_for("other").random(5), hook)
    assert not np.array_equal(_context(trial=4).rng_for("my_plugin").random(5), hook)
    assert not np.array_equal(_context(seed=8).rng_for("my_plugin").random(5), hook)
    assert trial.rng_for("my_plugin") is trial.rng_for("my_plugin")  # the stream continues
    with pytest.raises(ValueError, match="non-empty string"):
        trial.rng_for("")


@pytest.mark.parametrize(("workers", "block"), [("1", 1), ("2", 4)])
def test_rng_for_is_the_same_whatever_the_workers_and_block(tmp_path, toy_scenario, workers, block):
    plugin = tmp_path / "drawing.py"
    plugin.write_text(DRAWING_PLUGIN)
    reference = tmp_path / "reference.nc"
    common = ["--plugin", str(plugin), "--quiet", "--trials", "5"]
    assert invoke("run", str(toy_scenario), "-o", str(reference), *common).exit_code == 0
    out = tmp_path / "out.nc"
    result = invoke(
        "run", str(toy_scenario), "-o", str(out), "--workers", workers,
        "--set", f"run.trial_block={block}", *common,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    draws = open_result(out).hook_draw
    np.testing.assert_array_equal(draws.values, open_result(reference).hook_draw.values)
    assert (draws.diff("variant") == 0).all()  # every variant sees the same stream
    assert np.unique(draws.isel(variant=0).values).size == draws.isel(variant=0).size


def test_a_zero_error_estimate_from_rng_for_changes_no_bit(tmp_path):
    """A hook that draws from its own stream leaves the optimiser's random starts alone."""
    plugin = tmp_path / "zero_error.py"
    plugin.write_text(ZERO_ERROR_PLUGIN)
    scenario = tmp_path / "link.toml"
    scenario.write_text(SMALL_LINK)
    plain, with_plugin = tmp_path / "plain.nc", tmp_path / "with_plugin.nc"
    common = ["--workers", "1", "--quiet", "--plugin", str(plugin)]
    assert invoke("run", str(scenario), "-o", str(plain), *common).exit_code == 0
    result = invoke(
        "run", str(scenario), "-o", str(with_plugin), "--set", "plugins.zero_error.nmse=0.0",
        *common,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(
        open_result(with_plugin).rate_bps_hz.values, open_result(plain).rate_bps_hz.values
    )
