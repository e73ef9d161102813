"""Propagation between radiating elements: the hops of a stacked intelligent metasurface.

A propagation model maps a source element set and a destination element set to the complex
matrix ``W`` (``n_dest x n_source``) with ``field_dest = W @ field_source``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simframe import Component, ComponentKind, Parameter
from simframe_metasurface.geometry import pairwise_distances_m


class PropagationModel(Component):
    """Interface of every propagation model: one method, :meth:`hop`."""

    kind = ComponentKind.PROPAGATION_MODEL

    def hop(
        self,
        source_m: np.ndarray,
        destination_m: np.ndarray,
        wavelength_m: float,
        atom_area_m2: float,
    ) -> np.ndarray:
        """Complex coefficients ``(len(destination_m), len(source_m))`` of one hop."""
        raise NotImplementedError


PASSIVE = Parameter(
    "passive",
    bool,
    False,
    help="scale every hop whose spectral norm exceeds 1 down to norm 1 (no energy gain)",
)


def make_passive(matrix: np.ndarray) -> np.ndarray:
    """Divide ``matrix`` by its spectral norm when that exceeds one."""
    norm = np.linalg.norm(matrix, 2)
    return matrix / norm if norm > 1.0 else matrix


class RayleighSommerfeldPropagation(PropagationModel):
    """Rayleigh-Sommerfeld diffraction between meta-atoms (paper 000 eq. (1)).

    ``W[n, n'] = A cos(chi) / d * (1/(2 pi d) - j/lambda) * exp(j 2 pi d / lambda)``, with ``d``
    the element distance, ``cos(chi)`` the ratio of the layer gap (z offset) to ``d`` and ``A``
    the meta-atom area. For layer gaps below about lambda/2 the discretised hop has spectral
    norm above 1, i.e. it amplifies energy; ``passive = true`` scales such hops to norm 1.
    """

    name = "rayleigh_sommerfeld"
    parameters = (PASSIVE,)

    def hop(self, source_m, destination_m, wavelength_m, atom_area_m2):
        d = pairwise_distances_m(destination_m, source_m)
        cos_chi = np.abs(destination_m[:, None, 2] - source_m[None, :, 2]) / d
        matrix = (
            atom_area_m2
            * cos_chi
            / d
            * (1.0 / (2.0 * np.pi * d) - 1j / wavelength_m)
            * np.exp(2j * np.pi * d / wavelength_m)
        )
        return make_passive(matrix) if self.passive else matrix


class FreeSpacePropagation(PropagationModel):
    """Free-space point-source model of An et al.'s released code (JSAC 2023, arXiv 2305.08079).

    ``W[n, n'] = lambda / (4 pi d) * exp(-j 2 pi d / lambda)``; offered so that their results can
    be reproduced. The meta-atom area does not enter.
    """

    name = "free_space"
    parameters = (PASSIVE,)

    def hop(self, source_m, destination_m, wavelength_m, atom_area_m2):
        d = pairwise_distances_m(destination_m, source_m)
        matrix = wavelength_m / (4.0 * np.pi * d) * np.exp(-2j * np.pi * d / wavelength_m)
        return make_passive(matrix) if self.passive else matrix


@dataclass(frozen=True)
class StackHops:
    """The hops of one SIM: ``hops[0]`` from the antennas to layer 1 (``atoms x antennas``),
    ``hops[l]`` from layer ``l`` to layer ``l + 1`` (``atoms x atoms``)."""

    hops: tuple[np.ndarray, ...]

    @property
    def spectral_norms(self) -> np.ndarray:
        return np.array([np.linalg.norm(h, 2) for h in self.hops])

    @property
    def max_interlayer_spectral_norm(self) -> float:
        """Largest spectral norm among the atom-to-atom hops (nan for a single layer)."""
        inner = self.spectral_norms[1:]
        return float(inner.max()) if inner.size else float("nan")


def stack_hops(
    model: PropagationModel,
    antennas_m: np.ndarray,
    layers_m: list[np.ndarray],
    wavelength_m: float,
    atom_area_m2: float,
) -> StackHops:
    """All hops of a SIM whose antenna array is ``antennas_m`` and layers are ``layers_m``."""
    sources = [antennas_m, *layers_m[:-1]]
    return StackHops(
        tuple(
            model.hop(src, dst, wavelength_m, atom_area_m2)
            for src, dst in zip(sources, layers_m, strict=True)
        )
    )
