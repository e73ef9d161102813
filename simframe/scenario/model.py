"""What a validated scenario is: sweep axes, variants and the resolved configuration of every
(sweep point, variant), with the fingerprint that keys a run's results."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simframe.components import Component, ComponentKind, SystemModel
from simframe.plugins import Registry
from simframe.precision import PrecisionTarget
from simframe.scenario import pairing
from simframe.scheduling import Blocks
from simframe.trial import MetricSpec


@dataclass(frozen=True)
class ComponentChoice:
    """A slot's chosen component and its resolved parameters."""

    model: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Configuration:
    """Everything one (sweep point, variant) runs with, fully resolved."""

    system_model: str
    system_params: Mapping[str, Any]
    slots: Mapping[str, ComponentChoice]
    options: Mapping[str, Mapping[str, Any]]

    def component_classes(
        self, registry: Registry
    ) -> tuple[type[SystemModel], dict[str, type[Component]]]:
        """The system model's class and the component class chosen for each slot."""
        system_cls: Any = registry.get(ComponentKind.SYSTEM_MODEL, self.system_model).cls
        classes = {
            slot: registry.get(system_cls.slots[slot].kind, choice.model).cls
            for slot, choice in self.slots.items()
        }
        return system_cls, classes

    def build(self, registry: Registry) -> SystemModel:
        """Instantiate the system model with its slot components."""
        system_cls, classes = self.component_classes(registry)
        components = {slot: cls(**self.slots[slot].params) for slot, cls in classes.items()}
        return system_cls(components, **self.system_params)

    def as_json(self) -> dict[str, Any]:
        return {
            "system": {"model": self.system_model, **self.system_params},
            **{slot: {"model": c.model, **c.params} for slot, c in self.slots.items()},
            "plugins": {k: dict(v) for k, v in self.options.items()},
        }


@dataclass(frozen=True)
class SweepAxis:
    """One dataset dimension of the sweep; a linked axis moves several parameters together."""

    dim: str
    paths: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    """``values[j][i]``: value of ``paths[j]`` at position ``i`` of the axis."""
    units: str
    long_name: str
    source: str
    """Where the axis is declared: ``"sweep"`` or ``"sweep.linked.NAME"``."""
    path_attrs: tuple[dict[str, str], ...] = ()
    """``units`` and ``long_name`` of the parameter each path sets (filled in after validation)."""

    def __len__(self) -> int:
        return len(self.values[0])


def unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Flat point index -> index per sweep axis (C order: the last axis varies fastest)."""
    return tuple(int(i) for i in np.unravel_index(flat, shape))


@dataclass
class Scenario:
    """A validated scenario, expanded into ``points x variants`` configurations."""

    source: str
    text: str
    overrides: tuple[str, ...]
    title: str
    description: str
    trials: int
    seed: int
    store: frozenset[str]
    axes: list[SweepAxis]
    variants: list[str]
    configurations: dict[tuple[int, str], Configuration]
    system_cls: type[SystemModel]
    warnings: list[str] = field(default_factory=list)
    trial_memory_bytes: int = 0
    """The largest :meth:`SystemModel.estimate_memory_bytes` over all points and variants."""
    trial_block: int = 1
    """Trials of one sweep point simulated together: ``[run] trial_block`` or the system's."""
    paired: bool = True
    """``[run] paired``: whether sweep points that agree on what the system draws share their
    draws (see :mod:`simframe.scenario.pairing`)."""
    precision: PrecisionTarget | None = None
    """The ``[precision]`` target; ``trials`` is then the most trials a point may run."""
    metrics: dict[str, MetricSpec] = field(default_factory=dict)
    """Every metric some variant's system declares (:meth:`SystemModel.declared_metrics`)."""

    def blocks(self) -> list[range]:
        """Trials ``[0, trials)`` cut into blocks ``[0, B), [B, 2B), ...`` of the scenario's size.

        The boundaries depend only on the block size, never on the executor or worker count.
        """
        return list(Blocks(self.trials, self.trial_block))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(axis) for axis in self.axes)

    @property
    def n_points(self) -> int:
        return math.prod(self.shape)

    def point_coordinates(self, point: int) -> dict[str, Any]:
        """Sweep coordinate values of a point (flat index, last axis fastest)."""
        index = unravel(point, self.shape)
        return {axis.dim: axis.values[0][i] for axis, i in zip(self.axes, index, strict=True)}

    def point_index(self, point: int) -> tuple[int, ...]:
        return unravel(point, self.shape)

    @functools.cached_property
    def seed_points(self) -> tuple[int, ...]:
        """Per sweep point, the point whose seeds its trials use: the first point with the same
        realisation configuration (a paired sweep), else itself; see
        :mod:`simframe.scenario.pairing`."""
        if not self.paired:
            return tuple(range(self.n_points))
        return pairing.seed_points(
            self.configurations, self.variants, self.n_points, self.system_cls
        )

    @property
    def paired_dims(self) -> tuple[str, ...]:
        """The sweep dims along which trial ``t`` draws the same realisation at every value."""
        return pairing.paired_dims(self.seed_points, self.shape, [a.dim for a in self.axes])

    @functools.cached_property
    def fingerprint(self) -> str:
        """Hash of everything that determines the numbers of a run (not its title or text)."""
        payload = {
            "trials": self.trials,
            "trial_block": self.trial_block,
            "precision": None if self.precision is None else vars(self.precision),
            "seed": self.seed,
            "store": sorted(self.store),
            "axes": [[a.dim, list(a.paths), [list(v) for v in a.values]] for a in self.axes],
            "variants": self.variants,
            "configurations": [
                [p, v, c.as_json()] for (p, v), c in sorted(self.configurations.items())
            ],
        }
        if self.seed_points != tuple(range(self.n_points)):  # unpaired runs keep their print
            payload["seed_points"] = self.seed_points
        text = json.dumps(payload, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()
