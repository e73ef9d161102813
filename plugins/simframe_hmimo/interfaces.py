"""Interfaces of the channel models, phase optimisers and power allocators of ``sim_hmimo_link``.

The system ``sim_hmimo_link`` (paper 000: a point-to-point HMIMO link with a stacked intelligent
metasurface (SIM) on each side) fills three slots with components that subclass the bases below:

* ``channel`` -> :class:`HmimoChannelModel`: draws the channel ``H~`` between the two SIMs,
* ``phases`` -> :class:`HmimoPhaseOptimiser`: chooses every meta-atom's unit-modulus coefficient,
* ``power`` -> :class:`HmimoPowerAllocator`: splits the transmit power over the ``S`` streams.

Conventions (paper 000 Section II, eqs. (2)-(5)), in the order the signal travels::

    H = V_R H~ V_T                                     (S x S effective channel)
    V_T = Theta^L Omega^L ... Theta^2 Omega^2 Theta^1 Omega^1          (N x S)
    V_R = Omega^1_R Theta^1_R Omega^2_R ... Omega^K_R Theta^K_R         (S x M)

``Theta = diag(theta)`` with ``|theta_n| = 1``. Phases are complex arrays of shape
``(layers, atoms)``: ``tx_phases[l]`` is TX layer ``l + 1`` (layer 1 faces the antennas, layer L
the channel); ``rx_phases[k]`` is RX layer ``k + 1`` (layer 1 faces the antennas, layer K the
channel). A phase optimiser needs nothing but :class:`HmimoLink`: it evaluates the rate and its
exact gradient (Theorem 1, by an adjoint pass) for any phases and powers.

A minimal phase optimiser, written against these docstrings only::

    class BestOfRandom(HmimoPhaseOptimiser):
        '''Best of a few random phase draws.'''

        name = "best_of_random"
        parameters = (Parameter("draws", int, 10, help="random draws", minimum=1),)

        def optimise(self, link, allocator, rng):
            best, trace = None, []
            for _ in range(self.draws):
                tx, rx = link.random_phases(rng)
                h = link.effective_channel(tx, rx)
                powers = allocator.allocate(h, link.noise_w, link.budget_w)
                rate = link.rate_bps_hz(tx, rx, powers)
                if best is None or rate > best[0]:
                    best = (rate, tx, rx, powers)
                trace.append(best[0])
            _, tx, rx, powers = best
            return PhaseResult(tx, rx, powers, iterations=self.draws, objective_trace=trace)

Register it with ``@hookimpl def simframe_phase_optimisers(): return [BestOfRandom]`` and choose
it in a scenario with ``phases = { model = "best_of_random", draws = 20 }``. An optimiser whose
trace records something other than the rate says so with a class attribute ``objective =
TracedObjective(key, units, name)``.

Blocks of trials: the system hands the optimiser several trials of one sweep point at once
through :meth:`HmimoPhaseOptimiser.optimise_block`, with a
:class:`~simframe_hmimo.link_block.LinkBlock` (shared hops, one channel per trial, batched rate
and gradient evaluations) and one generator per trial. The default runs :meth:`optimise` per
trial, so an optimiser written against ``optimise(link, allocator, rng)`` alone, like the one
above, works unchanged. Override ``optimise_block`` to batch; trial ``b``'s result must then
depend only on ``block.link(b)`` and ``rngs[b]`` (beyond round-off), never on the other trials.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from simframe import Component, ComponentKind, MetricSpec

if TYPE_CHECKING:
    from simframe_hmimo.link_block import LinkBlock

SYSTEM_NAME = "sim_hmimo_link"


@dataclass(frozen=True)
class HmimoGeometry:
    """Element positions (metres, ``(count, 3)`` arrays) of both sides of the link.

    ``tx_layers_m[-1]`` and ``rx_layers_m[-1]`` are the layers facing the channel (TX layer L,
    RX layer K); each side's own coordinates put its antennas at z = 0.
    """

    wavelength_m: float
    tx_antennas_m: np.ndarray
    tx_layers_m: tuple[np.ndarray, ...]
    rx_antennas_m: np.ndarray
    rx_layers_m: tuple[np.ndarray, ...]

    @property
    def tx_channel_layer_m(self) -> np.ndarray:
        return self.tx_layers_m[-1]

    @property
    def rx_channel_layer_m(self) -> np.ndarray:
        return self.rx_layers_m[-1]


class SimShapes:
    """Sizes read off the hops ``tx_hops`` and ``rx_hops`` of a link (or a block of links)."""

    tx_hops: tuple[np.ndarray, ...]
    rx_hops: tuple[np.ndarray, ...]

    @property
    def antennas(self) -> int:
        return self.tx_hops[0].shape[1]

    @property
    def tx_shape(self) -> tuple[int, int]:
        """Shape ``(L, N)`` of the TX phases."""
        return len(self.tx_hops), self.tx_hops[0].shape[0]

    @property
    def rx_shape(self) -> tuple[int, int]:
        """Shape ``(K, M)`` of the RX phases."""
        return len(self.rx_hops), self.rx_hops[0].shape[1]


@dataclass(frozen=True)
class HmimoLink(SimShapes):
    """One trial's link as an optimiser sees it: fixed hops, a drawn channel, noise and budget.

    ``tx_hops[0]`` is ``Omega^1`` (N x S, antennas -> TX layer 1), ``tx_hops[l]`` is
    ``Omega^{l+1}`` (N x N, TX layer l -> l + 1). ``rx_hops[0]`` is ``Omega^1_R`` (S x M, RX layer
    1 -> antennas), ``rx_hops[k]`` is ``Omega^{k+1}_R`` (M x M, RX layer k + 1 -> k).
    ``channel`` is ``H~`` (M x N, TX layer L -> RX layer K). The methods cost O(L N^2 S + K M^2 S)
    each: they propagate the S antenna columns, never form a product of N x N matrices.
    """

    tx_hops: tuple[np.ndarray, ...]
    rx_hops: tuple[np.ndarray, ...]
    channel: np.ndarray
    noise_w: float
    budget_w: float

    def random_phases(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Independent phases uniform on [0, 2 pi) for every TX and RX meta-atom."""
        return (
            np.exp(2j * np.pi * rng.random(self.tx_shape)),
            np.exp(2j * np.pi * rng.random(self.rx_shape)),
        )

    def effective_channel(self, tx_phases: np.ndarray, rx_phases: np.ndarray) -> np.ndarray:
        """``H = V_R H~ V_T`` (S x S), paper eq. (4)."""
        from simframe_hmimo.link import effective_channel

        return effective_channel(self, tx_phases, rx_phases)

    def rate_bps_hz(
        self, tx_phases: np.ndarray, rx_phases: np.ndarray, powers_w: np.ndarray
    ) -> float:
        """Achievable rate, paper eq. (5), with per-stream powers ``powers_w`` (W)."""
        from simframe_hmimo.link import rate_bps_hz

        return rate_bps_hz(self.effective_channel(tx_phases, rx_phases), powers_w, self.noise_w)

    def rate_gradient(
        self, tx_phases: np.ndarray, rx_phases: np.ndarray, powers_w: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Rate and its Euclidean gradients w.r.t. the complex TX and RX phases (Theorem 1).

        Returns ``(rate, grad_tx, grad_rx)`` with ``grad = dR/dRe(theta) + 1j dR/dIm(theta)``
        (shapes ``(L, N)`` and ``(K, M)``), the convention of
        :func:`simframe_metasurface.manifold.minimise_rlbfgs`. The derivative w.r.t. the angle
        ``phi`` of ``theta = exp(j phi)`` is ``Im(grad * conj(theta))``.
        """
        from simframe_hmimo.link import rate_gradient

        return rate_gradient(self, tx_phases, rx_phases, powers_w)


@dataclass(frozen=True)
class PhaseResult:
    """What a phase optimiser returns.

    ``tx_phases`` ``(L, N)`` and ``rx_phases`` ``(K, M)`` are complex with modulus 1;
    ``powers_w`` (S,) are the stream powers that go with them (>= 0, summing to the budget);
    ``iterations`` counts the optimiser's outer iterations; ``objective_trace`` holds the
    objective after each iteration, the one the optimiser's :attr:`HmimoPhaseOptimiser.objective`
    declares (the rate unless the optimiser minimises something else, e.g. IMin's off-diagonal
    power). ``channel_scale`` multiplies ``H`` before the rate is evaluated; it is 1 except for
    optimisers that reproduce a published evaluation of a scaled channel (An et al.'s
    ``alpha H``), and the dataset records it.
    """

    tx_phases: np.ndarray
    rx_phases: np.ndarray
    powers_w: np.ndarray
    iterations: int
    objective_trace: Sequence[float] = field(default_factory=tuple)
    channel_scale: float = 1.0

    def problem(self, shapes: SimShapes) -> str | None:
        """What breaks the contract above for a link of ``shapes``, or ``None``."""
        expected = {
            "tx_phases": shapes.tx_shape,
            "rx_phases": shapes.rx_shape,
            "powers_w": (shapes.antennas,),
        }
        for name, shape in expected.items():
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) or value.shape != shape:
                found = value.shape if isinstance(value, np.ndarray) else type(value).__name__
                return f"with {name} of shape {found}, expected a numpy array of shape {shape}"
        for name in ("tx_phases", "rx_phases"):
            values = getattr(self, name)
            if values.dtype.kind != "c":
                return f"with {name} of dtype {values.dtype}, expected complex coefficients"
            deviation = float(np.max(np.abs(np.abs(values) - 1.0), initial=0.0))
            if not deviation <= UNIT_MODULUS_TOLERANCE:
                return f"with {name} not unit modulus (largest deviation {deviation:.3g})"
        if self.powers_w.dtype.kind not in "fiu" or not np.all(self.powers_w >= 0):
            return f"with powers_w {self.powers_w!r}, expected real powers >= 0"
        return None


UNIT_MODULUS_TOLERANCE = 1e-9
"""Largest deviation of a returned coefficient's modulus from 1."""


@dataclass(frozen=True)
class TracedObjective:
    """The objective a phase optimiser records after each iteration (``objective_trace``).

    The dataset holds the trace as ``objective_trace`` over dim ``iteration`` when ``key`` is
    ``"rate"``, and as ``<key>_trace`` over ``<key>_iteration`` otherwise, so that traces of
    different objectives (one unit per dataset variable) and lengths never share a variable.
    """

    key: str
    units: str
    name: str

    @property
    def variable(self) -> str:
        return "objective_trace" if self.key == "rate" else f"{self.key}_trace"

    @property
    def spec(self) -> MetricSpec:
        dim = "iteration" if self.key == "rate" else f"{self.key}_iteration"
        return MetricSpec(self.units, f"phase optimiser objective: {self.name}", (dim,))


RATE_OBJECTIVE = TracedObjective("rate", "bit/s/Hz", "achievable rate")


class HmimoChannelModel(Component):
    """Base of the channel models of ``sim_hmimo_link``: the channel ``H~`` between the SIMs."""

    kind = ComponentKind.CHANNEL_MODEL
    systems = (SYSTEM_NAME,)

    @abstractmethod
    def sampler(self, geometry: HmimoGeometry) -> Callable[[np.random.Generator], np.ndarray]:
        """Precompute what one geometry needs (correlation roots, path loss) and return a
        function that draws ``H~`` (complex, ``M x N``: rows are the atoms of
        ``geometry.rx_channel_layer_m``, columns those of ``geometry.tx_channel_layer_m``) from
        the generator it is given, using no other randomness.
        """


class HmimoPowerAllocator(Component):
    """Base of the power allocators of ``sim_hmimo_link``: powers of the S streams."""

    kind = ComponentKind.POWER_ALLOCATOR
    systems = (SYSTEM_NAME,)

    @abstractmethod
    def allocate(
        self,
        channel: np.ndarray,
        noise_w: float,
        budget_w: float,
        initial_w: np.ndarray | None = None,
    ) -> np.ndarray:
        """Stream powers in W for the effective channel ``channel`` (S x S, stream s is sent
        on antenna s and received on antenna s): real, ``>= 0``, summing to ``budget_w``.

        ``initial_w`` is a starting point an iterative allocator may use (e.g. the previous
        powers inside an alternating optimisation); others ignore it.
        """


class HmimoPhaseOptimiser(Component):
    """Base of the phase optimisers of ``sim_hmimo_link``."""

    kind = ComponentKind.PHASE_OPTIMISER
    systems = (SYSTEM_NAME,)
    objective: ClassVar[TracedObjective] = RATE_OBJECTIVE
    """What ``PhaseResult.objective_trace`` records (the achievable rate unless overridden)."""

    @abstractmethod
    def optimise(
        self, link: HmimoLink, allocator: HmimoPowerAllocator, rng: np.random.Generator
    ) -> PhaseResult:
        """Choose TX and RX phases (and the powers that go with them) for ``link``.

        ``allocator`` is the scenario's power slot; use it for every power step so that a
        scenario can swap it. ``rng`` is the only source of randomness allowed (random
        initial phases); it is seeded identically for every variant of a trial.
        """

    def optimise_block(
        self,
        block: LinkBlock,
        allocator: HmimoPowerAllocator,
        rngs: Sequence[np.random.Generator],
    ) -> list[PhaseResult]:
        """One :class:`PhaseResult` per trial of ``block`` (trial ``b`` draws only from
        ``rngs[b]``). The default calls :meth:`optimise` on ``block.link(b)`` for each trial."""
        return [self.optimise(block.link(b), allocator, rng) for b, rng in enumerate(rngs)]
