"""Scheduler overheads: persistence of blocks and points, and dask vs the local process pool.

    python benchmarks/bench_runner.py [SCENARIO] [--trials N] [--workers N]

Prints (1) the time spent persisting finished blocks of trials and finished points (one netCDF
file each, written aside and renamed) as a share of a serial run, and (2) the wall time of the
same scenario on the local process pool and on a dask LocalCluster with the same number of
workers, with their ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import simframe.runner as runner
from simframe.errors import RunError
from simframe.plugins import PluginSettings, get_registry
from simframe.results import write_atomically
from simframe.runner import RunOptions, run_scenario
from simframe.scenario import load_scenario


def timed_run(scenario_path: str, trials: int, executor: str, workers: int) -> float:
    settings = PluginSettings()
    registry = get_registry(settings)
    scenario = load_scenario(scenario_path, registry, (f"trials={trials}",))
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(
            Path(tmp) / "out.nc", workers=workers, executor=executor, progress=False
        )
        start = time.perf_counter()
        run_scenario(scenario, registry, settings, options)
        return time.perf_counter() - start


def persistence_share(scenario_path: str, trials: int) -> tuple[float, float, int]:
    spent: list[float] = []

    def timed_write(dataset, path):
        start = time.perf_counter()
        write_atomically(dataset, path)
        spent.append(time.perf_counter() - start)

    runner.write_atomically = timed_write
    try:
        total = timed_run(scenario_path, trials, "local", 1)
    finally:
        runner.write_atomically = write_atomically
    # the last write is the combined dataset, not a block or a point
    return total, sum(spent[:-1]), len(spent) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="scenarios/quickstart.toml")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    trials = args.trials or load_scenario(args.scenario, get_registry(), ()).trials

    total, writing, files = persistence_share(args.scenario, trials)
    print(f"{args.scenario}, {trials} trials, serial: {total:.2f} s")
    print(
        f"persistence: {files} block and point files, {1e3 * writing / files:.1f} ms each, "
        f"{100 * writing / total:.1f} % of the run"
    )
    pool = timed_run(args.scenario, trials, "local", args.workers)
    try:
        dask = timed_run(args.scenario, trials, "dask", args.workers)
    except RunError as exc:  # dask is an optional extra
        print(f"process pool ({args.workers} workers): {pool:.2f} s; dask unavailable: {exc}")
        return
    print(
        f"process pool ({args.workers} workers): {pool:.2f} s; dask LocalCluster: {dask:.2f} s; "
        f"dask / pool = {dask / pool:.2f}"
    )


if __name__ == "__main__":
    main()
