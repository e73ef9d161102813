"""What the scenario's systems declare they return, checked before any trial runs: the
declarations themselves, their agreement across variants and sweep points, and the
``[precision]`` metric."""

from __future__ import annotations

from collections.abc import Mapping

from simframe.components import SystemModel, suggest
from simframe.precision import PrecisionTarget
from simframe.scenario.problems import Problems
from simframe.trial import RESERVED_METRIC_NAMES, MetricSpec


class DeclaredMetrics:
    """The metrics declared by every configuration of a scenario, gathered one at a time."""

    def __init__(self, store: frozenset[str], problems: Problems):
        self.store = store
        self.problems = problems
        self.specs: dict[str, MetricSpec] = {}
        """Every metric name any configuration declares, with its declaration."""
        self.first_declared_by: dict[str, str] = {}
        self.by_variant: dict[str, set[str]] = {}
        """Variant -> the names every one of its configurations declares."""
        self._checked: set[tuple[str, tuple[tuple[object, object], ...]]] = set()
        """(variant, declarations) already checked: most configurations repeat one."""

    def add(self, system: SystemModel, variant: str, label: str) -> None:
        """Check and record what ``system`` (the variant's system at sweep point ``label``)
        declares."""
        where = f"variant {variant!r}" + (f" at sweep point {label}" if label else "")
        try:
            declared = system.declared_metrics(self.store)
        except NotImplementedError as exc:
            self.problems.add("system.model", f"{exc} (a plugin bug)")
            return
        if not isinstance(declared, Mapping):
            self.problems.add(
                "system.model",
                f"{system.name}.declared_metrics() returned {type(declared).__name__}, "
                "expected a mapping of metric names to MetricSpec (a plugin bug)",
            )
            return
        try:
            seen = (variant, tuple(declared.items()))
            if seen in self._checked:
                return
            self._checked.add(seen)
        except TypeError:  # unhashable declarations: checked (and reported) below
            pass
        for name, spec in declared.items():
            self._check_one(system, name, spec, where)
        names = {name for name in declared if isinstance(name, str)}
        known = self.by_variant.get(variant)
        self.by_variant[variant] = names if known is None else known & names

    def _check_one(self, system: SystemModel, name: object, spec: object, where: str) -> None:
        owner = f"system model {system.name!r}"
        if not isinstance(name, str) or not name.isidentifier():
            self.problems.add(
                "system.model",
                f"{owner} declares a metric named {name!r}; names must be "
                "identifiers (a plugin bug)",
            )
            return
        if not isinstance(spec, MetricSpec):
            self.problems.add(
                "system.model",
                f"{owner} declares {name!r} as {spec!r}, expected a simframe.MetricSpec "
                "(a plugin bug)",
            )
            return
        if name in RESERVED_METRIC_NAMES:
            self.problems.add(
                "system.model",
                f"{owner} declares {name!r}, a name the core writes itself (reserved: "
                f"{', '.join(RESERVED_METRIC_NAMES)}) (a plugin bug)",
            )
            return
        previous = self.specs.setdefault(name, spec)
        self.first_declared_by.setdefault(name, where)
        if previous != spec:
            self.problems.add(
                "system.model",
                f"metric {name!r} is declared differently by {self.first_declared_by[name]} "
                f"({previous}) and by {where} ({spec}); one dataset variable cannot hold both",
            )

    def check_precision(self, target: PrecisionTarget | None) -> None:
        """The ``[precision]`` metric must be a real quantity that every variant returns."""
        if target is None or not self.by_variant:
            return
        name = target.metric
        spec = self.specs.get(name)
        if spec is None:
            candidates = sorted(n for n, s in self.specs.items() if s.estimable)
            self.problems.add(
                "precision.metric",
                f"{name!r} is not a metric of this scenario's system{suggest(name, candidates)}",
            )
            return
        lacking = sorted(v for v, names in self.by_variant.items() if name not in names)
        if lacking:
            self.problems.add(
                "precision.metric",
                f"{name!r} is not returned by variant(s) {', '.join(lacking)}; the [precision] "
                "target needs it from every variant",
            )
        if not spec.estimable:
            kind = "a timing" if spec.timing else "categorical" if spec.categorical else "complex"
            self.problems.add(
                "precision.metric",
                f"{name!r} is {kind}: its mean over trials is not a quantity to estimate; "
                "choose a real-valued metric",
            )
