"""Scenario files: loading, validation and expansion into sweep points and variants.

A scenario is declarative TOML; nothing in it is ever executed. Validation collects every
problem, each naming the key path in the file, what was expected and, for unknown names, the
closest valid ones. See ``docs/scenarios.md`` for the format.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import reprlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from simframe.components import (
    ComponentKind,
    Parameter,
    SystemModel,
    resolve_parameters,
    suggest,
)
from simframe.errors import ParameterError, ScenarioError
from simframe.plugins import Registry
from simframe.precision import PrecisionTarget

GENERAL_KEYS = ("title", "description", "trials", "seed", "store")
STRUCTURE_KEYS = ("system", "sweep", "variants", "plugins", "run", "precision")
MAX_TRIAL_BLOCK = 100_000
RESERVED_DIMS = ("variant", "trial")
MAX_TRIALS_TOTAL = 10_000_000
MAX_POINTS = 100_000


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

    def build(self, registry: Registry) -> SystemModel:
        """Instantiate the system model with its slot components."""
        system_cls = registry.get(ComponentKind.SYSTEM_MODEL, self.system_model).cls
        components = {
            slot: registry.get(system_cls.slots[slot].kind, choice.model).cls(**choice.params)  # type: ignore[attr-defined]
            for slot, choice in self.slots.items()
        }
        return system_cls(components, **self.system_params)  # type: ignore[call-arg]

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
    precision: PrecisionTarget | None = None
    """The ``[precision]`` target; ``trials`` is then the most trials a point may run."""

    def blocks(self) -> list[range]:
        """Trials ``[0, trials)`` cut into blocks ``[0, B), [B, 2B), ...`` of the scenario's size.

        The boundaries depend only on the block size, never on the executor or worker count.
        """
        trials, size = self.trials, self.trial_block
        return [range(start, min(start + size, trials)) for start in range(0, trials, size)]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(axis) for axis in self.axes)

    @property
    def n_points(self) -> int:
        return math.prod(self.shape)

    def point_coordinates(self, point: int) -> dict[str, Any]:
        """Sweep coordinate values of a point (flat index, last axis fastest)."""
        index = _unravel(point, self.shape)
        return {axis.dim: axis.values[0][i] for axis, i in zip(self.axes, index, strict=True)}

    def point_index(self, point: int) -> tuple[int, ...]:
        return _unravel(point, self.shape)

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
        text = json.dumps(payload, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()


def _where(warning: str, points: set[tuple[int, ...]], axes: list[SweepAxis]) -> str:
    """A warning once, with the sweep points it concerns, naming only the dims it depends on.

    A dim is left out when the warning arose at every value of it for the other dims' values
    (e.g. a geometry warning under a swept transmit power); a warning of every point is given
    without points.
    """
    shape = tuple(len(axis) for axis in axes)
    free = [
        all((*p[:a], j, *p[a + 1 :]) in points for p in points for j in range(shape[a]))
        for a in range(len(axes))
    ]
    if all(free):
        return warning
    kept = sorted({tuple(i for a, i in enumerate(p) if not free[a]) for p in points})
    named = [axis for a, axis in enumerate(axes) if not free[a]]
    labels = [
        ", ".join(f"{axis.dim}={axis.values[0][i]}" for axis, i in zip(named, k, strict=True))
        for k in kept
    ]
    noun = "point" if len(labels) == 1 else "points"
    return f"{warning} (at sweep {noun} {'; '.join(labels)})"


def _positive(value: float) -> str | None:
    return None if value > 0 else f"expected a number > 0, got {value!r}"


def _open_unit(value: float) -> str | None:
    return (
        None if 0 < value < 1 else f"expected a number between 0 and 1 (exclusive), got {value!r}"
    )


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Flat point index -> index per sweep axis (C order: the last axis varies fastest)."""
    return tuple(int(i) for i in np.unravel_index(flat, shape))


class _Problems:
    """Collects ``key 'path': message`` lines, without duplicates, in order."""

    def __init__(self) -> None:
        self._lines: dict[str, None] = {}  # an ordered set
        self.reported = 0
        """Problems reported so far, duplicates included (to tell whether a step found any)."""

    @property
    def items(self) -> list[str]:
        return list(self._lines)

    def add(self, path: str, message: str) -> None:
        self.reported += 1
        self._lines[f"key '{path}': {message}" if path else message] = None

    def __bool__(self) -> bool:
        return bool(self._lines)


def _describe(value: Any) -> str:
    return reprlib.repr(value)


def parse_override(text: str) -> tuple[str, Any]:
    """``--set key.path=value``; the value is read as TOML, or taken as a bare string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError("--set", [f"{text!r}: expected KEY=VALUE, e.g. system.tx_layers=3"])
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def _apply_override(raw: dict[str, Any], key: str, value: Any, problems: _Problems) -> None:
    parts = key.split(".")
    table = raw
    for part in parts[:-1]:
        existing = table.setdefault(part, {})
        if not isinstance(existing, dict):
            problems.add(key, f"--set cannot descend into {part!r}, which is not a table")
            return
        table = existing
    table[parts[-1]] = value


def _flatten_sweep(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sweep tables -> ``{"system.tx_layers": [...]}`` (quoted dotted keys work too)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten_sweep(value, path + "."))
        else:
            flat[path] = value
    return flat


class _Loader:
    """One scenario file's validation; every check adds to ``problems`` instead of raising."""

    def __init__(self, source: str, raw: dict[str, Any], registry: Registry):
        self.source = source
        self.raw = raw
        self.registry = registry
        self.problems = _Problems()

    # --- small checks ---------------------------------------------------------------------

    def _table(self, value: Any, path: str) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.problems.add(path, f"expected a table, got {_describe(value)}")
        return {}

    def _general(self) -> tuple[str, str, int, int, list[str]]:
        specs = {
            "title": Parameter("title", str, help="title"),
            "description": Parameter("description", str, ""),
            "trials": Parameter("trials", int, minimum=1, maximum=MAX_TRIALS_TOTAL),
            "seed": Parameter("seed", int, minimum=0, maximum=2**128 - 1),
        }
        values: dict[str, Any] = {}
        precision = self.raw.get("precision")
        if isinstance(precision, dict) and "max_trials" in precision:
            specs["trials"] = Parameter("trials", int, None, minimum=1, maximum=MAX_TRIALS_TOTAL)
        for key, spec in specs.items():
            if key not in self.raw:
                if spec.required:
                    self.problems.add(key, f"missing; expected {spec.expected()}")
                values[key] = spec.default if not spec.required else None
                continue
            try:
                values[key] = spec.validate(self.raw[key])
            except ValueError as exc:
                self.problems.add(key, str(exc))
                values[key] = None
        store = self.raw.get("store", [])
        if not (isinstance(store, list) and all(isinstance(s, str) for s in store)):
            self.problems.add("store", f"expected a list of strings, got {_describe(store)}")
            store = []
        return values["title"], values["description"], values["trials"], values["seed"], store

    def _settings(
        self, table: str, parameters: tuple[Parameter, ...], owner: str
    ) -> dict[str, Any] | None:
        """Validate the top-level table ``table`` against ``parameters``; None on problems."""
        given = self._table(self.raw.get(table, {}), table)
        resolved, problems = resolve_parameters(parameters, given, owner)
        for key, message in problems:
            self.problems.add(f"{table}.{key}", message)
        return None if problems else resolved

    def _trial_block(self, system_cls: type[SystemModel]) -> int:
        default = system_cls.trial_block
        if not (isinstance(default, int) and 1 <= default <= MAX_TRIAL_BLOCK):
            self.problems.add(
                "system.model",
                f"system model {system_cls.name!r} declares trial_block = {default!r}; "
                f"expected an integer from 1 to {MAX_TRIAL_BLOCK} (a plugin bug)",
            )
            default = 1
        parameters = (
            Parameter(
                "trial_block",
                int,
                default,
                help="trials of one sweep point simulated together",
                minimum=1,
                maximum=MAX_TRIAL_BLOCK,
            ),
        )
        resolved = self._settings("run", parameters, "the [run] table")
        return default if resolved is None else resolved["trial_block"]

    def _precision(self, trials: int | None) -> tuple[PrecisionTarget | None, int | None]:
        """The ``[precision]`` target and the trials a point may run at most."""
        if "precision" not in self.raw:
            return None, trials
        parameters = (
            Parameter("metric", str, help="metric whose mean must be precise"),
            Parameter("half_width", float, None, help="absolute target", check=_positive),
            Parameter("relative", float, None, help="target relative to |mean|", check=_positive),
            Parameter("level", float, 0.95, help="confidence level", check=_open_unit),
            Parameter("min_trials", int, 10, help="trials before any stop", minimum=2),
            Parameter(
                "max_trials",
                int,
                trials,
                help="most trials per point",
                minimum=2,
                maximum=MAX_TRIALS_TOTAL,
            ),
        )
        resolved = self._settings("precision", parameters, "the [precision] table")
        if resolved is None:
            return None, trials
        given = self.raw["precision"]
        if ("half_width" in given) == ("relative" in given):
            self.problems.add(
                "precision",
                "expected exactly one of 'half_width' (in the metric's units) or 'relative' "
                "(a fraction of the mean's magnitude)",
            )
            return None, trials
        maximum = resolved["max_trials"]
        if maximum is None:  # 'trials' is missing or invalid, already reported
            return None, trials
        if trials is not None and "trials" in self.raw and maximum != trials:
            self.problems.add(
                "precision.max_trials",
                f"{maximum} differs from trials = {trials}; with [precision], 'trials' is the "
                "most trials a point may run: give one of the two",
            )
            return None, trials
        if resolved["min_trials"] > maximum:
            self.problems.add(
                "precision.min_trials",
                f"{resolved['min_trials']} exceeds the most trials a point may run ({maximum})",
            )
            return None, trials
        return PrecisionTarget(**resolved), maximum

    def _system_class(self) -> type[SystemModel] | None:
        system = self._table(self.raw.get("system", {}), "system")
        if "system" not in self.raw:
            self.problems.add("system", "missing; expected a [system] table with a 'model' key")
            return None
        model = system.get("model")
        names = list(self.registry.components[ComponentKind.SYSTEM_MODEL])
        if not isinstance(model, str):
            self.problems.add(
                "system.model", f"expected the name of a system model ({', '.join(names)})"
            )
            return None
        try:
            return self.registry.get(ComponentKind.SYSTEM_MODEL, model).cls  # type: ignore[return-value]
        except KeyError as exc:
            self.problems.add("system.model", str(exc.args[0]))
            return None

    # --- composition with provenance ------------------------------------------------------

    def _base_tables(self, system_cls: type[SystemModel]) -> dict[str, dict[str, Any]]:
        tables: dict[str, dict[str, Any]] = {}
        system = dict(self._table(self.raw.get("system", {}), "system"))
        system.pop("model", None)
        tables["system"] = {k: (v, f"system.{k}") for k, v in system.items()}
        for slot in system_cls.slots:
            table = self._table(self.raw.get(slot, {}), slot)
            tables[slot] = {k: (v, f"{slot}.{k}") for k, v in table.items()}
        plugins = self._table(self.raw.get("plugins", {}), "plugins")
        for group, table in plugins.items():
            entries = self._table(table, f"plugins.{group}")
            tables[f"plugins.{group}"] = {
                k: (v, f"plugins.{group}.{k}") for k, v in entries.items()
            }
        return tables

    def _variant_tables(
        self, system_cls: type[SystemModel], base: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        raw_variants = self._table(self.raw.get("variants", {}), "variants")
        if not raw_variants:
            return {"default": base}
        allowed = ["system", "plugins", *system_cls.slots]
        variants = {}
        for name, body in raw_variants.items():
            path = f"variants.{name}"
            body = self._table(body, path)
            tables = {key: dict(entries) for key, entries in base.items()}
            for key, value in body.items():
                if key == "label":  # shown in figures' legends (ds.simframe.variant_labels)
                    if not isinstance(value, str) or not value.strip():
                        self.problems.add(f"{path}.label", "expected a non-empty string")
                    continue
                if key not in allowed:
                    self.problems.add(
                        f"{path}.{key}",
                        "a variant can set 'label' and override only 'system', 'plugins' and "
                        f"the slots of {system_cls.name!r}{suggest(key, [*allowed, 'label'])}",
                    )
                    continue
                value = self._table(value, f"{path}.{key}")
                if key == "plugins":
                    for group, entries in value.items():
                        entries = self._table(entries, f"{path}.plugins.{group}")
                        merged = tables.setdefault(f"plugins.{group}", {})
                        merged.update(
                            {k: (v, f"{path}.plugins.{group}.{k}") for k, v in entries.items()}
                        )
                    continue
                if key == "system" and "model" in value:
                    self.problems.add(f"{path}.system.model", "a variant cannot change the system")
                    continue
                given = {k: (v, f"{path}.{key}.{k}") for k, v in value.items()}
                default = system_cls.slots[key].default if key in system_cls.slots else None
                base_model = tables[key].get("model", (default,))[0]
                if "model" in value and value["model"] != base_model:
                    tables[key] = given
                else:
                    tables[key].update(given)
            variants[name] = tables
        return variants

    def _axes(self, system_cls: type[SystemModel]) -> list[SweepAxis]:
        sweep = self._table(self.raw.get("sweep", {}), "sweep")
        linked = self._table(sweep.get("linked", {}), "sweep.linked")
        groups: list[tuple[str | None, str, dict[str, Any]]] = []
        cartesian = _flatten_sweep({k: v for k, v in sweep.items() if k != "linked"})
        for path, values in cartesian.items():
            groups.append((None, "sweep", {path: values}))
        for name, body in linked.items():
            body = _flatten_sweep(self._table(body, f"sweep.linked.{name}"))
            if not body:
                self.problems.add(f"sweep.linked.{name}", "a linked group needs at least one key")
                continue
            groups.append((name, f"sweep.linked.{name}", body))
        axes = []
        for group_name, label, body in groups:
            axis = self._axis(system_cls, group_name, label, body)
            if axis is not None:
                axes.append(axis)
        dims = [a.dim for a in axes]
        for dim in dims:
            if dims.count(dim) > 1:
                self.problems.add("sweep", f"two sweep dimensions are both named {dim!r}")
            if dim in RESERVED_DIMS:
                self.problems.add("sweep", f"{dim!r} is a reserved dimension name")
        return axes

    def _axis(
        self,
        system_cls: type[SystemModel],
        group_name: str | None,
        label: str,
        body: dict[str, Any],
    ) -> SweepAxis | None:
        lengths = set()
        ok = True
        for path, values in body.items():
            where = f"{label}.{path}"
            parts = path.split(".")
            valid_table = parts[0] in ("system", *system_cls.slots) and len(parts) == 2
            valid_plugin = parts[0] == "plugins" and len(parts) == 3
            if not (valid_table or valid_plugin) or path == "system.model":
                tables = ["system", *system_cls.slots, "plugins"]
                self.problems.add(
                    where,
                    "expected a dotted path TABLE.PARAMETER (or plugins.GROUP.PARAMETER) "
                    f"with TABLE one of {', '.join(tables)}{suggest(parts[0], tables)}",
                )
                ok = False
            elif parts[0] == "system" and parts[1] not in {p.name for p in system_cls.parameters}:
                names = [p.name for p in system_cls.parameters]
                self.problems.add(
                    where,
                    f"{system_cls.name!r} has no parameter {parts[1]!r}{suggest(parts[1], names)}",
                )
                ok = False
            if not isinstance(values, list) or not values:
                self.problems.add(
                    where, f"expected a non-empty list of values, got {_describe(values)}"
                )
                ok = False
                continue
            lengths.add(len(values))
        if not ok:
            return None
        if len(lengths) > 1:
            self.problems.add(label, f"linked lists must have equal lengths, got {sorted(lengths)}")
            return None
        paths = tuple(body)
        first = paths[0]
        table, param = first.rsplit(".", 1)
        if group_name is not None:
            dim = group_name
        elif param == "model":
            dim = f"{table}_model"
        else:
            dim = param
        firsts = body[first]
        if len({json.dumps(v, default=repr) for v in firsts}) != len(firsts):
            self.problems.add(
                f"{label}.{first}", "the values of a sweep dimension must be distinct"
            )
        return SweepAxis(
            dim=dim,
            paths=paths,
            values=tuple(tuple(body[p]) for p in paths),
            units="",
            long_name=first,
            source=label,
        )

    # --- resolution -----------------------------------------------------------------------

    def _resolve(
        self, system_cls: type[SystemModel], tables: dict[str, dict[str, Any]]
    ) -> Configuration | None:
        problems_before = self.problems.reported
        system_given = {k: v for k, (v, _) in tables["system"].items()}
        system_params = self._resolve_params(
            system_cls.resolve_parameters, system_given, tables["system"], "system"
        )
        slots: dict[str, ComponentChoice] = {}
        for slot_name, slot in system_cls.slots.items():
            entries = tables[slot_name]
            model, model_path = entries.get("model", (slot.default, f"{slot_name}.model"))
            given = {k: v for k, (v, _) in entries.items() if k != "model"}
            if not isinstance(model, str):
                self.problems.add(model_path, f"expected the name of a {slot.kind.value}")
                continue
            try:
                info = self.registry.get(slot.kind, model)
            except KeyError as exc:
                self.problems.add(model_path, str(exc.args[0]))
                continue
            if info.cls.systems is not None and system_cls.name not in info.cls.systems:
                compatible = [
                    n
                    for n, i in self.registry.components[slot.kind].items()
                    if i.cls.systems is None or system_cls.name in i.cls.systems
                ]
                self.problems.add(
                    model_path,
                    f"{slot.kind.value} {model!r} does not work with system {system_cls.name!r}; "
                    f"compatible: {', '.join(sorted(compatible))}",
                )
                continue
            params = self._resolve_params(info.cls.resolve_parameters, given, entries, slot_name)
            slots[slot_name] = ComponentChoice(model, params)
        options: dict[str, dict[str, Any]] = {}
        for key, entries in tables.items():
            if not key.startswith("plugins."):
                continue
            group_name = key.split(".", 1)[1]
            if group_name not in self.registry.option_groups:
                self.problems.add(
                    key,
                    f"no installed plugin declares option group {group_name!r}"
                    f"{suggest(group_name, list(self.registry.option_groups))}",
                )
                continue
            group = self.registry.option_groups[group_name][0]
            given = {k: v for k, (v, _) in entries.items()}
            options[group_name] = self._resolve_params(
                group.resolve_parameters, given, entries, key
            )
        if self.problems.reported > problems_before:
            return None
        return Configuration(system_cls.name, system_params, slots, options)

    def _resolve_params(
        self, resolver: Any, given: dict[str, Any], entries: dict[str, Any], table: str
    ) -> dict[str, Any]:
        resolved, problems = resolver(given)
        for key, message in problems:
            path = entries[key][1] if key in entries else f"{table}.{key}"
            self.problems.add(path, message)
        return resolved

    def _check_construction(
        self,
        system_cls: type[SystemModel],
        config: Configuration,
        tables: dict[str, dict[str, Any]],
        warnings: dict[str, set[tuple[int, ...]]],
        label: str,
        index: tuple[int, ...],
    ) -> int:
        """Build the system once so that constraints between parameters are checked up front.

        Returns the system's estimate of the memory one trial needs (0 when it cannot be built).
        """
        where = f"at sweep point {label}: " if label else ""
        try:
            system = config.build(self.registry)
        except ParameterError as exc:
            path = tables["system"].get(exc.parameter, (None, f"system.{exc.parameter}"))[1]
            self.problems.add(path, exc.message)
            return 0
        except (ValueError, TypeError) as exc:
            self.problems.add("system", f"{where}the configuration is not usable: {exc}")
            return 0
        except MemoryError:
            self.problems.add("system", f"{where}the configuration is too large for memory")
            return 0
        for warning in [*system.warnings(), *system.plausibility_warnings()]:
            warnings.setdefault(warning, set()).add(index)
        return system.estimate_memory_bytes()

    def load(self, text: str, overrides: tuple[str, ...]) -> Scenario:
        known = [*GENERAL_KEYS, *STRUCTURE_KEYS]
        system_cls = self._system_class()
        slots = list(system_cls.slots) if system_cls else []
        for key in self.raw:
            if key not in known and key not in slots:
                self.problems.add(key, "unknown top-level key" + suggest(key, known + slots))
        title, description, trials, seed, store = self._general()
        precision, trials = self._precision(trials)
        if system_cls is None:
            raise ScenarioError(self.source, self.problems.items)
        trial_block = self._trial_block(system_cls)
        for name in store:
            if name not in system_cls.optional_outputs:
                self.problems.add(
                    "store",
                    f"{name!r} is not an optional output of {system_cls.name!r}"
                    f"{suggest(name, list(system_cls.optional_outputs))}",
                )
        before_structure = self.problems.reported
        base = self._base_tables(system_cls)
        variants = self._variant_tables(system_cls, base)
        axes = self._axes(system_cls)
        if self.problems.reported > before_structure:
            # Without a sound sweep and variant structure the points cannot be expanded.
            raise ScenarioError(self.source, self.problems.items)
        n_points = math.prod(len(a) for a in axes)
        total = n_points * len(variants) * (trials or 1)
        if n_points > MAX_POINTS or total > MAX_TRIALS_TOTAL:
            raise ScenarioError(
                self.source,
                [
                    f"key 'sweep': the sweep has {n_points:,} points x {len(variants)} variants x "
                    f"{trials or 1:,} trials = {total:,} trials; simframe accepts at most "
                    f"{MAX_TRIALS_TOTAL:,} trials and {MAX_POINTS:,} points in one run: "
                    "split the sweep"
                ],
            )
        configurations: dict[tuple[int, str], Configuration] = {}
        warnings: dict[str, set[tuple[int, ...]]] = {}
        """Each distinct warning text -> the sweep points where it arose."""
        trial_memory_bytes = 0
        shape = tuple(len(a) for a in axes)
        for point in range(n_points):
            index = _unravel(point, shape)
            for name, tables in variants.items():
                composed = {k: dict(v) for k, v in tables.items()}
                for axis, i in zip(axes, index, strict=True):
                    for path, values in zip(axis.paths, axis.values, strict=True):
                        table, param = path.rsplit(".", 1)
                        where = f"{axis.source}.{path}[{i}]"
                        composed.setdefault(table, {})[param] = (values[i], where)
                config = self._resolve(system_cls, composed)
                if config is None:
                    continue
                configurations[(point, name)] = config
                label = ", ".join(
                    f"{a.dim}={a.values[0][i]}" for a, i in zip(axes, index, strict=True)
                )
                memory = self._check_construction(
                    system_cls, config, composed, warnings, label, index
                )
                trial_memory_bytes = max(trial_memory_bytes, memory)
        if self.problems:
            raise ScenarioError(self.source, self.problems.items)
        axes = [self._with_units(axis, system_cls, configurations) for axis in axes]
        return Scenario(
            source=self.source,
            text=text,
            overrides=overrides,
            title=title,
            description=description,
            trials=trials,
            seed=seed,
            store=frozenset(store),
            axes=axes,
            variants=list(variants),
            configurations=configurations,
            system_cls=system_cls,
            warnings=[_where(text, points, axes) for text, points in warnings.items()],
            trial_memory_bytes=trial_memory_bytes,
            trial_block=trial_block,
            precision=precision,
        )

    def _with_units(
        self,
        axis: SweepAxis,
        system_cls: type[SystemModel],
        configurations: dict[tuple[int, str], Configuration],
    ) -> SweepAxis:
        attrs = tuple(self._path_attrs(path, system_cls, configurations) for path in axis.paths)
        return SweepAxis(
            axis.dim,
            axis.paths,
            axis.values,
            attrs[0].get("units", ""),
            attrs[0]["long_name"],
            axis.source,
            attrs,
        )

    def _path_attrs(
        self,
        path: str,
        system_cls: type[SystemModel],
        configurations: dict[tuple[int, str], Configuration],
    ) -> dict[str, str]:
        """``units`` and ``long_name`` of the parameter a sweep path sets."""
        table, param = path.rsplit(".", 1)
        spec: Parameter | None = None
        if table == "system":
            spec = system_cls.parameter(param)
        elif table in system_cls.slots and param != "model":
            models = {c.slots[table].model for c in configurations.values() if table in c.slots}
            kind = system_cls.slots[table].kind
            specs = [self.registry.get(kind, m).cls.parameter(param) for m in models]
            spec = specs[0] if specs else None
        elif table.startswith("plugins."):
            group = self.registry.option_groups[table.split(".", 1)[1]][0]
            spec = next((p for p in group.parameters if p.name == param), None)
        attrs = {"long_name": spec.help if spec is not None and spec.help else path}
        if spec is not None and spec.unit:
            attrs["units"] = spec.unit
        return attrs


def load_scenario(
    path: str | Path,
    registry: Registry,
    overrides: tuple[str, ...] = (),
) -> Scenario:
    """Read, validate and expand a scenario file; raise :class:`ScenarioError` listing all problems.

    ``overrides`` are ``KEY=VALUE`` strings as given to ``--set`` (e.g. ``trials=5``).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(source, [f"cannot read the file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, [f"not UTF-8 text: {exc.reason} at byte {exc.start}"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ScenarioError(source, ["not valid TOML: nested too deeply"]) from None
    loader = _Loader(source, raw, registry)
    for override in overrides:
        key, value = parse_override(override)
        _apply_override(raw, key, value, loader.problems)
        _refuse_override_of_swept_key(raw, key, loader.problems)
    with threadpool_limits(1):  # many small systems are built: threads only add overhead
        return loader.load(text, tuple(overrides))


def _refuse_override_of_swept_key(raw: dict[str, Any], key: str, problems: _Problems) -> None:
    """``--set system.x=3`` while ``system.x`` is swept would be silently ignored: refuse it."""
    sweep = raw.get("sweep")
    if not isinstance(sweep, dict) or key.startswith("sweep."):
        return
    places = {"sweep": {k: v for k, v in sweep.items() if k != "linked"}}
    linked = sweep.get("linked")
    if isinstance(linked, dict):
        places |= {f"sweep.linked.{n}": b for n, b in linked.items() if isinstance(b, dict)}
    for label, body in places.items():
        if key in _flatten_sweep(body):
            problems.add(
                f"--set {key}",
                f"{key} is swept in [{label}], which overrides this value; set "
                f"{label}.{key}=[...] to change the swept values",
            )
