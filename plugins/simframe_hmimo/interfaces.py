"""What a third-party channel model, phase optimiser or power allocator of ``sim_hmimo_link``
implements (paper 000: SIM-aided point-to-point HMIMO).

Subclass one of the three bases below, set ``name`` (the scenario name), ``parameters`` (the
scenario settings, see :class:`simframe.Parameter`) and a docstring whose first line is a
one-line summary, implement the one abstract method, and return the class from the matching
registration hook of your plugin::

    from simframe import hookimpl
    from simframe_hmimo.interfaces import HmimoPhaseOptimiser, PhaseOptimisationResult

    class MyOptimiser(HmimoPhaseOptimiser):
        '''My optimiser: one line that ``simframe plugins`` shows.'''
        name = "my_optimiser"

        def optimise(self, link, allocator, rng):
            tx, rx = link.random_phases(rng)
            powers = allocator.allocate(link.effective_channel(tx, rx), link.noise_w,
                                        link.budget_w)
            rate = link.rate_bps_hz(link.effective_channel(tx, rx), powers)
            return PhaseOptimisationResult(tx, rx, powers, iterations=0, objective_trace=[rate])

    @hookimpl
    def simframe_phase_optimisers():
        return [MyOptimiser]

Conventions shared by every interface (paper 000 Section II; spec sim-hmimo.md):

* ``S`` antennas (= streams) on each side, ``N`` meta-atoms per TX layer, ``M`` per RX layer,
  ``L`` TX layers and ``K`` RX layers.
* Phases are complex unit-modulus arrays of shape ``(layers, atoms)``: ``tx_phases[l - 1]`` is
  ``theta_T^l`` and ``rx_phases[k - 1]`` is ``theta_R^k``, layer 1 being the one next to the
  antennas on either side (the paper's numbering).
* ``H~`` (``channel``) is the ``M x N`` channel between the last TX layer and the RX layer
  facing it; the effective channel is ``H = V_R H~ V_T`` (``S x S``, eq. (4)).
* Powers are in watts, one per stream, ``p >= 0`` and ``sum(p) = budget_w``.
* The objective of the paper is the rate of eq. (5) in bit/s/Hz; see
  :meth:`simframe_hmimo.link.HmimoLink.rate_bps_hz` and its adjoint gradient
  :meth:`simframe_hmimo.link.HmimoLink.rate_and_gradient` (Theorem 1).
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simframe import Component, ComponentKind

if TYPE_CHECKING:
    from simframe_hmimo.link import HmimoLink

SYSTEM_NAME = "sim_hmimo_link"


class HmimoChannelModel(Component, metaclass=ABCMeta):
    """Draws the channel ``H~`` between the two SIMs for one trial."""

    kind = ComponentKind.CHANNEL_MODEL
    systems = (SYSTEM_NAME,)

    @abstractmethod
    def draw(
        self,
        tx_layer_m: np.ndarray,
        rx_layer_m: np.ndarray,
        wavelength_m: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Return one complex ``M x N`` realisation of ``H~``.

        ``tx_layer_m`` (``N x 3``) and ``rx_layer_m`` (``M x 3``) are the positions in metres of
        the atoms of the TX layer and of the RX layer that face the channel, each in its own
        SIM's frame (centred on the z axis), for models with spatial correlation. Use only
        ``rng`` for randomness: every variant of a trial receives an identically seeded one.
        The path loss is part of ``H~`` (its entries have the channel's power gain, linear).
        """


@dataclass
class PhaseOptimisationResult:
    """What a phase optimiser returns.

    ``tx_phases`` (``L x N``) and ``rx_phases`` (``K x M``): complex, unit modulus.
    ``powers_w``: the power allocation (``S``, watts, ``>= 0``, summing to the budget) that the
    optimiser found together with the phases; the system evaluates the rate with it, unless a
    ``simframe_phases_configured`` hook changed the phases, in which case the system asks the
    scenario's power allocator again for the modified phases.
    ``iterations``: outer iterations the algorithm ran (``0`` for a non-iterative method).
    ``objective_trace``: the objective after each outer iteration (may be empty), in
    ``objective_units``; ``objective_name`` says what it is (e.g. ``"rate"`` or
    ``"off-diagonal power"``).
    ``effective_channel``: normally ``None``. A benchmark that does not model the SIM physically
    (the fully digital precoder) or that reports a rescaled channel (An et al.'s alpha-scaled
    channel) sets the ``S x S`` matrix the rate is evaluated on instead of ``V_R H~ V_T``; the
    system records that it did so in the metric ``effective_channel_override``.
    """

    tx_phases: np.ndarray
    rx_phases: np.ndarray
    powers_w: np.ndarray
    iterations: int
    objective_trace: list[float] | np.ndarray = field(default_factory=list)
    objective_name: str = "rate"
    objective_units: str = "bit/s/Hz"
    effective_channel: np.ndarray | None = None


class HmimoPowerAllocator(Component, metaclass=ABCMeta):
    """Splits the transmit power budget over the ``S`` streams for a given effective channel."""

    kind = ComponentKind.POWER_ALLOCATOR
    systems = (SYSTEM_NAME,)

    @abstractmethod
    def allocate(self, channel: np.ndarray, noise_w: float, budget_w: float) -> np.ndarray:
        """Return powers ``p`` (``S`` floats, watts) with ``p >= 0`` and ``sum(p) = budget_w``.

        ``channel`` is the complex ``S x S`` effective channel ``H``: ``H[s, j]`` couples the
        stream sent from antenna ``j`` into receive antenna ``s`` (eq. (5)); ``noise_w`` is the
        noise power ``sigma^2`` per receive antenna in watts. Must be deterministic.
        """


class HmimoPhaseOptimiser(Component, metaclass=ABCMeta):
    """Chooses the TX and RX SIM phases (and the powers that go with them) for one trial."""

    kind = ComponentKind.PHASE_OPTIMISER
    systems = (SYSTEM_NAME,)

    @abstractmethod
    def optimise(
        self, link: HmimoLink, allocator: HmimoPowerAllocator, rng: np.random.Generator
    ) -> PhaseOptimisationResult:
        """Optimise the phases of ``link`` (the trial's channel and hops, see ``HmimoLink``).

        ``allocator`` is the scenario's power allocator: call
        ``allocator.allocate(H, link.noise_w, link.budget_w)`` wherever the algorithm needs a
        power allocation (or ignore it if the algorithm prescribes its own and document that).
        ``rng`` is the trial's stream for algorithmic randomness (random initial phases); it is
        seeded identically for every variant. Never modify ``link``.
        """
