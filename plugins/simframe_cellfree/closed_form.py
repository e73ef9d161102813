"""Phase-aware MMSE estimation statistics and the closed-form UatF SINR (spec sim-cellfree.md).

Paper 003 Section III (eqs. (13)-(20)) with the expressions of the spec. Everything is
normalised by the noise power (sigma^2 = 1): channel gains are ``beta / sigma^2`` and powers are
in W, so ``p * beta`` is a signal-to-noise ratio. Arrays may carry leading batch axes (``...``)
in front of the AP axis, e.g. candidate phase configurations of one AP.

Shapes: ``L`` APs, ``K`` UEs, ``N`` AP antennas. Means ``(..., L, K, N)``, covariances
``(..., L, K, N, N)``; the closed-form terms are indexed ``[k, i, l]`` (UE k's combiner,
interfering UE i, AP l) as in the spec's ``Gamma_ki[l, l]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMBINERS = ("lsfd", "egcd")


@dataclass(frozen=True)
class ChannelStatistics:
    """Through-SIM statistics: ``gbar_lk`` without its LoS phase, and ``R_lk`` (spec, Channel)."""

    mean: np.ndarray
    covariance: np.ndarray


@dataclass(frozen=True)
class PilotSetup:
    """Pilot index per UE, the pilot transmit power (W) per UE and the pilot length tau_p."""

    pilots: np.ndarray
    pilot_power_w: np.ndarray
    tau_p: int

    @property
    def sharing(self) -> np.ndarray:
        """``(K, K)`` boolean: UE i is in P_k (shares k's pilot; k included)."""
        return self.pilots[:, None] == self.pilots[None, :]


@dataclass(frozen=True)
class Estimation:
    """MMSE estimation statistics: ``Psi_lk^{-1} R_lk`` and ``Rhat_lk = p_k tau_p R Psi^{-1} R``."""

    psi_inv_covariance: np.ndarray
    estimate_covariance: np.ndarray


@dataclass(frozen=True)
class SinrTerms:
    """Ingredients of the closed form, all real except ``coherent``.

    ``gain[..., k, l] = b_k[l] = ||gbar_lk||^2 + tr(Rhat_lk)`` (desired gain and noise D_k);
    ``noncoherent[..., k, i, l]`` the diagonal of Gamma_ki for i != k and of
    ``Gamma_kk - b_k b_k^H`` for i = k; ``coherent[..., k, i, l] = c_ki[l]`` for i in P_k \\ {k},
    zero otherwise.
    """

    gain: np.ndarray
    noncoherent: np.ndarray
    coherent: np.ndarray


def estimation(stats: ChannelStatistics, pilots: PilotSetup) -> Estimation:
    """``Psi_lk = sum_{i in P_k} p_i tau_p R_li + I_N``; inverses applied by solves."""
    weights = pilots.sharing * pilots.pilot_power_w[None, :] * pilots.tau_p
    n = stats.covariance.shape[-1]
    psi = np.einsum("ki,...lixy->...lkxy", weights, stats.covariance) + np.eye(n)
    psi_inv_r = np.linalg.solve(psi, stats.covariance)
    scale = (pilots.pilot_power_w * pilots.tau_p)[:, None, None]
    rhat = scale * (stats.covariance @ psi_inv_r)
    return Estimation(psi_inv_r, rhat)


def sinr_terms(stats: ChannelStatistics, pilots: PilotSetup, est: Estimation) -> SinrTerms:
    """The closed-form terms of the spec (Closed form), batched over APs and UE pairs."""
    g, r, rhat = stats.mean, stats.covariance, est.estimate_covariance
    gain = (
        np.einsum("...lkn,...lkn->...kl", g.conj(), g).real + np.einsum("...lknn->...kl", rhat).real
    )
    cross = np.einsum("...lka,...lia->...kil", g.conj(), g)
    noncoherent = (
        np.einsum("...lkab,...liba->...kil", rhat, r).real
        + np.einsum("...lka,...liab,...lkb->...kil", g.conj(), r, g).real
        + np.einsum("...lia,...lkab,...lib->...kil", g.conj(), rhat, g).real
        + np.abs(cross) ** 2
    )
    k = np.arange(g.shape[-2])
    # Own-channel uncertainty: Gamma_kk - b b^H has tr(Rhat R) + gbar^H (R + Rhat) gbar, i.e. the
    # i = k entry above without |gbar_lk^H gbar_lk|^2.
    noncoherent[..., k, k, :] -= np.abs(cross[..., k, k, :]) ** 2
    others = pilots.sharing & ~np.eye(len(k), dtype=bool)
    amplitude = np.sqrt(np.outer(pilots.pilot_power_w, pilots.pilot_power_w)) * pilots.tau_p
    coherent = (
        np.einsum("...liab,...lkba->...kil", r, est.psi_inv_covariance)
        * (amplitude * others)[..., None]
    )
    return SinrTerms(gain, noncoherent, coherent)


def closed_form_terms(stats: ChannelStatistics, pilots: PilotSetup) -> SinrTerms:
    return sinr_terms(stats, pilots, estimation(stats, pilots))


def interference_plus_noise(terms: SinrTerms, power_w: np.ndarray) -> np.ndarray:
    """``sum_i p_i Gamma_ki - p_k b_k b_k^H + D_k`` as ``(..., K, L, L)`` Hermitian matrices."""
    diagonal = power_w @ terms.noncoherent + terms.gain
    weighted = terms.coherent * np.sqrt(power_w)[:, None]
    coherent = np.swapaxes(weighted, -1, -2) @ weighted.conj()
    return coherent + diagonal[..., :, None] * np.eye(diagonal.shape[-1])


def combining_weights(
    terms: SinrTerms, power_w: np.ndarray, combiner: str, matrices: np.ndarray | None = None
) -> np.ndarray:
    """CPU weights a_k over the APs ``(..., K, L)``.

    LSFD: ``a_k = (sum_i p_i Gamma_ki - p_k b_k b_k^H + D_k)^{-1} b_k`` (``matrices`` may pass
    that matrix when already computed); EGCD: all ones.
    """
    if combiner == "lsfd":
        if matrices is None:
            matrices = interference_plus_noise(terms, power_w)
        return np.linalg.solve(matrices, terms.gain[..., None].astype(matrices.dtype))[..., 0]
    if combiner == "egcd":
        return np.ones(terms.gain.shape, dtype=complex)
    raise ValueError(f"unknown combiner {combiner!r}; expected one of {COMBINERS}")


def sinr(
    terms: SinrTerms,
    power_w: np.ndarray,
    combiner: str,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """``SINR_k = p_k |a_k^H b_k|^2 / a_k^H (sum_i p_i Gamma_ki - p_k b_k b_k^H + D_k) a_k``.

    ``weights`` overrides the combiner's a_k (used to evaluate fixed weights).
    """
    matrices = interference_plus_noise(terms, power_w)
    a = combining_weights(terms, power_w, combiner, matrices) if weights is None else weights
    signal = np.abs(np.einsum("...kl,...kl->...k", a.conj(), terms.gain)) ** 2
    denominator = np.einsum("...kl,...klm,...km->...k", a.conj(), matrices, a).real
    return power_w * signal / denominator


def spectral_efficiency(sinr_values: np.ndarray, tau_p: int, tau_c: int) -> np.ndarray:
    """UatF SE ``(1 - tau_p / tau_c) log2(1 + SINR)`` in bit/s/Hz (eq. (12))."""
    return (1.0 - tau_p / tau_c) * np.log2(1.0 + sinr_values)
