"""Monte Carlo estimate of the UatF bound from drawn channels, estimates and combiners.

The same bound as :mod:`simframe_cellfree.closed_form`, but every expectation is a sample mean
over drawn LoS phases, NLoS fading and pilot noise for a fixed setup: pilots are sent, AP l
forms the phase-aware MMSE estimate ``ghat_lk`` and runs MR, ``s_lk = ghat_lk^H y_l``, and the
CPU forms ``sum_l conj(a_lk) s_lk``.
"""

from __future__ import annotations

import numpy as np
from simframe_metasurface.correlation import matrix_sqrt

from simframe_cellfree.closed_form import ChannelStatistics, PilotSetup, estimation


def _complex_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)


def monte_carlo_sinr(
    stats: ChannelStatistics,
    pilots: PilotSetup,
    power_w: np.ndarray,
    weights: np.ndarray,
    realisations: int,
    rng: np.random.Generator,
    chunk: int = 20_000,
) -> np.ndarray:
    """Sample-mean UatF SINR per UE for CPU weights ``weights`` ``(K, L)``.

    ``SINR_k = p_k |E[u_kk]|^2 / (sum_i p_i E|u_ki|^2 - p_k |E[u_kk]|^2 + E[sum_l |a_lk|^2
    ||ghat_lk||^2])`` with ``u_ki = sum_l conj(a_lk) ghat_lk^H g_li``.
    """
    n_ap, n_ue, n_ant = stats.mean.shape
    root = np.stack([[matrix_sqrt(c) for c in per_ap] for per_ap in stats.covariance])
    # R_lk Psi_lk^{-1} = (Psi_lk^{-1} R_lk)^H for Hermitian R and Psi.
    filt = np.conj(np.swapaxes(estimation(stats, pilots).psi_inv_covariance, -1, -2))
    pp, tau_p = pilots.pilot_power_w, pilots.tau_p
    sharing = pilots.sharing.astype(float)
    sum_u = np.zeros(n_ue, dtype=complex)
    sum_abs2_u = np.zeros((n_ue, n_ue))
    sum_noise = np.zeros(n_ue)
    done = 0
    while done < realisations:
        n = min(chunk, realisations - done)
        los = np.exp(2j * np.pi * rng.random((n, n_ap, n_ue)))[..., None] * stats.mean
        g = los + np.einsum("lkab,slkb->slka", root, _complex_normal(rng, (n, n_ap, n_ue, n_ant)))
        # Pilot noise after despreading, CN(0, tau_p I), one draw per pilot shared by its UEs.
        noise = _complex_normal(rng, (n, n_ap, pilots.tau_p, n_ant)) * np.sqrt(tau_p)
        # Received pilot of k's pilot minus its known LoS part:
        # sum_{i in P_k} sqrt(p_i) tau_p (g_li - e^{j phi_li} gbar_li) + noise.
        innovation = np.einsum("ki,slia->slka", sharing * np.sqrt(pp) * tau_p, g - los)
        innovation = innovation + noise[:, :, pilots.pilots, :]
        ghat = los + np.sqrt(pp)[:, None] * np.einsum("lkab,slkb->slka", filt, innovation)
        v = np.einsum("slka,slia->skil", ghat.conj(), g)
        u = np.einsum("kl,skil->ski", weights.conj(), v)
        sum_u += np.einsum("skk->k", u)
        sum_abs2_u += np.sum(np.abs(u) ** 2, axis=0)
        sum_noise += np.einsum("kl,slk->k", np.abs(weights) ** 2, np.sum(np.abs(ghat) ** 2, -1))
        done += n
    mean_u = sum_u / realisations
    signal = power_w * np.abs(mean_u) ** 2
    interference = (sum_abs2_u / realisations) @ power_w - signal
    return signal / (interference + sum_noise / realisations)
