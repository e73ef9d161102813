"""Slots and parameters: which system model a scenario runs, the tables that fill its slots
(base tables, then each variant's overrides, then each sweep point's values), and their
resolution into a :class:`~simframe.scenario.model.Configuration`.

Tables are kept *with provenance*: every value travels with the key path it came from
(``variants.fast.phases.iterations`` or ``sweep.system.tx_layers[2]``), so that a problem found
after composition still names the exact place in the file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from simframe.components import Component, ComponentKind, Problem, SystemModel, suggest
from simframe.errors import ParameterError
from simframe.plugins import Registry
from simframe.scenario.model import ComponentChoice, Configuration
from simframe.scenario.problems import Problems

VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
"""A variant's name: it becomes a coordinate value, a file-name-safe word."""

Tables = dict[str, dict[str, tuple[Any, str]]]
"""Table name (``system``, a slot, ``plugins.GROUP``) -> key -> (value, key path in the file)."""


def system_class(
    raw: dict[str, Any], registry: Registry, problems: Problems
) -> type[SystemModel] | None:
    """The system model named by ``[system] model``; None (reported) when there is none."""
    system = problems.table(raw.get("system", {}), "system")
    if "system" not in raw:
        problems.add("system", "missing; expected a [system] table with a 'model' key")
        return None
    model = system.get("model")
    names = list(registry.components[ComponentKind.SYSTEM_MODEL])
    if not isinstance(model, str):
        problems.add("system.model", f"expected the name of a system model ({', '.join(names)})")
        return None
    try:
        return registry.get(ComponentKind.SYSTEM_MODEL, model).cls  # type: ignore[return-value]
    except KeyError as exc:
        problems.add("system.model", str(exc.args[0]))
        return None


def base_tables(raw: dict[str, Any], system_cls: type[SystemModel], problems: Problems) -> Tables:
    """The ``[system]``, slot and ``[plugins.GROUP]`` tables every variant starts from."""
    tables: Tables = {}
    system = dict(problems.table(raw.get("system", {}), "system"))
    system.pop("model", None)
    tables["system"] = {k: (v, f"system.{k}") for k, v in system.items()}
    for slot in system_cls.slots:
        table = problems.table(raw.get(slot, {}), slot)
        tables[slot] = {k: (v, f"{slot}.{k}") for k, v in table.items()}
    plugins = problems.table(raw.get("plugins", {}), "plugins")
    for group, table in plugins.items():
        entries = problems.table(table, f"plugins.{group}")
        tables[f"plugins.{group}"] = {k: (v, f"plugins.{group}.{k}") for k, v in entries.items()}
    return tables


def variant_tables(
    raw: dict[str, Any], system_cls: type[SystemModel], base: Tables, problems: Problems
) -> dict[str, Tables]:
    """Each ``[variants.NAME]`` applied to the base tables (one ``default`` variant if none).

    A variant that names another ``model`` for a slot replaces that slot's table; otherwise it
    updates it key by key.
    """
    raw_variants = problems.table(raw.get("variants", {}), "variants")
    if not raw_variants:
        return {"default": base}
    allowed = ["system", "plugins", *system_cls.slots]
    variants = {}
    shown: dict[str, str] = {}  # the name or label a legend shows -> its variant
    for name, body in raw_variants.items():
        path = f"variants.{name}"
        if not VARIANT_NAME.fullmatch(name) or name in ("variant", "trial"):
            problems.add(
                path,
                f"{name!r} cannot name a variant: use letters, digits and _ . + - (starting "
                "with a letter or a digit), and not 'variant' or 'trial'; a label may hold "
                "any text",
            )
        body = problems.table(body, path)
        label = body.get("label", name)
        if isinstance(label, str) and (other := shown.setdefault(label.strip(), name)) != name:
            problems.add(
                f"{path}.label" if "label" in body else path,
                f"{label!r} is also what variant {other!r} shows in legends: the figures could "
                "not tell them apart",
            )
        tables = {key: dict(entries) for key, entries in base.items()}
        for key, value in body.items():
            if key == "label":  # shown in figures' legends (ds.simframe.variant_labels)
                if not isinstance(value, str) or not value.strip():
                    problems.add(f"{path}.label", "expected a non-empty string")
                continue
            if key not in allowed:
                problems.add(
                    f"{path}.{key}",
                    "a variant can set 'label' and override only 'system', 'plugins' and "
                    f"the slots of {system_cls.name!r}{suggest(key, [*allowed, 'label'])}",
                )
                continue
            value = problems.table(value, f"{path}.{key}")
            if key == "plugins":
                for group, entries in value.items():
                    entries = problems.table(entries, f"{path}.plugins.{group}")
                    merged = tables.setdefault(f"plugins.{group}", {})
                    merged.update(
                        {k: (v, f"{path}.plugins.{group}.{k}") for k, v in entries.items()}
                    )
                continue
            if key == "system" and "model" in value:
                problems.add(f"{path}.system.model", "a variant cannot change the system")
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


def resolve_configuration(
    system_cls: type[SystemModel], tables: Tables, registry: Registry, problems: Problems
) -> Configuration | None:
    """Resolve composed tables into a configuration; None when any problem was reported."""
    problems_before = problems.reported
    system_given = {k: v for k, (v, _) in tables["system"].items()}
    system_params = _resolve_params(
        system_cls.resolve_parameters, system_given, tables["system"], "system", problems
    )
    slots: dict[str, ComponentChoice] = {}
    for slot_name, slot in system_cls.slots.items():
        entries = tables[slot_name]
        model, model_path = entries.get("model", (slot.default, f"{slot_name}.model"))
        given = {k: v for k, (v, _) in entries.items() if k != "model"}
        if not isinstance(model, str):
            problems.add(model_path, f"expected the name of a {slot.kind.value}")
            continue
        try:
            info = registry.get(slot.kind, model)
        except KeyError as exc:
            problems.add(model_path, str(exc.args[0]))
            continue
        if info.cls.systems is not None and system_cls.name not in info.cls.systems:
            compatible = [
                n
                for n, i in registry.components[slot.kind].items()
                if i.cls.systems is None or system_cls.name in i.cls.systems
            ]
            problems.add(
                model_path,
                f"{slot.kind.value} {model!r} does not work with system {system_cls.name!r}; "
                f"compatible: {', '.join(sorted(compatible))}",
            )
            continue
        params = _resolve_params(info.cls.resolve_parameters, given, entries, slot_name, problems)
        slots[slot_name] = ComponentChoice(model, params)
    options: dict[str, dict[str, Any]] = {}
    for key, entries in tables.items():
        if not key.startswith("plugins."):
            continue
        group_name = key.split(".", 1)[1]
        if group_name not in registry.option_groups:
            problems.add(
                key,
                f"no installed plugin declares option group {group_name!r}"
                f"{suggest(group_name, list(registry.option_groups))}",
            )
            continue
        group, origin = registry.option_groups[group_name]
        if group.systems is not None and system_cls.name not in group.systems:
            problems.add(
                key,
                f"option group {group_name!r} of plugin {origin} works with "
                f"{', '.join(group.systems) or 'no system'}, not with {system_cls.name!r}",
            )
            continue
        given = {k: v for k, (v, _) in entries.items()}
        options[group_name] = _resolve_params(
            group.resolve_parameters, given, entries, key, problems
        )
    if problems.reported > problems_before:
        return None
    return Configuration(system_cls.name, system_params, slots, options)


def _resolve_params(
    resolver: Callable[[dict[str, Any]], tuple[dict[str, Any], list[Problem]]],
    given: dict[str, Any],
    entries: dict[str, tuple[Any, str]],
    table: str,
    problems: Problems,
) -> dict[str, Any]:
    try:
        resolved, found = _resolution(resolver, tuple((k, type(v), v) for k, v in given.items()))
    except TypeError:  # an unhashable value (a table where a number belongs): no cache
        resolved, found = resolver(given)
    for key, message in found:
        path = entries[key][1] if key in entries else f"{table}.{key}"
        problems.add(path, message)
    return dict(resolved)


@functools.lru_cache(maxsize=4096)
def _resolution(
    resolver: Callable[[dict[str, Any]], tuple[dict[str, Any], list[Problem]]],
    given: tuple[tuple[str, type, Any], ...],
) -> tuple[dict[str, Any], list[Problem]]:
    """``resolver``'s answer for ``given`` (items with their types, so that ``1``, ``1.0`` and
    ``true`` stay apart), remembered: the tables a sweep leaves alone repeat at every point."""
    return resolver({key: value for key, _, value in given})


def build_checked(
    config: Configuration, tables: Tables, label: str, registry: Registry, problems: Problems
) -> SystemModel | None:
    """Build the system once, so that what only construction can tell is found before any trial.

    That is a constraint between parameters (a :class:`~simframe.errors.ParameterError`), a
    configuration too large for memory, or a package a component needs with these settings and
    that is not installed (an :class:`ImportError`, e.g. an optional array backend). Each slot's
    component and then the system are built on their own, so that every problem is reported
    against the table of the component that raised it. Returns the system, or None (reported)
    when it cannot be built.
    """
    where = f"at sweep point {label}: " if label else ""
    system_cls, classes = config.component_classes(registry)
    components: dict[str, Component] = {}
    for slot, cls in classes.items():
        construct = functools.partial(cls, **config.slots[slot].params)
        component = _constructed(construct, cls, slot, tables, where, problems)
        if component is not None:
            components[slot] = component
    if len(components) < len(classes):
        return None
    construct = functools.partial(system_cls, components, **config.system_params)
    return _constructed(construct, system_cls, "system", tables, where, problems)


def _constructed(
    construct: Callable[[], Any],
    cls: type[Component],
    table: str,
    tables: Tables,
    where: str,
    problems: Problems,
) -> Any:
    """``construct()``, or None with the reason reported against ``table`` (or its key)."""
    owner = f"{cls.kind.value} {cls.name!r}"
    try:
        return construct()
    except ParameterError as exc:
        entries = tables.get(table, {})
        path = entries.get(exc.parameter, (None, f"{table}.{exc.parameter}"))[1]
        problems.add(path, exc.message)
    except ImportError as exc:
        # the same at every sweep point, as a rule: reported once, the message names the setting
        problems.add(table, f"{owner} needs a package that is not installed: {exc}")
    except (ValueError, TypeError) as exc:
        problems.add(table, f"{where}the configuration of {owner} is not usable: {exc}")
    except ArithmeticError as exc:  # an overflow in the precomputation, say
        problems.add(
            table,
            f"{where}the configuration of {owner} is not computable: {type(exc).__name__}: {exc}",
        )
    except MemoryError:
        problems.add(table, f"{where}the configuration of {owner} is too large for memory")
    return None
