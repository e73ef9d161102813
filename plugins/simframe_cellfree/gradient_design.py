"""Gradient SIM phase design on the closed form: analytic gradient and Riemannian L-BFGS.

The statistical-CSI objective of paper 003 (eq. (23): sum SE; optionally a smooth minimum SE) is
a smooth function of every SIM phase of every AP through the closed form of the spec
(sim-cellfree.md). This module differentiates it in reverse mode (equations in
docs/physics/cellfree-gradient.md):

1. objective -> closed-form terms ``b_k``, ``Gamma_ki``, ``c_ki`` at the combiner's weights
   ``a_k`` (for LSFD the weights maximise the SINR, so by the envelope theorem they are held
   fixed; for EGCD they are fixed anyway);
2. terms -> through-SIM statistics ``gbar_lk`` and ``S_l = G_l^T R G_l^*`` (every
   ``R_lk = beta/(kappa+1) S_l``) through the phase-aware MMSE quantities ``Psi_lk^{-1}`` and
   ``Rhat_lk``, all diagonal in the eigenbasis of ``S_l``;
3. statistics -> ``G_l`` (``gbar_lk = G_l^T hbar_lk``);
4. ``G_l`` -> the unit-modulus coefficients of every layer (adjoint pass through the hops).

All of it is batched over APs and UE pairs with numpy broadcasting, einsum and matmul. The optimiser
(:class:`CellFreeGradientDesign`) runs the torus L-BFGS (``minimise_lbfgs_block``) on the angles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from simframe_metasurface.torus_lbfgs import minimise_lbfgs_block

from simframe import Parameter
from simframe_cellfree.closed_form import (
    SinrTerms,
    combining_weights,
    interference_plus_noise,
    spectral_efficiency,
)
from simframe_cellfree.eigenbasis import Decomposition
from simframe_cellfree.interfaces import (
    STARTS,
    CellFreePhaseOptimiser,
    PhaseDesign,
    best_of_starts,
)
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
    hops: tuple[np.ndarray, ...],
    coefficients: np.ndarray,
    transfer_gradient: np.ndarray,
    fields: list[np.ndarray],
) -> np.ndarray:
    """Adjoint pass through the SIM: the gradient with respect to the coefficients ``(..., Q, M)``.

    ``transfer_gradient`` is ``dF/dRe G + j dF/dIm G`` ``(..., M, N)``; the result uses the same
    convention for every ``theta^q_m``. With ``F_q = diag(theta^q) X_q`` and
    ``X_q = W^q F_{q-1}``: ``dF/dtheta^q_m = sum_n Fbar_q[m, n] conj(X_q[m, n])``,
    ``Fbar_{q-1} = W^{qH} (conj(theta^q) * Fbar_q)``. ``fields`` are :func:`layer_fields` of
    ``coefficients`` (the forward pass of the same evaluation).
    """
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


def los_mean(problem: UplinkProblem) -> np.ndarray:
    """``hbar_lk = sqrt(beta kappa/(kappa+1)) a_lk`` over the outer layer ``(L, K, M)`` (spec)."""
    beta, kappa = problem.fading.gain, problem.fading.rician_factor
    return np.sqrt(beta * kappa / (kappa + 1))[..., None] * problem.los


def spatial_gradient(
    problem: UplinkProblem,
    transfer: np.ndarray,
    outer_mean: np.ndarray,
    terms_gradient: TermsGradient,
    decomposition: Decomposition,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients with respect to ``gbar_lk`` ``(L, K, N)`` and ``S_l = G_l^T R G_l^*`` (L, N, N).

    ``outer_mean`` is :func:`los_mean`; ``decomposition`` is ``eigh(S_l)`` of every AP.
    ``gbar``: ``dF/dRe + j dF/dIm``; ``S``: the matrix ``Y_l`` with ``dF = Re tr(Y_l dS_l)``.
    Reverse mode through ``R_k = r_k S`` (``r_k = beta_k/(kappa_k+1)``),
    ``Psi_k = w_k S + I`` (``w_k = tau_p sum_{i in P_k} p_i r_i``), ``P_k = Psi_k^{-1}``,
    ``Rhat_k = p_k tau_p R_k P_k R_k`` and the terms of the spec. Every one of these matrices is
    a function of ``S``, so in the eigenbasis ``S = U diag(lambda) U^H`` of each AP they are
    diagonal and the matrix products of the adjoint are elementwise (equations in
    docs/physics/cellfree-gradient.md).
    """
    pilots = problem.pilot_setup()
    beta, kappa = problem.fading.gain, problem.fading.rician_factor
    scale = beta / (kappa + 1)  # r_lk
    eigenvalues, basis = decomposition
    lam = eigenvalues[:, None, :]  # (L, 1, N)
    mean = (outer_mean @ transfer) @ basis.conj()  # U^H gbar_lk, (L, K, N)
    pilot_weight = scale @ (pilots.sharing * pilots.pilot_power_w * pilots.tau_p).T  # w_lk
    estimate_scale = pilots.pilot_power_w * pilots.tau_p  # rho_k
    shrink = 1.0 / (1.0 + pilot_weight[..., None] * lam)  # diag of P_k
    filtered = scale[..., None] * lam * shrink  # diag of P_k R_k
    estimate = estimate_scale[:, None] * scale[..., None] * lam * filtered  # diag of Rhat_k

    gain_bar = terms_gradient.gain.T  # (L, K)
    gamma_bar = np.moveaxis(terms_gradient.noncoherent, -1, 0)  # (L, K, I)
    others = pilots.sharing & ~np.eye(len(pilots.pilots), dtype=bool)
    amplitude = np.sqrt(np.outer(pilots.pilot_power_w, pilots.pilot_power_w)) * pilots.tau_p
    # c_ki = amplitude tr(R_i P_k R_k): dF = Re(conj(cbar) dc) = Re(trace_bar * d tr(...))
    trace_bar = np.moveaxis(terms_gradient.coherent.conj() * (amplitude * others)[..., None], -1, 0)
    gamma_r = gamma_bar @ scale[..., None]  # sum_i Gammabar_ki r_i, (L, K, 1)
    trace_r = trace_bar @ scale[..., None]  # sum_i C_ki r_i, (L, K, 1)

    outer = mean[..., :, None] * mean.conj()[..., None, :]
    n = mean.shape[-1]
    flat = gamma_bar @ outer.reshape(*outer.shape[:-2], n * n)
    rhat_bar = flat.reshape(outer.shape)  # Y_Rhat_k = diag(b_k + gamma_r lambda) + this
    rhat_bar[..., np.arange(n), np.arange(n)] += gain_bar[..., None] + gamma_r * lam
    rho_r = (estimate_scale * scale)[..., None, None]
    scaled_shrink = shrink * lam
    weight = rho_r * (filtered[..., :, None] + filtered[..., None, :]) - (
        pilot_weight[..., None, None] * rho_r * scale[..., None, None]
    ) * (scaled_shrink[..., :, None] * scaled_shrink[..., None, :])
    spatial_bar = (weight * rhat_bar + gamma_r[..., None] * outer).sum(axis=1)
    diagonal = (
        gamma_r * estimate
        + (2.0 * filtered - pilot_weight[..., None] * scale[..., None] * scaled_shrink**2) * trace_r
    )
    spatial_bar[..., np.arange(n), np.arange(n)] += diagonal.sum(axis=1)
    spatial_bar = basis @ spatial_bar @ np.swapaxes(basis, -1, -2).conj()

    mean_bar = (
        2.0
        * (gain_bar[..., None] + gamma_r * lam + np.swapaxes(gamma_bar, -1, -2) @ estimate)
        * mean
    )
    cross_bar = gamma_bar * ~np.eye(gamma_bar.shape[-1], dtype=bool)
    cross_bar = cross_bar + np.swapaxes(cross_bar, -1, -2)
    gram = mean.conj() @ np.swapaxes(mean, -1, -2)  # [l, m, j] = gbar_m^H gbar_j
    mean_bar += 2.0 * (cross_bar * np.swapaxes(gram, -1, -2)) @ mean
    return mean_bar @ np.swapaxes(basis, -1, -2), spatial_bar


def transfer_gradient(
    problem: UplinkProblem,
    transfer: np.ndarray,
    outer_mean: np.ndarray,
    mean_bar: np.ndarray,
    spatial_bar: np.ndarray,
) -> np.ndarray:
    """``dF/dRe G + j dF/dIm G`` ``(L, M, N)`` from the gradients of ``gbar`` and ``S``.

    ``gbar_lk = G^T hbar_lk`` gives ``sum_k conj(hbar_lk) gbar_bar_lk^T``; ``S = G^T R G^*``
    gives ``R^* G Y^* + R^T G Y^T``.
    """
    gradient = np.swapaxes(outer_mean.conj(), -1, -2) @ mean_bar
    correlation = problem.front_end.correlation
    gradient += correlation.conj() @ transfer @ spatial_bar.conj()
    gradient += correlation.T @ transfer @ np.swapaxes(spatial_bar, -1, -2)
    return gradient


def objective_and_gradient(
    problem: UplinkProblem, coefficients: np.ndarray, objective: Objective
) -> tuple[float, np.ndarray]:
    """The closed-form objective at full power and ``dF/dRe theta + j dF/dIm theta``.

    ``coefficients`` are the unit-modulus phase shifts ``exp(j psi)`` of every AP ``(L, Q, M)``;
    the derivative with respect to the angles is ``Im(gradient * conj(coefficients))``. The
    objective comes from the public closed form (``UplinkProblem.terms_of`` the statistics).
    """
    if not problem.front_end.has_sim:
        raise ValueError("the gradient phase design needs APs with a SIM (system.sim = true)")
    hops = problem.front_end.hops
    fields = layer_fields(hops, coefficients)
    transfer = fields[-1]
    stats = problem.scaled_statistics(transfer)
    decomposition = np.linalg.eigh(stats.spatial)
    value, terms_bar = objective_and_terms_gradient(
        problem.terms_of(stats, decomposition),
        problem.full_power_w,
        problem.combiner,
        objective,
        problem.tau_p,
        problem.tau_c,
    )
    outer_mean = los_mean(problem)
    mean_bar, spatial_bar = spatial_gradient(
        problem, transfer, outer_mean, terms_bar, decomposition
    )
    g_bar = transfer_gradient(problem, transfer, outer_mean, mean_bar, spatial_bar)
    return value, coefficient_gradient(hops, coefficients, g_bar, fields)


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
    the system's combiner over the product of circles ``|theta^q_{l,m}| = 1`` with the analytic
    gradient of the closed form (equations in docs/physics/cellfree-gradient.md). The torus is
    flat, so the Riemannian L-BFGS with the exponential retraction is L-BFGS on the angles
    (:mod:`simframe_metasurface.torus_lbfgs`; its first step moves no phase by more than
    ``first_step_rad``). It stops when the last ``window`` iterations together gain less than
    ``tolerance`` times the objective, when the gradient norm falls below 1e-6 or the line
    search makes no progress, or after ``max_iterations``. The curvature memory is kept for the
    whole run. The trace holds the objective at the start and after every iteration. With
    ``starts > 1`` it runs from further random phases and keeps the best design
    (:func:`~simframe_cellfree.interfaces.best_of_starts`).
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
        Parameter(
            "tolerance", float, 1e-4, "1", "relative gain of a window that counts", minimum=0
        ),
        Parameter("window", int, 100, "", "iterations over which the gain is measured", minimum=1),
        Parameter("max_iterations", int, 3000, "", "cap on L-BFGS iterations", minimum=1),
        Parameter("memory", int, 30, "", "L-BFGS memory (pairs)", minimum=1),
        Parameter(
            "first_step_rad",
            float,
            0.1,
            "rad",
            "largest phase change of a steepest-descent step (no curvature pairs yet)",
            minimum=1e-9,
        ),
        STARTS,
    )

    def optimise(self, problem, initial_rad, rng):
        return best_of_starts(
            lambda start: self._descend(problem, start), initial_rad, rng, self.starts
        )

    def _descend(self, problem: UplinkProblem, initial_rad: np.ndarray) -> PhaseDesign:
        """One L-BFGS run from ``initial_rad``."""
        objective = Objective(self.objective, self.softmin_temperature_bps_hz)
        shape = initial_rad.shape

        def cost_and_gradient(angles: np.ndarray, rows: np.ndarray):
            value, gradient = phase_gradient(problem, angles[0].reshape(shape), objective)
            return np.array([-value]), -gradient.reshape(1, -1)

        result = minimise_lbfgs_block(
            cost_and_gradient,
            initial_rad.reshape(1, -1),
            memory=self.memory,
            max_iterations=self.max_iterations,
            gradient_tolerance=1e-6,
            relative_tolerance=self.tolerance,
            window=self.window,
            first_step=self.first_step_rad,
        )
        costs = result.cost_trace[:, 0]  # repeats where a failed line search reset the memory
        trace = -costs[np.r_[True, np.diff(costs) != 0.0]]
        return PhaseDesign(np.mod(result.point[0].reshape(shape), 2 * np.pi), trace)
