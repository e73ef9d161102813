"""Faults a run must survive: dead workers, damaged part files, clashing runs, bad output paths
and signals. Nothing hangs, nothing finished is lost, and every problem is one clear line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import xarray as xr

from simframe.results import deterministic_part, open_result
from simframe.runner import parts_directory

from .conftest import TOY_SCENARIO, invoke
from .faults import (
    SLOW_SCENARIO,
    STEERED_PLUGIN,
    command,
    finish,
    logged_trials,
    start,
    wait_for,
    worker_processes,
)

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def one_error_line(output: str) -> str:
    """The output must be exactly one ``error:`` line (no traceback); return it."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    path = tmp_path / "toy.toml"
    path.write_text(TOY_SCENARIO)
    return path


@pytest.fixture(scope="module")
def toy_result(tmp_path_factory) -> xr.Dataset:
    root = tmp_path_factory.mktemp("reference")
    (root / "toy.toml").write_text(TOY_SCENARIO)
    out = root / "toy.nc"
    result = invoke("run", str(root / "toy.toml"), "-o", str(out), "--quiet", "--workers", "1")
    assert result.exit_code == 0, result.output
    return open_result(out)


def assert_identical(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_identical(deterministic_part(a), deterministic_part(b))


def slow_run_under_way(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    """A slow sweep started in a child process, once it has kept its first finished part."""
    scenario = tmp_path / "slow.toml"
    scenario.write_text(SLOW_SCENARIO)
    out = tmp_path / "slow.nc"
    parts = parts_directory(out)
    process = start(command(scenario, out, *extra))
    wait_for(lambda: parts.is_dir() and any(parts.glob("*-*.nc")), process, seconds=120)
    return process, out


# --- dead workers -----------------------------------------------------------------------------


@linux_only
@pytest.mark.timeout(180)
def test_a_killed_worker_never_hangs_the_run(tmp_path):
    """kill -9 of one pool worker: its jobs run again and the run finishes, identical."""
    process, out = slow_run_under_way(tmp_path, "--workers", "2")
    workers = worker_processes(process.pid)
    assert workers, "the pool has no workers"
    os.kill(workers[0], signal.SIGKILL)
    returncode, _, stderr = finish(process)
    assert returncode == 0, stderr
    assert "a worker process died (killed by signal SIGKILL)" in stderr
    assert "Traceback" not in stderr
    whole = invoke("run", str(tmp_path / "slow.toml"), "-o", str(tmp_path / "whole.nc"), "--quiet")
    assert whole.exit_code == 0, whole.output
    assert_identical(open_result(out), open_result(tmp_path / "whole.nc"))


def crashing_plugin(tmp_path: Path) -> Path:
    """A plugin that kills its own process (a crash in native code) at point 1, trial 3."""
    path = tmp_path / "crash.py"
    path.write_text(
        "import os\nimport signal\n\nfrom simframe import hookimpl\n\n\n@hookimpl\n"
        "def simframe_channel_drawn(trial, channel):\n"
        "    if (trial.point_index, trial.trial_index) == (1, 3):\n"
        "        os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    return path


@pytest.mark.timeout(180)
def test_a_worker_that_dies_again_stops_the_run_with_a_clear_message(tmp_path, toy):
    out = tmp_path / "out.nc"
    crash = crashing_plugin(tmp_path)
    process = start(command(toy, out, "--workers", "2", "--plugin", str(crash)))
    returncode, _, stderr = finish(process)
    assert returncode == 1
    assert "Traceback" not in stderr
    assert "killed by signal SIGSEGV" in stderr
    assert "sweep point 1" in stderr and "trial" in stderr
    assert "worker processes died twice" in stderr
    assert parts_directory(out).is_dir() and not out.exists()


# --- damaged part files -----------------------------------------------------------------------


def steered_run(tmp_path: Path, scenario: Path, out: Path, fail_at: str | None, *extra: str):
    plugin = tmp_path / "steered.py"
    plugin.write_text(STEERED_PLUGIN)
    env = {"SIMFRAME_TEST_TRIAL_LOG": str(tmp_path / "trials.log")}
    if fail_at is not None:
        env["SIMFRAME_TEST_FAIL_AT"] = fail_at
    saved = {
        key: os.environ.get(key) for key in ("SIMFRAME_TEST_TRIAL_LOG", "SIMFRAME_TEST_FAIL_AT")
    }
    os.environ.update(env)
    try:
        return invoke(
            "run", str(scenario), "-o", str(out), "--quiet", "--plugin", str(plugin), *extra
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_truncated_point_file_costs_only_its_point(tmp_path, toy, toy_result):
    out = tmp_path / "out.nc"
    parts = parts_directory(out)
    stopped = steered_run(tmp_path, toy, out, "2 0", "--workers", "1")
    assert stopped.exit_code == 1 and "told to fail" in stopped.output
    damaged = parts / "point-000000.nc"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    (tmp_path / "trials.log").unlink()
    resumed = steered_run(tmp_path, toy, out, None, "--workers", "1")
    assert resumed.exit_code == 0, resumed.output
    assert "Traceback" not in resumed.output
    assert str(damaged) in resumed.output and "is damaged" in resumed.output
    assert logged_trials(tmp_path / "trials.log") == {(p, t) for p in (0, 2) for t in range(6)}
    kept = out.with_name(out.name + ".corrupt") / "point-000000.nc"
    assert kept.read_bytes() == data[: len(data) // 2]
    assert_identical(open_result(out), toy_result)


def test_a_truncated_block_file_costs_only_its_block(tmp_path, toy_result):
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO + "\n[run]\ntrial_block = 2\n")
    out = tmp_path / "out.nc"
    parts = parts_directory(out)
    stopped = steered_run(tmp_path, scenario, out, "1 4", "--workers", "1")
    assert stopped.exit_code == 1
    damaged = parts / "block-000001-000000.nc"
    assert damaged.exists() and (parts / "block-000001-000001.nc").exists()
    damaged.write_bytes(damaged.read_bytes()[:100])
    (tmp_path / "trials.log").unlink()
    resumed = steered_run(tmp_path, scenario, out, None, "--workers", "1")
    assert resumed.exit_code == 0, resumed.output
    assert str(damaged) in resumed.output and "is damaged" in resumed.output
    assert logged_trials(tmp_path / "trials.log") == {
        *((1, t) for t in (0, 1, 4, 5)),
        *((2, t) for t in range(6)),
    }
    blocked = invoke(
        "run", str(scenario), "-o", str(tmp_path / "whole.nc"), "--quiet", "--workers", "1"
    )
    assert blocked.exit_code == 0
    assert_identical(open_result(out), open_result(tmp_path / "whole.nc"))


def test_a_damaged_manifest_is_one_line(tmp_path, toy):
    out = tmp_path / "out.nc"
    stopped = steered_run(tmp_path, toy, out, "1 0", "--workers", "1")
    assert stopped.exit_code == 1
    (parts_directory(out) / "manifest.json").write_text('{"finger')
    result = invoke("run", str(toy), "-o", str(out), "--quiet", "--workers", "1")
    assert result.exit_code == 2
    assert "manifest.json is damaged" in one_error_line(result.output)


# --- two runs, one output ---------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    scenario = tmp_path / "slow.toml"
    scenario.write_text(SLOW_SCENARIO)
    out = tmp_path / "slow.nc"
    first = start(command(scenario, out, "--workers", "1"))
    try:
        wait_for(lambda: (parts_directory(out) / "manifest.json").exists(), first)
        second = invoke("run", str(scenario), "-o", str(out), "--quiet", "--workers", "1")
        assert second.exit_code == 2
        line = one_error_line(second.output)
        assert f"{out} is being written by process {first.pid}" in line
        fresh = invoke("run", str(scenario), "-o", str(out), "--quiet", "--fresh")
        assert fresh.exit_code == 2 and "is being written by process" in fresh.output
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        finish(first)
    assert parts_directory(out).is_dir(), "the refused runs must not touch the first one's parts"


# --- output paths -----------------------------------------------------------------------------


@pytest.mark.parametrize("fresh", [(), ("--fresh",)], ids=["resume", "fresh"])
def test_an_existing_file_that_is_not_a_result_is_never_overwritten(tmp_path, toy, fresh):
    out = tmp_path / "notes.nc"
    out.write_text("my notes\n")
    result = invoke("run", str(toy), "-o", str(out), "--quiet", "--workers", "1", *fresh)
    assert result.exit_code == 2
    assert "is not a simframe result" in one_error_line(result.output)
    assert out.read_text() == "my notes\n"
    assert not parts_directory(out).exists()


def test_fresh_never_replaces_the_scenario_itself(toy):
    text = toy.read_text()
    result = invoke("run", str(toy), "-o", str(toy), "--quiet", "--fresh")
    assert result.exit_code == 2
    assert "is not a simframe result" in one_error_line(result.output)
    assert toy.read_text() == text


def test_a_plain_file_where_the_parts_belong_is_one_line(tmp_path, toy):
    out = tmp_path / "out.nc"
    parts = parts_directory(out)
    parts.write_text("something else\n")
    for extra in ((), ("--fresh",)):
        result = invoke("run", str(toy), "-o", str(out), "--quiet", "--workers", "1", *extra)
        assert result.exit_code == 2
        assert str(parts) in one_error_line(result.output)
        assert parts.read_text() == "something else\n"


def test_fresh_never_deletes_a_directory_that_holds_no_parts(tmp_path, toy):
    out = tmp_path / "out.nc"
    parts = parts_directory(out)
    parts.mkdir()
    (parts / "thesis.tex").write_text("chapter 1\n")
    result = invoke("run", str(toy), "-o", str(out), "--quiet", "--fresh")
    assert result.exit_code == 2
    assert "not the finished parts of a simframe run" in one_error_line(result.output)
    assert (parts / "thesis.tex").read_text() == "chapter 1\n"


def test_an_unwritable_location_is_one_line(tmp_path, toy):
    if os.geteuid() == 0:
        target = Path("/sys/simframe-test-output.nc")  # refused even to root
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "out.nc"
    result = invoke("run", str(toy), "-o", str(target), "--quiet", "--workers", "1")
    assert result.exit_code == 2
    assert "cannot write" in one_error_line(result.output)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB file system (tmpfs), where the privileges allow mounting one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def test_a_full_disk_is_one_line_and_loses_nothing(tmp_path, tiny_disk):
    scenario = tmp_path / "big.toml"
    scenario.write_text(TOY_SCENARIO)
    out = tiny_disk / "out.nc"
    result = invoke(
        "run", str(scenario), "-o", str(out), "--quiet", "--workers", "1", "--trials", "600"
    )
    assert result.exit_code == 2
    assert "no space left" in one_error_line(result.output)
    assert not list(tiny_disk.glob("**/.*.tmp")), "no temporary file is left behind"


# --- where the output goes and with which mode ------------------------------------------------


def test_an_output_directory_receives_the_scenario_named_file(tmp_path, toy):
    target = tmp_path / "results"
    result = invoke("run", str(toy), "-o", f"{target}{os.sep}", "--quiet", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert (target / "toy.nc").is_file()
    again = invoke("run", str(toy), "-o", str(target), "--quiet", "--workers", "1")
    assert again.exit_code == 0 and "already complete" in again.output


def test_result_files_honour_the_umask(tmp_path, toy):
    previous = os.umask(0o022)
    try:
        out = tmp_path / "out.nc"
        result = invoke("run", str(toy), "-o", str(out), "--quiet", "--workers", "1")
    finally:
        os.umask(previous)
    assert result.exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o644


def test_a_precision_run_stores_only_the_trials_it_ran(tmp_path):
    scenario = tmp_path / "precise.toml"
    scenario.write_text(
        TOY_SCENARIO.replace("trials = 6\n", "").replace("system.snr_db = [0.0, 10.0, 20.0]", "")
        + '\n[precision]\nmetric = "rate_bps_hz"\nrelative = 10.0\nmin_trials = 4\n'
        "max_trials = 5000000\n"
    )
    out = tmp_path / "precise.nc"
    result = invoke("run", str(scenario), "-o", str(out), "--quiet", "--workers", "1")
    assert result.exit_code == 0, result.output
    ds = open_result(out)
    assert ds.sizes["trial"] == int(ds.trials_run.max()) == 4
    assert out.stat().st_size < 200_000


# --- signals ----------------------------------------------------------------------------------


@linux_only
@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_like_ctrl_c(tmp_path, workers):
    process, _ = slow_run_under_way(tmp_path, "--workers", workers)
    process.send_signal(signal.SIGTERM)  # the main process only, as `kill PID` does
    returncode, _, stderr = finish(process)
    assert returncode == 128 + signal.SIGTERM
    assert "terminated (SIGTERM)" in stderr and "run the same command again" in stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


@linux_only
@pytest.mark.timeout(120)
def test_workers_of_a_killed_run_end_silently(tmp_path):
    process, _ = slow_run_under_way(tmp_path, "--workers", "2")
    workers = worker_processes(process.pid)
    process.kill()  # the main process only: its workers are orphaned
    _, _, stderr = finish(process, seconds=30)  # returns once every worker closed stderr
    assert workers and stderr == ""


@pytest.mark.timeout(180)
def test_ctrl_c_under_dask_is_one_clean_message(tmp_path):
    pytest.importorskip("dask.distributed")
    process, _ = slow_run_under_way(tmp_path, "--executor", "dask", "--workers", "2")
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal
    returncode, _, stderr = finish(process)
    assert returncode == 130
    assert "Traceback" not in stderr, stderr
    assert stderr.count("error: ") == 1 and "interrupted" in stderr


def test_keyboard_interrupt_in_process_exits_130(tmp_path, toy, monkeypatch):
    from simframe import execution

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(execution, "run_block", interrupted)
    out = tmp_path / "out.nc"
    result = invoke("run", str(toy), "-o", str(out), "--quiet", "--workers", "1")
    assert result.exit_code == 130
    assert "interrupted" in result.output and "run the same command again" in result.output


# --- what a failure advises -------------------------------------------------------------------


def test_a_deterministic_failure_does_not_advise_a_plain_rerun(tmp_path, toy):
    out = tmp_path / "out.nc"
    result = steered_run(tmp_path, toy, out, "1 2", "--workers", "1")
    assert result.exit_code == 1
    assert "run the same command again" not in result.output
    assert "--keep-going" in result.output and "will fail again" in result.output


def test_traceback_shows_each_original_traceback_once(tmp_path):
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO + "\n[run]\ntrial_block = 3\n")
    result = steered_run(tmp_path, scenario, tmp_path / "o.nc", "0 1", "--traceback")
    assert result.exit_code == 1
    assert result.output.count("Traceback (most recent call last)") == 1, result.output
    assert "During handling of the above exception" not in result.output
    assert "told to fail by the environment" in result.output
