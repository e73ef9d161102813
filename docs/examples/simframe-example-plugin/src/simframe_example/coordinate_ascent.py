"""A per-atom coordinate-ascent phase optimiser for ``sim_hmimo_link``.

Written only against the system's published interface, :mod:`simframe_hmimo.interfaces`
(``HmimoPhaseOptimiser``, ``HmimoLink``, ``PhaseResult``), as any third-party optimiser would be.
"""

from __future__ import annotations

import numpy as np
from simframe_hmimo.interfaces import (
    HmimoLink,
    HmimoPhaseOptimiser,
    HmimoPowerAllocator,
    PhaseResult,
)

from simframe import Parameter


def cascade(link: HmimoLink) -> list[np.ndarray]:
    """The link's matrices in propagation order, ``H = C_P diag(phi_P) ... C_1 diag(phi_1) C_0``.

    ``C_0 .. C_{L-1}`` are the TX hops, ``C_L = H~``, then the RX hops from layer K to layer 1,
    so that the phases ``phi`` are TX layers 1..L followed by RX layers K..1 (paper 000 eq. (4)).
    """
    return [*link.tx_hops, link.channel, *reversed(link.rx_hops)]


def rates_bps_hz(channels: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """Rate of eq. (5) of paper 000 for a stack of ``C x S x S`` effective channels."""
    received = np.abs(channels) ** 2 * powers_w[None, None, :]
    signal = np.diagonal(received, axis1=1, axis2=2)
    sinr = signal / (received.sum(axis=2) - signal + noise_w)
    return np.log2(1.0 + sinr).sum(axis=1)


class CoordinateAscentPhases(HmimoPhaseOptimiser):
    """Per-atom coordinate ascent on the rate over a grid of candidate phases.

    The effective channel is ``H = A_i diag(phi_i) B_i`` for every layer ``i`` of the cascade
    (paper 000 eq. (4)), where neither ``A_i`` (the layers after ``i``, ``S x n``) nor ``B_i``
    (the field entering layer ``i``, ``n x S``) depends on layer ``i``'s own phases. Changing
    atom ``n`` from ``phi`` to ``phi'`` therefore changes ``H`` by the rank-one term
    ``(phi' - phi) A_i[:, n] B_i[n, :]``, so all ``2**candidate_bits`` candidates of an atom are
    evaluated at once in O(2^b S^2), and the best is kept if it improves the rate (eq. (5)).

    One sweep visits every atom of every layer, TX layers 1..L then RX layers K..1, with the
    powers fixed; within a sweep the rate never decreases. After each sweep the scenario's power
    allocator recomputes the powers. Sweeps stop after ``max_sweeps`` or when the rate improves
    by less than ``tolerance`` (relative). Starts from uniformly random phases. The atoms are
    visited sequentially by nature; each visit is a vectorised rank-one update.
    """

    name = "coordinate_ascent_example"
    parameters = (
        Parameter(
            "candidate_bits",
            int,
            4,
            help="each atom chooses among 2**candidate_bits uniformly spaced phases",
            minimum=1,
            maximum=10,
        ),
        Parameter("max_sweeps", int, 5, help="sweeps over all meta-atoms at most", minimum=1),
        Parameter(
            "tolerance",
            float,
            1e-4,
            unit="1",
            help="stop when a sweep improves the rate by less than this fraction",
            minimum=0.0,
        ),
    )

    def optimise(
        self, link: HmimoLink, allocator: HmimoPowerAllocator, rng: np.random.Generator
    ) -> PhaseResult:
        tx, rx = link.random_phases(rng)
        phases = [*tx, *rx[::-1]]  # views: the sweeps update tx and rx in place
        channel = link.effective_channel(tx, rx)
        powers = allocator.allocate(channel, link.noise_w, link.budget_w)
        trace = [float(rates_bps_hz(channel[None], powers, link.noise_w)[0])]
        grid = np.exp(2j * np.pi * np.arange(2**self.candidate_bits) / 2**self.candidate_bits)
        sweeps = 0
        while sweeps < self.max_sweeps:
            channel = self._sweep(link, phases, powers, grid)
            powers = allocator.allocate(channel, link.noise_w, link.budget_w, initial_w=powers)
            trace.append(float(rates_bps_hz(channel[None], powers, link.noise_w)[0]))
            sweeps += 1
            if trace[-1] - trace[-2] <= self.tolerance * abs(trace[-2]):
                break
        return PhaseResult(tx, rx, powers, iterations=sweeps, objective_trace=tuple(trace))

    @staticmethod
    def _sweep(
        link: HmimoLink, phases: list[np.ndarray], powers: np.ndarray, grid: np.ndarray
    ) -> np.ndarray:
        """One pass over every atom, modifying ``phases`` in place; returns the new ``H``."""
        matrices = cascade(link)
        # after[i]: the product of everything after phase i (A_i above), for the phases as
        # they are before the sweep; layers after i are only visited after layer i.
        after: list[np.ndarray] = [np.empty(0)] * len(phases)
        product = matrices[-1]
        for i in range(len(phases) - 1, -1, -1):
            after[i] = product
            product = product @ (phases[i][:, None] * matrices[i])
        entering = matrices[0]  # B_i, the field entering phase i (n_i x S)
        channel = after[0] @ (phases[0][:, None] * entering)
        rate = rates_bps_hz(channel[None], powers, link.noise_w)[0]
        for i, phase in enumerate(phases):
            left = after[i]
            for n in range(phase.size):
                step = np.outer(left[:, n], entering[n, :])
                candidates = channel[None] + (grid - phase[n])[:, None, None] * step[None]
                rates = rates_bps_hz(candidates, powers, link.noise_w)
                best = int(np.argmax(rates))
                if rates[best] > rate:
                    channel, rate, phase[n] = candidates[best], rates[best], grid[best]
            entering = matrices[i + 1] @ (phase[:, None] * entering)
        return channel
