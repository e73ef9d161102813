"""Projected-gradient benchmark of An et al. (JSAC 2023, arXiv 2305.08079) as paper 000 runs it."""

from __future__ import annotations

import numpy as np

from simframe import Parameter
from simframe_hmimo.interfaces import HmimoLink, HmimoPhaseOptimiser, PhaseResult
from simframe_hmimo.link import backpropagate, propagate


def channel_fit(channel: np.ndarray, target: np.ndarray) -> tuple[complex, float, np.ndarray]:
    """Least-squares scale ``alpha``, NMSE ``||alpha H - D||^2 / ||D||^2`` and its gradient
    w.r.t. ``H`` (``alpha`` held fixed)."""
    alpha = np.vdot(channel, target) / np.vdot(channel, channel)
    residual = alpha * channel - target
    scale = np.vdot(target, target).real
    return (
        alpha,
        float(np.vdot(residual, residual).real / scale),
        2.0 * np.conj(alpha) * residual / scale,
    )


class ProjectedGradientFit(HmimoPhaseOptimiser):
    """PG benchmark of An et al.: fit ``alpha H(theta)`` to the S largest singular values of H~.

    Target ``D = diag(sigma_1..sigma_S)`` of ``H~``; objective NMSE ``||alpha H - D||^2 /
    ||D||^2`` with ``alpha`` the least-squares scale recomputed every step; the gradient w.r.t.
    the angles of all TX and RX layers is normalised to a largest component of pi; step
    ``step`` halved every iteration; stop when the NMSE changes by less than ``tolerance``
    (relative). Best NMSE of ``restarts_per_layer * max(L, K)`` random starts. Power: the slot
    (``water_filling`` in paper 000). With ``scaled_rate = true`` the rate is evaluated on
    ``|alpha| H`` as An et al.'s released code did; the dataset's ``rate_channel_scale`` says
    which one it holds. The trace is the best start's NMSE per iteration.
    """

    name = "pg_an"
    parameters = (
        Parameter("restarts_per_layer", int, 10, help="random starts per layer", minimum=1),
        Parameter("step", float, 0.1, "1", "initial step (halved every iteration)", minimum=0.0),
        Parameter("max_iterations", int, 100, help="iterations per start at most", minimum=1),
        Parameter("tolerance", float, 1e-3, "1", "stop at this relative NMSE change", minimum=0),
        Parameter("scaled_rate", bool, False, help="report the rate of |alpha| H (An's code)"),
    )

    def optimise(self, link, allocator, rng):
        target = np.zeros((link.antennas, link.antennas))
        np.fill_diagonal(target, np.linalg.svd(link.channel, compute_uv=False)[: link.antennas])
        starts = self.restarts_per_layer * max(link.tx_shape[0], link.rx_shape[0])
        best = None
        for _ in range(starts):
            fit = self._fit(link, target, *link.random_phases(rng))
            if best is None or fit[3][-1] < best[3][-1]:
                best = fit
        tx, rx, alpha, trace = best
        scale = abs(alpha) if self.scaled_rate else 1.0
        powers = allocator.allocate(
            scale * link.effective_channel(tx, rx), link.noise_w, link.budget_w
        )
        return PhaseResult(
            tx,
            rx,
            powers,
            len(trace) - 1,
            tuple(trace),
            objective_units="1",
            objective_name="NMSE of alpha H",
            objective_key="nmse",
            channel_scale=scale,
        )

    def _fit(self, link: HmimoLink, target: np.ndarray, tx: np.ndarray, rx: np.ndarray):
        phi_tx, phi_rx = np.angle(tx), np.angle(rx)
        step, trace = self.step, []
        for _ in range(self.max_iterations + 1):
            tx, rx = np.exp(1j * phi_tx), np.exp(1j * phi_rx)
            forward_tx, forward_rx = propagate(link, tx, rx)
            alpha, nmse, g = channel_fit(forward_rx[-1], target)
            trace.append(nmse)
            if len(trace) > 1 and abs(trace[-2] - nmse) <= self.tolerance * trace[-2]:
                break
            grad_tx, grad_rx = backpropagate(link, tx, rx, forward_tx, forward_rx, g)
            angle_tx, angle_rx = np.imag(grad_tx * tx.conj()), np.imag(grad_rx * rx.conj())
            largest = max(np.abs(angle_tx).max(), np.abs(angle_rx).max())
            if largest == 0.0:
                break
            phi_tx = phi_tx - step * np.pi * angle_tx / largest
            phi_rx = phi_rx - step * np.pi * angle_rx / largest
            step /= 2.0
        return tx, rx, alpha, trace
