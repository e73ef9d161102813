"""Scaling of a run over dask workers: wall time with 1, 2, ... workers of a LocalCluster.

    python benchmarks/bench_cluster_scaling.py [SCENARIO] [--trials N] [--set KEY=VALUE ...]
        [--workers 1 2]

Each worker count gets its own LocalCluster (one single-threaded worker process per core,
listening on 127.0.0.1 only), started before the clock starts, as the workers of a SLURM
cluster are running before ``simframe run --address`` is; the scenario then runs through
``simframe run --executor dask --address`` (the Python API of it). Prints the wall time per
worker count, its ratio to the first, the number of jobs the run was cut into, the peak memory
of a worker, and checks that every run wrote the same numbers (timing variables aside).
"""

from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time
from pathlib import Path

import xarray as xr
from dask.distributed import Client, LocalCluster

from simframe.plugins import PluginSettings, get_registry
from simframe.results import open_result
from simframe.runner import RunOptions, run_scenario
from simframe.scenario import Scenario, load_scenario


def jobs_of(scenario: Scenario, workers: int) -> int:
    """How many jobs a fixed-count run of ``scenario`` is cut into on ``workers`` workers."""
    blocks = len(scenario.blocks())
    group = max(1, math.ceil(blocks / (4 * workers)))
    return scenario.n_points * math.ceil(blocks / group)


def peak_memory_mib() -> float:
    """Peak resident memory of this process (a worker's, when run on one), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed_run(scenario: Scenario, workers: int, output: Path) -> tuple[float, float]:
    """Wall time of ``scenario`` on a LocalCluster of ``workers`` workers already running, and
    the largest peak memory of a worker (MiB)."""
    settings = PluginSettings()
    registry = get_registry(settings)
    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        options = RunOptions(
            output, executor="dask", address=cluster.scheduler_address, progress=False
        )
        start = time.perf_counter()
        run_scenario(scenario, registry, settings, options)
        elapsed = time.perf_counter() - start
        with Client(cluster) as client:
            peaks = client.run(peak_memory_mib)
        return elapsed, max(peaks.values())


TIMING_ATTRS = ("history", "variant_runtime_s")


def without_timings(dataset: xr.Dataset) -> xr.Dataset:
    """``dataset`` without what differs between two runs of a scenario: wall-clock times."""
    timings = [n for n, v in dataset.data_vars.items() if v.attrs.get("simframe_role") == "timing"]
    kept = dataset.drop_vars(timings)
    kept.attrs = {k: v for k, v in kept.attrs.items() if k not in TIMING_ATTRS}
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="scenarios/quickstart.toml")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    overrides = list(args.overrides)
    if args.trials is not None:
        overrides.append(f"trials={args.trials}")
    scenario = load_scenario(args.scenario, get_registry(PluginSettings()), tuple(overrides))
    print(
        f"{args.scenario} {' '.join(overrides)}: {scenario.n_points} points x "
        f"{len(scenario.variants)} variants x {scenario.trials} trials, blocks of "
        f"{scenario.trial_block} trials"
    )
    times: dict[int, float] = {}
    memory: dict[int, float] = {}
    results: dict[int, xr.Dataset] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            output = Path(tmp) / f"workers{workers}.nc"
            times[workers], memory[workers] = timed_run(scenario, workers, output)
            results[workers] = without_timings(open_result(output))
    first = args.workers[0]
    for workers in args.workers:
        identical = results[workers].identical(results[first])
        print(
            f"{workers} workers: {times[workers]:7.1f} s wall, {jobs_of(scenario, workers)} jobs, "
            f"speed-up over {first} worker(s) {times[first] / times[workers]:.2f}x, "
            f"peak memory per worker {memory[workers]:.0f} MiB, same numbers: {identical}"
        )


if __name__ == "__main__":
    main()
