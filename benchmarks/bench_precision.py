"""Trials and wall time saved by [precision] stopping at equal precision.

    python benchmarks/bench_precision.py [--case hmimo_fig1|cellfree_aps|all] [--workers N]

For each case (a reduced paper-figure scenario) it runs

1. the sweep with a ``[precision]`` target: every point stops at the first block of trials
   where every variant's 95 % half-width of the metric's mean meets the target;
2. the same sweep with a fixed number of trials per point: the smallest that gives the *worst*
   point the target, i.e. the largest ``trials_run`` of run 1 (the best a fixed count can do
   knowing the answer in advance; the same trials, since trial t of a point always draws from
   the same seed and blocks have a fixed size);

and prints the trials, the wall time and the simulation time (the sum of the stored per-trial
``runtime_s``, which leaves out the scheduler and discarded speculative blocks) of both, their
ratios, and the largest half-width of each (both must meet the target). Wall times depend on
the load of the machine: say whether other work was running when quoting them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simframe.plugins import PluginSettings, get_registry
from simframe.precision import PrecisionTarget, per_trial_values
from simframe.results import open_result
from simframe.runner import RunOptions, RunReport, run_scenario
from simframe.scenario import load_scenario


@dataclass(frozen=True)
class Case:
    scenario: str
    overrides: tuple[str, ...]
    metric: str
    half_width: float
    max_trials: int
    block: int
    min_trials: int = 10


CASES = {
    # Fig. 2 of paper 003 at 3 of its 6 AP counts, 10 UEs, 16 atoms per layer and 1 step-search
    # sweep (the full figure takes hours under load); the per-UE SE enters the interval as its
    # mean over UEs per trial.
    "cellfree_aps": Case(
        "scenarios/cellfree_se_vs_aps.toml",
        (
            "sweep.system.aps=[5, 10, 20]",
            "system.ues=10",
            "system.atoms_per_layer=16",
            "phases.max_sweeps=1",
        ),
        metric="se_lsfd_bps_hz",
        half_width=0.05,
        max_trials=200,
        block=5,
    ),
    # Fig. 1 of paper 000 at 3 of its 10 layer counts, every method at the scenario's settings.
    "hmimo_fig1": Case(
        "scenarios/hmimo_fig1.toml",
        (
            "sweep.linked.layers.system.tx_layers=[1, 5, 10]",
            "sweep.linked.layers.system.rx_layers=[1, 5, 10]",
        ),
        metric="rate_bps_hz",
        half_width=3.0,
        max_trials=100,
        block=5,
    ),
}


def timed_run(
    scenario_path: str, overrides: list[str], workers: int, output: Path
) -> tuple[float, RunReport]:
    settings = PluginSettings()
    registry = get_registry(settings)
    scenario = load_scenario(scenario_path, registry, tuple(overrides))
    options = RunOptions(output, workers=workers, progress=False)
    start = time.perf_counter()
    report = run_scenario(scenario, registry, settings, options)
    return time.perf_counter() - start, report


def worst_half_width(path: Path, case: Case) -> float:
    """The largest half-width over points and variants, recomputed from the stored trials."""
    dataset = open_result(path)
    target = PrecisionTarget(case.metric, case.half_width, None, 0.95, 2, case.max_trials)
    values = dataset[case.metric]
    sweep = [d for d in values.dims if d not in ("variant", "trial") and d in dataset.coords]
    stacked = values.stack(point=sweep).transpose("point", "variant", "trial", ...).values
    return max(float(np.max(target.half_widths(per_trial_values(p))[1])) for p in stacked)


def measure(name: str, case: Case, workers: int) -> None:
    block = f"run.trial_block={case.block}"
    precision = [
        *case.overrides,
        block,
        f"trials={case.max_trials}",
        f"precision.metric={case.metric}",
        f"precision.half_width={case.half_width}",
        f"precision.min_trials={case.min_trials}",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        precise_out = Path(tmp) / "precise.nc"
        precise_s, report = timed_run(case.scenario, precision, workers, precise_out)
        trials_run = open_result(precise_out).trials_run.values.ravel()
        fixed_trials = int(trials_run.max())
        fixed_out = Path(tmp) / "fixed.nc"
        fixed = [*case.overrides, block, f"trials={fixed_trials}"]
        fixed_s, _ = timed_run(case.scenario, fixed, workers, fixed_out)
        precise_hw = worst_half_width(precise_out, case)
        fixed_hw = worst_half_width(fixed_out, case)
        precise_busy = float(open_result(precise_out).runtime_s.sum())
        fixed_busy = float(open_result(fixed_out).runtime_s.sum())
    points = len(trials_run)
    print(
        f"{name}: target 95 % half-width <= {case.half_width:g} of {case.metric}, "
        f"blocks of {case.block}, {workers} workers"
    )
    print(
        f"  trials run per point with [precision]: {trials_run.tolist()} "
        f"(+ {report.trials_discarded} trials of speculative blocks discarded)"
    )
    fixed_total = points * fixed_trials
    print(
        f"  trials: precision {trials_run.sum()} vs fixed {points} x {fixed_trials} = "
        f"{fixed_total}; fixed / precision = {fixed_total / trials_run.sum():.2f}"
    )
    print(
        f"  wall: precision {precise_s:.1f} s vs fixed {fixed_s:.1f} s; "
        f"fixed / precision = {fixed_s / precise_s:.2f}"
    )
    print(
        f"  simulation time (sum of runtime_s over trials kept): precision {precise_busy:.1f} s "
        f"vs fixed {fixed_busy:.1f} s; fixed / precision = {fixed_busy / precise_busy:.2f}"
    )
    print(f"  worst half-width: precision {precise_hw:.3g}, fixed {fixed_hw:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for name, case in CASES.items():
        if args.case in (name, "all"):
            measure(name, case, args.workers)


if __name__ == "__main__":
    main()
