"""Paired sweeps: which sweep points share their random draws.

Trial ``t`` of sweep point ``p`` is seeded from ``SeedSequence(seed, spawn_key=(q, t))`` where
``q`` is the *seed point* of ``p``: the first point (in the flat, last-axis-fastest order) whose
system draws its realisation from the same distribution as ``p``'s. What decides that
distribution is the **realisation configuration** of a point: the system model's parameters and
the components (model and parameters) of the slots the system declares its draw uses
(:attr:`simframe.SystemModel.realisation_slots`; every slot when it declares none), for every
variant. Two points with equal realisation configurations differ only in what is done with the
realisation (plugin options, phase optimiser or power allocator settings, ...), so trial ``t``
of both draws the same channels and the same random starts: a paired comparison (common random
numbers). Points whose realisation configurations differ draw independently.

A sweep over the system's parameters alone gives every point its own configuration, so ``q = p``
and the draws are those of an unpaired sweep: such scenarios keep their numbers.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simframe.components import SystemModel
    from simframe.scenario.model import Configuration


def realisation_configuration(
    config: Configuration, system_cls: type[SystemModel]
) -> dict[str, Any]:
    """What one (sweep point, variant)'s realisation depends on: the system's parameters and the
    components of its realisation slots."""
    slots = (
        system_cls.slots if system_cls.realisation_slots is None else system_cls.realisation_slots
    )
    return {
        "system": {"model": config.system_model, **config.system_params},
        **{
            slot: {"model": config.slots[slot].model, **config.slots[slot].params}
            for slot in slots
            if slot in config.slots
        },
    }


def _point_keys(
    configurations: Mapping[tuple[int, str], Configuration],
    variants: Sequence[str],
    n_points: int,
    system_cls: type[SystemModel],
) -> list[str]:
    """Each point's realisation configurations over all variants, as comparable text."""
    return [
        json.dumps(
            [realisation_configuration(configurations[(p, v)], system_cls) for v in variants],
            sort_keys=True,
            default=repr,
        )
        for p in range(n_points)
    ]


def seed_points(
    configurations: Mapping[tuple[int, str], Configuration],
    variants: Sequence[str],
    n_points: int,
    system_cls: type[SystemModel],
) -> tuple[int, ...]:
    """The seed point of every sweep point (see the module's docstring)."""
    first: dict[str, int] = {}
    keys = _point_keys(configurations, variants, n_points, system_cls)
    return tuple(first.setdefault(key, p) for p, key in enumerate(keys))


def paired_dims(
    points: Sequence[int], shape: Sequence[int], dims: Sequence[str]
) -> tuple[str, ...]:
    """The sweep dims along which every point keeps its seed point (``points``, from
    :func:`seed_points`; ``shape`` and ``dims`` are the sweep's): moving along such a dim keeps
    trial ``t``'s draws."""
    indices = list(itertools.product(*(range(n) for n in shape)))  # C order, as points are
    grid = dict(zip(indices, points, strict=True))
    return tuple(
        dim
        for a, dim in enumerate(dims)
        if shape[a] > 1
        and all(q == grid[(*index[:a], 0, *index[a + 1 :])] for index, q in grid.items())
    )
