"""Running trials: the function every executor (serial, process pool, dask) calls in a worker.

Everything a worker needs travels in a picklable :class:`RunSpec`; workers build their own
plugin registry from its settings and cache system instances per (point, variant), so the
deterministic precomputation of a sweep point (geometry, propagation) is done once per worker.
"""

from __future__ import annotations

import reprlib
import time
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType, MappingProxyType
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from simframe.boundary import read_only
from simframe.components import Component, SystemModel
from simframe.errors import ContractError
from simframe.hookspecs import PHYSICAL_LAYER_HOOKS
from simframe.plugins import HookImplementation, PluginSettings, Registry, get_registry
from simframe.scenario import Configuration
from simframe.trial import RESERVED_METRIC_NAMES, RUNTIME_METRIC, Metric, TrialContext


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
    seed_points: tuple[int, ...]
    """Per sweep point, the point whose seeds its trials use (``Scenario.seed_points``)."""


@dataclass(frozen=True)
class Job:
    """Consecutive blocks of trials of one sweep point, all variants of each.

    Blocks are ``[0, B), [B, 2B), ...`` for the scenario's block size ``B``; the boundaries
    never depend on the executor or worker count, so neither do the numbers. How many blocks
    travel in one job may depend on the worker count: each block is simulated on its own.
    """

    point: int
    blocks: tuple[tuple[int, ...], ...]

    @property
    def trials(self) -> tuple[int, ...]:
        return tuple(trial for block in self.blocks for trial in block)


@dataclass
class Outcome:
    """One trial of one variant: its metrics, or the error text when it failed."""

    point: int
    trial: int
    variant: str
    metrics: dict[str, Metric]
    error: str = ""


class TrialError(Exception):
    """A trial raised; the message names plugin, component, sweep point, trial and variant.

    ``details`` is the original exception's traceback, formatted in the worker that ran the
    trial (tracebacks do not survive pickling to the main process). ``repeatable`` says that
    running the trial again fails again: every trial is deterministic, unless the machine
    failed it (out of memory, an operating-system error).
    """

    def __init__(self, message: str, details: str = "", repeatable: bool = True):
        super().__init__(message, details, repeatable)
        self.message = message
        self.details = details
        self.repeatable = repeatable

    def __str__(self) -> str:
        return self.message


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


def _hook_implementations(registry: Registry) -> dict[CodeType, HookImplementation]:
    """Code of every physical-layer hook implementation -> the implementation (built when a
    trial fails, so never on the hot path)."""
    return {
        impl.function.__code__: impl
        for hook_name in PHYSICAL_LAYER_HOOKS
        for impl in registry.implementations(hook_name)
        if hasattr(impl.function, "__code__")
    }


def _component_name(registry: Registry, owner: object) -> str | None:
    for info in registry.all_components():
        if info.cls is type(owner):
            return f"{info.kind.value} {info.name!r} from {info.origin}"
    return None


def _culprit(registry: Registry, exc: BaseException) -> str:
    """Who raised ``exc`` and where: the innermost hook implementation or component method.

    Returns e.g. ``"hook simframe_trial_metrics of plugin my_plugin (my_plugin.py:42)"`` or
    ``"phase optimiser 'rmax' from simframe_hmimo (.../rmax.py:80)"``; when the exception was
    raised deeper (in numpy, say), its raising frame follows: ``", raised at FILE:LINE"``.
    """
    if isinstance(exc, ContractError):
        author = exc.author
        if isinstance(author, HookImplementation):
            return f"{author} ({author.defined_at})"
        if isinstance(author, Component):
            return _component_name(registry, author) or type(author).__qualname__
    frames = list(traceback.walk_tb(exc.__traceback__))
    hooks = _hook_implementations(registry)
    raised = ""
    if frames:
        frame, line = frames[-1]
        raised = f"{frame.f_code.co_filename}:{line}"
    for frame, line in reversed(frames):
        hook = hooks.get(frame.f_code)
        name = None if hook is None else str(hook)
        owner = frame.f_locals.get("self")
        if name is None and isinstance(owner, Component):
            name = _component_name(registry, owner)
        if name is not None:
            here = f"{frame.f_code.co_filename}:{line}"
            return f"{name} ({here})" + ("" if here == raised else f", raised at {raised}")
    return f"the simframe core, raised at {raised}"


def _merge_plugin_metrics(
    registry: Registry, trial: TrialContext, metrics: dict[str, Metric]
) -> None:
    """Add what every ``simframe_trial_metrics`` implementation returns to ``metrics``."""
    system_metrics = MappingProxyType(dict(metrics))
    for hook in registry.implementations("simframe_trial_metrics"):
        extra = hook(trial=trial, metrics=system_metrics)
        if extra is None:
            continue
        if not isinstance(extra, Mapping):
            raise ContractError(
                hook, f"returned {type(extra).__name__}, expected a mapping of names to Metric"
            )
        for name, metric in extra.items():
            if name in RESERVED_METRIC_NAMES:
                raise ContractError(
                    hook,
                    f"returned {name!r}, a name the core writes itself (reserved: "
                    f"{', '.join(RESERVED_METRIC_NAMES)})",
                )
            if name in metrics:
                raise ContractError(
                    hook, f"returned {name!r}, which the system or another plugin returns too"
                )
            if not isinstance(metric, Metric):
                raise ContractError(
                    hook, f"returned {reprlib.repr(metric)} for {name!r}, expected a Metric"
                )
            taken = {*trial.point, "variant", "trial"}
            if clash := taken & {name, *metric.dims}:
                raise ContractError(
                    hook,
                    f"returned {name!r} with dims {metric.dims}, using {', '.join(sorted(clash))}, "
                    "the name of a dimension of the dataset (the sweep's, variant or trial)",
                )
            metrics[name] = metric


def _channel_estimate(
    registry: Registry, system: SystemModel, trial: TrialContext, truth: Any
) -> Any:
    """What the variant's algorithms know of the channel ``truth`` (read-only): the estimate of
    the one implementation of ``simframe_channel_estimate`` that returns one, checked against
    the truth, or the truth itself."""
    answers = []
    for hook in registry.implementations("simframe_channel_estimate"):
        estimate = hook(trial=trial, channel=truth)
        if estimate is not None:
            answers.append((hook, estimate))
    if not answers:
        return truth
    if len(answers) > 1:
        authors = " and ".join(str(hook) for hook, _ in answers)
        raise ContractError(
            answers[1][0],
            f"both {authors} returned a channel estimate; only one plugin may model what the "
            "algorithms know of the channel: enable the option group of one of them",
        )
    hook, estimate = answers[0]
    if estimate is not truth and (problem := system.check_estimate(truth, estimate)):
        raise ContractError(
            hook,
            f"returned an estimate that cannot stand for the true channel of "
            f"{system.name!r}: {problem}",
        )
    return read_only(estimate)


@dataclass
class _Prepared:
    """A trial of one variant, drawn and passed through the channel hooks, ready to simulate."""

    trial: int
    realisation: Any
    context: TrialContext


class _Block:
    """One variant's trials of a block at one sweep point: preparation, simulation, metrics.

    Trial ``t`` draws its realisation from ``SeedSequence(entropy, spawn_key=(q, t))``'s first
    child and its algorithms' generator from the second, whatever block it is in; ``q`` is the
    point's seed point (itself unless the sweep is paired, see
    :mod:`simframe.scenario.pairing`).
    """

    def __init__(self, spec: RunSpec, registry: Registry, point: int, variant: str):
        self.spec = spec
        self.registry = registry
        self.point = point
        self.variant = variant
        self.outcomes: dict[int, Outcome] = {}

    def fail(self, trial: int, exc: Exception) -> None:
        """Record (``--keep-going``) or raise the failure of ``trial``."""
        where = ", ".join(f"{k}={v}" for k, v in self.spec.coordinates[self.point].items())
        message = (
            f"{type(exc).__name__} in {_culprit(self.registry, exc)} at sweep point "
            f"{self.point} ({where or 'no sweep'}), trial {trial}, variant {self.variant!r}: {exc}"
        )
        if not self.spec.record_errors:
            details = "".join(traceback.format_exception(exc))
            repeatable = not isinstance(exc, MemoryError | OSError)
            raise TrialError(message, details, repeatable) from exc
        self.outcomes[trial] = Outcome(self.point, trial, self.variant, {}, message)

    def prepare(self, system: SystemModel, trial: int) -> _Prepared | None:
        seed_point = self.spec.seed_points[self.point]
        sequence = np.random.SeedSequence(self.spec.entropy, spawn_key=(seed_point, trial))
        channel_seed, algorithm_seed = sequence.spawn(2)
        context = TrialContext(
            point_index=self.point,
            trial_index=trial,
            variant=self.variant,
            point=self.spec.coordinates[self.point],
            rng=np.random.default_rng(algorithm_seed),
            options=self.spec.configurations[(self.point, self.variant)].options,
            store=self.spec.store,
            registry=self.registry,
        )
        try:
            drawn = system.draw(np.random.default_rng(channel_seed))
            self.registry.hook.simframe_channel_drawn(trial=context, channel=drawn)
            realisation = read_only(drawn)  # from here on, nobody changes the truth
            context.channel = realisation
            known = _channel_estimate(self.registry, system, context, realisation)
        except Exception as exc:
            self.fail(trial, exc)
            return None
        context.known_channel = known
        return _Prepared(trial, realisation, context)

    def run(self, trials: tuple[int, ...]) -> None:
        """Simulate ``trials`` as one block; if it raises, rerun them singly to find the culprit.

        The rerun isolates the failing trials; the others then come from blocks of one trial,
        which is as reproducible as the full block (it happens identically on every run).
        """
        try:
            system = _system(self.spec, self.registry, self.point, self.variant)
        except Exception as exc:
            for trial in trials:
                self.fail(trial, exc)
            return
        prepared = [p for t in trials if (p := self.prepare(system, t)) is not None]
        if not prepared:
            return
        try:
            self._simulate(system, prepared)
            return
        except Exception as exc:
            if len(prepared) == 1:
                self.fail(prepared[0].trial, exc)
                return
        # Outside the handler, so that a single trial's exception is not chained to the block's.
        for one in prepared:
            again = self.prepare(system, one.trial)
            if again is None:
                continue
            try:
                self._simulate(system, [again])
            except Exception as single:
                self.fail(one.trial, single)

    def _simulate(self, system: SystemModel, prepared: list[_Prepared]) -> None:
        contexts = [p.context for p in prepared]
        start = time.perf_counter()
        results = system.simulate_block([p.realisation for p in prepared], contexts)
        elapsed = (time.perf_counter() - start) / len(prepared)
        if len(results) != len(prepared):
            raise ValueError(
                f"{type(system).__name__}.simulate_block returned {len(results)} results "
                f"for {len(prepared)} trials"
            )
        declared = system.declared_metrics(self.spec.store)
        finished = {}
        for one, result in zip(prepared, results, strict=True):
            system.check_metrics(result, declared)
            metrics = dict(result)
            _merge_plugin_metrics(self.registry, one.context, metrics)
            metrics[RUNTIME_METRIC] = Metric(
                elapsed,
                "s",
                "wall-clock time of the variant's algorithms per trial "
                "(time of its block of trials / trials in the block)",
                timing=True,
            )
            finished[one.trial] = Outcome(self.point, one.trial, self.variant, metrics)
        self.outcomes.update(finished)


def run_block(
    spec: RunSpec, registry: Registry, point: int, trials: tuple[int, ...]
) -> list[Outcome]:
    """Every variant of a block of trials, on identically seeded draws (paired comparison)."""
    outcomes = []
    for variant in spec.variants:
        block = _Block(spec, registry, point, variant)
        block.run(trials)
        outcomes.extend(block.outcomes[t] for t in sorted(block.outcomes))
    return outcomes


def run_job(spec: RunSpec, job: Job) -> tuple[Job, list[Outcome]]:
    """Entry point of every executor: run a job's blocks of trials in this process.

    BLAS runs single-threaded whatever the executor: N workers then use N cores, and the
    floating-point reductions (hence the numbers) do not depend on how many threads BLAS has.
    """
    registry = get_registry(spec.settings)
    outcomes = []
    with threadpool_limits(1):
        for block in job.blocks:
            outcomes.extend(run_block(spec, registry, job.point, block))
    return job, outcomes
