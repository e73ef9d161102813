"""Paired sweeps: trial t of every sweep point draws the same realisation (and the same random
starts) wherever the swept values do not change what the system draws; elsewhere independent
draws, seeded exactly as before pairing existed."""

from __future__ import annotations

import numpy as np
import pytest

from simframe.plugins import PluginSettings, get_registry
from simframe.results import open_result
from simframe.scenario import load_scenario

from .conftest import TOY_PLUGIN, TOY_SCENARIO, invoke

REALISATION_PLUGIN = """
from simframe import Metric, hookimpl


@hookimpl
def simframe_trial_metrics(trial):
    return {
        "drawn_gain": Metric(trial.channel[0].real, "1", "first stream gain as drawn"),
        "first_draw": Metric(trial.rng.random(), "1", "first draw of the algorithms' stream"),
    }
"""


def _run(tmp_path, text: str, *extra: str):
    plugin = tmp_path / "realisation.py"
    plugin.write_text(REALISATION_PLUGIN)
    scenario = tmp_path / "paired.toml"
    scenario.write_text(text)
    out = tmp_path / f"out{len(list(tmp_path.glob('out*.nc')))}.nc"
    result = invoke(
        "run", str(scenario), "-o", str(out), "--quiet", "--plugin", str(plugin), *extra
    )
    assert result.exit_code == 0, result.output
    return open_result(out)


PLUGIN_SWEEP = TOY_SCENARIO.replace(
    "[sweep]\nsystem.snr_db = [0.0, 10.0, 20.0]",
    "[sweep]\nplugins.toy_quantisation.bits = [1, 2, 3]\nsystem.snr_db = [0.0, 10.0]",
)


@pytest.mark.parametrize("extra", [(), ("--workers", "2", "--set", "run.trial_block=4")])
def test_a_plugin_option_sweep_is_paired_and_a_system_sweep_is_not(tmp_path, extra):
    dataset = _run(tmp_path, PLUGIN_SWEEP, *extra)
    assert dataset.attrs["paired_dims"] == "bits"
    for name in ("drawn_gain", "first_draw"):
        values = dataset[name]
        assert (values == values.isel(bits=0)).all(), name  # the same at every bits
        assert not (values.isel(snr_db=0) == values.isel(snr_db=1)).any(), name
    assert not (dataset.drawn_gain.diff("trial") == 0).any()  # trials stay independent


def test_pairing_can_be_switched_off(tmp_path):
    dataset = _run(tmp_path, PLUGIN_SWEEP, "--set", "run.paired=false")
    assert dataset.attrs["paired_dims"] == ""
    gains = dataset.drawn_gain
    assert not (gains.isel(bits=0) == gains.isel(bits=1)).any()


def test_unpaired_points_keep_their_seeds(tmp_path):
    """Point p's trial t draws from SeedSequence(seed, spawn_key=(p, t)), as before pairing."""
    dataset = _run(tmp_path, TOY_SCENARIO)
    assert dataset.attrs["paired_dims"] == ""
    for point, snr in enumerate(dataset.snr_db.values):
        for trial in range(dataset.sizes["trial"]):
            channel_seed, _ = np.random.SeedSequence(1234, spawn_key=(point, trial)).spawn(2)
            rng = np.random.default_rng(channel_seed)
            expected = ((rng.standard_normal(3) + 1j * rng.standard_normal(3)) / np.sqrt(2))[0]
            drawn = dataset.drawn_gain.sel(snr_db=snr, trial=trial).values
            assert (drawn == expected.real).all()


def test_an_algorithm_setting_sweep_is_paired(tmp_path):
    text = TOY_SCENARIO.replace(
        "[sweep]\nsystem.snr_db = [0.0, 10.0, 20.0]", "[sweep]\nphases.sleep_s = [0.0, 1e-6]"
    )
    dataset = _run(tmp_path, text)
    assert dataset.attrs["paired_dims"] == "sleep_s"
    rates = dataset.rate_bps_hz
    assert (rates.isel(sleep_s=0) == rates.isel(sleep_s=1)).all()  # nothing else differs


LINK = """\
title = "pairing of the HMIMO link"
trials = 2
seed = 3

[system]
model = "sim_hmimo_link"
tx_atoms = 4
rx_atoms = 4
tx_layers = 1
rx_layers = 1
"""


@pytest.mark.parametrize(
    ("sweep", "paired"),
    [
        ("phases.max_outer_iterations = [1, 2]", True),
        ("propagation.passive = [false, true]", True),
        ("power.model = ['wmmse', 'water_filling']", True),
        ("channel.correlated = [false, true]", False),
        ("system.tx_power_dbm = [10.0, 20.0]", False),
    ],
)
def test_the_hmimo_link_pairs_all_but_its_geometry_and_channel_model(tmp_path, sweep, paired):
    path = tmp_path / "link.toml"
    path.write_text(f"{LINK}\n[sweep]\n{sweep}\n")
    scenario = load_scenario(path, get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),))))
    assert scenario.seed_points == ((0, 0) if paired else (0, 1))


def test_a_linked_sweep_pairs_the_points_that_agree_on_what_the_system_draws(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text(
        TOY_SCENARIO.replace(
            "[sweep]\nsystem.snr_db = [0.0, 10.0, 20.0]",
            "[sweep.linked.mixed]\nphases.sleep_s = [0.0, 1e-6, 2e-6]\nsystem.streams = [3, 2, 3]",
        )
    )
    registry = get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),)))
    assert load_scenario(path, registry).seed_points == (0, 1, 0)


def test_a_system_declaring_unknown_realisation_slots_is_refused():
    from simframe.components import ComponentKind, check_component_class

    from .plugins.toy_system import ToyLink

    class Confused(ToyLink):
        name = "confused_link"
        realisation_slots = ("channel",)

    why = check_component_class(Confused, ComponentKind.SYSTEM_MODEL)
    assert why is not None and "realisation_slots must be a tuple of its slots" in why
