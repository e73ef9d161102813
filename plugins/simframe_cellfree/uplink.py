"""One network realisation seen through the APs' front ends: statistics and the closed-form SE.

Binds the shared front end (SIM hops, correlation) to a drawn :class:`LargeScaleFading` and
gives the optimisers what they need: statistics for given phases (all APs at once, or many
candidate configurations of one AP at once), the closed-form terms and the per-UE SE.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from simframe_cellfree.access_point import FrontEnd
from simframe_cellfree.ap_sums import sinr_by_ap_sums
from simframe_cellfree.closed_form import (
    ChannelStatistics,
    PilotSetup,
    SinrTerms,
    spectral_efficiency,
)
from simframe_cellfree.eigenbasis import Decomposition, ScaledStatistics, eigen_terms
from simframe_cellfree.network import LargeScaleFading

LOS_RESPONSES = ("steering", "uniform")


def los_response(
    fading: LargeScaleFading, front_end: FrontEnd, wavelength_m: float, kind: str
) -> np.ndarray:
    """LoS response ``a_lk`` over the outer elements ``(L, K, M)`` (spec, Channel).

    ``steering`` (default): the plane wave from UE k's 3-D direction ``u_lk`` seen from AP l,
    ``exp(j 2 pi u_lk . r_m / lambda)`` with ``r_m`` the outer elements in the world frame
    (docs/physics/cellfree.md, Frames); a UE behind a SIM's aperture is refused.
    ``uniform``: all ones, for comparison only (every UE then has the same LoS direction).
    """
    positions = front_end.outer_positions_m
    if kind == "uniform":
        return np.ones((*fading.gain.shape, len(positions)), dtype=complex)
    if kind != "steering":
        raise ValueError(f"unknown LoS response {kind!r}; expected one of {LOS_RESPONSES}")
    if front_end.has_sim:
        facing = fading.direction @ front_end.boresight
        if np.any(facing <= 0.0):
            ap, ue = np.argwhere(facing <= 0.0)[0]
            raise ValueError(
                f"UE {ue} is behind the SIM aperture of AP {ap} (direction "
                f"{fading.direction[ap, ue]}, SIM boresight {front_end.boresight}): UEs must lie "
                "below the AP height"
            )
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

    def scaled_statistics(self, transfer: np.ndarray) -> ScaledStatistics:
        """The statistics factored per AP: ``S_l = G_l^T R G_l^*``, ``d_lk = G_l^T a_lk`` and the
        scales ``beta/(kappa+1)`` and ``sqrt(beta kappa/(kappa+1))``, for transfers
        ``(..., L, M, N)`` of every AP.
        """
        beta, kappa = self.fading.gain, self.fading.rician_factor
        return ScaledStatistics(
            spatial=self.front_end.spatial_covariance(transfer),
            direction=self.los @ transfer,
            covariance_scale=beta / (kappa + 1),
            mean_scale=np.sqrt(beta * kappa / (kappa + 1)),
        )

    def statistics(self, transfer: np.ndarray) -> ChannelStatistics:
        """``gbar_lk = sqrt(beta kappa/(kappa+1)) G_l^T a_lk``, ``R_lk = beta/(kappa+1) G^T R G^*``
        for transfers ``(..., L, M, N)`` of every AP."""
        scaled = self.scaled_statistics(transfer)
        covariance = scaled.covariance_scale[..., None, None] * scaled.spatial[..., :, None, :, :]
        return ChannelStatistics(scaled.mean_scale[..., None] * scaled.direction, covariance)

    def transfer(self, phases_rad: np.ndarray) -> np.ndarray:
        """``G_l`` of every AP ``(L, M, N)`` (``I_N`` per AP without SIM)."""
        return self.front_end.transfer(phases_rad)

    def terms(self, phases_rad: np.ndarray) -> SinrTerms:
        """The closed-form terms for phases ``(L, Q, M)``, computed in each AP's eigenbasis
        (equal to ``closed_form_terms(self.statistics(...), self.pilot_setup())`` to round-off;
        ``coherent`` is complex as there)."""
        return self.terms_of(self.scaled_statistics(self.transfer(phases_rad)))

    def terms_of(
        self, stats: ScaledStatistics, decomposition: Decomposition | None = None
    ) -> SinrTerms:
        """Closed-form terms from :meth:`scaled_statistics` (and their eigendecomposition
        ``eigh(stats.spatial)``, if already computed)."""
        terms = eigen_terms(stats, self.pilot_setup(), decomposition)
        return replace(terms, coherent=terms.coherent.astype(complex))

    def se(self, terms: SinrTerms, power_w: np.ndarray, combiner: str | None = None) -> np.ndarray:
        """Per-UE SE (bit/s/Hz), batched over leading axes of ``terms`` (LSFD or EGCD weights
        as :func:`simframe_cellfree.closed_form.sinr`, through the per-AP sums of ``ap_sums``)."""
        values = sinr_by_ap_sums(terms, power_w, self.pilots, combiner or self.combiner)
        return spectral_efficiency(values, self.tau_p, self.tau_c)
