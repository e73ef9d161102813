"""Gradient SIM phase design on the closed form: analytic gradient and Riemannian L-BFGS.

The statistical-CSI objective of paper 003 (eq. (23): sum SE; optionally a smooth minimum SE) is
a smooth function of every SIM phase of every AP through the closed form of the spec
(sim-cellfree.md). This module differentiates it in reverse mode (equations in
docs/physics/cellfree-gradient.md):

1. objective -> closed-form terms ``b_k``, ``Gamma_ki``, ``c_ki`` at the combiner's weights
   ``a_k`` (for LSFD the weights maximise the SINR, so by the envelope theorem they are held
   fixed; for EGCD they are fixed anyway);
2. terms -> through-SIM statistics ``gbar_lk``, ``R_lk`` through the phase-aware MMSE quantities
   ``Psi_lk^{-1}`` and ``Rhat_lk``;
3. statistics -> ``G_l`` (``gbar_lk = G_l^T hbar_lk``, ``R_lk = beta/(kappa+1) G_l^T R G_l^*``);
4. ``G_l`` -> the unit-modulus coefficients of every layer (adjoint pass through the hops).

All of it is batched over APs and UE pairs with einsum/matmul. The optimiser
(:class:`CellFreeGradientDesign`) runs ``minimise_rlbfgs`` on the product of complex circles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from simframe_metasurface.manifold import minimise_rlbfgs

from simframe import Parameter
from simframe_cellfree.closed_form import (
    ChannelStatistics,
    PilotSetup,
    SinrTerms,
    closed_form_terms,
    combining_weights,
    interference_plus_noise,
    spectral_efficiency,
)
from simframe_cellfree.interfaces import CellFreePhaseOptimiser, PhaseDesign
from simframe_cellfree.uplink import UplinkProblem

OBJECTIVES = ("sum_se", "softmin_se")


@dataclass(frozen=True)
class Objective:
    """A smooth function of the per-UE SE (bit/s/Hz) to maximise.

    ``sum_se``: ``sum_k SE_k`` (paper eq. (23)); ``softmin_se``: the log-sum-exp soft minimum
    ``-t log sum_k exp(-SE_k / t)``, within ``t log K`` below ``min_k SE_k``.
    """

    kind: str = "sum_se"
    temperature_bps_hz: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.kind!r}; expected one of {OBJECTIVES}")
        if not self.temperature_bps_hz > 0.0:
            raise ValueError(f"temperature_bps_hz must be > 0, got {self.temperature_bps_hz}")

    def value_and_slope(self, se_bps_hz: np.ndarray) -> tuple[float, np.ndarray]:
        """The objective and its derivative with respect to each UE's SE."""
        if self.kind == "sum_se":
            return float(se_bps_hz.sum()), np.ones_like(se_bps_hz)
        scaled = -se_bps_hz / self.temperature_bps_hz
        top = scaled.max()
        weights = np.exp(scaled - top)
        total = weights.sum()
        return float(-self.temperature_bps_hz * (top + np.log(total))), weights / total


def layer_fields(hops: tuple[np.ndarray, ...], coefficients: np.ndarray) -> list[np.ndarray]:
    """``F_q = Theta^q W^q ... Theta^1 W^1`` for q = 1..Q, each ``(..., M, N)``; ``F_Q = G``.

    ``coefficients`` are the unit-modulus phase shifts ``(..., Q, M)``.
    """
    fields = []
    field = hops[0]
    for layer, hop in enumerate(hops):
        if layer > 0:
            field = hop @ field
        field = coefficients[..., layer, :, None] * field
        fields.append(field)
    return fields


def coefficient_gradient(
    hops: tuple[np.ndarray, ...], coefficients: np.ndarray, transfer_gradient: np.ndarray
) -> np.ndarray:
    """Adjoint pass through the SIM: the gradient with respect to the coefficients ``(..., Q, M)``.

    ``transfer_gradient`` is ``dF/dRe G + j dF/dIm G`` ``(..., M, N)``; the result uses the same
    convention for every ``theta^q_m``. With ``F_q = diag(theta^q) X_q`` and
    ``X_q = W^q F_{q-1}``: ``dF/dtheta^q_m = sum_n Fbar_q[m, n] conj(X_q[m, n])``,
    ``Fbar_{q-1} = W^{qH} (conj(theta^q) * Fbar_q)``.
    """
    fields = layer_fields(hops, coefficients)
    gradient = np.empty_like(coefficients, dtype=complex)
    upstream = transfer_gradient
    for layer in range(len(hops) - 1, -1, -1):
        theta = coefficients[..., layer, :, None]
        before_shift = theta.conj() * fields[layer]
        gradient[..., layer, :] = np.einsum("...mn,...mn->...m", upstream, before_shift.conj())
        if layer > 0:
            upstream = hops[layer].conj().T @ (theta.conj() * upstream)
    return gradient


@dataclass(frozen=True)
class TermsGradient:
    """``dF/d`` the closed-form terms: ``gain [K, L]`` and ``noncoherent [K, I, L]`` (real),
    ``coherent [K, I, L]`` as ``dF/dRe c + j dF/dIm c``."""

    gain: np.ndarray
    noncoherent: np.ndarray
    coherent: np.ndarray


def objective_and_terms_gradient(
    terms: SinrTerms,
    power_w: np.ndarray,
    combiner: str,
    objective: Objective,
    tau_p: int,
    tau_c: int,
) -> tuple[float, TermsGradient]:
    """The objective of the SE and its gradient with respect to the closed-form terms.

    ``SINR_k = p_k |a_k^H b_k|^2 / (a_k^H A_k a_k)`` with
    ``A_k = diag(sum_i p_i Gamma_ki + b_k) + sum_i p_i c_ki c_ki^H`` (spec, Closed form).
    The weights ``a_k`` are held fixed: for EGCD they are constants, and the LSFD weights
    maximise the generalised Rayleigh quotient, so their own variation does not change the
    SINR to first order (envelope theorem).
    """
    matrices = interference_plus_noise(terms, power_w)
    weights = combining_weights(terms, power_w, combiner, matrices)
    signal = np.einsum("kl,kl->k", weights.conj(), terms.gain)
    denominator = np.einsum("kl,klm,km->k", weights.conj(), matrices, weights).real
    sinr_values = power_w * np.abs(signal) ** 2 / denominator
    se = spectral_efficiency(sinr_values, tau_p, tau_c)
    value, slope = objective.value_and_slope(se)
    per_sinr = slope * (1.0 - tau_p / tau_c) / (np.log(2.0) * (1.0 + sinr_values))
    signal_scale = 2.0 * per_sinr * power_w / denominator
    denominator_scale = per_sinr * sinr_values / denominator  # dF/d(a^H A a), up to the sign
    weight_power = np.abs(weights) ** 2
    gain = (
        signal_scale[:, None] * (signal.conj()[:, None] * weights.conj()).real
        - denominator_scale[:, None] * weight_power
    )
    noncoherent = (
        -(denominator_scale[:, None, None] * power_w[None, :, None]) * weight_power[:, None, :]
    )
    projections = np.einsum("kl,kil->ki", weights.conj(), terms.coherent)
    coherent = (
        -2.0
        * (denominator_scale[:, None] * power_w[None, :] * projections)[:, :, None]
        * weights[:, None, :]
    )
    return value, TermsGradient(gain, noncoherent, coherent)


def mixed(weights: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """``sum_i weights[..., k, i] matrices[..., i, :, :]`` ``(..., K, N, N)`` as one matmul."""
    n = matrices.shape[-1]
    flat = matrices.reshape(*matrices.shape[:-2], n * n)
    product = weights @ flat
    return product.reshape(*product.shape[:-1], n, n)


def statistics_gradient(
    stats: ChannelStatistics, pilots: PilotSetup, terms_gradient: TermsGradient
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients with respect to ``gbar_lk`` ``(L, K, N)`` and ``R_lk`` ``(L, K, N, N)``.

    ``gbar``: ``dF/dRe + j dF/dIm``; ``R``: the matrix ``Y_lk`` with ``dF = Re tr(Y_lk dR_lk)``.
    Reverse mode through ``Psi_k = sum_{i in P_k} p_i tau_p R_i + I``, ``P_k = Psi_k^{-1}``,
    ``Rhat_k = p_k tau_p R_k P_k R_k`` and the terms of the spec (per AP, batched; the
    equations are in docs/physics/cellfree-gradient.md).
    """
    mean, covariance = stats.mean, stats.covariance
    sharing_weights = pilots.sharing * pilots.pilot_power_w[None, :] * pilots.tau_p
    n = covariance.shape[-1]
    psi_inv = np.linalg.inv(mixed(sharing_weights, covariance) + np.eye(n))
    psi_inv_r = psi_inv @ covariance
    estimate_scale = (pilots.pilot_power_w * pilots.tau_p)[:, None, None]
    rhat = estimate_scale * (covariance @ psi_inv_r)

    gain_bar = terms_gradient.gain.T  # (L, K)
    gamma_bar = np.moveaxis(terms_gradient.noncoherent, -1, 0)  # (L, K, I)
    gamma_bar_t = np.swapaxes(gamma_bar, -1, -2)
    others = pilots.sharing & ~np.eye(len(pilots.pilots), dtype=bool)
    amplitude = np.sqrt(np.outer(pilots.pilot_power_w, pilots.pilot_power_w)) * pilots.tau_p
    # c_ki = amplitude tr(R_i P_k R_k): dF = Re(conj(cbar) dc) = Re(trace_bar * d tr(...))
    trace_bar = np.moveaxis(terms_gradient.coherent.conj() * (amplitude * others)[..., None], -1, 0)

    outer = mean[..., :, None] * mean.conj()[..., None, :]  # g g^H
    mixed_covariance = mixed(gamma_bar, covariance)  # sum_i Gamma_bar_ki R_i
    mixed_estimate = mixed(gamma_bar_t, rhat)  # sum_k Gamma_bar_ki Rhat_k
    rhat_bar = gain_bar[..., None, None] * np.eye(n) + mixed_covariance + mixed(gamma_bar, outer)
    cov_bar = mixed_estimate + mixed(gamma_bar_t, outer)
    cov_bar += mixed(np.swapaxes(trace_bar, -1, -2), psi_inv_r)
    weighted_cov = mixed(trace_bar, covariance)
    cov_bar += weighted_cov @ psi_inv
    psi_inv_bar = covariance @ weighted_cov
    cov_bar += estimate_scale * (
        psi_inv_r @ rhat_bar + rhat_bar @ np.swapaxes(psi_inv_r, -1, -2).conj()
    )
    psi_inv_bar += estimate_scale * (covariance @ rhat_bar @ covariance)
    psi_bar = -psi_inv @ psi_inv_bar @ psi_inv
    cov_bar += mixed(sharing_weights.T, psi_bar)

    column = mean[..., None]
    mean_bar = 2.0 * gain_bar[..., None] * mean
    mean_bar += 2.0 * (mixed_covariance @ column)[..., 0]
    mean_bar += 2.0 * (mixed_estimate @ column)[..., 0]
    cross_bar = gamma_bar * ~np.eye(gamma_bar.shape[-1], dtype=bool)
    cross_bar = cross_bar + np.swapaxes(cross_bar, -1, -2)
    gram = mean.conj() @ np.swapaxes(mean, -1, -2)  # [l, m, j] = gbar_m^H gbar_j
    mean_bar += 2.0 * (cross_bar * np.swapaxes(gram, -1, -2)) @ mean
    return mean_bar, cov_bar


def transfer_gradient(
    problem: UplinkProblem, transfer: np.ndarray, mean_bar: np.ndarray, cov_bar: np.ndarray
) -> np.ndarray:
    """``dF/dRe G + j dF/dIm G`` ``(L, M, N)`` from the statistics' gradients.

    ``gbar_lk = G^T hbar_lk`` gives ``sum_k conj(hbar_lk) gbar_bar_lk^T``; ``R_lk = r_lk G^T R
    G^*`` with ``Y_l = sum_k r_lk Y_lk`` gives ``R^* G Y_l^* + R^T G Y_l^T``.
    """
    beta, kappa = problem.fading.gain, problem.fading.rician_factor
    los_mean = np.sqrt(beta * kappa / (kappa + 1))[..., None] * problem.los
    gradient = np.swapaxes(los_mean.conj(), -1, -2) @ mean_bar
    spatial_bar = mixed((beta / (kappa + 1))[:, None, :], cov_bar)[:, 0]
    correlation = problem.front_end.correlation
    gradient += correlation.conj() @ transfer @ spatial_bar.conj()
    gradient += correlation.T @ transfer @ np.swapaxes(spatial_bar, -1, -2)
    return gradient


def objective_and_gradient(
    problem: UplinkProblem, coefficients: np.ndarray, objective: Objective
) -> tuple[float, np.ndarray]:
    """The closed-form objective at full power and ``dF/dRe theta + j dF/dIm theta``.

    ``coefficients`` are the unit-modulus phase shifts ``exp(j psi)`` of every AP ``(L, Q, M)``;
    the derivative with respect to the angles is ``Im(gradient * conj(coefficients))``.
    """
    if not problem.front_end.has_sim:
        raise ValueError("the gradient phase design needs APs with a SIM (system.sim = true)")
    hops = problem.front_end.hops
    transfer = layer_fields(hops, coefficients)[-1]
    stats = problem.statistics(transfer)
    pilots = problem.pilot_setup()
    value, terms_bar = objective_and_terms_gradient(
        closed_form_terms(stats, pilots),
        problem.full_power_w,
        problem.combiner,
        objective,
        problem.tau_p,
        problem.tau_c,
    )
    mean_bar, cov_bar = statistics_gradient(stats, pilots, terms_bar)
    g_bar = transfer_gradient(problem, transfer, mean_bar, cov_bar)
    return value, coefficient_gradient(hops, coefficients, g_bar)


def phase_gradient(
    problem: UplinkProblem, phases_rad: np.ndarray, objective: Objective
) -> tuple[float, np.ndarray]:
    """The objective and its derivative with respect to every phase (rad) ``(L, Q, M)``."""
    coefficients = np.exp(1j * phases_rad)
    value, gradient = objective_and_gradient(problem, coefficients, objective)
    return value, (gradient * coefficients.conj()).imag


class CellFreeGradientDesign(CellFreePhaseOptimiser):
    """SIM phases of every AP by Riemannian L-BFGS on the closed form (statistical CSI only).

    Maximises the objective (sum SE, paper eq. (23), or a soft minimum SE) at full power with
    the system's combiner over the product of complex circles ``|theta^q_{l,m}| = 1`` with
    ``minimise_rlbfgs`` and the analytic gradient of the closed form (equations in
    docs/physics/cellfree-gradient.md). The solver runs in rounds of ``window`` iterations, each
    from the previous round's point; it stops when a round gains less than ``tolerance`` times
    the objective, when the solver stops by itself (gradient norm below 1e-6 or no progress),
    or after ``max_iterations``. The trace holds the objective at the start and after every
    iteration.
    """

    name = "cellfree_gradient"
    parameters = (
        Parameter("objective", str, "sum_se", "", "what to maximise", choices=OBJECTIVES),
        Parameter(
            "softmin_temperature_bps_hz",
            float,
            0.1,
            "bit/s/Hz",
            "temperature t of the soft minimum -t log sum exp(-SE/t)",
            minimum=1e-6,
        ),
        Parameter("tolerance", float, 5e-4, "1", "relative gain of a round that counts", minimum=0),
        Parameter("window", int, 50, "", "iterations per round (tolerance check)", minimum=1),
        Parameter("max_iterations", int, 1000, "", "cap on L-BFGS iterations", minimum=1),
        Parameter("memory", int, 10, "", "L-BFGS memory (pairs)", minimum=1),
    )

    def optimise(self, problem, initial_rad, rng):
        objective = Objective(self.objective, self.softmin_temperature_bps_hz)

        def cost_and_gradient(coefficients: np.ndarray) -> tuple[float, np.ndarray]:
            value, gradient = objective_and_gradient(problem, coefficients, objective)
            return -value, -gradient

        point = np.exp(1j * initial_rad)
        trace = [objective_and_gradient(problem, point, objective)[0]]
        iterations = 0
        while iterations < self.max_iterations:
            result = minimise_rlbfgs(
                cost_and_gradient,
                point,
                memory=self.memory,
                max_iterations=min(self.window, self.max_iterations - iterations),
            )
            start = trace[-1]
            point = result.point
            iterations += result.iterations
            trace.extend(-result.cost_trace[1:])
            converged = trace[-1] - start <= self.tolerance * abs(start)
            if converged or result.stop_reason != "max iterations":
                break
        return PhaseDesign(np.mod(np.angle(point), 2 * np.pi), np.array(trace))
