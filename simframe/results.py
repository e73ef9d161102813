"""Turning trial outcomes into labelled xarray datasets and writing them safely to netCDF.

Each finished sweep point becomes a small dataset (dims ``variant``, ``trial`` and the metrics'
own dims) that is persisted at once; the final dataset stacks the points along the sweep dims.
Metric dims whose size varies between trials or points (e.g. ``iteration``) are padded with NaN.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simframe.execution import Outcome
from simframe.output import reported_write_errors
from simframe.scenario import Scenario
from simframe.trial import Metric

TIMING_ROLE = "timing"
"""Value of the ``simframe_role`` attribute of wall-clock variables (excluded from comparisons)."""
CATEGORICAL_ROLE = "categorical"
"""``simframe_role`` of labels and indices (``Metric(categorical=True)``): never averaged."""
MISSING_LABEL = -1
"""Value of a categorical variable where a trial failed or was not run."""
ERROR_ATTRS = {"long_name": "error of a failed trial (empty when it succeeded)"}


def _fill_value(dtype: np.dtype) -> Any:
    """NaN for numbers, "" for text; integers are only used complete (see _stack_padded)."""
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind in "OUS":
        return ""
    return 0


def _stack_padded(
    pieces: Mapping[tuple[int, ...], np.ndarray],
    lead_shape: tuple[int, ...],
    tail_shape: tuple[int, ...],
    categorical: bool = False,
) -> np.ndarray:
    """Place ``pieces[index]`` at ``array[index]`` of a ``lead_shape + tail_shape`` array.

    Pieces may be shorter than ``tail_shape`` along any axis and some indices may be missing;
    the rest is filled with NaN (or "" for text). Integers that need filling become floats,
    except categorical labels, which stay integers filled with :data:`MISSING_LABEL`.
    """
    dtype = np.result_type(*pieces.values())
    complete = len(pieces) == math.prod(lead_shape) and all(
        piece.shape == tail_shape for piece in pieces.values()
    )
    fill = _fill_value(dtype)
    if categorical:
        fill = MISSING_LABEL
    elif not complete and dtype.kind in "biu":
        dtype = np.dtype(np.float64)
        fill = np.nan
    array = np.full((*lead_shape, *tail_shape), fill, dtype=dtype)
    for index, piece in pieces.items():
        array[(*index, *(slice(0, size) for size in piece.shape))] = piece
    return array


def _dim_sizes(variables: Iterable[tuple[tuple[str, ...], Iterable[np.ndarray]]]) -> dict[str, int]:
    """The largest size of every metric dim over all trials of all variables that use it.

    Variables sharing a dim (two traces over ``iteration``) are padded to the same length.
    """
    sizes: dict[str, int] = {}
    for dims, arrays in variables:
        for array in arrays:
            for dim, size in zip(dims, np.shape(array), strict=True):
                sizes[dim] = max(sizes.get(dim, 0), size)
    return sizes


def _metric_attrs(metric: Metric) -> dict[str, Any]:
    """CF attributes of a metric's variable; labels get a role and no unit."""
    if metric.categorical:
        return {
            "long_name": metric.long_name,
            "simframe_role": CATEGORICAL_ROLE,
            "simframe_missing_label": MISSING_LABEL,
        }
    attrs = {"units": metric.units, "long_name": metric.long_name}
    if metric.timing:
        attrs["simframe_role"] = TIMING_ROLE
    return attrs


def _is_categorical(attrs: Mapping[str, Any]) -> bool:
    return attrs.get("simframe_role") == CATEGORICAL_ROLE


def block_dataset(
    scenario: Scenario, point: int, trials: Sequence[int], outcomes: Iterable[Outcome]
) -> xr.Dataset:
    """A block of trials' outcomes as a dataset with dims ``variant``, ``trial`` and metric dims.

    The ``trial`` coordinate holds the block's trial indices; failed trials are NaN (and their
    error text is in ``error``).
    """
    variants = scenario.variants
    position = {trial: i for i, trial in enumerate(trials)}
    by_name: dict[str, dict[tuple[int, int], Any]] = {}
    meta: dict[str, Metric] = {}
    errors = np.full((len(variants), len(trials)), "", dtype=object)
    for outcome in outcomes:
        index = (variants.index(outcome.variant), position[outcome.trial])
        if outcome.error:
            errors[index] = outcome.error
        for name, metric in outcome.metrics.items():
            previous = meta.setdefault(name, metric)
            if (previous.units, previous.dims) != (metric.units, metric.dims):
                raise ValueError(
                    f"metric {name!r} changes units or dims between trials: "
                    f"{previous.units} {previous.dims} vs {metric.units} {metric.dims}"
                )
            by_name.setdefault(name, {})[index] = metric.values
    sizes = _dim_sizes((meta[name].dims, values.values()) for name, values in by_name.items())
    data_vars = {}
    for name, values in by_name.items():
        metric = meta[name]
        shape = tuple(sizes[dim] for dim in metric.dims)
        array = _stack_padded(
            values, (len(variants), len(trials)), shape, categorical=metric.categorical
        )
        data_vars[name] = (("variant", "trial", *metric.dims), array, _metric_attrs(metric))
    if any(errors.ravel()):
        data_vars["error"] = (("variant", "trial"), errors.astype(str), ERROR_ATTRS)
    dataset = xr.Dataset(data_vars, coords={"trial": ("trial", np.asarray(trials, dtype=int))})
    return dataset.assign_attrs(simframe_point=point)


def assemble_point(
    scenario: Scenario, point: int, blocks: Sequence[xr.Dataset], trials_run: int
) -> xr.Dataset:
    """One sweep point's dataset from its finished blocks, in trial order.

    The ``trial`` dim holds the ``trials_run`` trials the point kept: all of the scenario's, or
    as many as its ``[precision]`` target needed (never ``max_trials`` of NaN).
    """
    variants = scenario.variants
    pieces: dict[str, dict[tuple[int, int], np.ndarray]] = {}
    attrs: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}
    for block in blocks:
        for name, variable in block.data_vars.items():
            attrs.setdefault(name, (variable.dims[2:], dict(variable.attrs)))
            values = variable.values
            for i, trial in enumerate(block.trial.values):
                if trial < trials_run:
                    for v in range(len(variants)):
                        pieces.setdefault(name, {})[(v, int(trial))] = np.asarray(values[v, i])
    if "error" in pieces and not any(str(e) for e in pieces["error"].values()):
        del pieces["error"]  # the only failures were in trials beyond the point's stop
    sizes = _dim_sizes((attrs[name][0], by_trial.values()) for name, by_trial in pieces.items())
    data_vars = {}
    for name, by_trial in pieces.items():
        dims, variable_attrs = attrs[name]
        shape = tuple(sizes[dim] for dim in dims)
        array = _stack_padded(
            by_trial, (len(variants), trials_run), shape, _is_categorical(variable_attrs)
        )
        data_vars[name] = (("variant", "trial", *dims), array, variable_attrs)
    coords = _variant_coords(scenario)
    coords["trial"] = _trial_coordinate(trials_run)
    dataset = xr.Dataset(data_vars, coords=coords)
    return dataset.assign_attrs(simframe_point=point)


def _trial_coordinate(trials: int) -> tuple[str, np.ndarray, dict[str, str]]:
    return ("trial", np.arange(trials), {"long_name": "Monte Carlo trial index"})


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
    """Stack the per-point datasets along the sweep dims into one dataset.

    Points that ran fewer trials than others (``[precision]`` stopping) are padded with NaN.
    """
    shape = scenario.shape
    sweep_dims = [axis.dim for axis in scenario.axes]
    sizes: dict[str, int] = {}
    meta: dict[str, xr.Variable] = {}
    for part in parts.values():
        for name, variable in part.data_vars.items():
            meta.setdefault(name, variable)
            for dim in variable.dims:
                sizes[dim] = max(sizes.get(dim, 0), part.sizes[dim])
    data_vars = {}
    for name, first in meta.items():
        pieces = {
            scenario.point_index(point): part[name].values
            for point, part in parts.items()
            if name in part
        }
        tail = tuple(sizes[d] for d in first.dims)
        array = _stack_padded(pieces, shape, tail, _is_categorical(first.attrs))
        data_vars[name] = ((*sweep_dims, *first.dims), array, dict(first.attrs))
    first_part = next(iter(parts.values()))
    coords = {name: first_part[name].variable for name in first_part.coords}
    coords["trial"] = _trial_coordinate(max(part.sizes["trial"] for part in parts.values()))
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
    """Write ``dataset`` to a new file beside ``path``, then rename it into place.

    The file gets the permissions the umask allows (as any file a program creates), and a
    failure to write is one line (:func:`simframe.output.reported_write_errors`).
    """
    path = Path(path)
    with reported_write_errors(path, dataset.nbytes):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = _new_file_beside(path)
        try:
            dataset.to_netcdf(temporary, engine="netcdf4", auto_complex=True)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _new_file_beside(path: Path) -> Path:
    """An empty hidden file next to ``path``, created with mode 0666 less the umask
    (``tempfile.mkstemp`` would make it 0600 whatever the umask)."""
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate


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
