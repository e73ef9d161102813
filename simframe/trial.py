"""What a system model and the physical-layer hooks see of one trial, and what they return."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from simframe.errors import ContractError

if TYPE_CHECKING:
    from simframe.plugins import Registry

RUNTIME_METRIC = "runtime_s"
"""The wall-clock time per trial that the core measures and adds to every trial's metrics."""
ERROR_VARIABLE = "error"
"""The dataset variable holding the error text of failed trials."""
PRECISION_VARIABLES = ("trials_run", "half_width_reached")
"""The variables a ``[precision]`` run adds per sweep point."""
RESERVED_METRIC_NAMES = (RUNTIME_METRIC, ERROR_VARIABLE, *PRECISION_VARIABLES)
"""Dataset variables the core writes itself: no system or plugin may return a metric so named."""


@dataclass(frozen=True)
class Metric:
    """One per-trial result: a value with its unit, description and named dimensions.

    ``units`` follows CF/UDUNITS spelling (``"bit/s/Hz"``, ``"W"``, ``"dB"``), ``"1"`` for
    every dimensionless number, counts included (iterations, trials run): a dataset variable
    always has a unit. ``dims`` names the axes of ``values`` beyond the sweep, variant and
    trial dimensions the scheduler adds (e.g. ``("stream",)``). Sizes may differ between trials
    and sweep points; the dataset pads shorter ones with NaN. ``timing`` marks wall-clock
    measurements, the only values allowed to differ between two runs of the same scenario.
    ``categorical`` marks labels or indices (a pilot index, a serving AP): integers that are
    stored as such (attribute ``simframe_role = "categorical"``, no ``units``, -1 where a trial
    failed or was not run) and never averaged or plotted as a quantity.
    """

    values: Any
    units: str
    long_name: str
    dims: tuple[str, ...] = ()
    timing: bool = False
    categorical: bool = False

    def __post_init__(self) -> None:
        array = np.asarray(self.values)
        if array.ndim != len(self.dims):
            raise ValueError(
                f"metric {self.long_name!r}: values have {array.ndim} dimensions but dims "
                f"names {len(self.dims)}: {self.dims}"
            )
        if not self.units:
            raise ValueError(f"metric {self.long_name!r}: units are required ('1' if none)")
        if self.categorical and array.dtype.kind not in "biu":
            raise ValueError(
                f"metric {self.long_name!r}: categorical values must be integers (labels, "
                f"indices), got {array.dtype}"
            )
        object.__setattr__(self, "values", array)


@dataclass(frozen=True)
class MetricSpec:
    """A metric as a system model declares it before any trial runs (see
    :meth:`simframe.SystemModel.declared_metrics`): everything about it but its values.

    The fields mean what they mean on :class:`Metric`; ``complex`` says that the values are
    complex (stored as such, never cast to real). Build a trial's metric with :meth:`metric`,
    so that what a trial returns always matches what the system declared.
    """

    units: str
    long_name: str
    dims: tuple[str, ...] = ()
    timing: bool = False
    categorical: bool = False
    complex: bool = False

    def __post_init__(self) -> None:
        if not self.units:
            raise ValueError(f"metric {self.long_name!r}: units are required ('1' if none)")
        if self.categorical and (self.complex or self.timing):
            raise ValueError(
                f"metric {self.long_name!r}: a categorical metric holds integer labels; it "
                "cannot be complex or a timing"
            )

    @classmethod
    def of(cls, metric: Metric) -> MetricSpec:
        """The declaration ``metric`` matches."""
        return cls(
            metric.units,
            metric.long_name,
            metric.dims,
            metric.timing,
            metric.categorical,
            metric.values.dtype.kind == "c",
        )

    @property
    def estimable(self) -> bool:
        """Whether a mean over trials means something: real quantities, not labels or times."""
        return not (self.timing or self.categorical or self.complex)

    def metric(self, values: Any) -> Metric:
        """This metric of one trial, holding ``values``."""
        return Metric(values, self.units, self.long_name, self.dims, self.timing, self.categorical)

    def mismatch(self, metric: Metric) -> str | None:
        """How ``metric`` differs from this declaration, or ``None`` when it matches."""
        found = MetricSpec.of(metric)
        differences = [
            f"{f.name} {getattr(found, f.name)!r} instead of {getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(found, f.name) != getattr(self, f.name)
        ]
        return "; ".join(differences) or None


@dataclass
class TrialContext:
    """One trial of one variant at one sweep point, as the system model and hooks see it.

    ``rng`` is the stream of the algorithms' own randomness (random initial phases, ...), and
    :meth:`rng_for` gives every other user of randomness (a hook drawing an estimation error,
    say) a stream of its own. All of them are the same for every variant of a trial and do not
    depend on the executor, the worker count or the block a trial runs in. Trial ``t`` of sweep
    point ``p`` is seeded from ``SeedSequence(seed, spawn_key=(q, t))``, where ``q`` is the
    first sweep point whose system draws the same realisation as ``p`` (``q = p`` unless the
    sweep is paired, see ``docs/scenarios.md``); ``rng`` is its second child.
    ``options`` holds the scenario's ``[plugins.NAME]`` tables, ``store`` the optional outputs
    the scenario asked for.

    ``channel`` is the trial's true realisation (after the ``simframe_channel_drawn`` hooks);
    ``known_channel`` is what the variant's algorithms may use: the estimate a
    ``simframe_channel_estimate`` hook returned, or ``channel`` itself. Both are read-only (their
    arrays are read-only views). System models design on ``known_channel`` and evaluate
    metrics on ``channel``. ``quantities`` holds the per-trial
    quantities the system model computed (documented per system, e.g. ``"effective_channel"``,
    ``"phases"``, ``"powers_w"``), so a ``simframe_trial_metrics`` hook can use them whether or
    not the scenario stores them.
    """

    point_index: int
    trial_index: int
    variant: str
    point: Mapping[str, Any]
    rng: np.random.Generator
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    store: frozenset[str] = frozenset()
    registry: Registry | None = None
    """The plugins whose physical-layer hooks the trial calls (``None``: no hooks)."""
    channel: Any = None
    known_channel: Any = None
    quantities: dict[str, Any] = field(default_factory=dict)
    _streams: dict[str, np.random.Generator] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def rng_for(self, key: str) -> np.random.Generator:
        """This trial's random stream for ``key``, independent of :attr:`rng` and of every
        other key.

        Hooks draw from it instead of ``rng``, which belongs to the algorithms: a hook that
        drew from ``rng`` would change the optimisers' random starts, so that enabling it
        changed results even where it models nothing (an estimation error of size 0). Use a
        key of your own, e.g. your option group's name. The stream is deterministic in (seed,
        sweep point, trial, key), the same for every variant and whatever the executor, the
        worker count or the block; within one trial and variant, every call with the same key
        returns the same generator, its draws continuing.

        It is seeded from :attr:`rng`'s ``SeedSequence`` with the key's SHA-256 digest (eight
        32-bit words) appended to its ``spawn_key``.
        """
        if not isinstance(key, str) or not key:
            raise ValueError(f"rng_for needs a non-empty string key, got {key!r}")
        stream = self._streams.get(key)
        if stream is None:
            seed = self.rng.bit_generator.seed_seq
            if not isinstance(seed, np.random.SeedSequence):
                raise TypeError(
                    "rng_for needs trial.rng to be seeded from a numpy SeedSequence "
                    "(e.g. numpy.random.default_rng(7))"
                )
            words = np.frombuffer(hashlib.sha256(key.encode()).digest(), dtype="<u4")
            child = np.random.SeedSequence(
                seed.entropy, spawn_key=(*seed.spawn_key, *(int(w) for w in words))
            )
            stream = self._streams[key] = np.random.default_rng(child)
        return stream

    def stores(self, output: str) -> bool:
        """Whether the scenario asked to keep the optional output ``output``."""
        return output in self.store

    def phases_configured(self, phases: Mapping[str, np.ndarray]) -> None:
        """Let plugins modify ``phases`` in place (``simframe_phases_configured``) and check them.

        System models call this once, after the phase optimiser and before evaluating. The
        phases must be unit modulus when they arrive (a ``ValueError`` otherwise); after each
        hook implementation, every stack must still be there with its shape and unit modulus,
        or the trial fails naming that hook and its plugin.
        """
        problem = _phases_problem(phases, {})
        if problem is not None:
            raise ValueError(f"phases handed to the simframe_phases_configured hooks: {problem}")
        shapes = {stack: np.shape(values) for stack, values in phases.items()}
        hooks = (
            ()
            if self.registry is None
            else self.registry.implementations("simframe_phases_configured")
        )
        for hook in hooks:
            hook(trial=self, phases=phases)
            problem = _phases_problem(phases, shapes)
            if problem is not None:
                raise ContractError(hook, f"left the phases {problem}")


PHASE_TOLERANCE = 1e-9
"""Largest deviation of a configured coefficient's modulus from 1."""


def _phases_problem(
    phases: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]
) -> str | None:
    """What is wrong with ``phases``: a stack missing or added, or not of its shape in
    ``shapes`` (when given), not a complex array, or not unit modulus; ``None`` when fine."""
    if shapes and set(phases) != set(shapes):
        return f"with stacks {sorted(phases)} instead of {sorted(shapes)}"
    for stack, values in phases.items():
        if not (isinstance(values, np.ndarray) and values.dtype.kind == "c"):
            return f"of stack {stack!r} as {type(values).__name__}, not a complex numpy array"
        if shapes and values.shape != shapes[stack]:
            return f"of stack {stack!r} with shape {values.shape} instead of {shapes[stack]}"
        deviation = float(np.max(np.abs(np.abs(values) - 1.0), initial=0.0))
        if not deviation <= PHASE_TOLERANCE:
            return f"of stack {stack!r} not unit modulus (largest deviation {deviation:.3g})"
    return None
