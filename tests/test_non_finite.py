"""Never silently wrong: a trial whose metrics are NaN or infinite is a failed trial (an
``error`` entry), and levels no computation survives are refused before the run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from simframe.components import ComponentKind
from simframe.plugins import PluginSettings, get_registry
from simframe.results import open_result

from .conftest import TOY_PLUGIN, TOY_SCENARIO, invoke

QUICKSTART = Path(__file__).parents[1] / "scenarios" / "quickstart.toml"


@pytest.fixture
def nan_in_trial_2(monkeypatch):
    """The toy system returns a NaN rate in trial 2 (as an overflowing input would)."""
    registry = get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),)))
    cls = registry.get(ComponentKind.SYSTEM_MODEL, "toy_link").cls
    original = cls.simulate_block

    def simulate_block(self, realisations, trials):
        results = original(self, realisations, trials)
        for metrics, trial in zip(results, trials, strict=True):
            if trial.trial_index == 2:
                metrics["rate_bps_hz"] = dataclasses.replace(metrics["rate_bps_hz"], values=np.nan)
        return results

    monkeypatch.setattr(cls, "simulate_block", simulate_block)


def test_a_nan_metric_is_a_failed_trial(tmp_path, nan_in_trial_2):
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    out = tmp_path / "out.nc"
    result = invoke("run", str(scenario), "-o", str(out), "--quiet", "--workers", "1")
    assert result.exit_code == 1
    assert "system model 'toy_link'" in result.output and "NaN or infinite" in result.output
    assert "rate_bps_hz" in result.output and "trial 2" in result.output
    kept = invoke("run", str(scenario), "-o", str(out), "--quiet", "--workers", "1", "--keep-going")
    assert kept.exit_code == 1 and "6 trials failed" in kept.output
    ds = open_result(out)
    failed = ds.error != ""
    assert bool(failed.sel(trial=2).all()) and int(failed.sum()) == 6
    assert "NaN or infinite values in rate_bps_hz" in str(ds.error.sel(trial=2).values.flat[0])


@pytest.mark.parametrize("value", ["1e300", "3000.0", "-2000.0"])
def test_a_level_beyond_double_precision_is_refused_up_front(value):
    result = invoke("validate", str(QUICKSTART), "--set", f"system.tx_power_dbm={value}")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "key 'system.tx_power_dbm'" in result.output and "double precision" in result.output


def test_an_overflow_while_building_the_system_is_a_scenario_problem(tmp_path, monkeypatch):
    registry = get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),)))
    cls = registry.get(ComponentKind.SYSTEM_MODEL, "toy_link").cls

    def overflowing(self, components, **params):
        raise OverflowError(34, "Numerical result out of range")

    monkeypatch.setattr(cls, "__init__", overflowing)
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    result = invoke("validate", str(scenario))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (
        "key 'system': the configuration of system model 'toy_link' is not computable: "
        "OverflowError" in result.output
    )
    assert "(at sweep points snr_db=0.0; snr_db=10.0; snr_db=20.0)" in result.output  # one line
    assert "OverflowError" in result.output
