"""IMin (paper 000 Algorithm 2): minimise the inter-stream interference one meta-atom at a time."""

from __future__ import annotations

import numpy as np

from simframe import Parameter
from simframe_hmimo.interfaces import (
    HmimoLink,
    HmimoPhaseOptimiser,
    PhaseResult,
    TracedObjective,
)


def off_diagonal_power(channel: np.ndarray) -> float:
    """``sum_{i != j} |H_ij|^2``, the objective of (P2)."""
    return float(np.sum(np.abs(channel) ** 2) - np.sum(np.abs(np.diag(channel)) ** 2))


def _sweep_layer(left: np.ndarray, phases: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Update each phase of one layer in turn by eqs. (11)/(12); return the new ``H``.

    ``H = left diag(phases) right``. Atom ``n`` contributes the rank-one term
    ``phases[n] * outer(left[:, n], right[n])``; with ``A`` the rest,
    ``sum_{i!=j} |A + phi B|^2 = const + 2 Re(phi c)``, ``c = sum_{i!=j} conj(A_ij) B_ij``,
    minimised by ``phi = -conj(c) / |c|``. ``H`` is kept up to date in O(S^2) per atom.
    ``phases`` is modified in place.
    """
    channel = left @ (phases[:, None] * right)
    off = ~np.eye(channel.shape[0], dtype=bool)
    for n in range(phases.size):
        rank_one = np.outer(left[:, n], right[n])
        rest = channel - phases[n] * rank_one
        c = np.vdot(rest[off], rank_one[off])
        if abs(c) > 0.0:
            phases[n] = -np.conj(c) / abs(c)
        channel = rest + phases[n] * rank_one
    return channel


def interference_minimisation_sweep(
    link: HmimoLink, tx_phases: np.ndarray, rx_phases: np.ndarray
) -> np.ndarray:
    """One pass of Algorithm 2 (steps 2-3) over TX layers 1..L then RX layers K..1, in place.

    Returns the effective channel after the pass. The factors of each layer are prepared in
    one forward and one backward pass per side, O(L N^2 S + K M^2 S).
    """
    # Rows of Omega^1_R Theta^1_R ... Omega^k_R for every RX layer k. The RX phases are fixed
    # while the TX layers are swept, so these serve both V_R (TX pass) and the RX pass.
    rx_lefts = [link.rx_hops[0]]
    for layer in range(1, len(link.rx_hops)):
        rx_lefts.append((rx_lefts[-1] * rx_phases[layer - 1][None, :]) @ link.rx_hops[layer])
    v_r = rx_lefts[-1] * rx_phases[-1][None, :]
    # Rows of V_R H~ Theta^L Omega^L ... Omega^{l+1} for every TX layer l (before its update).
    lefts = [v_r @ link.channel]
    for layer in range(len(link.tx_hops) - 1, 0, -1):
        lefts.append((lefts[-1] * tx_phases[layer][None, :]) @ link.tx_hops[layer])
    lefts.reverse()
    right = link.tx_hops[0]
    for layer, left in enumerate(lefts):
        _sweep_layer(left, tx_phases[layer], right)
        if layer + 1 < len(link.tx_hops):
            right = link.tx_hops[layer + 1] @ (tx_phases[layer][:, None] * right)
    v_t = tx_phases[-1][:, None] * right
    right = link.channel @ v_t
    for layer in range(len(link.rx_hops) - 1, -1, -1):
        channel = _sweep_layer(rx_lefts[layer], rx_phases[layer], right)
        if layer > 0:
            right = link.rx_hops[layer] @ (rx_phases[layer][:, None] * right)
    return channel


class InterferenceMinimisation(HmimoPhaseOptimiser):
    """IMin, paper 000 Algorithm 2: closed-form per-atom updates (11)-(12), then the power slot.

    Sweeps every TX then every RX meta-atom, each set to the phase that minimises the
    off-diagonal power of ``H`` with the others fixed, until the off-diagonal power changes by
    less than ``tolerance`` (relative) or after ``max_sweeps`` sweeps. Random initial phases.
    The paper then water-fills on ``|H_ss|^2 / sigma^2`` (power slot ``water_filling``). The
    objective trace holds the off-diagonal power ``sum_{i!=j} |H_ij|^2`` (dimensionless) before
    the first and after every sweep; it never increases.
    """

    name = "imin"
    objective = TracedObjective("off_diagonal_power", "1", "off-diagonal power of H")
    parameters = (
        Parameter("max_sweeps", int, 30, help="sweeps over all meta-atoms at most", minimum=1),
        Parameter("tolerance", float, 1e-4, "1", "stop at this relative change", minimum=0.0),
    )

    def optimise(self, link, allocator, rng):
        tx, rx = link.random_phases(rng)
        return self.minimise_from(link, allocator, tx, rx)

    def minimise_from(
        self, link: HmimoLink, allocator, tx: np.ndarray, rx: np.ndarray
    ) -> PhaseResult:
        """Algorithm 2 from the given phases (copied)."""
        tx, rx = tx.copy(), rx.copy()
        trace = [off_diagonal_power(link.effective_channel(tx, rx))]
        for _ in range(self.max_sweeps):
            channel = interference_minimisation_sweep(link, tx, rx)
            trace.append(off_diagonal_power(channel))
            if trace[-2] - trace[-1] <= self.tolerance * trace[-2]:
                break
        powers = allocator.allocate(link.effective_channel(tx, rx), link.noise_w, link.budget_w)
        return PhaseResult(
            tx,
            rx,
            powers,
            len(trace) - 1,
            tuple(trace),
        )
