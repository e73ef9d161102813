"""Random small links for property tests of the hmimo plugin."""

from __future__ import annotations

import numpy as np
from simframe_hmimo.interfaces import HmimoLink


def random_link(
    rng: np.random.Generator,
    antennas: int,
    tx_atoms: int,
    rx_atoms: int,
    tx_layers: int,
    rx_layers: int,
) -> HmimoLink:
    """A link with i.i.d. complex Gaussian hops and channel (no geometry), noise 0.5 W, 1 W."""

    def gaussian(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(
            2 * shape[-1]
        )

    tx_hops = (
        gaussian(tx_atoms, antennas),
        *(gaussian(tx_atoms, tx_atoms) for _ in range(tx_layers - 1)),
    )
    rx_hops = (
        gaussian(antennas, rx_atoms),
        *(gaussian(rx_atoms, rx_atoms) for _ in range(rx_layers - 1)),
    )
    return HmimoLink(tx_hops, rx_hops, 3.0 * gaussian(rx_atoms, tx_atoms), 0.05, 1.0)
