"""The closed-form terms in each AP's eigenbasis (spec sim-cellfree.md, Closed form).

Every covariance at AP l is a multiple of one matrix, ``R_lk = c_lk S_l`` with
``S_l = G_l^T R G_l^*`` and ``c_lk = beta_lk / (kappa_lk + 1)`` (paper 003 eqs. (3)-(5)). With
``S_l = U diag(s) U^H``, ``Psi_lk``, ``R_lk Psi_lk^{-1} R_lk`` and every trace of the closed form
(eqs. (13)-(20)) are diagonal in ``U``: with ``e_lk = U^H G_l^T a_lk`` (the LoS direction in that
basis), ``m_lk = sqrt(beta kappa/(kappa+1))`` and ``w_lk = tau_p sum_{i in P_k} p_i c_li``,

- ``Psi_lk^{-1} = U diag(1 / (1 + w_lk s)) U^H``,
- ``Rhat_lk = U diag(h_lk) U^H`` with ``h_lk = p_k tau_p c_lk^2 s^2 / (1 + w_lk s)``,

so the terms cost ``O(L K^2 N)`` instead of ``O(L K^2 N^3)`` and no solve is needed. The terms
equal :func:`simframe_cellfree.closed_form.closed_form_terms` of the same statistics to
round-off (tests/cellfree/test_fast_form.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simframe_cellfree.ap_sums import ApRows
from simframe_cellfree.closed_form import PilotSetup, SinrTerms


@dataclass(frozen=True)
class ScaledStatistics:
    """Statistics of the spec factored per AP: ``R_lk = c_lk S_l``, ``gbar_lk = m_lk d_lk``.

    ``spatial`` ``(..., L, N, N)`` is ``S_l``, ``direction`` ``(..., L, K, N)`` is
    ``d_lk = G_l^T a_lk``; ``covariance_scale`` ``c`` and ``mean_scale`` ``m`` are ``(L, K)``.
    """

    spatial: np.ndarray
    direction: np.ndarray
    covariance_scale: np.ndarray
    mean_scale: np.ndarray


@dataclass(frozen=True)
class EigenQuantities:
    """Per AP and UE in AP l's eigenbasis ``(..., L, K, N)``: ``s`` the eigenvalues of S_l
    ``(..., L, 1, N)``, ``psi_inv_s = s / (1 + w_lk s)``, ``rhat = h_lk`` and ``los_power =
    |gbar_lk|^2`` per eigen direction; ``los`` the means ``m_lk e_lk`` themselves."""

    s: np.ndarray
    psi_inv_s: np.ndarray
    rhat: np.ndarray
    los: np.ndarray
    los_power: np.ndarray


Decomposition = tuple[np.ndarray, np.ndarray]
"""``np.linalg.eigh(stats.spatial)``: eigenvalues ``(..., L, N)``, vectors ``(..., L, N, N)``."""


def eigen_quantities(
    stats: ScaledStatistics, pilots: PilotSetup, decomposition: Decomposition | None = None
) -> EigenQuantities:
    """The per-AP eigenbasis quantities; ``decomposition`` is ``eigh(stats.spatial)`` if the
    caller has it already."""
    s, basis = np.linalg.eigh(stats.spatial) if decomposition is None else decomposition
    los = stats.mean_scale[..., None] * (stats.direction @ basis.conj())  # m_lk U^H d_lk
    c, p, tau_p = stats.covariance_scale, pilots.pilot_power_w, pilots.tau_p
    w = c @ (pilots.sharing * p[None, :] * tau_p).T  # (L, K): w_lk
    s = s[..., :, None, :]
    psi_inv_s = s / (1.0 + w[..., None] * s)
    rhat = (p * tau_p * c**2)[..., None] * s * psi_inv_s
    return EigenQuantities(s, psi_inv_s, rhat, los, np.abs(los) ** 2)


def pairwise_sum(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``sum_n x[..., k, n] y[..., i, n]`` as ``(..., K, I)``."""
    return x @ np.swapaxes(y, -1, -2)


def eigen_terms(
    stats: ScaledStatistics, pilots: PilotSetup, decomposition: Decomposition | None = None
) -> SinrTerms:
    """``SinrTerms`` of the spec (real arrays), batched over leading axes and APs."""
    q = eigen_quantities(stats, pilots, decomposition)
    c = stats.covariance_scale
    gain = np.swapaxes(q.los_power.sum(-1) + q.rhat.sum(-1), -1, -2)  # (..., K, L)
    cross = np.abs(pairwise_sum(q.los, q.los.conj())) ** 2  # |gbar_lk^H gbar_li|^2
    # tr(Rhat_lk R_li) + gbar_lk^H R_li gbar_lk = c_li sum_n (h_lk + |gbar_lk|^2) s_n.
    own = ((q.rhat + q.los_power) * q.s).sum(-1)  # (..., L, K)
    noncoherent = (
        own[..., :, :, None] * c[:, None, :]
        + pairwise_sum(q.rhat, q.los_power)  # gbar_li^H Rhat_lk gbar_li
        + cross
    )
    k = np.arange(c.shape[-1])
    noncoherent[..., k, k] -= cross[..., k, k]
    amplitude = np.sqrt(np.outer(pilots.pilot_power_w, pilots.pilot_power_w)) * pilots.tau_p
    amplitude *= pilots.sharing & ~np.eye(len(k), dtype=bool)
    # tr(R_li Psi_lk^{-1} R_lk) = c_li c_lk sum_n s_n^2 / (1 + w_lk s_n).
    trace = (q.psi_inv_s * q.s).sum(-1) * c
    coherent = amplitude[:, :, None] * np.moveaxis(trace[..., :, :, None] * c[:, None, :], -3, -1)
    return SinrTerms(gain, np.moveaxis(noncoherent, -3, -1), coherent)


def eigen_rows(
    stats: ScaledStatistics,
    pilots: PilotSetup,
    power_w: np.ndarray,
    partners: tuple[np.ndarray, np.ndarray],
) -> ApRows:
    """AP l's row of every UE's system (:class:`~simframe_cellfree.ap_sums.ApRows`) without
    the ``K x K`` terms: the power-weighted sum over interferers i of Gamma_ki[l, l] needs only
    ``Q_l = sum_i p_i gbar_li gbar_li^H`` (N x N), so a row costs ``O(K N^2)`` per AP."""
    q = eigen_quantities(stats, pilots)
    c = stats.covariance_scale
    gain = q.los_power.sum(-1) + q.rhat.sum(-1)  # (..., L, K)
    own = ((q.rhat + q.los_power) * q.s).sum(-1)
    weighted = q.los * power_w[:, None]
    los_sum = np.swapaxes(weighted.conj(), -1, -2) @ q.los  # Q_l^* (..., L, N, N)
    cross = ((q.los @ los_sum) * q.los.conj()).sum(-1).real  # sum_i p_i |gbar_lk^H gbar_li|^2
    noise = (
        gain
        + own * (c @ power_w)[:, None]
        + (q.rhat * (power_w @ q.los_power)[..., None, :]).sum(-1)
        + cross
        - power_w * q.los_power.sum(-1) ** 2
    )
    index, mask = partners
    trace = (q.psi_inv_s * q.s).sum(-1) * c  # c_lk sum_n s_n psi_inv_s
    amplitude = np.sqrt(pilots.pilot_power_w[:, None] * pilots.pilot_power_w[index])
    amplitude *= pilots.tau_p * mask * np.sqrt(power_w)[index]
    coupling = amplitude * trace[..., :, :, None] * c[:, index]  # (..., L, K, r)
    return ApRows(
        np.swapaxes(gain, -1, -2), np.swapaxes(noise, -1, -2), np.moveaxis(coupling, -3, -1)
    )
