"""The ``[sweep]`` table: cartesian and linked sweep axes, their units, and where along them a
warning arose."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from simframe.components import Parameter, SystemModel, suggest
from simframe.plugins import Registry
from simframe.scenario.model import Configuration, SweepAxis
from simframe.scenario.problems import Problems, at_points, describe
from simframe.trial import RESERVED_METRIC_NAMES, MetricSpec

RESERVED_DIMS = ("variant", "trial")
MAX_POINTS = 100_000


def flatten_sweep(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sweep tables -> ``{"system.tx_layers": [...]}`` (quoted dotted keys work too)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_sweep(value, path + "."))
        else:
            flat[path] = value
    return flat


def sweep_axes(
    raw: dict[str, Any], system_cls: type[SystemModel], problems: Problems
) -> list[SweepAxis]:
    """Every axis of the ``[sweep]`` table: one per cartesian key, one per linked group."""
    sweep = problems.table(raw.get("sweep", {}), "sweep")
    linked = problems.table(sweep.get("linked", {}), "sweep.linked")
    groups: list[tuple[str | None, str, dict[str, Any]]] = []
    cartesian = flatten_sweep({k: v for k, v in sweep.items() if k != "linked"})
    for path, values in cartesian.items():
        groups.append((None, "sweep", {path: values}))
    for name, body in linked.items():
        body = flatten_sweep(problems.table(body, f"sweep.linked.{name}"))
        if not body:
            problems.add(f"sweep.linked.{name}", "a linked group needs at least one key")
            continue
        groups.append((name, f"sweep.linked.{name}", body))
    axes = []
    for group_name, label, body in groups:
        axis = _axis(system_cls, group_name, label, body, problems)
        if axis is not None:
            axes.append(axis)
    dims = [a.dim for a in axes]
    for axis in axes:
        if dims.count(axis.dim) > 1:
            problems.add("sweep", f"two sweep dimensions are both named {axis.dim!r}")
        if (why := _unusable_dim(axis, system_cls)) is not None:
            problems.add(axis.source, f"{axis.dim!r} cannot name a sweep dimension: {why}")
    return axes


def _unusable_dim(axis: SweepAxis, system_cls: type[SystemModel]) -> str | None:
    """Why ``axis.dim`` cannot name a dataset dimension, or ``None`` (metric names and dims are
    checked once the systems declared them: :func:`clashes_with_metrics`)."""
    if not axis.dim.isidentifier():
        return "use letters, digits and underscores, not starting with a digit"
    if axis.dim in RESERVED_DIMS or axis.dim in RESERVED_METRIC_NAMES:
        return "the dataset uses that name itself"
    slot = axis.dim.removesuffix("_model")
    if (
        axis.dim.endswith("_model")
        and slot in system_cls.slots
        and f"{slot}.model" not in (axis.paths)
    ):
        return f"it names the variants' [{slot}] model coordinate"
    return None


def clashes_with_metrics(
    axes: list[SweepAxis], metrics: Mapping[str, MetricSpec], problems: Problems
) -> None:
    """Refuse sweep dimensions named like a metric or like one of a metric's dimensions."""
    metric_dims = {dim: name for name, spec in metrics.items() for dim in spec.dims}
    for axis in axes:
        if axis.dim in metrics:
            clash = "it is the name of a metric of the system"
        elif axis.dim in metric_dims:
            clash = f"it is a dimension of the metric {metric_dims[axis.dim]!r}"
        else:
            continue
        rename = (
            "sweep it in a linked group of another name ([sweep.linked.NAME])"
            if axis.source == "sweep"
            else "give the linked group another name"
        )
        problems.add(axis.source, f"{axis.dim!r} cannot name a sweep dimension: {clash}; {rename}")


def _axis(
    system_cls: type[SystemModel],
    group_name: str | None,
    label: str,
    body: dict[str, Any],
    problems: Problems,
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
            problems.add(
                where,
                "expected a dotted path TABLE.PARAMETER (or plugins.GROUP.PARAMETER) "
                f"with TABLE one of {', '.join(tables)}{suggest(parts[0], tables)}",
            )
            ok = False
        elif parts[0] == "system" and parts[1] not in {p.name for p in system_cls.parameters}:
            names = [p.name for p in system_cls.parameters]
            problems.add(
                where,
                f"{system_cls.name!r} has no parameter {parts[1]!r}{suggest(parts[1], names)}",
            )
            ok = False
        if not isinstance(values, list) or not values:
            problems.add(where, f"expected a non-empty list of values, got {describe(values)}")
            ok = False
            continue
        lengths.add(len(values))
    if not ok:
        return None
    if len(lengths) > 1:
        problems.add(label, f"linked lists must have equal lengths, got {sorted(lengths)}")
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
    if len({_coordinate(v) for v in firsts}) != len(firsts):
        problems.add(
            f"{label}.{first}",
            f"the values of a sweep dimension must be distinct, got {describe(firsts)}",
        )
    return SweepAxis(
        dim=dim,
        paths=paths,
        values=tuple(tuple(body[p]) for p in paths),
        units="",
        long_name=first,
        source=label,
    )


def _coordinate(value: Any) -> tuple[str, Any]:
    """What a sweep value is as a dataset coordinate: numbers by value (``1.0`` and ``1`` are
    the same coordinate), booleans and text apart from them."""
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int | float):
        return "number", value
    return "other", json.dumps(value, default=repr, sort_keys=True)


def with_units(
    axis: SweepAxis,
    system_cls: type[SystemModel],
    configurations: dict[tuple[int, str], Configuration],
    registry: Registry,
) -> SweepAxis:
    """``axis`` with the units and long names of the parameters its paths set."""
    attrs = tuple(_path_attrs(path, system_cls, configurations, registry) for path in axis.paths)
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
    path: str,
    system_cls: type[SystemModel],
    configurations: dict[tuple[int, str], Configuration],
    registry: Registry,
) -> dict[str, str]:
    """``units`` and ``long_name`` of the parameter a sweep path sets."""
    table, param = path.rsplit(".", 1)
    spec: Parameter | None = None
    if table == "system":
        spec = system_cls.parameter(param)
    elif table in system_cls.slots and param != "model":
        models = {c.slots[table].model for c in configurations.values() if table in c.slots}
        kind = system_cls.slots[table].kind
        specs = [registry.get(kind, m).cls.parameter(param) for m in models]
        spec = specs[0] if specs else None
    elif table.startswith("plugins."):
        group = registry.option_groups[table.split(".", 1)[1]][0]
        spec = next((p for p in group.parameters if p.name == param), None)
    attrs = {"long_name": spec.help if spec is not None and spec.help else path}
    if spec is not None and spec.unit:
        attrs["units"] = spec.unit
    return attrs


def located_warning(warning: str, points: set[tuple[int, ...]], axes: list[SweepAxis]) -> str:
    """A warning once, with the sweep points it concerns, naming only the dims it depends on.

    A dim is left out when the warning arose at every value of it for the other dims' values
    (e.g. a geometry warning under a swept transmit power); a warning of every point is given
    without points. Linear in the number of points.
    """
    shape = tuple(len(axis) for axis in axes)
    free = []
    for a in range(len(axes)):
        values: dict[tuple[int, ...], set[int]] = {}
        for p in points:
            values.setdefault((*p[:a], *p[a + 1 :]), set()).add(p[a])
        free.append(all(len(seen) == shape[a] for seen in values.values()))
    if all(free):
        return warning
    kept = sorted({tuple(i for a, i in enumerate(p) if not free[a]) for p in points})
    named = [axis for a, axis in enumerate(axes) if not free[a]]
    labels = [
        ", ".join(f"{axis.dim}={axis.values[0][i]}" for axis, i in zip(named, k, strict=True))
        for k in kept
    ]
    return f"{warning} ({at_points(labels)})"
