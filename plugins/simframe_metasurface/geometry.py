"""Element positions of antenna arrays and metasurface layers (paper 000, Section VI).

All positions are in metres, as ``(count, 3)`` arrays of ``(x, y, z)``. Arrays are centred on
the z axis; a stack of layers sits in planes parallel to xy.
"""

from __future__ import annotations

import math

import numpy as np

SPEED_OF_LIGHT_M_S = 3e8
"""The value the papers use; wavelength = c / f exactly (6 GHz -> 0.05 m)."""


def wavelength_m(carrier_frequency_hz: float) -> float:
    return SPEED_OF_LIGHT_M_S / carrier_frequency_hz


def perfect_square_problem(count: int) -> str | None:
    """Error message when ``count`` atoms cannot form a square planar array, else ``None``."""
    side = math.isqrt(count) if count >= 0 else 0
    if side * side != count:
        below, above = side * side, (side + 1) ** 2
        return (
            f"a square layer needs a perfect-square number of meta-atoms; {count} is not one "
            f"(nearest: {below} or {above})"
        )
    return None


def uniform_linear_array(count: int, spacing_m: float, z_m: float = 0.0) -> np.ndarray:
    """``count`` elements along x, centred at the origin: x_s = (s - (count+1)/2) * spacing."""
    x = (np.arange(1, count + 1) - (count + 1) / 2) * spacing_m
    return np.column_stack([x, np.zeros(count), np.full(count, z_m)])


def rectangular_planar_array(
    rows: int, columns: int, spacing_m: float, z_m: float = 0.0
) -> np.ndarray:
    """A ``rows x columns`` grid in the plane z = ``z_m``, centred on the z axis.

    Elements are numbered row by row (x fastest).
    """
    x = (np.arange(columns) - (columns - 1) / 2) * spacing_m
    y = (np.arange(rows) - (rows - 1) / 2) * spacing_m
    xx, yy = np.meshgrid(x, y, indexing="xy")
    return np.column_stack([xx.ravel(), yy.ravel(), np.full(rows * columns, z_m)])


def uniform_planar_array(count: int, spacing_m: float, z_m: float = 0.0) -> np.ndarray:
    """A square ``sqrt(count) x sqrt(count)`` grid in the plane z = ``z_m``, centred on the z axis.

    Elements are numbered row by row (x fastest).
    """
    if (problem := perfect_square_problem(count)) is not None:
        raise ValueError(problem)
    side = math.isqrt(count)
    return rectangular_planar_array(side, side, spacing_m, z_m)


def layer_stack(
    atoms: int,
    layers: int,
    thickness_m: float,
    spacing_m: float,
    grid: tuple[int, int] | None = None,
) -> list[np.ndarray]:
    """Positions of the layers of one SIM; layer ``l`` (1-based) sits at z = l * thickness / layers.

    The antenna array sits at z = 0, one layer gap in front of the first layer, so the
    thickness counts ``layers`` gaps (spec sim-hmimo.md, Geometry). Layers are square unless
    ``grid = (rows, columns)`` (with ``rows * columns == atoms``) is given.
    """
    gap = thickness_m / layers
    if grid is None:
        return [
            uniform_planar_array(atoms, spacing_m, z_m=gap * layer)
            for layer in range(1, layers + 1)
        ]
    rows, columns = grid
    if rows * columns != atoms:
        raise ValueError(f"a {rows} x {columns} grid does not hold {atoms} meta-atoms")
    return [
        rectangular_planar_array(rows, columns, spacing_m, z_m=gap * layer)
        for layer in range(1, layers + 1)
    ]


def pairwise_distances_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` Euclidean distances between two position sets."""
    diff = a[:, None, :] - b[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
