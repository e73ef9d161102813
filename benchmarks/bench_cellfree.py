"""Speed of the SIM-enhanced cell-free uplink (paper 003): closed form, Algorithm 2, max-min.

    python benchmarks/bench_cellfree.py [--repeats N] [--sweeps N]

Prints (1) the closed-form SE time (statistics from phases, estimation, LSFD weights, SE) for the
default network (L = 20 APs, K = 20 UEs, N = 4, SIM 2 x 36) and its ratio when L, K or M grows,
(2) the time of one sweep of Algorithm 2 (step search) and of a full run, and (3) of max-min power
control. Timings are medians of wall-clock repeats on whatever machine runs this.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from simframe_cellfree.network import Cost231RicianNetwork
from simframe_cellfree.phases import CellFreeRandomPhases, CellFreeStepSearch
from simframe_cellfree.pilots import GreedyPilots
from simframe_cellfree.power import FullPower, MaxMinPower
from simframe_cellfree.system import SimCellFreeUplink
from simframe_metasurface.propagation import RayleighSommerfeldPropagation

DEFAULT = dict(aps=20, ues=20, antennas=4, layers=2, atoms_per_layer=36)


def prepared(**params):
    system = SimCellFreeUplink(
        {
            "setup": Cost231RicianNetwork(),
            "propagation": RayleighSommerfeldPropagation(),
            "pilots": GreedyPilots(),
            "phases": CellFreeRandomPhases(),
            "power": FullPower(),
        },
        **{**DEFAULT, **params},
    )
    rng = np.random.default_rng(1)
    problem = system.problem(system.draw(rng))
    phases = system.initial_phases(rng)
    return problem.with_pilots(GreedyPilots().assign(problem, phases, rng)), phases


def median_time(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def closed_form_time(repeats: int, **params) -> float:
    problem, phases = prepared(**params)
    return median_time(lambda: problem.se(problem.terms(phases), problem.full_power_w), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sweeps", type=int, default=8, help="Algorithm 2 sweep cap")
    args = parser.parse_args()

    base = closed_form_time(args.repeats)
    print(f"closed-form SE, default network {DEFAULT}: {base * 1e3:.2f} ms")
    for name, values in (
        ("aps", (10, 40, 80)),
        ("ues", (10, 40, 80)),
        ("atoms_per_layer", (16, 64, 100)),
    ):
        for value in values:
            elapsed = closed_form_time(args.repeats, **{name: value})
            print(
                f"  {name} = {value:>3}: {elapsed * 1e3:8.2f} ms  ({elapsed / base:5.2f} x default)"
            )

    problem, phases = prepared()
    one_sweep = median_time(
        lambda: CellFreeStepSearch(max_sweeps=1).optimise(problem, phases, None), 3
    )
    print(
        f"Algorithm 2, one sweep over {DEFAULT['aps']} APs x {DEFAULT['layers']} layers "
        f"({2 * DEFAULT['atoms_per_layer']} candidates each): {one_sweep:.2f} s"
        f"  ({one_sweep / base:.0f} closed forms)"
    )
    start = time.perf_counter()
    design = CellFreeStepSearch(max_sweeps=args.sweeps).optimise(problem, phases, None)
    print(
        f"Algorithm 2, up to {args.sweeps} sweeps: {time.perf_counter() - start:.2f} s, "
        f"sum SE {design.objective_trace[0]:.2f} -> {design.objective_trace[-1]:.2f} bit/s/Hz"
    )
    maxmin = median_time(lambda: MaxMinPower().allocate(problem, design.phases_rad), 3)
    print(f"max-min power control (bisection + HiGHS LPs, 2 LSFD alternations): {maxmin:.2f} s")


if __name__ == "__main__":
    main()
