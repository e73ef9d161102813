"""Helpers of the fault-injection tests: runs of the toy system in a child process, its worker
processes, and a plugin whose failures and trials are steered from the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .conftest import TOY_PLUGIN, TOY_SCENARIO

SLOW_SCENARIO = TOY_SCENARIO.replace(
    'model = "toy_random_phases"', 'model = "toy_random_phases"\nsleep_s = 0.05'
).replace("trials = 6", "trials = 20")
"""Three points of 20 trials, 0.05 s per trial and variant: about 6 s of work."""

STEERED_PLUGIN = """\
import os

from simframe import hookimpl


@hookimpl
def simframe_channel_drawn(trial, channel):
    log = os.environ.get("SIMFRAME_TEST_TRIAL_LOG")
    if log:
        with open(log, "a") as file:
            file.write(f"{trial.point_index} {trial.trial_index}\\n")


@hookimpl
def simframe_trial_metrics(trial, metrics):
    if os.environ.get("SIMFRAME_TEST_FAIL_AT") == f"{trial.point_index} {trial.trial_index}":
        raise RuntimeError("told to fail by the environment")
"""
"""Logs every trial it sees and fails where ``SIMFRAME_TEST_FAIL_AT="POINT TRIAL"`` says; its
code does not change between runs, so a run it stopped may be resumed."""


def command(scenario: Path, output: Path, *extra: str) -> list[str]:
    """``simframe run SCENARIO -o OUTPUT --quiet --plugin toy_system.py EXTRA`` in a new Python."""
    return [
        sys.executable, "-m", "simframe", "run", str(scenario), "-o", str(output), "--quiet",
        "--plugin", str(TOY_PLUGIN), *extra,
    ]  # fmt: skip


def start(arguments: list[str]) -> subprocess.Popen[str]:
    """Start a run in its own process group (so that a test can signal the whole group)."""
    return subprocess.Popen(
        arguments,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], seconds=60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the run ended early: {process.communicate()}"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.01)


def finish(process: subprocess.Popen[str], seconds: float = 60) -> tuple[int, str, str]:
    """Wait for the run and for every process that holds its output open (its workers);
    kill the whole group if that takes longer than ``seconds`` and fail."""
    try:
        stdout, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"the run hung for {seconds} s: {stderr}") from None
    return process.returncode, stdout, stderr


def worker_processes(pid: int) -> list[int]:
    """The children of ``pid`` that run its command line (the pool's workers), Linux only."""
    own = Path(f"/proc/{pid}/cmdline").read_bytes()
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid and (stat.parent / "cmdline").read_bytes() == own:
                workers.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    return workers


def logged_trials(log: Path) -> set[tuple[int, int]]:
    if not log.exists():
        return set()
    return {(int(p), int(t)) for p, t in (line.split() for line in log.read_text().splitlines())}
