"""Fixed-size blocks of trials: sizes from the scenario or the system, never from the workers."""

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

from simframe.components import ComponentKind
from simframe.errors import ScenarioError
from simframe.plugins import PluginSettings, get_registry
from simframe.results import deterministic_part, open_result
from simframe.runner import parts_directory
from simframe.scenario import load_scenario

from .conftest import TOY_PLUGIN, TOY_SCENARIO, invoke

BLOCKED = TOY_SCENARIO + "\n[run]\ntrial_block = 4\n"


def run(text: str, output: Path, *extra: str) -> xr.Dataset:
    scenario = output.with_suffix(".toml")
    scenario.write_text(text)
    result = invoke("run", str(scenario), "-o", str(output), "--quiet", *extra)
    assert result.exit_code == 0, result.output
    return open_result(output)


def toy_registry():
    return get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),)))


def load(text: str, tmp_path: Path, *overrides: str):
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return load_scenario(path, toy_registry(), overrides)


def test_blocks_have_fixed_boundaries(tmp_path):
    scenario = load(BLOCKED, tmp_path)
    assert scenario.trial_block == 4
    assert scenario.blocks() == [range(0, 4), range(4, 6)]
    assert load(TOY_SCENARIO, tmp_path).trial_block == 1  # the toy system's default
    assert load(TOY_SCENARIO, tmp_path, "run.trial_block=3").blocks() == [range(3), range(3, 6)]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[run]\ntrial_block = 0", "key 'run.trial_block': expected an integer >= 1"),
        ('[run]\ntrial_block = "4"', "key 'run.trial_block': expected an integer"),
        ("[run]\ntrial_blocks = 4", "key 'run.trial_blocks': unknown parameter of the [run] "),
        ("run = 4", "key 'run': expected a table"),
    ],
)
def test_bad_run_table_is_named(tmp_path, table, message):
    text = table + "\n" + TOY_SCENARIO if table == "run = 4" else TOY_SCENARIO + table + "\n"
    with pytest.raises(ScenarioError) as error:
        load(text, tmp_path)
    assert message in str(error.value)
    assert str(tmp_path / "scenario.toml") in str(error.value)


def test_block_size_changes_the_fingerprint(tmp_path):
    assert load(BLOCKED, tmp_path).fingerprint != load(TOY_SCENARIO, tmp_path).fingerprint


def test_runner_hands_the_system_whole_blocks(tmp_path, monkeypatch):
    cls = toy_registry().get(ComponentKind.SYSTEM_MODEL, "toy_link").cls
    sizes: list[tuple[int, ...]] = []
    original = cls.simulate_block

    def recording(self, realisations, trials):
        sizes.append(tuple(t.trial_index for t in trials))
        return original(self, realisations, trials)

    monkeypatch.setattr(cls, "simulate_block", recording)
    run(BLOCKED, tmp_path / "blocks.nc", "--workers", "1")
    # 3 points x 2 variants, each [0, 4) then [4, 6)
    assert sorted(set(sizes)) == [(0, 1, 2, 3), (4, 5)]
    assert len(sizes) == 3 * 2 * 2


@pytest.fixture(scope="module")
def blocked_serial(tmp_path_factory) -> xr.Dataset:
    return run(BLOCKED, tmp_path_factory.mktemp("blocked") / "serial.nc", "--workers", "1")


def test_batched_equals_per_trial_within_round_off(blocked_serial, tmp_path):
    per_trial = run(TOY_SCENARIO, tmp_path / "per_trial.nc", "--workers", "1")
    for name in ("rate_bps_hz", "stream_rate_bps_hz", "channel", "objective_trace"):
        np.testing.assert_allclose(
            blocked_serial[name].values, per_trial[name].values, rtol=1e-13, atol=0
        )
    np.testing.assert_array_equal(blocked_serial.iterations, per_trial.iterations)


def test_blocks_are_bit_identical_for_one_or_two_workers(blocked_serial, tmp_path):
    pool = run(BLOCKED, tmp_path / "pool.nc", "--workers", "2")
    xr.testing.assert_identical(deterministic_part(blocked_serial), deterministic_part(pool))


def test_blocks_are_bit_identical_on_dask(blocked_serial, tmp_path):
    pytest.importorskip("dask.distributed")
    dask = run(BLOCKED, tmp_path / "dask.nc", "--executor", "dask", "--workers", "2")
    xr.testing.assert_identical(deterministic_part(blocked_serial), deterministic_part(dask))


def test_runtime_is_the_block_time_shared_by_its_trials(blocked_serial):
    runtime = blocked_serial.runtime_s
    assert "block" in runtime.attrs["long_name"]
    assert runtime.attrs["simframe_role"] == "timing"
    first_block = runtime.isel(trial=slice(0, 4)).values
    assert np.all(first_block == first_block[..., :1])  # one block time / 4 for each trial


def test_a_failing_trial_fails_alone_in_its_block(tmp_path):
    text = BLOCKED.replace(
        'model = "toy_random_phases"', 'model = "toy_random_phases"\nfail_on_trial = 5'
    )
    out = tmp_path / "failing.nc"
    scenario = out.with_suffix(".toml")
    scenario.write_text(text)
    result = invoke("run", str(scenario), "-o", str(out), "--quiet", "--keep-going")
    assert result.exit_code == 1
    ds = open_result(out)
    failed = ds.error != ""
    assert int(failed.sum()) == 3 * 2 and bool(failed.sel(trial=5).all())
    assert not np.isnan(ds.rate_bps_hz.sel(trial=4).values).any()
    stopped = invoke("run", str(scenario), "-o", str(tmp_path / "stop.nc"), "--quiet")
    assert stopped.exit_code == 1 and "trial 5" in stopped.output


def test_metrics_sharing_a_dim_are_padded_to_its_longest(tmp_path):
    plugin = tmp_path / "steps.py"
    plugin.write_text(
        "import numpy as np\n"
        "from simframe import Metric, hookimpl\n"
        "\n"
        "\n"
        "@hookimpl\n"
        "def simframe_trial_metrics(trial, metrics):\n"
        "    steps = np.arange(1.0, 2 + trial.trial_index)\n"
        "    return {'step_trace': Metric(steps, '1', 'steps', ('iteration',))}\n"
    )
    ds = run(BLOCKED, tmp_path / "steps.nc", "--workers", "1", "--plugin", str(plugin))
    assert ds.sizes["iteration"] == 6  # trial 5's step trace; objective traces are shorter
    trial_1 = ds.step_trace.sel(trial=1).values
    assert (trial_1[..., :2] == [1.0, 2.0]).all() and np.isnan(trial_1[..., 2:]).all()
    assert np.isnan(ds.objective_trace.values[..., 5:]).all()


def test_resume_with_another_worker_count_regroups_the_blocks(tmp_path):
    """Jobs carry several blocks (how many depends on the workers); a resumed run with other
    workers takes the finished blocks of the interrupted one and gives the identical dataset."""
    text = TOY_SCENARIO.replace("trials = 6", "trials = 40").replace(
        'model = "toy_random_phases"', 'model = "toy_random_phases"\nsleep_s = 0.01'
    )
    scenario = tmp_path / "slow.toml"
    scenario.write_text(text + "\n[run]\ntrial_block = 2\n")
    out = tmp_path / "slow.nc"
    parts = parts_directory(out)
    command = [
        sys.executable, "-m", "simframe", "run", str(scenario), "-o", str(out), "--quiet",
        "--plugin", str(TOY_PLUGIN), "--workers",
    ]  # fmt: skip
    process = subprocess.Popen([*command, "1"], start_new_session=True)
    deadline = time.monotonic() + 120
    while process.poll() is None and not list(parts.glob("block-*.nc")):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert list(parts.glob("block-*.nc")) and not out.exists(), "the kill should land mid-run"
    subprocess.run([*command, "2"], capture_output=True, check=True)
    whole = run(text + "\n[run]\ntrial_block = 2\n", tmp_path / "whole.nc", "--workers", "1")
    xr.testing.assert_identical(deterministic_part(open_result(out)), deterministic_part(whole))
