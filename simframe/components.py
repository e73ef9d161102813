"""Component base classes and the parameter declarations the core validates scenarios against.

A *component* is a class a plugin registers through one of the ``simframe_*`` hooks (see
:mod:`simframe.hookspecs`). It declares its scenario name, the kind of slot it fills, the
parameters it accepts (name, type, default, unit, one-line help) and, optionally, the system
models it works with. The core never looks inside a component beyond these declarations; the
method a component implements is defined by the system model that uses it (for instance
:class:`simframe_hmimo.interfaces.HmimoPhaseOptimiser`).
"""

from __future__ import annotations

import difflib
import enum
import inspect
import math
import os
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from simframe.boundary import structure_mismatch
from simframe.errors import ParameterError

if TYPE_CHECKING:
    import numpy as np

    from simframe.trial import Metric, MetricSpec, TrialContext


class ComponentKind(enum.Enum):
    """The kinds of component a scenario can choose, one registration hook each."""

    SYSTEM_MODEL = "system model"
    CHANNEL_MODEL = "channel model"
    PROPAGATION_MODEL = "propagation model"
    PHASE_OPTIMISER = "phase optimiser"
    POWER_ALLOCATOR = "power allocator"
    PILOT_SCHEME = "pilot scheme"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Default of a parameter that a scenario must set."""

_SCALAR_TYPES: tuple[type, ...] = (bool, int, float, str)

LEVEL_UNITS = ("dB", "dBm", "dBW", "dBi")
"""Logarithmic units: a value x stands for 10^(x/10) in linear units."""
MAX_LEVEL_DB = 1000.0
"""Largest magnitude of a level: 10^100 in linear units, whose products still fit in double
precision; a level beyond it makes the computations overflow (NaN, inf, OverflowError)."""


@dataclass(frozen=True)
class Parameter:
    """One parameter a component accepts from a scenario file.

    ``unit`` is the physical unit (``"m"``, ``"Hz"``, ``"dBm"``) of a ``float`` parameter,
    ``"1"`` for a dimensionless one (a ratio, a tolerance, an exponent); ``""`` for every other
    parameter: a count (layers, iterations, meta-atoms), a flag or a name is a setting, not a
    quantity with a unit. (A count stored as a metric has ``units = "1"``, as every
    dimensionless dataset variable: see :class:`simframe.Metric`.)
    ``check`` receives the value and returns an error message, or ``None`` when it is fine.
    ``plausible = (low, high)`` is the range of physically sensible values: a value outside it
    is accepted but warned about (a 6 Hz carrier, a 10 m thick SIM are typos more often than
    experiments), see :meth:`implausibility`.
    """

    name: str
    type: type
    default: Any = REQUIRED
    unit: str = ""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None
    plausible: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.type not in _SCALAR_TYPES:
            raise TypeError(f"parameter {self.name!r}: type must be one of bool, int, float, str")
        if not self.name.isidentifier():
            raise TypeError(f"parameter name {self.name!r} is not a Python identifier")
        if self.plausible is not None and (
            self.type not in (int, float) or not self.plausible[0] < self.plausible[1]
        ):
            raise TypeError(
                f"parameter {self.name!r}: plausible must be (low, high) with low < high, "
                "for a number"
            )

    def implausibility(self, value: Any) -> str | None:
        """Why ``value`` is physically implausible (outside ``plausible``), or ``None``."""
        if self.plausible is None or self.plausible[0] <= value <= self.plausible[1]:
            return None
        unit = f" {self.unit}" if self.unit and self.unit != "1" else ""
        low, high = self.plausible
        return (
            f"{value:g}{unit} is far outside the plausible range {low:g} to {high:g}{unit} "
            f"of the {self.help or self.name}; check the value (the run uses it as given)"
        )

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def expected(self) -> str:
        """Human description of an acceptable value, used in error messages."""
        text = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[
            self.type
        ]
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        if bounds:
            text += " " + " and ".join(bounds)
        if self.unit and self.unit != "1":
            text += f" in {self.unit}"
        return text

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ``ValueError``."""
        converted = self._converted(value)
        if converted is not None and self.type is float:
            if not math.isfinite(converted):
                raise ValueError(f"expected a finite number, got {converted!r}")
            if self.unit in LEVEL_UNITS and abs(converted) > MAX_LEVEL_DB:
                raise ValueError(
                    f"expected a level within ±{MAX_LEVEL_DB:g} {self.unit} (10^"
                    f"{MAX_LEVEL_DB / 10:g} in linear units; beyond it the computations "
                    f"overflow double precision), got {converted!r}"
                )
        if converted is None or not self._allows(converted):
            raise ValueError(f"expected {self.expected()}, got {reprlib.repr(value)}")
        if self.check is not None and (message := self.check(converted)) is not None:
            raise ValueError(message)
        return converted

    def _converted(self, value: Any) -> Any:
        """``value`` as this parameter's type, or ``None`` when it is of another type."""
        if self.type is bool:
            return value if isinstance(value, bool) else None
        if isinstance(value, bool):
            return None
        if self.type is int:
            return value if isinstance(value, int) else None
        if self.type is float:
            return float(value) if isinstance(value, int | float) else None
        return value if isinstance(value, str) else None

    def _allows(self, value: Any) -> bool:
        """Whether ``value`` (of this parameter's type) is among the choices and in bounds."""
        if self.choices is not None and value not in self.choices:
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return self.maximum is None or value <= self.maximum


def _first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc).splitlines()[0] if doc else ""


class Component:
    """Base class of every registrable component.

    Subclasses set the class attributes below; the docstring's first line is the summary that
    ``simframe plugins`` shows, the whole docstring is the component's documentation.
    Parameters arrive as keyword arguments already validated and with defaults filled in, and
    are available both as ``self.params[name]`` and as attributes ``self.<name>``.
    """

    kind: ClassVar[ComponentKind]
    """The kind of slot the component fills (its registration hook)."""
    name: ClassVar[str]
    """The name scenarios choose it by (``model = "..."``), unique within its kind."""
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    """The parameters a scenario may set, validated before the component is built."""
    systems: ClassVar[tuple[str, ...] | None] = None
    """System models this component works with; ``None`` means any."""

    def __init__(self, **params: Any):
        """Validate ``params`` against :attr:`parameters`, fill in defaults, set attributes.

        The scheduler passes values it has already validated; constructing a component directly
        (in a script or a test) gets the same checks and defaults.
        """
        resolved, problems = self.resolve_parameters(params)
        if problems:
            key, message = problems[0]
            raise ParameterError(key, message)
        self.params: Mapping[str, Any] = resolved
        for key, value in resolved.items():
            setattr(self, key, value)

    @classmethod
    def summary(cls) -> str:
        return _first_line(cls.__doc__)

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__) if cls.__doc__ else ""

    @classmethod
    def parameter(cls, name: str) -> Parameter | None:
        return next((p for p in cls.parameters if p.name == name), None)

    @classmethod
    def resolve_parameters(cls, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        """Validate ``given`` against :attr:`parameters`; see :func:`resolve_parameters`."""
        return resolve_parameters(cls.parameters, given, f"{cls.kind.value} {cls.name!r}")

    def implausible_parameters(self, table: str) -> list[str]:
        """``"TABLE.NAME = ...: why"`` for each parameter value outside its plausible range."""
        return [
            f"{table}.{p.name} = {why}"
            for p in self.parameters
            if p.name in self.params and (why := p.implausibility(self.params[p.name]))
        ]


Problem = tuple[str, str]
"""``(key, message)``: a parameter key and what is wrong with its value."""


def resolve_parameters(
    parameters: tuple[Parameter, ...], given: Mapping[str, Any], owner: str
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate ``given`` against ``parameters`` and fill in defaults.

    Returns the resolved values and every problem found, each as ``(key, message)`` for the
    caller to prefix with the path of the table in the scenario file.
    """
    resolved: dict[str, Any] = {}
    problems: list[Problem] = []
    known = [p.name for p in parameters]
    for key in given:
        if key not in known:
            problems.append((key, f"unknown parameter of {owner}{suggest(key, known)}"))
    for param in parameters:
        if param.name in given:
            try:
                resolved[param.name] = param.validate(given[param.name])
            except ValueError as exc:
                problems.append((param.name, str(exc)))
        elif param.required:
            problems.append((param.name, f"missing; expected {param.expected()}"))
        else:
            resolved[param.name] = param.default
    return resolved, problems


def suggest(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidates, or the valid names if none is close."""
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if candidates:
        return "; valid names: " + ", ".join(repr(c) for c in sorted(candidates))
    return ""


@dataclass(frozen=True)
class Slot:
    """A place in a system model that a scenario fills with a component of ``kind``."""

    kind: ComponentKind
    default: str
    help: str = ""


@dataclass(frozen=True)
class OptionGroup:
    """Settings of a plugin's physical-layer hooks, set in a scenario's ``[plugins.NAME]`` table.

    A group that a scenario does not mention is absent from ``trial.options``: hooks are meant
    to act only when their group is present, so installing a plugin never changes a result on
    its own. ``systems`` names the system models the group's hooks work with (``None``: any);
    a scenario that enables it for another system is refused before any trial runs.
    """

    name: str
    parameters: tuple[Parameter, ...]
    help: str = ""
    systems: tuple[str, ...] | None = None

    def resolve_parameters(self, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        return resolve_parameters(self.parameters, given, f"plugin option group {self.name!r}")


class SystemModel(Component):
    """A system whose trials the scheduler runs: it draws realisations and evaluates variants.

    The scheduler creates one instance per sweep point and variant, with its parameters and its
    slot components, and may reuse it for many trials: put deterministic precomputation
    (geometry, propagation matrices) in ``__init__`` and keep ``draw``/``simulate`` free of
    side effects on ``self``.
    """

    kind = ComponentKind.SYSTEM_MODEL
    slots: ClassVar[Mapping[str, Slot]] = {}
    """The system's slots by name: the scenario table (``[phases]``) each fills."""
    optional_outputs: ClassVar[Mapping[str, str]] = {}
    """Names a scenario may list in ``store`` (e.g. ``"channel"``), with a one-line help each."""
    references: ClassVar[str] = ""
    """Citation of the paper(s) the model implements, written to the dataset's attributes."""
    realisation_slots: ClassVar[tuple[str, ...] | None] = None
    """The slots whose components :meth:`draw` uses (e.g. ``("channel",)``); ``None`` means
    every slot.

    A realisation depends on the system's own parameters and on these slots' components. Sweep
    points that agree on them are *paired*: trial ``t`` of each draws the same realisation and
    the same random starts (common random numbers), so a sweep over a plugin option or an
    algorithm's setting compares like with like; points that differ in them draw independently
    (see :mod:`simframe.scenario.pairing`). Declare only the slots ``draw`` truly depends on:
    listing too few would pair points whose realisations differ in distribution.
    """
    trial_block: ClassVar[int] = 1
    """How many trials of one sweep point :meth:`simulate_block` receives at once by default.

    A scenario may override it (``[run] trial_block``). The block size never depends on the
    executor or the number of workers, so results do not either.
    """

    def __init__(self, components: Mapping[str, Component], **params: Any):
        super().__init__(**params)
        self.components = components

    def warnings(self) -> list[str]:
        """Problems of this configuration worth telling the user before the run starts."""
        return []

    def estimate_memory_bytes(self) -> int:
        """Rough peak memory one trial needs, so huge configurations are refused up front.

        Compute it from the parameters alone, so that :meth:`refuse_if_too_large` can call it
        before ``__init__`` allocates anything.
        """
        return 0

    def refuse_if_too_large(self, parameter: str) -> None:
        """Raise :class:`ParameterError` naming ``parameter`` when one trial cannot fit in memory.

        Call it in ``__init__`` before the precomputation allocates arrays, so that a scenario
        asking for a billion meta-atoms is refused with an estimate instead of exhausting memory.
        """
        needed = self.estimate_memory_bytes()
        available = physical_memory_bytes()
        if available and needed > available:
            raise ParameterError(
                parameter,
                f"one trial would need about {needed / 2**30:,.1f} GiB, more than the "
                f"{available / 2**30:,.1f} GiB of memory of this machine",
            )

    def declared_metrics(self, store: frozenset[str]) -> Mapping[str, MetricSpec]:
        """Every metric :meth:`simulate` returns for this configuration, by name.

        ``store`` holds the optional outputs (:attr:`optional_outputs`) the scenario asked to
        keep; declare the metrics they add only when they are asked for. Every system model
        must implement it: the core calls it when a scenario is validated, before any trial
        runs, to check what the scenario refers to (a ``[precision] metric`` must be declared
        by every variant and be a real quantity; names must not clash with the sweep's
        dimensions or with what the core writes itself, see
        :data:`simframe.trial.RESERVED_METRIC_NAMES`), and it checks every trial's metrics
        against it: a trial that returns other names, units, dims or kinds fails, naming this
        system model. Build each trial's metrics with :meth:`MetricSpec.metric` from the same
        declarations, and they always match.
        """
        raise NotImplementedError(
            f"system model {self.name!r} does not declare its metrics: implement "
            "SystemModel.declared_metrics"
        )

    def check_metrics(
        self, metrics: Mapping[str, Metric], declared: Mapping[str, MetricSpec]
    ) -> None:
        """Raise ``ValueError`` when a trial's ``metrics`` differ from ``declared`` (from
        :meth:`declared_metrics`) or hold NaN or infinite values (but for timings and labels);
        the core calls it on every trial this system simulates, which then fails."""
        missing = sorted(set(declared) - set(metrics))
        extra = sorted(set(metrics) - set(declared))
        problems = []
        if missing:
            problems.append(f"did not return the declared metric(s) {', '.join(missing)}")
        if extra:
            problems.append(f"returned undeclared metric(s) {', '.join(extra)}")
        for name in sorted(set(declared) & set(metrics)):
            if (why := declared[name].mismatch(metrics[name])) is not None:
                problems.append(f"returned {name!r} with {why}")
        if problems:
            raise ValueError(
                f"system model {self.name!r} broke its declared_metrics(): " + "; ".join(problems)
            )
        import numpy as np

        undefined = [
            name
            for name, metric in sorted(metrics.items())
            if not (metric.timing or metric.categorical) and not np.isfinite(metric.values).all()
        ]
        if undefined:  # failed, so that no mean is silently taken over fewer trials
            raise ValueError(
                f"system model {self.name!r} returned NaN or infinite values in "
                f"{', '.join(undefined)}; inputs beyond what double precision holds give them"
            )

    def check_estimate(self, realisation: Any, estimate: Any) -> str | None:
        """Why ``estimate``, returned by a ``simframe_channel_estimate`` hook, cannot stand
        for ``realisation`` (the true one), or ``None`` when it can.

        The core calls it on every estimate and fails the trial naming the hook's plugin. The
        default asks for the same structure: the same type, arrays of the same shape and kind
        of numbers (a real estimate of a complex channel is refused), through dataclass
        fields, tuples, lists and mappings (:func:`simframe.boundary.structure_mismatch`).
        Override it to check more.
        """
        return structure_mismatch(realisation, estimate, "estimate")

    def draw(self, rng: np.random.Generator) -> Any:
        """Draw one random realisation (positions, fading, ...) from ``rng``.

        Every variant of a trial receives a generator seeded identically, so variants are
        compared on the same realisation; so are the sweep points that agree on the system's
        parameters and on its :attr:`realisation_slots`. Use nothing but ``self.params`` and
        those slots' components here.
        """
        raise NotImplementedError

    def plausibility_warnings(self) -> list[str]:
        """Parameters of the system (``system.NAME``) and of its slot components
        (``SLOT.NAME``) set far outside their plausible ranges; warnings, not errors."""
        warnings = self.implausible_parameters("system")
        for slot, component in self.components.items():
            warnings += component.implausible_parameters(slot)
        return warnings

    def simulate(self, realisation: Any, trial: TrialContext) -> dict[str, Metric]:
        """Run this variant's algorithms on ``realisation`` and return its metrics.

        ``realisation`` is the true channel: compute metrics on it. Algorithms (phase
        optimisers, power allocators, pilot schemes) must be given ``trial.known_channel``
        instead, which is what a ``simframe_channel_estimate`` hook says they know (the
        realisation itself when no plugin models imperfect knowledge). Record per-trial
        quantities a metrics hook may want (effective channel, phases, powers, ...) in
        ``trial.quantities``, whether or not the scenario stores them.
        """
        raise NotImplementedError

    def simulate_block(
        self, realisations: Sequence[Any], trials: Sequence[TrialContext]
    ) -> list[dict[str, Metric]]:
        """Simulate several trials of this variant at once; one metrics dict per trial, in order.

        Override it when trials of a sweep point share work (e.g. one hop matrix multiplying
        every trial's fields in one product). The default calls :meth:`simulate` per trial.
        The result for a trial must not depend on which other trials share its block beyond
        floating-point round-off, and must be exactly reproducible for a fixed block.
        """
        return [self.simulate(r, t) for r, t in zip(realisations, trials, strict=True)]


def physical_memory_bytes() -> int:
    """Total memory of this machine (0 when the platform does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def check_component_class(cls: Any, kind: ComponentKind) -> str | None:
    """Why ``cls`` cannot be registered as a component of ``kind``, or ``None`` if it can."""
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        return f"{cls!r} is not a subclass of simframe.Component"
    if getattr(cls, "kind", None) is not kind:
        return f"{cls.__qualname__}.kind is {getattr(cls, 'kind', None)!r}, expected {kind!r}"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        return f"{cls.__qualname__}.name must be an identifier-like string, got {name!r}"
    reserved = {"model"}
    clash = reserved & {p.name for p in cls.parameters}
    if clash:
        return f"{cls.__qualname__} declares reserved parameter name(s) {sorted(clash)}"
    if issubclass(cls, SystemModel) and cls.realisation_slots is not None:
        unknown = sorted(set(cls.realisation_slots) - set(cls.slots))
        if unknown or isinstance(cls.realisation_slots, str):
            return (
                f"{cls.__qualname__}.realisation_slots must be a tuple of its slots "
                f"({', '.join(cls.slots) or 'none'}), got {cls.realisation_slots!r}"
            )
    return None


@dataclass
class ComponentInfo:
    """A registered component class with the plugin it came from."""

    cls: type[Component]
    origin: str
    kind: ComponentKind = field(init=False)

    def __post_init__(self) -> None:
        self.kind = self.cls.kind

    @property
    def name(self) -> str:
        return self.cls.name
