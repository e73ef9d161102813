"""RMax (paper 000 Algorithm 1) and the Hybrid of Section V: Riemannian rate maximisation."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
from simframe_metasurface.manifold import minimise_rlbfgs

from simframe import Parameter
from simframe_hmimo.imin import InterferenceMinimisation
from simframe_hmimo.interfaces import (
    HmimoLink,
    HmimoPhaseOptimiser,
    HmimoPowerAllocator,
    PhaseResult,
)
from simframe_hmimo.link import rate_bps_hz
from simframe_hmimo.power import WaterFilling


class RateMaximisation(HmimoPhaseOptimiser):
    """RMax, paper 000 Algorithm 1: alternate RBFGS on TX phases, RBFGS on RX phases, power.

    Each outer iteration runs the Riemannian L-BFGS of :mod:`simframe_metasurface.manifold` on
    the product of complex circles for ``theta_T`` (``theta_R``, ``p`` fixed), then for
    ``theta_R``, with the exact gradients of Theorem 1 (adjoint pass), then the power slot
    (``wmmse`` in the paper) started from the current powers. Random initial phases, equal
    initial power. Stops when the rate improves by less than ``tolerance`` (relative) or after
    ``max_outer_iterations``. A block step that would lower the rate is not taken, so the rate
    never falls between outer iterations; the trace holds it before the first and after every
    outer iteration.
    """

    name = "rmax"
    parameters = (
        Parameter("max_outer_iterations", int, 10, help="alternations at most", minimum=1),
        Parameter("inner_iterations", int, 50, help="RBFGS iterations per block", minimum=1),
        Parameter("memory", int, 30, help="RBFGS memory (stored pairs)", minimum=1),
        Parameter("tolerance", float, 1e-4, "1", "stop at this relative rate gain", minimum=0.0),
    )

    def optimise(self, link, allocator, rng):
        tx, rx = link.random_phases(rng)
        powers = np.full(link.antennas, link.budget_w / link.antennas)
        return self.maximise_from(link, allocator, tx, rx, powers, rng)

    def maximise_from(
        self,
        link: HmimoLink,
        allocator: HmimoPowerAllocator,
        tx: np.ndarray,
        rx: np.ndarray,
        powers: np.ndarray,
        rng: np.random.Generator,
    ) -> PhaseResult:
        """Algorithm 1 from the given phases and powers."""
        trace = [link.rate_bps_hz(tx, rx, powers)]
        for _ in range(self.max_outer_iterations):
            tx = self._block(partial(_negative_tx_rate, link, rx, powers), tx, rng)
            rx = self._block(partial(_negative_rx_rate, link, tx, powers), rx, rng)
            channel = link.effective_channel(tx, rx)
            candidate = allocator.allocate(channel, link.noise_w, link.budget_w, initial_w=powers)
            rate = rate_bps_hz(channel, powers, link.noise_w)
            candidate_rate = rate_bps_hz(channel, candidate, link.noise_w)
            if candidate_rate >= rate:
                powers, rate = candidate, candidate_rate
            trace.append(rate)
            if trace[-1] - trace[-2] <= self.tolerance * abs(trace[-2]):
                break
        return PhaseResult(tx, rx, powers, len(trace) - 1, tuple(trace))

    def _block(self, cost_and_gradient, start: np.ndarray, rng) -> np.ndarray:
        """Maximise the rate over one block of phases by RBFGS on the negative rate."""
        start_cost = cost_and_gradient(start)[0]
        result = minimise_rlbfgs(
            cost_and_gradient,
            start,
            memory=self.memory,
            max_iterations=self.inner_iterations,
            gradient_tolerance=1e-8,
            rng=rng,
        )
        return result.point if result.cost <= start_cost else start


def _negative_tx_rate(link: HmimoLink, rx, powers, tx) -> tuple[float, np.ndarray]:
    rate, grad_tx, _ = link.rate_gradient(tx, rx, powers)
    return -rate, -grad_tx


def _negative_rx_rate(link: HmimoLink, tx, powers, rx) -> tuple[float, np.ndarray]:
    rate, _, grad_rx = link.rate_gradient(tx, rx, powers)
    return -rate, -grad_rx


class HybridOptimisation(RateMaximisation):
    """Hybrid, paper 000 Section V: IMin's phases (and powers) initialise RMax.

    Runs Algorithm 2 exactly as the ``imin`` optimiser does (random phases from the trial's
    stream, ``imin_max_sweeps`` sweeps, water-filling), then Algorithm 1 from its phases and
    powers with the power slot. Since RMax never lowers the rate, Hybrid's rate is at least
    IMin's (with water-filling) on the same trial. The trace is RMax's.
    """

    name = "hybrid"
    parameters = (
        *RateMaximisation.parameters,
        Parameter("imin_max_sweeps", int, 30, help="IMin sweeps at most", minimum=1),
        Parameter("imin_tolerance", float, 1e-4, "1", "IMin relative stop change", minimum=0.0),
    )

    def optimise(self, link, allocator, rng):
        imin = InterferenceMinimisation(
            max_sweeps=self.imin_max_sweeps, tolerance=self.imin_tolerance
        )
        start = imin.optimise(link, WaterFilling(), rng)
        result = self.maximise_from(
            link, allocator, start.tx_phases, start.rx_phases, start.powers_w, rng
        )
        return replace(result, iterations=start.iterations + result.iterations)
