"""The receive front end of an AP: its antennas and, optionally, the SIM in front of them.

Paper 003 Section II-A: ``G_l = Theta^Q W^Q ... Theta^2 W^2 Theta^1 W^1`` (``M x N``) maps the
field on the outer layer to the N antennas as ``g_lk = G_l^T h_lk``. Every AP has the same SIM
geometry, so the hops ``W^q`` are computed once and shared; only the phases differ per AP.
Without a SIM (conventional cell-free), ``G_l = I_N`` and the correlation is over the antennas.

Frames (docs/physics/cellfree.md): the SIM is built in its own frame (antennas at z = 0, layer q
at z = q T / Q) and mounted facing the coverage area: its own z axis points down, so the outer
layer is the lowest and nearest the UEs. The world frame has z up; the rotation between the two
is a half turn about x, ``(x, y, z) -> (x, -y, -z)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from simframe_metasurface.correlation import sinc_correlation
from simframe_metasurface.geometry import layer_stack, uniform_linear_array
from simframe_metasurface.propagation import PropagationModel, stack_hops

FACING_DOWN = np.diag([1.0, -1.0, -1.0])
"""Rotation from the SIM's own frame to the world frame (a half turn about x)."""


def layer_grid_shape(atoms: int) -> tuple[int, int]:
    """``(rows, columns)`` of the most nearly square grid with ``atoms`` elements.

    The paper uses square layers; Fig. 3 (a fixed total of 1200 meta-atoms shared by L APs)
    needs counts such as 30 that are not squares, which we lay out as 5 x 6.
    """
    rows = max(d for d in range(1, math.isqrt(atoms) + 1) if atoms % d == 0)
    return rows, atoms // rows


@dataclass(frozen=True)
class FrontEnd:
    """Shared geometry of every AP's front end.

    ``hops`` are ``W^1 (M x N), W^2, ..., W^Q (M x M)`` (empty without a SIM);
    ``outer_positions_m`` the elements the UE channel impinges on (outer layer, or antennas),
    relative to the AP in the world frame; ``correlation`` the sinc correlation ``R`` over them.
    """

    hops: tuple[np.ndarray, ...]
    outer_positions_m: np.ndarray
    correlation: np.ndarray
    antennas: int

    @property
    def has_sim(self) -> bool:
        return bool(self.hops)

    @property
    def boresight(self) -> np.ndarray:
        """World-frame unit normal of the aperture, from the antennas towards the outer layer."""
        return FACING_DOWN @ np.array([0.0, 0.0, 1.0])

    @property
    def layers(self) -> int:
        return len(self.hops)

    @property
    def atoms(self) -> int:
        return self.hops[0].shape[0] if self.hops else 0

    def transfer(self, phases_rad: np.ndarray) -> np.ndarray:
        """``G_l`` for phases ``(..., Q, M)`` in radians, shape ``(..., M, N)`` (spec, SIM).

        Without a SIM, ``I_N`` broadcast to the leading shape of ``phases_rad[..., 0, 0]``.
        """
        if not self.has_sim:
            return np.broadcast_to(
                np.eye(self.antennas, dtype=complex),
                (*phases_rad.shape[:-2], self.antennas, self.antennas),
            )
        field = self.hops[0]
        for layer, hop in enumerate(self.hops):
            if layer > 0:
                field = hop @ field
            field = np.exp(1j * phases_rad[..., layer, :])[..., :, None] * field
        return field

    def spatial_covariance(self, transfer: np.ndarray) -> np.ndarray:
        """``G^T R G^*`` ``(..., N, N)``: the through-SIM correlation up to ``beta/(kappa+1)``."""
        return np.swapaxes(transfer, -1, -2) @ (self.correlation @ transfer.conj())


def build_front_end(
    antennas: int,
    sim: bool,
    layers: int,
    atoms: int,
    wavelength_m: float,
    atom_spacing_m: float,
    atom_area_m2: float,
    thickness_m: float,
    propagation: PropagationModel,
) -> FrontEnd:
    """Antennas as a half-wavelength ULA at z = 0 and SIM layers at z = q T / Q (q = 1..Q) of
    the SIM's frame, mounted facing down; ``atom_area_m2`` is the A of the hops."""
    antenna_positions = uniform_linear_array(antennas, wavelength_m / 2)
    if not sim:
        return FrontEnd(
            (),
            antenna_positions @ FACING_DOWN.T,
            sinc_correlation(antenna_positions, wavelength_m),
            antennas,
        )
    layer_positions = layer_stack(
        atoms, layers, thickness_m, atom_spacing_m, grid=layer_grid_shape(atoms)
    )
    hops = stack_hops(
        propagation, antenna_positions, layer_positions, wavelength_m, atom_area_m2
    ).hops
    outer = layer_positions[-1]
    return FrontEnd(hops, outer @ FACING_DOWN.T, sinc_correlation(outer, wavelength_m), antennas)
