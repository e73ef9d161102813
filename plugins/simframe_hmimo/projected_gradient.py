"""Projected-gradient (PG) benchmark of An et al. (JSAC 2023, arXiv 2305.08079), as released.

An et al. fit the end-to-end channel ``alpha H(theta)`` of the SIM pair to the diagonal matrix
``D = diag(sigma_1, ..., sigma_S)`` of the ``S`` largest singular values of ``H~``, minimising
the normalised fitting error (NMSE)

    Delta = ||alpha H - D||_F^2 / ||D||_F^2,   alpha = <H, D> / <H, H>   (least squares),

with ``alpha`` recomputed at every iterate. Their released MATLAB code (github
JianchengAn/SIM-1-MIMO, ``test_SIM.m``, whose comments give the equation numbers below; spec
sim-hmimo.md, corrected PG paragraph) runs:

1. ``10 max(L, K)`` random phase configurations; keep the one with the lowest NMSE;
2. PG once from it: the derivative of ``||alpha H - D||^2`` w.r.t. every angle (their eqs.
   (23)-(24), ``alpha`` held fixed), the TX and the RX derivatives each scaled so that their own
   largest component is pi (eqs. (27)-(28)), angles moved by ``-step`` times that, ``step``
   starting at 0.1 and halved after every iteration;
3. stop once an iteration changes the NMSE by less than 1e-3 relative to the previous
   iterate's (the first iteration is never tested, so PG takes at least two steps);
4. power: water-filling on ``sigma_s^2 / sigma^2`` (the target's gains, not those of ``H``).

Their code reports the rate of ``alpha H``; ours reports that of the unscaled ``H`` unless
``scaled_rate`` is set (the dataset variable ``rate_channel_scale`` says which).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simframe import Parameter
from simframe_hmimo.interfaces import (
    HmimoLink,
    HmimoPhaseOptimiser,
    HmimoPowerAllocator,
    PhaseResult,
    TracedObjective,
)
from simframe_hmimo.link import backpropagate, propagate
from simframe_hmimo.power import water_filling

DRAW_BATCH = 256
"""Random configurations whose NMSE is evaluated at once (bounds the memory, not the result)."""


def target_gains(link: HmimoLink) -> np.ndarray:
    """``sigma_1 >= ... >= sigma_S``: the ``S`` largest singular values of ``H~``, the diagonal
    of An et al.'s target channel ``D`` (zeros beyond the rank when ``H~`` has fewer than ``S``
    rows or columns)."""
    values = np.linalg.svd(link.channel, compute_uv=False)[: link.antennas]
    return np.pad(values, (0, link.antennas - values.size))


def channel_fit(
    channels: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares scale, NMSE and residual of ``alpha H`` against ``D = diag(target)``.

    ``channels`` has shape ``(..., S, S)`` (one ``H`` per leading index); returns ``alpha``
    ``(...)``, the NMSE ``||alpha H - D||^2 / ||D||^2`` ``(...)`` and the residual
    ``alpha H - D`` ``(..., S, S)``. ``alpha = <H, D> / <H, H>`` minimises the NMSE for the
    given ``H`` (An et al.'s compensation factor).
    """
    diagonal = np.diagonal(channels, axis1=-2, axis2=-1)
    power = np.sum(np.abs(channels) ** 2, axis=(-2, -1))
    alpha = np.sum(diagonal.conj() * target, axis=-1) / power
    residual = alpha[..., None, None] * channels - np.diag(target)
    nmse = np.sum(np.abs(residual) ** 2, axis=(-2, -1)) / np.sum(target**2)
    return alpha, nmse, residual


def batch_channels(link: HmimoLink, tx_phases: np.ndarray, rx_phases: np.ndarray) -> np.ndarray:
    """``H = V_R H~ V_T`` (paper 000 eq. (4)) of ``B`` phase configurations at once.

    ``tx_phases`` ``(B, L, N)``, ``rx_phases`` ``(B, K, M)``; returns ``(B, S, S)``. The fields
    of all configurations travel side by side as one ``atoms x (B S)`` matrix, so every hop is a
    single matrix product (O(B (L N^2 + K M^2) S)).
    """
    configurations, antennas = tx_phases.shape[0], link.antennas
    field = link.tx_hops[0][:, None, :]  # N x 1 x S: the antennas' field at TX layer 1
    for layer in range(1, len(link.tx_hops)):
        shaped = (tx_phases[:, layer - 1].T[:, :, None] * field).reshape(field.shape[0], -1)
        field = (link.tx_hops[layer] @ shaped).reshape(-1, configurations, antennas)
    shaped = (tx_phases[:, -1].T[:, :, None] * field).reshape(field.shape[0], -1)
    field = (link.channel @ shaped).reshape(-1, configurations, antennas)  # at RX layer K
    for layer in range(len(link.rx_hops) - 1, -1, -1):
        shaped = (rx_phases[:, layer].T[:, :, None] * field).reshape(field.shape[0], -1)
        field = (link.rx_hops[layer] @ shaped).reshape(-1, configurations, antennas)
    return field.transpose(1, 0, 2)


@dataclass(frozen=True)
class ConfigurationFit:
    """``alpha H`` against ``D`` at one phase configuration, with the forward fields (link
    ``propagate``) that the gradient needs."""

    forward_tx: list[np.ndarray]
    forward_rx: list[np.ndarray]
    alpha: complex
    nmse: float
    residual: np.ndarray


def fit_configuration(
    link: HmimoLink, tx_phases: np.ndarray, rx_phases: np.ndarray, target: np.ndarray
) -> ConfigurationFit:
    """Forward pass and :func:`channel_fit` of one configuration (``(L, N)``, ``(K, M)``)."""
    forward_tx, forward_rx = propagate(link, tx_phases, rx_phases)
    alpha, nmse, residual = channel_fit(forward_rx[-1], target)
    return ConfigurationFit(forward_tx, forward_rx, complex(alpha), float(nmse), residual)


def nmse_angle_gradients(
    link: HmimoLink,
    tx_phases: np.ndarray,
    rx_phases: np.ndarray,
    target: np.ndarray,
    fit: ConfigurationFit,
) -> tuple[np.ndarray, np.ndarray]:
    """Derivatives of the NMSE w.r.t. the TX ``(L, N)`` and RX ``(K, M)`` angles (An et al.,
    eqs. (23)-(24), divided by ``||D||^2``) at ``fit``'s configuration, by one adjoint pass.

    The derivative is taken with ``alpha`` held at its least-squares value; since that value
    minimises the NMSE over ``alpha``, it is also the derivative of ``min_alpha NMSE``.
    """
    # gradient of the NMSE w.r.t. H, convention d/dRe H + 1j d/dIm H (link.backpropagate)
    g = 2.0 * np.conj(fit.alpha) * fit.residual / np.sum(target**2)
    grad_tx, grad_rx = backpropagate(link, tx_phases, rx_phases, fit.forward_tx, fit.forward_rx, g)
    return np.imag(grad_tx * tx_phases.conj()), np.imag(grad_rx * rx_phases.conj())


def normalised_direction(angle_gradient: np.ndarray) -> np.ndarray | None:
    """``pi g / max(g)`` (An et al., eqs. (27)-(28)): the largest (signed) component becomes pi.

    At the least-squares ``alpha`` the derivatives of one layer sum to zero (a common phase of
    a layer only rotates ``alpha H``, which ``alpha`` undoes), so ``max(g) > 0`` unless the
    gradient vanishes; then there is no direction and this returns ``None``.
    """
    largest = angle_gradient.max()
    return None if largest <= 0.0 else np.pi * angle_gradient / largest


class ProjectedGradientFit(HmimoPhaseOptimiser):
    """PG benchmark of An et al. (JSAC 2023) as their released code runs it.

    Draws ``restarts_per_layer * max(L, K)`` random phase configurations (NMSE of all of them
    evaluated in one batch), keeps the one with the lowest NMSE of ``alpha H`` against
    ``diag(sigma_1..S(H~))`` and runs PG once from it: TX and RX angle gradients each scaled
    to a largest component of pi, step ``step`` halved every iteration, stop when an iteration
    (from the second on) changes the NMSE by less than ``tolerance`` relative, or after
    ``max_iterations``. Power: water-filling on ``sigma_s(H~)^2 / sigma^2`` (An et al.);
    ``singular_value_power = false`` uses the scenario's power slot on ``H`` instead. The rate
    is that of the unscaled ``H``; ``scaled_rate = true`` evaluates it on ``|alpha| H`` as An's
    code did (dataset variable ``rate_channel_scale``). The trace holds the NMSE of the chosen
    start followed by the NMSE after every iteration.
    """

    name = "pg_an"
    objective = TracedObjective("nmse", "1", "NMSE of alpha H against diag(sigma_1..S(H~))")
    parameters = (
        Parameter(
            "restarts_per_layer",
            int,
            10,
            help="random configurations drawn per layer of the deeper SIM; PG starts from the best",
            minimum=1,
        ),
        Parameter("step", float, 0.1, "1", "initial step (halved every iteration)", minimum=0.0),
        Parameter("max_iterations", int, 100, help="PG iterations at most", minimum=1),
        Parameter("tolerance", float, 1e-3, "1", "stop at this relative NMSE change", minimum=0),
        Parameter("scaled_rate", bool, False, help="report the rate of |alpha| H (An's code)"),
        Parameter(
            "singular_value_power",
            bool,
            True,
            help="water-filling on the S largest singular values of H~ (An); false: power slot",
        ),
    )

    def optimise(self, link, allocator, rng):
        target = target_gains(link)
        tx, rx = self.best_random_start(link, target, rng)
        tx, rx, alpha, trace = self.descend(link, target, tx, rx)
        scale = abs(alpha) if self.scaled_rate else 1.0
        return PhaseResult(
            tx,
            rx,
            self._powers(link, target, tx, rx, scale, allocator),
            len(trace) - 1,
            tuple(trace),
            channel_scale=scale,
        )

    def draws(self, link: HmimoLink) -> int:
        """Random configurations drawn: ``restarts_per_layer * max(L, K)``."""
        return self.restarts_per_layer * max(link.tx_shape[0], link.rx_shape[0])

    def best_random_start(
        self, link: HmimoLink, target: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The lowest-NMSE one of :meth:`draws` uniform random configurations.

        Configuration ``b`` takes the ``b``-th run of ``L N + K M`` uniforms from ``rng`` (TX
        angles, then RX), so a larger budget draws the same configurations and more: more draws
        never give a worse start. They are evaluated in batches of ``DRAW_BATCH``.
        """
        (layers_tx, atoms_tx), (layers_rx, atoms_rx) = link.tx_shape, link.rx_shape
        split = layers_tx * atoms_tx
        best = (np.inf, None)
        for first in range(0, self.draws(link), DRAW_BATCH):
            count = min(DRAW_BATCH, self.draws(link) - first)
            phases = np.exp(2j * np.pi * rng.random((count, split + layers_rx * atoms_rx)))
            tx = phases[:, :split].reshape(count, layers_tx, atoms_tx)
            rx = phases[:, split:].reshape(count, layers_rx, atoms_rx)
            _, nmse, _ = channel_fit(batch_channels(link, tx, rx), target)
            index = int(np.argmin(nmse))
            if nmse[index] < best[0]:
                best = (nmse[index], (tx[index], rx[index]))
        return best[1]

    def descend(
        self, link: HmimoLink, target: np.ndarray, tx_phases: np.ndarray, rx_phases: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, complex, list[float]]:
        """PG from the given phases: the last iterate, its ``alpha`` and the NMSE trace (the
        start's NMSE, then one entry per iteration)."""
        phi_tx, phi_rx = np.angle(tx_phases), np.angle(rx_phases)
        fit = fit_configuration(link, tx_phases, rx_phases, target)
        trace, step = [fit.nmse], self.step
        for iteration in range(1, self.max_iterations + 1):
            grad_tx, grad_rx = nmse_angle_gradients(link, tx_phases, rx_phases, target, fit)
            direction_tx, direction_rx = (
                normalised_direction(grad_tx),
                normalised_direction(grad_rx),
            )
            if direction_tx is None and direction_rx is None:
                break
            if direction_tx is not None:
                phi_tx = phi_tx - step * direction_tx
            if direction_rx is not None:
                phi_rx = phi_rx - step * direction_rx
            step /= 2.0
            tx_phases, rx_phases = np.exp(1j * phi_tx), np.exp(1j * phi_rx)
            fit = fit_configuration(link, tx_phases, rx_phases, target)
            trace.append(fit.nmse)
            if iteration >= 2 and abs(trace[-1] - trace[-2]) < self.tolerance * trace[-2]:
                break
        return tx_phases, rx_phases, fit.alpha, trace

    def _powers(
        self,
        link: HmimoLink,
        target: np.ndarray,
        tx_phases: np.ndarray,
        rx_phases: np.ndarray,
        scale: float,
        allocator: HmimoPowerAllocator,
    ) -> np.ndarray:
        """An's water-filling on ``sigma_s(H~)^2``, or the power slot on ``scale * H`` (the
        effective channel is formed only in that case)."""
        if self.singular_value_power:
            return water_filling(target**2 / link.noise_w, link.budget_w)
        channel = scale * link.effective_channel(tx_phases, rx_phases)
        return allocator.allocate(channel, link.noise_w, link.budget_w)
