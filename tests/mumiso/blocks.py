"""Small random downlink blocks for the tests: random complex hops and users' channels."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from simframe_mumiso.downlink import DownlinkBlock

sizes = st.tuples(st.integers(1, 5), st.integers(1, 9), st.integers(1, 4))
"""``(users K, atoms N, layers L)``."""


def complex_normal(rng: np.random.Generator, shape) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)


def random_block(rng: np.random.Generator, users: int, atoms: int, layers: int, trials: int):
    """A block of ``trials`` trials sharing random hops (norm about 1), with its own ``G`` per
    trial, noise 0.05 W and a 1 W budget (SINRs of order 10 at random phases)."""
    inner = [complex_normal(rng, (atoms, atoms)) / np.sqrt(atoms) for _ in range(layers - 1)]
    hops = (complex_normal(rng, (atoms, users)) / np.sqrt(users), *inner)
    channels = complex_normal(rng, (trials, users, atoms)) / np.sqrt(atoms)
    return DownlinkBlock(hops, channels, 0.05, 1.0)


def random_phases(rng: np.random.Generator, block: DownlinkBlock, trials: int) -> np.ndarray:
    return np.stack([block.random_phases(rng) for _ in range(trials)])


def random_powers(rng: np.random.Generator, block: DownlinkBlock, trials: int) -> np.ndarray:
    return block.budget_w * rng.dirichlet(np.ones(block.users), size=trials)


def dense_effective_channel(block: DownlinkBlock, trial: int, phases: np.ndarray) -> np.ndarray:
    """``G Phi_L W_L ... Phi_1 W_1`` by plain matrix products (reference)."""
    cascade = np.diag(phases[0]) @ block.hops[0]
    for layer in range(1, block.layers):
        cascade = np.diag(phases[layer]) @ block.hops[layer] @ cascade
    return block.channels[trial] @ cascade
