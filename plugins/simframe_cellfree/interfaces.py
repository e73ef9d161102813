"""Interfaces of the components that fill the slots of ``sim_cellfree_uplink``.

Third-party authors subclass these to plug their own setup, pilot scheme, SIM phase optimiser or
power allocator into the SIM-enhanced cell-free uplink of paper 003, and register the class
through the matching ``simframe_*`` hook (``systems`` is inherited from these bases).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simframe import Component, ComponentKind, ContractError, Parameter

if TYPE_CHECKING:
    from simframe_cellfree.network import LargeScaleFading
    from simframe_cellfree.uplink import UplinkProblem

SYSTEM = "sim_cellfree_uplink"


class CellFreeSetup(Component, abc.ABC):
    """Draws AP and UE positions and the large-scale fading of one network realisation."""

    kind = ComponentKind.CHANNEL_MODEL
    systems = (SYSTEM,)

    @abc.abstractmethod
    def draw(self, rng: np.random.Generator, aps: int, ues: int) -> LargeScaleFading: ...


class CellFreePilotScheme(Component, abc.ABC):
    """Assigns one of ``tau_p`` orthogonal pilots to every UE."""

    kind = ComponentKind.PILOT_SCHEME
    systems = (SYSTEM,)

    @abc.abstractmethod
    def assign(
        self, problem: UplinkProblem, phases_rad: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Pilot index per UE ``(K,)`` in ``[0, tau_p)``, given the SIM phases in force."""


@dataclass(frozen=True)
class PhaseDesign:
    """SIM phases ``(L, Q, M)`` in radians and the objective after each sweep (bit/s/Hz)."""

    phases_rad: np.ndarray
    objective_trace: np.ndarray


class CellFreePhaseOptimiser(Component, abc.ABC):
    """Chooses the SIM phases of every AP from statistical CSI (the closed form)."""

    kind = ComponentKind.PHASE_OPTIMISER
    systems = (SYSTEM,)

    @abc.abstractmethod
    def optimise(
        self, problem: UplinkProblem, initial_rad: np.ndarray, rng: np.random.Generator
    ) -> PhaseDesign: ...


STARTS = Parameter(
    "starts",
    int,
    1,
    "",
    "independent starts: the system's initial phases, then uniform random phases from the "
    "trial's generator; the design with the highest objective is kept",
    minimum=1,
)
"""The ``starts`` parameter of the phase optimisers that run :func:`best_of_starts`."""


def best_of_starts(
    design: Callable[[np.ndarray], PhaseDesign],
    initial_rad: np.ndarray,
    rng: np.random.Generator,
    starts: int,
) -> PhaseDesign:
    """The design with the highest final objective over ``starts`` independent starts.

    The first start is ``initial_rad`` (so one start is the plain design); every further one
    draws uniform random phases of the same shape from ``rng``. The returned trace is the
    chosen start's.
    """
    best = design(initial_rad)
    for _ in range(starts - 1):
        candidate = design(rng.uniform(0.0, 2 * np.pi, initial_rad.shape))
        if candidate.objective_trace[-1] > best.objective_trace[-1]:
            best = candidate
    return best


class CellFreePowerAllocator(Component, abc.ABC):
    """Chooses the UEs' data powers in ``[0, p_max]`` W for fixed phases and pilots."""

    kind = ComponentKind.POWER_ALLOCATOR
    systems = (SYSTEM,)

    @abc.abstractmethod
    def allocate(self, problem: UplinkProblem, phases_rad: np.ndarray) -> np.ndarray: ...


def returned_array(
    component: Component,
    what: str,
    value: object,
    shape: tuple[int, ...],
    kinds: str,
    bounds: tuple[float, float] = (-np.inf, np.inf),
) -> np.ndarray:
    """``value``, which ``component`` returned as ``what``, if it is a numpy array of ``shape``
    and dtype kind in ``kinds`` (``"f"`` real, ``"iu"`` integer) with every value in
    ``[bounds[0], bounds[1]]``; otherwise a :class:`simframe.ContractError` naming the
    component."""
    if not isinstance(value, np.ndarray) or value.shape != shape:
        found = value.shape if isinstance(value, np.ndarray) else type(value).__name__
        raise ContractError(component, f"returned {what} of shape {found}, expected {shape}")
    if value.dtype.kind not in kinds:
        raise ContractError(component, f"returned {what} of dtype {value.dtype}")
    low, high = bounds
    if not np.all((value >= low) & (value <= high)):
        raise ContractError(component, f"returned {what} outside [{low:g}, {high:g}]: {value!r}")
    return value
