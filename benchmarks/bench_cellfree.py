"""Speed of the SIM-enhanced cell-free uplink (paper 003) against an earlier commit.

    python benchmarks/bench_cellfree.py [--reference REV] [--repeats N] [--aps 10 20 40]
    python benchmarks/bench_cellfree.py --figures [NAME ...] [--trials T] [--workers 2]
    python benchmarks/bench_cellfree.py --budget-drops 2 [--aps 20] [--budget-optimiser NAME]
        [--max-sweeps B] [--starts S] [--antennas N] [--layers Q] [--atoms M] [--spacing S]
        [--passive] [--setup KEY=VALUE ...]

Prints, for this working tree and for the plugins of git revision ``REV`` (default: 3338963,
the last commit before the per-AP eigenbasis and per-AP sums; extracted with ``git archive`` to a
temporary folder and timed in a subprocess with that folder first on ``sys.path``):

1. the closed-form SE (statistics from phases, estimation, LSFD weights, SE) for the default
   network (K = 20 UEs, N = 4, SIM 2 x 36, steering LoS) at each number of APs L;
2. one sweep of Algorithm 2 (``cellfree_step_search`` with ``max_sweeps = 1``) at each L;
3. the ratio reference / now of both.

With ``--budget-drops D`` it instead runs a phase optimiser (Algorithm 2 unless
``--budget-optimiser cellfree_gradient``) with its defaults and with 10x its budget (10x the
sweeps or iterations, a 10x smaller tolerance; Algorithm 2 also a 10x smaller minimum step) on D
drops at the first L (other sizes as given), one BLAS thread, and prints the sum SE of both and
their ratio (the convergence criterion of docs/physics/cellfree.md). ``--max-sweeps B`` sets
Algorithm 2's budget (its default is 30 sweeps); ``--setup KEY=VALUE`` sets a parameter of the
network setup (e.g. ``rician_k_intercept_db=5``). With ``--starts S`` it also runs the
optimiser at its defaults from S - 1 further independent random starts per drop and prints
every start's sum SE, their spread and the best of S against the first (``starts``
parameter of the optimisers).

With ``--figures`` it times whole scenarios (``simframe run ... --workers W``, the configured
drops unless ``--trials``) and prints the minutes per figure.

Timings are medians of wall-clock repeats on whatever machine runs this; on a shared machine
they are noisy (run it twice). Whole-figure times are in docs/physics/cellfree.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REFERENCE = "3338963"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT = dict(ues=20, antennas=4, layers=2, atoms_per_layer=36, los_response="steering")


def median_time(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def uplink(passive: bool = False, setup: dict | None = None, **network):
    """The test system: a ``SimCellFreeUplink`` with greedy pilots, random initial phases and
    full power; ``network`` are its size keywords (``aps``, ``ues``, ``antennas``, ...);
    ``passive`` scales amplifying hops to norm 1; ``setup`` are parameters of the network
    setup (``Cost231RicianNetwork``)."""
    from simframe_cellfree.network import Cost231RicianNetwork
    from simframe_cellfree.phases import CellFreeRandomPhases
    from simframe_cellfree.pilots import GreedyPilots
    from simframe_cellfree.power import FullPower
    from simframe_cellfree.system import SimCellFreeUplink
    from simframe_metasurface.propagation import RayleighSommerfeldPropagation

    return SimCellFreeUplink(
        {
            "setup": Cost231RicianNetwork(**(setup or {})),
            "propagation": RayleighSommerfeldPropagation(passive=passive),
            "pilots": GreedyPilots(),
            "phases": CellFreeRandomPhases(),
            "power": FullPower(),
        },
        **network,
    )


def prepared_drop(system, rng: np.random.Generator):
    """``(problem, initial phases)`` of one drop of ``system``, pilots assigned by Algorithm 1."""
    from simframe_cellfree.pilots import GreedyPilots

    problem = system.problem(system.draw(rng))
    phases = system.initial_phases(rng)
    return problem.with_pilots(GreedyPilots().assign(problem, phases, rng)), phases


def prepared_problem(aps: int, seed: int, **network):
    """A drop of the default network (``network`` overrides its sizes) with greedy pilots at
    random initial phases."""
    return prepared_drop(uplink(aps=aps, **{**DEFAULT, **network}), np.random.default_rng(seed))


def tenfold(optimiser):
    """``optimiser`` with 10x its budget: 10x the iterations (or sweeps) and a 10x smaller
    stopping tolerance (Algorithm 2 also a 10x smaller minimum step)."""
    from simframe_cellfree.phases import CellFreeStepSearch

    settings = {"tolerance": optimiser.tolerance / 10}
    if isinstance(optimiser, CellFreeStepSearch):
        settings |= {
            "max_sweeps": 10 * optimiser.max_sweeps,
            "min_step_rad": optimiser.min_step_rad / 10,
        }
    else:
        settings["max_iterations"] = 10 * optimiser.max_iterations
    return type(optimiser)(**{**optimiser.params, **settings})


def budget_check(
    name: str, aps: int, drops: int, network: dict, settings: dict, starts: int = 1
) -> None:
    """The phase optimiser ``name`` (with ``settings``) vs 10x its budget on ``drops`` drops
    (seeds 11, 12, ...); prints both sum SEs, their ratio and the wall times, and with
    ``starts > 1`` the sum SE of ``starts`` independent starts at the given budget."""
    from simframe_cellfree.gradient_design import CellFreeGradientDesign
    from simframe_cellfree.phases import CellFreeStepSearch

    default = {
        "cellfree_step_search": CellFreeStepSearch,
        "cellfree_gradient": CellFreeGradientDesign,
    }[name](**settings)
    ratios, best_gains = [], []
    for seed in range(11, 11 + drops):
        problem, phases = prepared_problem(aps, seed, **network)
        line = [f"{name}, L = {aps} {network or ''}, drop seed {seed}:"]
        values = []
        for label, optimiser in (("defaults", default), ("10x budget", tenfold(default))):
            start = time.perf_counter()
            trace = optimiser.optimise(problem, phases, None).objective_trace
            values.append(trace[-1])
            line.append(
                f"{label} {trace[0]:.2f} -> {trace[-1]:.3f} bit/s/Hz in {len(trace) - 1} "
                f"iterations ({time.perf_counter() - start:.1f} s);"
            )
        ratios.append(values[0] / values[1])
        print(" ".join(line), f"defaults / 10x = {ratios[-1]:.4f}", flush=True)
        if starts > 1:
            rng = np.random.default_rng([seed, 1])  # not the drop's own stream
            others = [phases] + [
                rng.uniform(0.0, 2 * np.pi, phases.shape) for _ in range(1, starts)
            ]
            reached = [
                default.optimise(problem, start, None).objective_trace[-1] for start in others
            ]
            best_gains.append(max(reached) / reached[0])
            print(
                f"  {starts} starts: {' '.join(f'{value:.3f}' for value in reached)}; spread "
                f"{(max(reached) - min(reached)) / np.mean(reached):.2%} of the mean; best / "
                f"first = {best_gains[-1]:.4f}",
                flush=True,
            )
    print(f"{name}: lowest defaults / 10x over {drops} drops = {min(ratios):.4f}")
    if best_gains:
        print(f"{name}: largest best of {starts} starts / first start = {max(best_gains):.4f}")


def measure(aps_values: list[int], repeats: int) -> dict[str, dict[int, float]]:
    """Seconds per closed-form SE and per Algorithm 2 sweep, for whichever simframe_cellfree
    is first on ``sys.path`` (only API common to both versions is used)."""
    from simframe_cellfree.phases import CellFreeStepSearch

    result: dict[str, dict[int, float]] = {"closed_form_s": {}, "sweep_s": {}}
    for aps in aps_values:
        problem, phases = prepared_problem(aps, seed=1)
        result["closed_form_s"][aps] = median_time(
            lambda p=problem, x=phases: p.se(p.terms(x), p.full_power_w), repeats
        )
        search = CellFreeStepSearch(max_sweeps=1)
        result["sweep_s"][aps] = median_time(
            lambda p=problem, s=search, x=phases: s.optimise(p, x, None),
            max(1, repeats // 10),
        )
    return result


def reference_timings(revision: str, aps_values: list[int], repeats: int) -> dict:
    """:func:`measure` run on the plugins of ``revision`` in a subprocess."""
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "plugins.tar"
        subprocess.run(
            ["git", "archive", "-o", str(archive), revision, "plugins"], cwd=ROOT, check=True
        )
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        env = {**os.environ, "PYTHONPATH": str(Path(folder) / "plugins")}
        command = [sys.executable, __file__, "--measure-only", "--repeats", str(repeats)]
        output = subprocess.run(
            [*command, "--aps", *map(str, aps_values)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return {key: {int(k): v for k, v in value.items()} for key, value in json.loads(output).items()}


def figure_times(names: list[str], trials: int | None, workers: int) -> None:
    """Wall time of ``simframe run scenarios/NAME.toml --workers W`` per scenario (the configured
    drops unless ``trials``), each into a temporary folder, one after the other."""
    scenarios = sorted((ROOT / "scenarios").glob("cellfree_*.toml"))
    chosen = [path for path in scenarios if not names or path.stem in names]
    print(f"{'scenario':<30} {'drops':>6} {'wall time':>12}")
    with tempfile.TemporaryDirectory() as folder:
        for path in chosen:
            command = [sys.executable, "-m", "simframe", "run", str(path), "--quiet"]
            command += ["-o", str(Path(folder) / f"{path.stem}.nc"), "--workers", str(workers)]
            if trials:
                command += ["--trials", str(trials)]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            elapsed = time.perf_counter() - start
            drops = trials or "config"
            print(f"{path.stem:<30} {drops:>6} {elapsed / 60:>8.1f} min", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=REFERENCE, help="git revision to compare with")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--aps", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--budget-drops", type=int, default=0, help="convergence check instead")
    parser.add_argument(
        "--budget-optimiser",
        default="cellfree_step_search",
        choices=("cellfree_step_search", "cellfree_gradient"),
    )
    parser.add_argument("--antennas", type=int, help="budget check: antennas per AP")
    parser.add_argument("--layers", type=int, help="budget check: SIM layers")
    parser.add_argument("--atoms", type=int, help="budget check: meta-atoms per layer")
    parser.add_argument("--spacing", type=float, help="budget check: atom spacing (wavelengths)")
    parser.add_argument("--passive", action="store_true", help="budget check: passive hops")
    parser.add_argument("--max-sweeps", type=int, help="budget check: Algorithm 2's budget")
    parser.add_argument("--starts", type=int, default=1, help="budget check: independent starts")
    parser.add_argument(
        "--setup",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="budget check: network setup parameters (e.g. rician_k_intercept_db=5)",
    )
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--figures",
        nargs="*",
        metavar="NAME",
        help="time whole scenarios instead (all cellfree_* if no NAME), with --workers",
    )
    parser.add_argument("--trials", type=int, help="--figures: drops instead of the configured")
    parser.add_argument("--workers", type=int, default=2, help="--figures: worker processes")
    args = parser.parse_args()
    if args.figures is not None:
        figure_times(args.figures, args.trials, args.workers)
        return
    if args.budget_drops:
        sizes = {
            "antennas": args.antennas,
            "layers": args.layers,
            "atoms_per_layer": args.atoms,
            "atom_spacing_wavelengths": args.spacing,
            "passive": args.passive or None,
        }
        network = {key: value for key, value in sizes.items() if value is not None}
        if args.setup:
            network["setup"] = {
                key: float(value) for key, value in (item.split("=", 1) for item in args.setup)
            }
        settings = {} if args.max_sweeps is None else {"max_sweeps": args.max_sweeps}
        with threadpool_limits(1):
            budget_check(
                args.budget_optimiser,
                args.aps[0],
                args.budget_drops,
                network,
                settings,
                args.starts,
            )
        return
    if args.measure_only:
        print(json.dumps(measure(args.aps, args.repeats)))
        return
    now = measure(args.aps, args.repeats)
    before = reference_timings(args.reference, args.aps, args.repeats)
    print(f"network {DEFAULT}; reference = {args.reference}")
    print(f"{'L':>4} {'what':<28} {'reference':>12} {'now':>12} {'ratio':>8}")
    for key, label in (("closed_form_s", "closed-form SE"), ("sweep_s", "Algorithm 2, one sweep")):
        for aps in args.aps:
            old, new = before[key][aps], now[key][aps]
            print(
                f"{aps:>4} {label:<28} {old * 1e3:>10.1f}ms {new * 1e3:>10.1f}ms {old / new:>7.1f}x"
            )


if __name__ == "__main__":
    main()
