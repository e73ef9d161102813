"""One network realisation seen through the APs' front ends: statistics and the closed-form SE.

Binds the shared front end (SIM hops, correlation) to a drawn :class:`LargeScaleFading` and
gives the optimisers what they need: statistics for given phases (all APs at once, or many
candidate configurations of one AP at once), the closed-form terms and the per-UE SE.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from simframe_cellfree.access_point import FrontEnd
from simframe_cellfree.closed_form import (
    ChannelStatistics,
    PilotSetup,
    SinrTerms,
    closed_form_terms,
    sinr,
    spectral_efficiency,
)
from simframe_cellfree.network import LargeScaleFading

LOS_RESPONSES = ("uniform", "steering")


def los_response(
    fading: LargeScaleFading, front_end: FrontEnd, wavelength_m: float, kind: str
) -> np.ndarray:
    """LoS response ``a_lk`` over the outer elements ``(L, K, M)``.

    ``uniform``: all ones (the paper's far-field assumption); ``steering``: the plane wave from
    the UE's direction, ``exp(j 2 pi u_lk . r_m / lambda)``.
    """
    positions = front_end.outer_positions_m
    if kind == "uniform":
        return np.ones((*fading.gain.shape, len(positions)), dtype=complex)
    return np.exp(2j * np.pi / wavelength_m * np.einsum("lkc,mc->lkm", fading.direction, positions))


@dataclass(frozen=True)
class UplinkProblem:
    """Statistics and closed-form SE of one realisation (sigma^2 = 1, powers in W)."""

    front_end: FrontEnd
    fading: LargeScaleFading
    los: np.ndarray
    max_power_w: float
    tau_p: int
    tau_c: int
    combiner: str
    pilots: np.ndarray | None = None

    @property
    def aps(self) -> int:
        return self.fading.gain.shape[0]

    @property
    def ues(self) -> int:
        return self.fading.gain.shape[1]

    @property
    def full_power_w(self) -> np.ndarray:
        return np.full(self.ues, self.max_power_w)

    def with_pilots(self, pilots: np.ndarray) -> UplinkProblem:
        return replace(self, pilots=np.asarray(pilots))

    def pilot_setup(self) -> PilotSetup:
        """Pilots at full power p_max (pilot power is not subject to power control)."""
        if self.pilots is None:
            raise ValueError("pilots are not assigned yet")
        return PilotSetup(self.pilots, self.full_power_w, self.tau_p)

    def statistics(self, transfer: np.ndarray, ap: int | None = None) -> ChannelStatistics:
        """``gbar_lk = sqrt(beta kappa/(kappa+1)) G_l^T a_lk``, ``R_lk = beta/(kappa+1) G^T R G^*``.

        ``transfer`` is ``(..., L, M, N)`` for all APs, or ``(..., M, N)`` candidates of AP ``ap``
        (the result then has an AP axis of length one).
        """
        rows = slice(None) if ap is None else slice(ap, ap + 1)
        if ap is not None:
            transfer = transfer[..., None, :, :]
        beta, kappa = self.fading.gain[rows], self.fading.rician_factor[rows]
        spatial = self.front_end.spatial_covariance(transfer)
        covariance = (beta / (kappa + 1))[..., None, None] * spatial[..., :, None, :, :]
        direction = np.einsum("...lmn,lkm->...lkn", transfer, self.los[rows])
        mean = np.sqrt(beta * kappa / (kappa + 1))[..., None] * direction
        return ChannelStatistics(mean, covariance)

    def transfer(self, phases_rad: np.ndarray) -> np.ndarray:
        """``G_l`` of every AP ``(L, M, N)`` (``I_N`` per AP without SIM)."""
        return self.front_end.transfer(phases_rad)

    def terms(self, phases_rad: np.ndarray) -> SinrTerms:
        return closed_form_terms(self.statistics(self.transfer(phases_rad)), self.pilot_setup())

    def ap_terms(self, ap: int, transfer: np.ndarray) -> SinrTerms:
        """Closed-form terms of AP ``ap`` alone for candidate transfers ``(C, M, N)``."""
        return closed_form_terms(self.statistics(transfer, ap), self.pilot_setup())

    def se(self, terms: SinrTerms, power_w: np.ndarray, combiner: str | None = None) -> np.ndarray:
        """Per-UE SE (bit/s/Hz), batched over leading axes of ``terms``."""
        values = sinr(terms, power_w, combiner or self.combiner)
        return spectral_efficiency(values, self.tau_p, self.tau_c)


def replace_ap(base: SinrTerms, ap_terms: SinrTerms, ap: int) -> SinrTerms:
    """``base`` with AP ``ap``'s column replaced by each candidate of ``ap_terms`` (batched)."""

    def merged(full: np.ndarray, column: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(full.shape[:-1], column.shape[:-1]) + full.shape[-1:]
        out = np.broadcast_to(full, shape).astype(np.result_type(full, column), copy=True)
        out[..., ap] = column[..., 0]
        return out

    return SinrTerms(
        merged(base.gain, ap_terms.gain),
        merged(base.noncoherent, ap_terms.noncoherent),
        merged(base.coherent, ap_terms.coherent),
    )
