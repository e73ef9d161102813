"""Spatial correlation of isotropic fading over a planar array."""

from __future__ import annotations

import numpy as np

from simframe_metasurface.geometry import pairwise_distances_m


def sinc_correlation(positions_m: np.ndarray, wavelength_m: float) -> np.ndarray:
    """``[R]_{n,n'} = sinc(2 d_{n,n'} / lambda)`` with ``sinc(x) = sin(pi x)/(pi x)``.

    The correlation of isotropic scattering in 3-D (paper 000 Section VI; spec sim-hmimo.md).
    Real symmetric positive definite for half-wavelength spacing.
    """
    return np.sinc(2.0 * pairwise_distances_m(positions_m, positions_m) / wavelength_m)


def matrix_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Hermitian positive semi-definite square root by eigendecomposition (not elementwise)."""
    eigvals, eigvecs = np.linalg.eigh(matrix)
    return (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))) @ eigvecs.conj().T
