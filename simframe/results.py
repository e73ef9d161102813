"""Turning trial outcomes into labelled xarray datasets and writing them safely to netCDF.

Each finished sweep point becomes a small dataset (dims ``variant``, ``trial`` and the metrics'
own dims) that is persisted at once; the final dataset stacks the points along the sweep dims.
Metric dims whose size varies between trials or points (e.g. ``iteration``) are padded with NaN.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simframe.execution import Outcome
from simframe.scenario import Scenario

TIMING_ROLE = "timing"
"""Value of the ``simframe_role`` attribute of wall-clock variables (excluded from comparisons)."""


def _fill_value(dtype: np.dtype) -> Any:
    """NaN for numbers, "" for text; integers are only used complete (see _padded_dtype)."""
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind in "OUS":
        return ""
    return 0


def _padded_dtype(dtype: np.dtype, needs_fill: bool) -> np.dtype:
    if needs_fill and dtype.kind in "biu":
        return np.dtype(np.float64)
    return dtype


def point_dataset(scenario: Scenario, point: int, outcomes: Iterable[Outcome]) -> xr.Dataset:
    """One sweep point's outcomes as a dataset with dims ``variant``, ``trial`` and metric dims."""
    variants = scenario.variants
    n_trials = scenario.trials
    by_name: dict[str, dict[tuple[int, int], Any]] = {}
    meta: dict[str, Any] = {}
    errors = np.full((len(variants), n_trials), "", dtype=object)
    for outcome in outcomes:
        v = variants.index(outcome.variant)
        if outcome.error:
            errors[v, outcome.trial] = outcome.error
        for name, metric in outcome.metrics.items():
            previous = meta.setdefault(name, metric)
            if (previous.units, previous.dims) != (metric.units, metric.dims):
                raise ValueError(
                    f"metric {name!r} changes units or dims between trials: "
                    f"{previous.units} {previous.dims} vs {metric.units} {metric.dims}"
                )
            by_name.setdefault(name, {})[(v, outcome.trial)] = metric.values
    sizes: dict[str, int] = {}
    for name, values in by_name.items():
        for array in values.values():
            for dim, size in zip(meta[name].dims, array.shape, strict=True):
                sizes[dim] = max(sizes.get(dim, 0), size)
    data_vars = {}
    for name, values in by_name.items():
        metric = meta[name]
        shape = tuple(sizes[d] for d in metric.dims)
        dtype = np.result_type(*values.values())
        incomplete = len(values) < len(variants) * n_trials or any(
            a.shape != shape for a in values.values()
        )
        dtype = _padded_dtype(dtype, incomplete)
        array = np.full((len(variants), n_trials, *shape), _fill_value(dtype), dtype=dtype)
        for (v, t), value in values.items():
            array[(v, t, *(slice(0, s) for s in value.shape))] = value
        attrs = {"units": metric.units, "long_name": metric.long_name}
        if metric.timing:
            attrs["simframe_role"] = TIMING_ROLE
        data_vars[name] = (("variant", "trial", *metric.dims), array, attrs)
    if any(errors.ravel()):
        data_vars["error"] = (
            ("variant", "trial"),
            errors.astype(str),
            {"long_name": "error of a failed trial (empty when it succeeded)"},
        )
    coords = _variant_coords(scenario)
    coords["trial"] = ("trial", np.arange(n_trials), {"long_name": "Monte Carlo trial index"})
    dataset = xr.Dataset(data_vars, coords=coords)
    return dataset.assign_attrs(simframe_point=point)


def _variant_coords(scenario: Scenario) -> dict[str, Any]:
    coords: dict[str, Any] = {
        "variant": ("variant", np.array(scenario.variants), {"long_name": "algorithm variant"})
    }
    for slot in scenario.system_cls.slots:
        per_point = {
            tuple(scenario.configurations[(p, v)].slots[slot].model for v in scenario.variants)
            for p in range(scenario.n_points)
        }
        if len(per_point) != 1:
            continue  # the slot's model is swept: it is a sweep dimension, not a variant label
        (models,) = per_point
        coords[f"{slot}_model"] = (
            "variant",
            np.array(models),
            {"long_name": f"{scenario.system_cls.slots[slot].kind.value} of the variant"},
        )
    return coords


def combine_points(scenario: Scenario, parts: Mapping[int, xr.Dataset]) -> xr.Dataset:
    """Stack the per-point datasets along the sweep dims into one dataset."""
    shape = scenario.shape
    sweep_dims = [axis.dim for axis in scenario.axes]
    sizes: dict[str, int] = {}
    meta: dict[str, xr.Variable] = {}
    for part in parts.values():
        for name, variable in part.data_vars.items():
            meta.setdefault(name, variable)
            for dim in variable.dims[2:]:
                sizes[dim] = max(sizes.get(dim, 0), part.sizes[dim])
    data_vars = {}
    for name, first in meta.items():
        extra = first.dims[2:]
        extra_shape = tuple(sizes[d] for d in extra)
        dtypes = [p[name].dtype for p in parts.values() if name in p]
        incomplete = len(dtypes) < len(parts) or any(
            tuple(p.sizes[d] for d in extra) != extra_shape for p in parts.values() if name in p
        )
        dtype = _padded_dtype(np.result_type(*dtypes), incomplete)
        full_shape = (*shape, len(scenario.variants), scenario.trials, *extra_shape)
        array = np.full(full_shape, _fill_value(dtype), dtype=dtype)
        for point, part in parts.items():
            if name not in part:
                continue
            values = part[name].values
            index = scenario.point_index(point)
            array[(*index, slice(None), slice(None), *(slice(0, s) for s in values.shape[2:]))] = (
                values
            )
        data_vars[name] = ((*sweep_dims, *first.dims), array, dict(first.attrs))
    first_part = next(iter(parts.values()))
    coords = {name: first_part[name].variable for name in first_part.coords}
    for axis in scenario.axes:
        attrs = {"long_name": axis.long_name}
        if axis.units:
            attrs["units"] = axis.units
        coords[axis.dim] = (axis.dim, np.array(axis.values[0]), attrs)
        for path, values, attrs in zip(
            axis.paths[1:], axis.values[1:], axis.path_attrs[1:], strict=True
        ):
            name = path.rsplit(".", 1)[1]
            if name in coords or name in data_vars:
                name = path.replace(".", "_")
            coords[name] = (axis.dim, np.array(values), {**attrs, "simframe_path": path})
    return xr.Dataset(data_vars, coords=coords)


def write_atomically(dataset: xr.Dataset, path: str | Path) -> None:
    """Write ``dataset`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        dataset.to_netcdf(temporary, engine="netcdf4", auto_complex=True)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def open_result(path: str | Path) -> xr.Dataset:
    """Read a simframe result file (complex variables included) fully into memory."""
    with xr.open_dataset(path, engine="netcdf4", auto_complex=True) as dataset:
        return dataset.load()


def deterministic_part(dataset: xr.Dataset) -> xr.Dataset:
    """The dataset without wall-clock variables and run-specific attributes.

    Two runs of the same scenario and seed must agree on this part bit for bit, whatever the
    executor, the number of workers or interruptions.
    """
    timing = [
        n for n, v in dataset.data_vars.items() if v.attrs.get("simframe_role") == TIMING_ROLE
    ]
    return dataset.drop_vars(timing).drop_attrs(deep=False)
