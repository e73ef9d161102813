"""Running trials: the function every executor (serial, process pool, dask) calls in a worker.

Everything a worker needs travels in a picklable :class:`RunSpec`; workers build their own
plugin registry from its settings and cache system instances per (point, variant), so the
deterministic precomputation of a sweep point (geometry, propagation) is done once per worker.
"""

from __future__ import annotations

import time
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from simframe.components import Component, SystemModel
from simframe.plugins import PluginSettings, Registry, get_registry
from simframe.scenario import Configuration
from simframe.trial import Metric, TrialContext


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to run any trial of a scenario."""

    token: str
    """The scenario's fingerprint; keys the worker's cache of system instances."""
    settings: PluginSettings
    entropy: int
    store: frozenset[str]
    variants: tuple[str, ...]
    configurations: Mapping[tuple[int, str], Configuration]
    coordinates: Mapping[int, Mapping[str, Any]]
    record_errors: bool


@dataclass(frozen=True)
class Job:
    """A chunk of trials of one sweep point, all variants of each."""

    point: int
    trials: tuple[int, ...]


@dataclass
class Outcome:
    """One trial of one variant: its metrics, or the error text when it failed."""

    point: int
    trial: int
    variant: str
    metrics: dict[str, Metric]
    error: str = ""


class TrialError(Exception):
    """A trial raised; the message names plugin, component, sweep point, trial and variant."""


_SYSTEM_CACHE: OrderedDict[tuple[str, int, str], SystemModel] = OrderedDict()
_SYSTEM_CACHE_SIZE = 16


def _system(spec: RunSpec, registry: Registry, point: int, variant: str) -> SystemModel:
    key = (spec.token, point, variant)
    if key in _SYSTEM_CACHE:
        _SYSTEM_CACHE.move_to_end(key)
        return _SYSTEM_CACHE[key]
    system = spec.configurations[(point, variant)].build(registry)
    _SYSTEM_CACHE[key] = system
    while len(_SYSTEM_CACHE) > _SYSTEM_CACHE_SIZE:
        _SYSTEM_CACHE.popitem(last=False)
    return system


def _culprit(registry: Registry, exc: BaseException) -> str:
    """The innermost component (and its plugin) on the traceback of ``exc``.

    A frame of a component's method names that component; failing that, a frame in a module
    that defines registered components names the plugin's first component from that module.
    """
    frames = [frame for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__)))]
    for frame in frames:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Component):
            for info in registry.all_components():
                if info.cls is type(owner):
                    return f"{info.kind.value} {info.name!r} from {info.origin}"
    for frame in frames:
        origin = registry.origin_of_module(frame.f_globals.get("__name__", ""))
        if origin is not None:
            return origin
    return "the simframe core"


def _merge_plugin_metrics(
    registry: Registry, trial: TrialContext, metrics: dict[str, Metric]
) -> None:
    for extra in registry.hook.simframe_trial_metrics(trial=trial, metrics=dict(metrics)):
        for name, metric in (extra or {}).items():
            if name in metrics:
                raise ValueError(f"a simframe_trial_metrics hook returned {name!r} twice")
            if not isinstance(metric, Metric):
                raise TypeError(f"simframe_trial_metrics returned {metric!r} for {name!r}")
            metrics[name] = metric


def run_trial(spec: RunSpec, registry: Registry, point: int, trial: int) -> list[Outcome]:
    """All variants of one trial, on identically seeded draws (paired comparison)."""
    sequence = np.random.SeedSequence(spec.entropy, spawn_key=(point, trial))
    channel_seed, algorithm_seed = sequence.spawn(2)
    outcomes = []
    for variant in spec.variants:
        config = spec.configurations[(point, variant)]
        context = TrialContext(
            point_index=point,
            trial_index=trial,
            variant=variant,
            point=spec.coordinates[point],
            rng=np.random.default_rng(algorithm_seed),
            options=config.options,
            store=spec.store,
            hook=registry.hook,
        )
        try:
            system = _system(spec, registry, point, variant)
            realisation = system.draw(np.random.default_rng(channel_seed))
            registry.hook.simframe_channel_drawn(trial=context, channel=realisation)
            estimate = registry.hook.simframe_channel_estimate(trial=context, channel=realisation)
            context.channel = realisation
            context.known_channel = realisation if estimate is None else estimate
            start = time.perf_counter()
            metrics = dict(system.simulate(realisation, context))
            elapsed = time.perf_counter() - start
            _merge_plugin_metrics(registry, context, metrics)
        except Exception as exc:
            where = ", ".join(f"{k}={v}" for k, v in spec.coordinates[point].items())
            message = (
                f"{type(exc).__name__} in {_culprit(registry, exc)} at sweep point "
                f"{point} ({where or 'no sweep'}), trial {trial}, variant {variant!r}: {exc}"
            )
            if not spec.record_errors:
                raise TrialError(message) from exc
            outcomes.append(Outcome(point, trial, variant, {}, message))
            continue
        metrics["runtime_s"] = Metric(
            elapsed, "s", "wall-clock time of the variant's algorithms in this trial", timing=True
        )
        outcomes.append(Outcome(point, trial, variant, metrics))
    return outcomes


def run_job(spec: RunSpec, job: Job) -> tuple[Job, list[Outcome]]:
    """Entry point of every executor: run a chunk of trials in this process.

    BLAS runs single-threaded whatever the executor: N workers then use N cores, and the
    floating-point reductions (hence the numbers) do not depend on how many threads BLAS has.
    """
    registry = get_registry(spec.settings)
    outcomes = []
    with threadpool_limits(1):
        for trial in job.trials:
            outcomes.extend(run_trial(spec, registry, job.point, trial))
    return job, outcomes
