"""Spatially correlated Rayleigh fading between the two SIMs (paper 000 Section VI)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from simframe_metasurface.correlation import matrix_sqrt, sinc_correlation

from simframe import Parameter, ParameterError
from simframe_hmimo.interfaces import HmimoChannelModel, HmimoGeometry


def path_gain_db(
    wavelength_m: float, distance_m: float, reference_m: float, exponent_1: float, exponent_2: float
) -> float:
    """Channel gain ``xi_dB = -10 a1 log10(4 pi d0 / lambda) + 10 a2 log10(d0 / d)``.

    The paper prints the first term with a plus sign; a gain must fall with the free-space loss
    at the reference distance (spec sim-hmimo.md): -131.31 dB at 6 GHz, d = 240 m, a1 = 2,
    a2 = 3.5, d0 = 1 m.
    """
    return -10.0 * exponent_1 * math.log10(
        4.0 * math.pi * reference_m / wavelength_m
    ) + 10.0 * exponent_2 * math.log10(reference_m / distance_m)


class CorrelatedRayleighChannel(HmimoChannelModel):
    """Correlated Rayleigh channel ``H~ = R_R^{1/2} H_w R_T^{1/2}``, ``H_w ~ CN(0, xi)``.

    ``R`` is the sinc correlation of isotropic scattering over the channel-facing layer of each
    SIM, ``[R]_{n,n'} = sinc(2 d_{n,n'} / lambda)``; ``xi`` is :func:`path_gain_db`.
    """

    name = "correlated_rayleigh"
    parameters = (
        Parameter("distance_m", float, 240.0, "m", "link distance d", minimum=1e-3),
        Parameter("reference_distance_m", float, 1.0, "m", "reference distance d0", minimum=1e-3),
        Parameter("exponent_1", float, 2.0, "1", "path-loss constant a1 (free-space term)"),
        Parameter("exponent_2", float, 3.5, "1", "path-loss constant a2 (distance term)"),
        Parameter("correlated", bool, True, help="false: i.i.d. Rayleigh (R = I) for comparison"),
    )

    def sampler(self, geometry: HmimoGeometry) -> Callable[[np.random.Generator], np.ndarray]:
        if self.distance_m < self.reference_distance_m:
            raise ParameterError("distance_m", "the path-loss model needs d >= d0")
        gain = 10.0 ** (
            path_gain_db(
                geometry.wavelength_m,
                self.distance_m,
                self.reference_distance_m,
                self.exponent_1,
                self.exponent_2,
            )
            / 10.0
        )
        m, n = len(geometry.rx_channel_layer_m), len(geometry.tx_channel_layer_m)
        if self.correlated:
            root_rx = matrix_sqrt(
                sinc_correlation(geometry.rx_channel_layer_m, geometry.wavelength_m)
            )
            root_tx = matrix_sqrt(
                sinc_correlation(geometry.tx_channel_layer_m, geometry.wavelength_m)
            )
        else:
            root_rx, root_tx = np.eye(m), np.eye(n)
        scale = math.sqrt(gain / 2.0)

        def draw(rng: np.random.Generator) -> np.ndarray:
            white = scale * (rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n)))
            return root_rx @ white @ root_tx

        return draw
