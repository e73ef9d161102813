"""Interfaces of the components of ``sim_mumiso_downlink``: users' channels, phases, powers.

The system ``sim_mumiso_downlink`` (An, Di Renzo, Debbah, Yuen, ICC 2023) is a base station
whose K antennas radiate into a stacked intelligent metasurface (SIM) of L layers x N meta-atoms;
the SIM itself beamforms, one stream per antenna, to K single-antenna users. It fills three
slots with components that subclass the bases below (the fourth, ``propagation``, takes any
:class:`simframe_metasurface.propagation.PropagationModel`):

* ``channel`` -> :class:`MumisoChannelModel`: draws the users' channels ``G`` (K x N),
* ``phases`` -> :class:`MumisoPhaseOptimiser`: chooses every meta-atom's coefficient,
* ``power`` -> :class:`MumisoPowerAllocator`: splits the transmit power over the K streams.

Conventions, in the order the signal travels (spec sim-mumiso.md)::

    H = G Phi_L W_L ... Phi_2 W_2 Phi_1 W_1                      (K x K effective channel)
    SINR_k = p_k |H_kk|^2 / (sum_{j != k} p_j |H_kj|^2 + sigma^2)
    R = sum_k log2(1 + SINR_k)                                   (sum rate, bit/s/Hz)

``W_1`` (N x K) is the hop from the antennas to layer 1, ``W_l`` (N x N) from layer l - 1 to
layer l, ``Phi_l = diag(theta_l)`` with ``|theta_l,n| = 1``. Stream k leaves antenna k and is
meant for user k. Phases are complex arrays of shape ``(L, N)``, row ``l`` for layer ``l + 1``
(layer 1 faces the antennas, layer L the users).

Blocks of trials: the system hands the phase optimiser every trial of a block at once as a
:class:`~simframe_mumiso.downlink.DownlinkBlock` (shared hops, one ``G`` per trial, batched
sum rates and exact gradients) with one generator per trial. Trial ``b``'s result must depend
only on ``block.trial(b)`` and ``rngs[b]``: the same bits whichever trials share its block.
Power allocators are batched the same way (row ``b`` of the result depends on row ``b`` of the
arguments alone).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simframe import Component, ComponentKind

if TYPE_CHECKING:
    from simframe_mumiso.downlink import DownlinkBlock

SYSTEM_NAME = "sim_mumiso_downlink"


@dataclass(frozen=True)
class MumisoGeometry:
    """Element positions in metres (``(count, 3)`` arrays) in the SIM's own frame.

    The antennas sit at z = 0, layer ``l`` at z = l T / L (``layers_m[-1]`` faces the users),
    and z grows from the antennas towards the users, whose plane is z = the base station's
    height: ``users_m[k]`` is user k + 1.
    """

    wavelength_m: float
    antennas_m: np.ndarray
    layers_m: tuple[np.ndarray, ...]
    users_m: np.ndarray

    @property
    def last_layer_m(self) -> np.ndarray:
        """The meta-atoms facing the users, the far end of the users' channels."""
        return self.layers_m[-1]

    def user_distances_m(self) -> np.ndarray:
        """Distance from the centre of the last layer to every user, ``(K,)``."""
        centre = self.last_layer_m.mean(axis=0)
        return np.linalg.norm(self.users_m - centre, axis=1)


@dataclass(frozen=True)
class PhaseDesign:
    """What a phase optimiser returns for one trial.

    ``phases`` ``(L, N)`` complex with modulus 1; ``powers_w`` ``(K,)`` the stream powers that
    go with them (``>= 0``, summing to the budget); ``iterations`` the optimiser's outer
    iterations; ``objective_trace`` the sum rate (bit/s/Hz) at the start and after every outer
    iteration, on the channel the optimiser designed on; ``evaluations`` how many sum rates
    (with or without gradient) it evaluated; ``elapsed_s`` the CPU time of the process since
    the optimiser started at each entry of the trace (``time.process_time``: on a loaded machine
    it counts the work, not the waiting), for the whole block, whose trials are optimised
    together; benchmarks read it, datasets do not hold it.
    """

    phases: np.ndarray
    powers_w: np.ndarray
    iterations: int
    objective_trace: Sequence[float]
    evaluations: int = 0
    elapsed_s: Sequence[float] = ()


def block_designs(
    phases: np.ndarray,
    powers_w: np.ndarray,
    iterations: np.ndarray,
    trace: Sequence[np.ndarray],
    evaluations: np.ndarray,
    elapsed_s: Sequence[float],
) -> list[PhaseDesign]:
    """One :class:`PhaseDesign` per trial of a block optimised together: ``trace`` holds the
    block's sum rates ``(B,)`` at the start and after every outer iteration, ``elapsed_s`` the
    times of its entries; trial ``b`` keeps the first ``iterations[b] + 1`` of both."""
    history = np.array(trace)
    return [
        PhaseDesign(
            phases[b],
            powers_w[b],
            int(iterations[b]),
            tuple(history[: iterations[b] + 1, b]),
            int(evaluations[b]),
            tuple(elapsed_s[: iterations[b] + 1]),
        )
        for b in range(len(phases))
    ]


class MumisoChannelModel(Component):
    """Base of the users' channel models of ``sim_mumiso_downlink``: ``G`` (K x N)."""

    kind = ComponentKind.CHANNEL_MODEL
    systems = (SYSTEM_NAME,)

    @abstractmethod
    def sampler(self, geometry: MumisoGeometry) -> Callable[[np.random.Generator], np.ndarray]:
        """Precompute what ``geometry`` needs (correlation roots, path losses) and return a
        function that draws ``G`` (complex, ``K x N``: row k is user k + 1, column n the
        meta-atom n of ``geometry.last_layer_m``) from the generator it is given, using no other
        randomness."""


class MumisoPowerAllocator(Component):
    """Base of the power allocators of ``sim_mumiso_downlink``: powers of the K streams."""

    kind = ComponentKind.POWER_ALLOCATOR
    systems = (SYSTEM_NAME,)

    @abstractmethod
    def allocate(
        self,
        effective: np.ndarray,
        noise_w: float,
        budget_w: float,
        initial_w: np.ndarray | None = None,
    ) -> np.ndarray:
        """Stream powers in W, ``(B, K)``, for the effective channels ``effective`` ``(B, K, K)``
        of B trials: real, ``>= 0``, each row summing to ``budget_w``.

        Row ``b`` depends only on ``effective[b]`` (and ``initial_w[b]``), to the bit.
        ``initial_w`` ``(B, K)`` is a starting point an iterative allocator may use (the current
        powers inside an alternating optimisation); others ignore it.
        """


class MumisoPhaseOptimiser(Component):
    """Base of the phase optimisers of ``sim_mumiso_downlink``."""

    kind = ComponentKind.PHASE_OPTIMISER
    systems = (SYSTEM_NAME,)

    @abstractmethod
    def optimise_block(
        self,
        block: DownlinkBlock,
        allocator: MumisoPowerAllocator,
        rngs: Sequence[np.random.Generator],
    ) -> list[PhaseDesign]:
        """One :class:`PhaseDesign` per trial of ``block``.

        ``allocator`` is the scenario's power slot: use it for every power step, so that a
        scenario can swap it. ``rngs[b]`` is trial ``b``'s only source of randomness (random
        initial phases); it is seeded identically for every variant of the trial.
        """
