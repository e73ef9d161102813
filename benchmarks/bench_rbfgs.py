"""Riemannian L-BFGS (simframe) vs pymanopt's conjugate gradient on the HMIMO rate objective.

The objective is step (i) of RMax (paper 000, Algorithm 1): maximise the rate (5) over the TX
phases ``theta_T`` (``L x N`` unit-modulus, a product of complex circles) with the RX phases and
the equal power split fixed, on the paper's default geometry (6 GHz, D = 0.1 m, S = 4, N = M = 100,
L = K = 7, Rayleigh-Sommerfeld hops, correlated Rayleigh channel at 240 m). Both optimisers get the
same start, the same cost and Euclidean gradient (``HmimoLink.rate_gradient``, memoised on the
last point so that pymanopt's separate cost and gradient calls cost one evaluation), the same
gradient-norm tolerance, and one BLAS thread.

Printed per trial and per RBFGS iteration cap: the rate RBFGS reaches and its wall time ``T``;
the rate pymanopt's ConjugateGradient reaches with ``max_time = T``; and the best rate each has
evaluated by fractions of ``T`` (from a log of every evaluation). Ratios > 1 favour
RBFGS. Run: ``python benchmarks/bench_rbfgs.py [--trials 3]``; pymanopt is optional
(``pip install -e '.[bench]'``) and only the RBFGS part runs without it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from simframe_hmimo.channel import path_gain_db
from simframe_hmimo.interfaces import HmimoLink
from simframe_hmimo.system import dbm_to_w
from simframe_metasurface.correlation import matrix_sqrt, sinc_correlation
from simframe_metasurface.geometry import layer_stack, uniform_linear_array, wavelength_m
from simframe_metasurface.manifold import minimise_rlbfgs, random_point
from simframe_metasurface.propagation import RayleighSommerfeldPropagation, stack_hops
from threadpoolctl import threadpool_limits

try:
    import pymanopt
except ImportError:
    pymanopt = None

CARRIER_HZ = 6e9
THICKNESS_M = 0.1
ANTENNAS = 4
DISTANCE_M = 240.0
POWER_DBM = 20.0
NOISE_DBM = -110.0
GRADIENT_TOLERANCE = 1e-6
TIME_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def paper_link(atoms: int, layers: int, rng: np.random.Generator) -> HmimoLink:
    """The paper's default link with the same SIM on both sides (RX hops by reciprocity)."""
    lam = wavelength_m(CARRIER_HZ)
    surfaces = layer_stack(atoms, layers, THICKNESS_M, lam / 2)
    hops = stack_hops(
        RayleighSommerfeldPropagation(),
        uniform_linear_array(ANTENNAS, lam / 2),
        surfaces,
        lam,
        lam**2 / 4,
    ).hops
    correlation_root = matrix_sqrt(sinc_correlation(surfaces[-1], lam))
    # a1 = 2, a2 = 3.5, d0 = 1 m (spec sim-hmimo.md; -131.31 dB at 240 m and 6 GHz)
    gain = 10.0 ** (path_gain_db(lam, DISTANCE_M, 1.0, 2.0, 3.5) / 10.0)
    white = np.sqrt(gain / 2) * (
        rng.normal(size=(atoms, atoms)) + 1j * rng.normal(size=(atoms, atoms))
    )
    return HmimoLink(
        tx_hops=hops,
        rx_hops=tuple(hop.T for hop in hops),
        channel=correlation_root @ white @ correlation_root,
        noise_w=dbm_to_w(NOISE_DBM),
        budget_w=dbm_to_w(POWER_DBM),
    )


class LoggedObjective:
    """``-rate`` over the TX phases and its Euclidean gradient; logs ``(time, cost)`` per new point
    and memoises the last point (pymanopt asks for cost and gradient separately)."""

    def __init__(self, link: HmimoLink, rx_phases: np.ndarray) -> None:
        self.link = link
        self.rx_phases = rx_phases
        self.powers_w = np.full(link.antennas, link.budget_w / link.antennas)
        self.log: list[tuple[float, float]] = []
        self.started = time.perf_counter()
        self._last: tuple[bytes, float, np.ndarray] | None = None

    def restart_clock(self) -> None:
        self.log.clear()
        self._last = None
        self.started = time.perf_counter()

    def __call__(self, tx_phases: np.ndarray) -> tuple[float, np.ndarray]:
        key = tx_phases.tobytes()
        if self._last is None or self._last[0] != key:
            rate, tx_gradient, _ = self.link.rate_gradient(tx_phases, self.rx_phases, self.powers_w)
            self._last = (key, -rate, -tx_gradient)
            self.log.append((time.perf_counter() - self.started, -rate))
        return self._last[1], self._last[2]

    def best_rate_by(self, seconds: float) -> float:
        """Highest rate among the points evaluated within ``seconds`` of the clock start."""
        return max((-cost for t, cost in self.log if t <= seconds), default=float("nan"))


def report(label: str, result, elapsed: float, evaluations: int, stop: str) -> None:
    """One line per run; ``result`` has ``cost`` (-rate), ``iterations``, ``gradient_norm``."""
    print(
        f"  {label}: rate {-result.cost:9.4f} bit/s/Hz in {elapsed:7.3f} s, "
        f"{result.iterations:5d} iterations, {evaluations:5d} evaluations, "
        f"gradient norm {result.gradient_norm:.2e}, stop: {stop}"
    )


def run_rbfgs(
    objective: LoggedObjective, start: np.ndarray, max_iterations: int
) -> tuple[float, float]:
    objective.restart_clock()
    began = time.perf_counter()
    result = minimise_rlbfgs(
        objective, start, max_iterations=max_iterations, gradient_tolerance=GRADIENT_TOLERANCE
    )
    elapsed = time.perf_counter() - began
    report("RBFGS", result, elapsed, len(objective.log), result.stop_reason)
    return -result.cost, elapsed


def run_conjugate_gradient(
    objective: LoggedObjective, start: np.ndarray, max_time_s: float
) -> tuple[float, float]:
    shape = start.shape
    manifold = pymanopt.manifolds.ComplexCircle(start.size)

    @pymanopt.function.numpy(manifold)
    def cost(z):
        return objective(z.reshape(shape))[0]

    @pymanopt.function.numpy(manifold)
    def euclidean_gradient(z):
        return objective(z.reshape(shape))[1].ravel()

    problem = pymanopt.Problem(manifold, cost, euclidean_gradient=euclidean_gradient)
    optimizer = pymanopt.optimizers.ConjugateGradient(
        max_time=max_time_s,
        max_iterations=100_000,
        min_gradient_norm=GRADIENT_TOLERANCE,
        verbosity=0,
    )
    objective.restart_clock()
    began = time.perf_counter()
    result = optimizer.run(problem, initial_point=start.ravel().copy())
    elapsed = time.perf_counter() - began
    report("CG   ", result, elapsed, len(objective.log), result.stopping_criterion.strip())
    return -result.cost, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--atoms", type=int, default=100)
    parser.add_argument("--layers", type=int, default=7)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument(
        "--iterations",
        type=int,
        nargs="+",
        default=[1000, 4000],
        help="RBFGS iteration caps; each sets a wall-time budget T that CG then gets",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    if pymanopt is None:
        print("pymanopt is NOT installed (pip install -e '.[bench]'): running RBFGS only.\n")
    print(
        f"HMIMO rate over theta_T: N = {args.atoms} atoms x L = {args.layers} layers "
        f"({args.atoms * args.layers} unit-modulus variables), S = {ANTENNAS}, one BLAS thread"
    )
    budget_ratios = {cap: [] for cap in args.iterations}
    curve_ratios = []
    with threadpool_limits(1):
        for trial in range(args.trials):
            link = paper_link(args.atoms, args.layers, rng)
            rx_phases = random_point(rng, (args.layers, args.atoms))
            start = random_point(rng, (args.layers, args.atoms))
            objective = LoggedObjective(link, rx_phases)
            print(f"trial {trial}: start rate {-objective(start)[0]:.4f} bit/s/Hz")
            for cap in args.iterations:
                print(f" budget T = RBFGS wall time for at most {cap} iterations")
                rbfgs_rate, budget_s = run_rbfgs(objective, start, cap)
                if pymanopt is None:
                    continue
                rbfgs_curve = [objective.best_rate_by(f * budget_s) for f in TIME_FRACTIONS]
                cg_rate, _ = run_conjugate_gradient(objective, start, budget_s)
                cg_curve = [objective.best_rate_by(f * budget_s) for f in TIME_FRACTIONS]
                budget_ratios[cap].append(rbfgs_rate / cg_rate)
                if cap == args.iterations[0]:
                    curve_ratios.append(np.array(rbfgs_curve) / np.array(cg_curve))
                curve = ", ".join(
                    f"{f:g}T {r:.3f}/{c:.3f}"
                    for f, r, c in zip(TIME_FRACTIONS, rbfgs_curve, cg_curve, strict=True)
                )
                print(f"  best rate evaluated by (RBFGS/CG): {curve}")
                print(f"  rate ratio RBFGS/CG at equal time: {rbfgs_rate / cg_rate:.4f}")
    if pymanopt is None:
        return
    print("\nmean rate ratio RBFGS / CG at equal wall time (> 1 favours RBFGS):")
    for cap, ratios in budget_ratios.items():
        print(f"  T of {cap} RBFGS iterations (CG max_time = T): {np.mean(ratios):.4f}")
    for f, ratio in zip(TIME_FRACTIONS, np.mean(curve_ratios, axis=0), strict=True):
        print(f"  best evaluated by {f:g} T ({args.iterations[0]} iterations): {ratio:.4f}")


if __name__ == "__main__":
    main()
