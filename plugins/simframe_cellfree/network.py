"""Network setup: AP and UE drops, wrap-around 3-D distances, large-scale fading (Section V-A).

Values from the spec's table (the paper's own were lost): a 1 km square, COST-231
Walfish-Ikegami LoS path loss ``beta_dB = -30.18 - 26 log10(d / 1 m)`` on 3-D distances,
``kappa = 10^(1.3 - 0.003 d)``, 8 dB shadowing split between an AP and a UE part with weight
delta = 0.5 and correlation ``2^(-distance / 100 m)`` (proper matrix square roots), noise from a
20 MHz bandwidth and a 7 dB noise figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from simframe_metasurface.correlation import matrix_sqrt

from simframe import Parameter
from simframe_cellfree.interfaces import CellFreeSetup

THERMAL_NOISE_DBM_HZ = -174.0


@dataclass(frozen=True)
class LargeScaleFading:
    """One network realisation.

    ``gain`` is beta_lk divided by the noise power ``(L, K)``; ``direction`` the unit vector from
    AP l to UE k ``(L, K, 3)``; ``los_phase_rad`` the random LoS phase phi_lk.
    """

    ap_positions_m: np.ndarray
    ue_positions_m: np.ndarray
    distance_m: np.ndarray
    gain: np.ndarray
    rician_factor: np.ndarray
    direction: np.ndarray
    los_phase_rad: np.ndarray


def wrapped_offsets_m(a: np.ndarray, b: np.ndarray, side_m: float) -> np.ndarray:
    """Horizontal offsets ``b - a`` ``(len(a), len(b), 2)`` to the nearest of 9 wrapped copies."""
    shifts = side_m * np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
    offsets = b[None, :, None, :] + shifts[None, None] - a[:, None, None, :]
    nearest = np.argmin(np.einsum("abcd,abcd->abc", offsets, offsets), axis=-1)
    return np.take_along_axis(offsets, nearest[..., None, None], axis=2)[:, :, 0, :]


def correlated_normal(
    positions_m: np.ndarray, side_m: float, decorrelation_m: float, rng: np.random.Generator
) -> np.ndarray:
    """Standard normals with correlation ``2^(-distance / decorrelation)`` over the positions."""
    distance = np.linalg.norm(wrapped_offsets_m(positions_m, positions_m, side_m), axis=-1)
    root = matrix_sqrt(2.0 ** (-distance / decorrelation_m))
    return root @ rng.standard_normal(len(positions_m))


class Cost231RicianNetwork(CellFreeSetup):
    """APs and UEs uniform in a square with wrap-around, COST-231 W-I path loss, Rician factor.

    Large-scale fading of paper 003 Section V-A with the spec's values: 3-D distances from AP
    and UE heights, ``beta_dB = intercept - 10 exponent log10(d)``, ``kappa_dB = k0 - slope d``,
    correlated shadowing ``sigma (sqrt(delta) a_l + sqrt(1 - delta) b_k)``, gains divided by the
    noise power ``-174 dBm/Hz + 10 log10(B) + NF``.
    """

    name = "cost231_rician_network"
    parameters = (
        Parameter("area_side_m", float, 1000.0, "m", "side of the square area", minimum=1.0),
        Parameter("ap_height_m", float, 15.0, "m", "AP (SIM) height", minimum=0.0),
        Parameter("ue_height_m", float, 1.65, "m", "UE height", minimum=0.0),
        Parameter("pathloss_intercept_db", float, -30.18, "dB", "path loss at 1 m (eq. (29))"),
        Parameter("pathloss_exponent", float, 2.6, "1", "path-loss exponent", minimum=0.0),
        Parameter("rician_k_intercept_db", float, 13.0, "dB", "Rician factor at 0 m"),
        Parameter(
            "rician_k_slope_db_per_m", float, 0.03, "dB/m", "Rician factor decrease per metre"
        ),
        Parameter("shadowing_std_db", float, 8.0, "dB", "shadow fading deviation", minimum=0.0),
        Parameter(
            "shadowing_ap_weight", float, 0.5, "1", "delta: AP share", minimum=0.0, maximum=1.0
        ),
        Parameter(
            "decorrelation_distance_m", float, 100.0, "m", "shadowing decorrelation", minimum=1e-3
        ),
        Parameter("bandwidth_hz", float, 20e6, "Hz", "system bandwidth", minimum=1.0),
        Parameter("noise_figure_db", float, 7.0, "dB", "receiver noise figure"),
    )

    @property
    def noise_dbm(self) -> float:
        return THERMAL_NOISE_DBM_HZ + 10 * np.log10(self.bandwidth_hz) + self.noise_figure_db

    def draw(self, rng: np.random.Generator, aps: int, ues: int) -> LargeScaleFading:
        side = self.area_side_m
        ap_xy = rng.uniform(0.0, side, (aps, 2))
        ue_xy = rng.uniform(0.0, side, (ues, 2))
        horizontal = wrapped_offsets_m(ap_xy, ue_xy, side)
        vertical = np.full((aps, ues, 1), self.ue_height_m - self.ap_height_m)
        offset = np.concatenate([horizontal, vertical], axis=-1)
        distance = np.linalg.norm(offset, axis=-1)
        pathloss_db = self.pathloss_intercept_db - 10 * self.pathloss_exponent * np.log10(distance)
        delta = self.shadowing_ap_weight
        shadow = (
            np.sqrt(delta)
            * correlated_normal(ap_xy, side, self.decorrelation_distance_m, rng)[:, None]
            + np.sqrt(1 - delta)
            * correlated_normal(ue_xy, side, self.decorrelation_distance_m, rng)[None, :]
        )
        gain_db = pathloss_db + self.shadowing_std_db * shadow - (self.noise_dbm - 30.0)
        kappa_db = self.rician_k_intercept_db - self.rician_k_slope_db_per_m * distance
        return LargeScaleFading(
            ap_positions_m=ap_xy,
            ue_positions_m=ue_xy,
            distance_m=distance,
            gain=10 ** (gain_db / 10),
            rician_factor=10 ** (kappa_db / 10),
            direction=offset / distance[..., None],
            los_phase_rad=rng.uniform(0.0, 2 * np.pi, (aps, ues)),
        )
