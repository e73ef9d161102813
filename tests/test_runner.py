"""Running sweeps: executors agree bit for bit, nothing finished is lost, failures are isolated."""

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

from simframe.results import deterministic_part, open_result
from simframe.runner import parts_directory

from .conftest import TOY_PLUGIN, TOY_SCENARIO, invoke


def run(scenario: Path, output: Path, *extra: str) -> xr.Dataset:
    result = invoke("run", str(scenario), "-o", str(output), "--quiet", *extra)
    assert result.exit_code == 0, result.output
    return open_result(output)


def assert_identical(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_identical(deterministic_part(a), deterministic_part(b))


@pytest.fixture(scope="module")
def serial_result(tmp_path_factory) -> xr.Dataset:
    root = tmp_path_factory.mktemp("serial")
    scenario = root / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    return run(scenario, root / "serial.nc", "--workers", "1")


def test_dataset_is_labelled(serial_result):
    ds = serial_result
    assert ds.rate_bps_hz.dims == ("snr_db", "variant", "trial")
    assert ds.rate_bps_hz.attrs["units"] == "bit/s/Hz"
    assert ds.snr_db.attrs["units"] == "dB"
    assert ds.channel.dtype == np.complex128
    assert ds.attrs["seed_entropy"] == "1234"
    assert "[variants.two_watts]" in ds.attrs["scenario"]
    for name in ("Conventions", "title", "source", "history", "plugin_versions"):
        assert ds.attrs[name]
    assert set(ds.variant.values) == {"one_watt", "two_watts"}


def test_variants_share_the_channel_realisation(serial_result):
    channel = serial_result.channel
    # random phases differ per variant but |gain| depends only on the channel draw
    np.testing.assert_array_equal(
        np.abs(channel.sel(variant="one_watt")), np.abs(channel.sel(variant="two_watts"))
    )


def test_process_pool_gives_identical_dataset(serial_result, toy_scenario, tmp_path):
    assert_identical(serial_result, run(toy_scenario, tmp_path / "pool.nc", "--workers", "2"))


def test_dask_gives_identical_dataset(serial_result, toy_scenario, tmp_path):
    pytest.importorskip("dask.distributed")
    result = run(toy_scenario, tmp_path / "dask.nc", "--executor", "dask", "--workers", "2")
    assert_identical(serial_result, result)


def test_rerun_of_complete_output_does_nothing(toy_scenario, tmp_path):
    out = tmp_path / "out.nc"
    run(toy_scenario, out, "--workers", "1")
    stamp = out.stat().st_mtime_ns
    result = invoke("run", str(toy_scenario), "-o", str(out), "--quiet", "--workers", "1")
    assert "already complete" in result.output
    assert out.stat().st_mtime_ns == stamp


def test_changed_scenario_is_refused(toy_scenario, tmp_path):
    out = tmp_path / "out.nc"
    run(toy_scenario, out, "--workers", "1")
    result = invoke("run", str(toy_scenario), "-o", str(out), "--quiet", "--trials", "2")
    assert result.exit_code == 2 and "different scenario" in result.output
    assert open_result(out).sizes["trial"] == 6
    assert run(toy_scenario, out, "--trials", "2", "--fresh").sizes["trial"] == 2


def test_failure_names_plugin_point_and_trial_and_keeps_finished_points(toy_scenario, tmp_path):
    text = TOY_SCENARIO.replace(
        'model = "toy_random_phases"', 'model = "toy_random_phases"\nfail_on_trial = 4'
    ).replace("[sweep]\nsystem.snr_db = [0.0, 10.0, 20.0]", "[sweep]\nsystem.budget_w = [1.0]")
    text = text.replace("[variants.two_watts]\nsystem = { budget_w = 2.0 }\n", "")
    text = text.replace("[variants.one_watt]\nsystem = { budget_w = 1.0 }\n", "")
    scenario = tmp_path / "failing.toml"
    scenario.write_text(text + "\n[sweep.linked.snr]\nsystem.snr_db = [0.0, 5.0]\n")
    out = tmp_path / "failing.nc"
    result = invoke("run", str(scenario), "-o", str(out), "--quiet", "--workers", "1")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    message = result.output
    assert f"phase optimiser 'toy_random_phases' from {TOY_PLUGIN}" in message
    assert "trial 4" in message and "point" in message
    assert "the toy optimiser was told to fail" in message
    assert not out.exists() and parts_directory(out).exists()


def test_keep_going_records_failed_trials_as_nan(tmp_path):
    text = TOY_SCENARIO.replace(
        'model = "toy_random_phases"', 'model = "toy_random_phases"\nfail_on_trial = 4'
    )
    scenario = tmp_path / "failing.toml"
    scenario.write_text(text)
    out = tmp_path / "failing.nc"
    result = invoke("run", str(scenario), "-o", str(out), "--quiet", "--keep-going")
    assert result.exit_code == 1 and "trials failed" in result.output
    ds = open_result(out)
    failed = ds.error != ""
    assert int(failed.sum()) == 3 * 2  # trial 4 of every point and variant
    assert bool(failed.sel(trial=4).all())
    assert bool(ds.rate_bps_hz.where(failed).isnull().all())
    assert not np.isnan(ds.rate_bps_hz.values[~failed.values]).any()
    assert "told to fail" in str(ds.error.sel(trial=4).values.flat[0])


def slow_sweep(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A five-point sweep that takes about two seconds, run by ``python -m simframe``."""
    text = TOY_SCENARIO.replace(
        'model = "toy_random_phases"', 'model = "toy_random_phases"\nsleep_s = 0.05'
    ).replace("system.snr_db = [0.0, 10.0, 20.0]", "system.snr_db = [0.0, 5.0, 10.0, 15.0, 20.0]")
    scenario = tmp_path / "slow.toml"
    scenario.write_text(text)
    out = tmp_path / "slow.nc"
    command = [
        sys.executable, "-m", "simframe", "run", str(scenario), "-o", str(out), "--quiet",
        "--workers", "2", "--plugin", str(TOY_PLUGIN),
    ]  # fmt: skip
    return scenario, out, command


def interrupt_mid_sweep(command: list[str], parts: Path, signum: int) -> tuple[int, str]:
    """Start ``command``, send ``signum`` to its process group once two points are done.

    Returns the exit status and standard error.
    """
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while process.poll() is None and len(list(parts.glob("point-*.nc"))) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_run_resumes_to_identical_result(tmp_path, signum):
    """Interrupt a running sweep, rerun the same command, compare with an uninterrupted run."""
    scenario, out, command = slow_sweep(tmp_path)
    parts = parts_directory(out)
    returncode, stderr = interrupt_mid_sweep(command, parts, signum)
    finished = len(list(parts.glob("point-*.nc")))
    assert 2 <= finished < 5, "the interruption should land mid-sweep"
    assert not out.exists()
    if signum == signal.SIGINT:
        assert returncode == 128 + signal.SIGINT
        assert "interrupted (SIGINT)" in stderr and "run the same command again" in stderr
        assert "Traceback" not in stderr
    resumed = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"resumed: {finished} of 5 sweep points" in resumed.stdout
    assert not parts.exists()
    uninterrupted = run(scenario, tmp_path / "whole.nc", "--workers", "1")
    assert_identical(open_result(out), uninterrupted)
    assert not list(tmp_path.glob(".*.tmp")), "temporary files must not be left behind"


def test_trial_too_large_for_memory_is_refused_before_running(tmp_path):
    scenario = tmp_path / "big.toml"
    scenario.write_text(TOY_SCENARIO.replace("streams = 3", "streams = 3\nmemory_gib = 1e6"))
    out = tmp_path / "big.nc"
    result = invoke("run", str(scenario), "-o", str(out), "--quiet", "--workers", "2")
    assert result.exit_code == 1
    assert "one trial needs about 1000000.0 GiB" in result.output
    assert not out.exists() and not parts_directory(out).exists()


def test_linked_sweep_coordinates_carry_units(tmp_path):
    text = TOY_SCENARIO.replace(
        "[sweep]\nsystem.snr_db = [0.0, 10.0, 20.0]",
        "[sweep.linked.setting]\nsystem.snr_db = [0.0, 10.0]\nsystem.budget_w = [1.0, 3.0]",
    ).replace("[variants.two_watts]\nsystem = { budget_w = 2.0 }\n", "")
    text = text.replace("[variants.one_watt]\nsystem = { budget_w = 1.0 }\n", "")
    scenario = tmp_path / "linked.toml"
    scenario.write_text(text)
    ds = run(scenario, tmp_path / "linked.nc", "--workers", "1", "--trials", "2")
    assert ds.rate_bps_hz.dims == ("setting", "variant", "trial")
    assert ds.setting.attrs["units"] == "dB"
    assert ds.budget_w.dims == ("setting",) and ds.budget_w.attrs["units"] == "W"
    assert list(ds.budget_w.values) == [1.0, 3.0]
