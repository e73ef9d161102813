"""Confidence-based stopping: the rule, its determinism across executors, and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from simframe.errors import ScenarioError
from simframe.plugins import PluginSettings, get_registry
from simframe.precision import PrecisionTarget, per_trial_values
from simframe.results import deterministic_part, open_result
from simframe.runner import parts_directory
from simframe.scenario import load_scenario

from .conftest import TOY_PLUGIN, TOY_SCENARIO, invoke
from .test_blocks import run

BLOCK = 4
TARGET = 0.8
PRECISE = TOY_SCENARIO.replace("trials = 6", "trials = 40") + (
    f"\n[run]\ntrial_block = {BLOCK}\n\n"
    f'[precision]\nmetric = "rate_bps_hz"\nhalf_width = {TARGET}\nmin_trials = 8\n'
)


def load(text: str, tmp_path: Path):
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return load_scenario(path, get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),))))


def target(**changes) -> PrecisionTarget:
    values = dict(
        metric="m", half_width=None, relative=None, level=0.95, min_trials=2, max_trials=100
    )
    return PrecisionTarget(**{**values, **changes})


def test_half_width_is_the_student_t_interval_without_failed_trials():
    rng = np.random.default_rng(3)
    values = rng.exponential(2.0, size=(2, 30))
    values[0, [3, 7]] = np.nan
    means, half = target(half_width=1.0, level=0.9).half_widths(values)
    for row, m, h in zip(values, means, half, strict=True):
        valid = row[~np.isnan(row)]
        low, high = stats.t.interval(0.9, len(valid) - 1, valid.mean(), stats.sem(valid))
        np.testing.assert_allclose([m, h], [valid.mean(), (high - low) / 2], rtol=1e-12)
    _, lonely = target(half_width=1.0).half_widths(np.array([[1.0, np.nan, np.nan]]))
    assert lonely[0] == np.inf  # one valid trial: no interval


def test_relative_target_compares_with_the_mean_magnitude():
    relative = target(relative=0.1)
    assert relative.met(np.array([-10.0, 5.0]), np.array([0.9, 0.5]))
    assert not relative.met(np.array([-10.0, 5.0]), np.array([0.9, 0.6]))


def test_per_user_metrics_enter_as_their_mean_per_trial():
    values = np.array([[[1.0, 3.0, np.nan], [np.nan, np.nan, np.nan]]])  # variant, trial, ue
    np.testing.assert_array_equal(per_trial_values(values), [[2.0, np.nan]])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("half_width = 0.1", "key 'precision.metric': missing; expected a string"),
        ('metric = "r"', "key 'precision': expected exactly one of 'half_width'"),
        ('metric = "r"\nhalf_width = 0.1\nrelative = 0.1', "expected exactly one of"),
        ('metric = "r"\nhalf_width = -1.0', "key 'precision.half_width': expected a number > 0"),
        ('metric = "r"\nrelative = 0.1\nlevel = 1.0', "key 'precision.level': expected a number "),
        ('metric = "r"\nrelative = 0.1\nmin_trials = 50', "key 'precision.min_trials': 50 exceeds"),
        ('metric = "r"\nrelative = 0.1\nmax_trials = 7', "key 'precision.max_trials': 7 differs"),
        ('metric = "r"\nrelative = 0.1\nmax_trial = 7', "key 'precision.max_trial': unknown"),
    ],
)
def test_bad_precision_table_is_named(tmp_path, table, message):
    with pytest.raises(ScenarioError) as error:
        load(TOY_SCENARIO + f"\n[precision]\n{table}\n", tmp_path)
    assert message in str(error.value) and str(tmp_path / "scenario.toml") in str(error.value)


def test_max_trials_may_replace_trials(tmp_path):
    text = TOY_SCENARIO.replace("trials = 6\n", "")
    scenario = load(
        text + '\n[precision]\nmetric = "rate_bps_hz"\nrelative = 0.1\nmax_trials = 12\n',
        tmp_path,
    )
    assert scenario.trials == 12 and scenario.precision.max_trials == 12


def test_unknown_metric_is_named_with_file_and_key_before_running(tmp_path):
    scenario = tmp_path / "p.toml"
    scenario.write_text(PRECISE.replace('metric = "rate_bps_hz"', 'metric = "rate_bps"'))
    for command in (("validate",), ("run", "-o", str(tmp_path / "p.nc"), "--quiet")):
        result = invoke(command[0], str(scenario), *command[1:])
        assert result.exit_code == 2, result.output
        assert (
            f"{scenario}: 1 problem:\n  - key 'precision.metric': 'rate_bps' is not a metric of "
            "this scenario's system; did you mean 'rate_bps_hz'" in result.output
        )
        assert "Traceback" not in result.output
    assert not (tmp_path / "p.nc").exists() and not (tmp_path / "p.nc.parts").exists()


@pytest.fixture(scope="module")
def precise_serial(tmp_path_factory) -> xr.Dataset:
    return run(PRECISE, tmp_path_factory.mktemp("precise") / "serial.nc", "--workers", "1")


def test_each_point_stops_at_the_first_block_meeting_the_target(precise_serial):
    ds = precise_serial
    trials_run = ds.trials_run.values
    assert len(set(trials_run)) > 1, "the points should need different numbers of trials"
    check = target(half_width=TARGET, min_trials=8, max_trials=40)
    for i, n in enumerate(trials_run):
        rate = ds.rate_bps_hz.isel(snr_db=i).values
        assert np.isnan(rate[:, n:]).all() and not np.isnan(rate[:, :n]).any()
        means, half = check.half_widths(rate[:, :n])
        np.testing.assert_allclose(ds.half_width_reached.isel(snr_db=i), half, rtol=1e-12)
        assert check.met(means, half) or n == 40
        for earlier in range(8, n, BLOCK):  # no earlier block boundary met it
            assert not check.met(*check.half_widths(rate[:, :earlier]))
    assert ds.half_width_reached.attrs["units"] == "bit/s/Hz"
    assert "sum rate" in ds.half_width_reached.attrs["long_name"]


def test_precision_is_bit_identical_for_any_worker_count(precise_serial, tmp_path):
    for workers in ("2", "3"):
        pool = run(PRECISE, tmp_path / f"pool{workers}.nc", "--workers", workers)
        xr.testing.assert_identical(deterministic_part(precise_serial), deterministic_part(pool))


def test_precision_is_bit_identical_on_dask(precise_serial, tmp_path):
    pytest.importorskip("dask.distributed")
    dask = run(PRECISE, tmp_path / "dask.nc", "--executor", "dask", "--workers", "2")
    xr.testing.assert_identical(deterministic_part(precise_serial), deterministic_part(dask))


def test_interrupted_precision_run_resumes_from_its_blocks(precise_serial, tmp_path):
    scenario = tmp_path / "slow.toml"
    scenario.write_text(
        PRECISE.replace(
            'model = "toy_random_phases"', 'model = "toy_random_phases"\nsleep_s = 0.02'
        )
    )
    out = tmp_path / "slow.nc"
    parts = parts_directory(out)
    command = [
        sys.executable, "-m", "simframe", "run", str(scenario), "-o", str(out), "--quiet",
        "--workers", "2", "--plugin", str(TOY_PLUGIN),
    ]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while process.poll() is None and len(list(parts.glob("block-*.nc"))) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    kept_blocks = len(list(parts.glob("block-*.nc")))
    assert kept_blocks >= 3 and not out.exists(), "the kill should land mid-run"
    subprocess.run(command, capture_output=True, check=True)
    assert not parts.exists()
    xr.testing.assert_identical(
        deterministic_part(precise_serial), deterministic_part(open_result(out))
    )


def test_validate_describes_the_target(tmp_path):
    scenario = tmp_path / "p.toml"
    scenario.write_text(PRECISE)
    result = invoke("validate", str(scenario))
    assert "at most 40 trials = at most 240 simulations in blocks of 4 trials" in result.output
    assert "stops when rate_bps_hz: 0.95 confidence half-width <= 0.8" in result.output
