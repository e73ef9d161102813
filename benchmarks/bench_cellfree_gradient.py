"""Gradient phase design (cellfree_gradient) vs Algorithm 2 (cellfree_step_search) at equal time.

    python benchmarks/bench_cellfree_gradient.py [--aps 20] [--ues 20] [--antennas 4]
        [--layers 2] [--atoms 36] [--drops 1] [--sweeps 1,2,4] [--los steering] [--defaults]

On the same drops (greedy pilots, random initial phases, statistical CSI, sum SE with LSFD):

1. seconds per closed-form evaluation and per objective-and-gradient evaluation (one L-BFGS
   iteration costs about one of these plus the memory work), and seconds per L-BFGS iteration
   measured over a run;
2. Algorithm 2 capped at each number of sweeps in ``--sweeps`` (its wall time T and sum SE), and
   the sum SE the gradient design reaches within the same T (the longest of the runs capped at
   5, 10, 20, 40, ... iterations that finished within T), with the ratio gradient / Algorithm 2;
3. with ``--defaults``: both optimisers with their scenario defaults (stopping rules included).

Both run on one BLAS thread. Timings are wall clock on whatever machine runs this (a shared
machine makes them noisy). Default size: the paper's L = K = 20, N = 4, SIM 2 x 36.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from bench_cellfree import median_time, prepared_drop, uplink
from simframe_cellfree.gradient_design import CellFreeGradientDesign, Objective
from simframe_cellfree.gradient_design import objective_and_gradient as gradient_evaluation
from simframe_cellfree.phases import CellFreeStepSearch
from threadpoolctl import threadpool_limits


def drops(args: argparse.Namespace):
    """``(problem, initial phases)`` per drop, pilots assigned by Algorithm 1."""
    system = uplink(
        aps=args.aps,
        ues=args.ues,
        antennas=args.antennas,
        layers=args.layers,
        atoms_per_layer=args.atoms,
        los_response=args.los,
    )
    rng = np.random.default_rng(args.seed)
    for _ in range(args.drops):
        yield prepared_drop(system, rng)


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def timed_design(optimiser, problem, phases):
    """``(wall time s, PhaseDesign)`` of one run (the optimisers draw nothing from ``rng``)."""
    return timed(lambda: optimiser.optimise(problem, phases, None))


def evaluation_costs(problem, phases) -> None:
    coefficients = np.exp(1j * phases)
    closed_form = median_time(lambda: problem.se(problem.terms(phases), problem.full_power_w), 10)
    gradient = median_time(lambda: gradient_evaluation(problem, coefficients, Objective()), 10)
    iterations = 50
    optimiser = CellFreeGradientDesign(max_iterations=iterations, tolerance=0.0)
    run, _ = timed_design(optimiser, problem, phases)
    print(
        f"closed-form sum SE {closed_form * 1e3:.2f} ms; objective + gradient "
        f"{gradient * 1e3:.2f} ms ({gradient / closed_form:.1f} x); "
        f"L-BFGS: {run / iterations * 1e3:.2f} ms per iteration (over {iterations})"
    )


def gradient_within(problem, phases, budgets_s: list[float]) -> list[float]:
    """Best sum SE of gradient runs capped at 5, 10, 20, ... iterations finishing within each
    budget (runs are deterministic, so a longer cap extends the shorter run's path)."""
    reached = []
    initial = np.nan
    cap = 5
    while True:
        optimiser = CellFreeGradientDesign(max_iterations=cap, tolerance=0.0)
        elapsed, design = timed_design(optimiser, problem, phases)
        initial = design.objective_trace[0]
        reached.append((elapsed, design.objective_trace[-1]))
        if elapsed > max(budgets_s) or len(design.objective_trace) <= cap:
            break
        cap *= 2
    return [
        max((value for elapsed, value in reached if elapsed <= budget), default=initial)
        for budget in budgets_s
    ]


def equal_time(problem, phases, sweeps: list[int]) -> list[tuple[int, float, float, float]]:
    """``(sweeps, T, Algorithm 2 sum SE, gradient sum SE within T)`` per sweep cap."""
    rows = []
    for cap in sweeps:
        optimiser = CellFreeStepSearch(max_sweeps=cap)
        elapsed, design = timed_design(optimiser, problem, phases)
        rows.append((cap, elapsed, design.objective_trace[-1]))
    within = gradient_within(problem, phases, [row[1] for row in rows])
    return [(*row, value) for row, value in zip(rows, within, strict=True)]


def defaults(problem, phases) -> None:
    for optimiser in (CellFreeStepSearch(), CellFreeGradientDesign()):
        elapsed, design = timed_design(optimiser, problem, phases)
        print(
            f"  {optimiser.name} with its defaults: {elapsed:.2f} s, "
            f"{len(design.objective_trace) - 1} sweeps/iterations, "
            f"sum SE {design.objective_trace[-1]:.3f} bit/s/Hz"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aps", type=int, default=20)
    parser.add_argument("--ues", type=int, default=20)
    parser.add_argument("--antennas", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--atoms", type=int, default=36, help="meta-atoms per layer")
    parser.add_argument("--drops", type=int, default=1)
    parser.add_argument("--sweeps", default="1,2,4", help="Algorithm 2 sweep caps, comma-separated")
    parser.add_argument("--los", default="steering", choices=("steering", "uniform"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--defaults", action="store_true", help="also run both with defaults")
    args = parser.parse_args()
    sweeps = [int(value) for value in args.sweeps.split(",")]
    print(
        f"L = {args.aps} APs, K = {args.ues} UEs, N = {args.antennas}, SIM {args.layers} x "
        f"{args.atoms}, {args.los} LoS, LSFD, {args.drops} drops, one BLAS thread"
    )
    ratios: dict[int, list[float]] = {cap: [] for cap in sweeps}
    with threadpool_limits(1):
        for index, (problem, phases) in enumerate(drops(args)):
            start = problem.se(problem.terms(phases), problem.full_power_w).sum()
            print(f"drop {index}: random phases sum SE {start:.3f} bit/s/Hz")
            if index == 0:
                evaluation_costs(problem, phases)
            for cap, elapsed, step_search, gradient in equal_time(problem, phases, sweeps):
                ratios[cap].append(gradient / step_search)
                print(
                    f"  T = {elapsed:6.2f} s ({cap} sweeps): Algorithm 2 {step_search:8.3f}, "
                    f"gradient {gradient:8.3f} bit/s/Hz, ratio {gradient / step_search:.3f}"
                )
            if args.defaults:
                defaults(problem, phases)
    for cap, values in ratios.items():
        print(
            f"mean ratio gradient / Algorithm 2 at the time of {cap} sweeps: {np.mean(values):.3f}"
        )


if __name__ == "__main__":
    main()
