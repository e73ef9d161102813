"""Spatially correlated Rayleigh fading from the SIM's last layer to the users."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from simframe_metasurface.correlation import matrix_sqrt, sinc_correlation

from simframe import Parameter
from simframe_mumiso.interfaces import MumisoChannelModel, MumisoGeometry


def path_loss(wavelength_m: float, distance_m: np.ndarray, exponent: float) -> np.ndarray:
    """``(lambda / (4 pi))^2 / d^alpha`` (linear power gain), the model of An et al.'s code."""
    return (wavelength_m / (4.0 * math.pi)) ** 2 / np.asarray(distance_m) ** exponent


class CorrelatedRayleighUsers(MumisoChannelModel):
    """Correlated Rayleigh users' channels ``G = diag(sqrt(beta)) G_w R^{1/2}`` (K x N).

    ``G_w`` has i.i.d. CN(0, 1) entries; ``R`` is the sinc correlation of isotropic scattering
    over the last layer's meta-atoms, ``[R]_{n,n'} = sinc(2 d_{n,n'} / lambda)``;
    ``beta_k = (lambda / (4 pi))^2 / d_k^alpha`` with ``d_k`` the distance from the centre of
    the last layer to user k (An et al., ICC 2023, and their code SIM_GA.m).
    """

    name = "mumiso_correlated_rayleigh"
    parameters = (
        Parameter(
            "path_loss_exponent",
            float,
            3.5,
            "1",
            "path-loss exponent alpha",
            minimum=0.0,
            plausible=(1.5, 6.0),
        ),
        Parameter("correlated", bool, True, help="false: i.i.d. Rayleigh (R = I) for comparison"),
    )

    def sampler(self, geometry: MumisoGeometry) -> Callable[[np.random.Generator], np.ndarray]:
        layer = geometry.last_layer_m
        amplitudes = np.sqrt(
            path_loss(geometry.wavelength_m, geometry.user_distances_m(), self.path_loss_exponent)
            / 2.0
        )
        root = (
            matrix_sqrt(sinc_correlation(layer, geometry.wavelength_m))
            if self.correlated
            else np.eye(len(layer))
        )
        users, atoms = len(geometry.users_m), len(layer)

        def draw(rng: np.random.Generator) -> np.ndarray:
            white = rng.standard_normal((users, atoms)) + 1j * rng.standard_normal((users, atoms))
            return (amplitudes[:, None] * white) @ root

        return draw
