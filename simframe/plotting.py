"""Figures from result datasets, chosen from their dimensions (``simframe plot``).

Two kinds of figure cover what the papers show:

* ``mean``: the mean over trials with its confidence interval (Student t, 95 % by default)
  against a swept parameter (or a metric's own dimension such as ``iteration``), one line per
  variant. A metric with per-user values (``ue``, ``stream``) is first averaged over its users
  within each trial, so the interval is over independent trials.
* ``cdf``: the empirical CDF of a metric pooled over trials and its own dimensions (e.g. the
  spectral efficiency of every user in every trial), one line per variant.

``kind="auto"`` draws a CDF for metrics with their own dimensions and a mean otherwise. Swept
dimensions that are neither the x axis nor pooled become one panel per value (one such
dimension at most; fix the others with ``select``). Needs matplotlib (``pip install
'simframe[plot]'``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import xarray as xr

import simframe.accessor  # noqa: F401  (registers ds.simframe)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

KINDS = ("auto", "mean", "cdf")
MAX_PANELS = 12
LOG_SPAN = 100.0  # positive data spanning more than this factor get a logarithmic axis
LOG_DECADES = 8  # ... showing at most this many decades below the largest value
TITLE_WIDTH = 70
RATE_UNITS = ("bit/s/Hz",)

_Data = TypeVar("_Data", xr.Dataset, xr.DataArray)


class PlotError(ValueError):
    """The requested figure cannot be drawn from this dataset (the message says why)."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PlotError("plotting needs matplotlib: pip install 'simframe[plot]'") from exc
    return plt


def default_variable(dataset: xr.Dataset) -> str:
    """The metric a figure shows unless told otherwise: the first rate-like one (bit/s/Hz)."""
    metrics = dataset.simframe.metrics
    if not metrics:
        raise PlotError("the dataset holds no real-valued per-trial metric to plot")
    rates = [m for m in metrics if dataset[m].attrs.get("units") in RATE_UNITS]
    return (rates or list(metrics))[0]


def axis_label(variable: xr.DataArray | xr.Variable, fallback: str) -> str:
    """``long_name [units]``; dimensionless (``"1"``) and unit-less settings get no bracket."""
    name = variable.attrs.get("long_name") or fallback
    units = variable.attrs.get("units", "")
    return f"{name} [{units}]" if units and units != "1" else name


def _parse_value(dataset: xr.Dataset, dim: str, text: Any) -> tuple[str, Any]:
    """A ``select`` value as ``("sel", coordinate value)`` or ``("isel", index)``."""
    if dim not in dataset.dims:
        raise PlotError(f"no dimension {dim!r} to select; dims are {tuple(dataset.dims)}")
    if dim not in dataset.coords:
        return "isel", int(text)
    values = dataset[dim].values
    if not isinstance(text, str):
        return "sel", text
    if values.dtype.kind in "iu":
        return "sel", int(text)
    if values.dtype.kind == "f":
        return "sel", float(text)
    if values.dtype.kind == "b":
        return "sel", text.lower() in {"true", "1"}
    return "sel", text


def apply_selection(dataset: xr.Dataset, select: Mapping[str, Any]) -> xr.Dataset:
    """Fix dimensions to one value each: by coordinate value, or by index for coordless dims."""
    for dim, text in select.items():
        how, value = _parse_value(dataset, dim, text)
        try:
            dataset = dataset.isel({dim: value}) if how == "isel" else dataset.sel({dim: value})
        except (KeyError, IndexError) as exc:
            choices = (
                dataset[dim].values.tolist() if dim in dataset.coords else range(dataset.sizes[dim])
            )
            raise PlotError(
                f"{dim}={text!r} is not in the dataset; choose one of {list(choices)}"
            ) from exc
    return dataset


def _squeeze(data: _Data, keep: tuple[str, ...]) -> _Data:
    """Drop the size-one dimensions other than ``keep`` and ``variant``."""
    return data.squeeze(
        [d for d in data.dims if d not in (*keep, "variant") and data.sizes[d] == 1], drop=True
    )


def _panels(stats: xr.Dataset, keep: tuple[str, ...]) -> str | None:
    """The one dimension to draw as panels, beyond ``keep`` and ``variant``, or None."""
    extra = [d for d in stats.dims if d not in keep and d != "variant" and stats.sizes[d] > 1]
    if len(extra) > 1:
        raise PlotError(
            f"too many dimensions to draw: {', '.join(extra)}; fix all but one with "
            f"--select DIM=VALUE (e.g. --select {extra[0]}=...)"
        )
    if extra and stats.sizes[extra[0]] > MAX_PANELS:
        raise PlotError(f"{extra[0]} has {stats.sizes[extra[0]]} values; --select one of them")
    return extra[0] if extra else None


def _panel_title(dataset: xr.Dataset, dim: str, value: Any) -> str:
    if dim in dataset.coords:
        units = dataset[dim].attrs.get("units", "")
        suffix = f" {units}" if units and units != "1" else ""
        return f"{dim} = {value}{suffix}"
    return f"{dim} {value}"


def _figure(n_panels: int) -> tuple[Figure, list[Axes]]:
    plt = _pyplot()
    columns = min(3, n_panels)
    rows = -(-n_panels // columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(5.6 * columns, 4.0 * rows + 0.6),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    flat = list(axes.ravel())
    for unused in flat[n_panels:]:
        unused.set_visible(False)
    return figure, flat[:n_panels]


def _x_label(stats: xr.Dataset, x: str) -> str:
    """The x dimension's label; a linked sweep names the parameters swept along with it."""
    if x not in stats.coords:
        return f"{x} index"
    linked = [str(name) for name, coord in stats.coords.items() if name != x and coord.dims == (x,)]
    label = axis_label(stats[x], x)
    return f"{label}, linked with {', '.join(linked)}" if linked else label


def _by_variant(data: xr.Dataset | xr.DataArray) -> list[tuple[str | None, Any]]:
    if "variant" not in data.dims:
        label = str(data["variant"].values) if "variant" in data.coords else None
        return [(label, data)]
    return [(str(v), data.sel(variant=v)) for v in data["variant"].values]


def _overlay_lines(
    dataset: xr.Dataset, name: str, x: str, units: str
) -> list[tuple[str, xr.DataArray]]:
    """Mean over trials of a reference metric (e.g. a benchmark bound), drawn dashed.

    One line when the metric is the same for every variant (a benchmark evaluated on the
    shared realisation), else one per variant.
    """
    if name not in dataset.simframe.metrics:
        raise PlotError(f"cannot overlay {name!r}; metrics: {', '.join(dataset.simframe.metrics)}")
    if dataset[name].attrs.get("units") != units:
        raise PlotError(f"{name!r} is in {dataset[name].attrs.get('units')!r}, not {units!r}")
    data = dataset[name]
    own = [d for d in dataset.simframe.metric_dims(name) if d != x]
    # the panel dim is never squeezed: it has more than one value
    mean = _squeeze(data.mean([*own, "trial"], skipna=True, keep_attrs=True), (x,))
    long_name = data.attrs.get("long_name", name)
    if "variant" not in mean.dims:
        return [(long_name, mean)]
    per_variant = [mean.isel(variant=i, drop=True) for i in range(mean.sizes["variant"])]
    if all(np.allclose(per_variant[0], line, equal_nan=True) for line in per_variant):
        return [(long_name, per_variant[0])]
    names = [str(v) for v in mean["variant"].values]
    return [(f"{long_name}, {v}", line) for v, line in zip(names, per_variant, strict=True)]


def _mean_figure(
    dataset: xr.Dataset,
    variable: str,
    title: str,
    x: str | None,
    level: float,
    overlay: tuple[str, ...],
) -> Figure:
    data = dataset[variable]
    accessor = dataset.simframe
    own = accessor.metric_dims(variable)
    if x is None:
        candidates = [d for d in (*accessor.sweep_dims, *own) if data.sizes[d] > 1]
        if not candidates:
            raise PlotError(
                f"{variable!r} has no swept parameter or own dimension with more than one value "
                "to plot against; try --kind cdf"
            )
        x = candidates[0]
    if x not in data.dims or x in ("variant", "trial"):
        raise PlotError(f"x must be a swept or metric dimension of {variable!r}: {data.dims}")
    averaged = [d for d in own if d != x]
    if averaged:
        data = data.mean(averaged, skipna=True, keep_attrs=True)
    stats = _squeeze(data.to_dataset(name=variable).simframe.mean_ci(variable, level=level), (x,))
    panel_dim = _panels(stats, (x,))
    panel_values = stats[panel_dim].values if panel_dim else [None]
    figure, axes = _figure(len(panel_values))
    xs = stats[x].values if x in stats.coords else np.arange(stats.sizes[x])
    fewest, most = int(stats["count"].min()), int(stats["count"].max())
    trials = f"{most}" if fewest == most else f"{fewest} to {most}"
    units = dataset[variable].attrs.get("units", "")
    references = [line for name in overlay for line in _overlay_lines(dataset, name, x, units)]
    for ax, panel_value in zip(axes, panel_values, strict=True):
        panel = stats.sel({panel_dim: panel_value}) if panel_dim else stats
        for label, line in _by_variant(panel):
            (drawn,) = ax.plot(xs, line["mean"].values, marker="o", markersize=4, label=label)
            ax.fill_between(
                xs,
                line["lower"].values,
                line["upper"].values,
                alpha=0.2,
                color=drawn.get_color(),
                linewidth=0,
            )
        for label, reference in references:
            values = reference.sel({panel_dim: panel_value}) if panel_dim else reference
            ax.plot(xs, values.values, linestyle="--", color="black", label=label)
        ax.set_xlabel(_x_label(stats, x))
        if np.issubdtype(np.asarray(xs).dtype, np.integer):
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.3)
        if panel_dim:
            ax.set_title(_panel_title(dataset, panel_dim, panel_value), fontsize="medium")
    axes[0].set_ylabel(axis_label(dataset[variable], variable))
    _legend(axes[0])
    figure.suptitle(
        f"{title}\n"
        + (f"averaged over {', '.join(averaged)} in each trial; " if averaged else "")
        + f"mean and {level:.0%} confidence interval over {trials} trials",
        fontsize="medium",
    )
    return figure


def _cdf_figure(dataset: xr.Dataset, variable: str, title: str) -> Figure:
    cdf = _squeeze(dataset.simframe.ecdf(variable), ("sample",))
    pooled = ["trial", *dataset.simframe.metric_dims(variable)]
    panel_dim = _panels(cdf, ("sample",))
    panel_values = cdf[panel_dim].values if panel_dim else [None]
    figure, axes = _figure(len(panel_values))
    for ax, panel_value in zip(axes, panel_values, strict=True):
        panel = cdf.sel({panel_dim: panel_value}) if panel_dim else cdf
        for label, line in _by_variant(panel):
            ax.step(line["value"].values, line["probability"].values, where="post", label=label)
        ax.set_xlabel(axis_label(dataset[variable], variable))
        ax.set_ylim(0.0, 1.0)
        ax.grid(True, alpha=0.3)
        if panel_dim:
            ax.set_title(_panel_title(dataset, panel_dim, panel_value), fontsize="medium")
    if log := _log_axis(cdf["value"].values):
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlim(log[0] / 2, log[2] * 2)
            ax.set_xlabel(f"{ax.get_xlabel()}\n({log[1]})")
    axes[0].set_ylabel("empirical CDF")
    _legend(axes[0])
    samples = int(np.prod([dataset.sizes[d] for d in pooled]))
    figure.suptitle(
        f"{title}\nCDF over {' x '.join(pooled)} ({samples} samples per line)",
        fontsize="medium",
    )
    return figure


def _log_axis(values: np.ndarray) -> tuple[float, str, float] | None:
    """``(lower limit, note, largest value)`` when non-negative data span more than LOG_SPAN.

    Such data need a logarithmic axis to be read; it shows at most LOG_DECADES decades below
    the largest value, and the note says when smaller values (or zeros) are cut off.
    """
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    if positive.size < 2 or finite.min() < 0 or positive.max() / positive.min() <= LOG_SPAN:
        return None
    lower = max(positive.min(), positive.max() * 10.0**-LOG_DECADES)
    if lower > finite.min():
        return lower, f"log scale; values below {lower:.1e} not shown", positive.max()
    return lower, "log scale", positive.max()


def _title(dataset: xr.Dataset, variable: str, selected: Collection[str]) -> str:
    """The scenario's title and the values of the ``selected`` dimensions, wrapped."""
    fixed = [
        _panel_title(dataset, str(name), coord.values.item())
        for name, coord in dataset.coords.items()
        if coord.ndim == 0 and name in selected
    ]
    title = dataset.attrs.get("title", variable)
    title = f"{title} ({', '.join(fixed)})" if fixed else title
    return "\n".join(textwrap.wrap(title, TITLE_WIDTH))


def _legend(ax: Axes) -> None:
    """Variants (and reference lines) in a legend: inside the axes for a few lines, to the
    right of the figure for more, where it hides no data."""
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    if not lines:
        return
    labels = ["\n".join(textwrap.wrap(line.get_label(), 32)) for line in lines]
    if len(lines) <= 4:
        ax.legend(lines, labels, title="variant", fontsize="small")
    else:
        width, height = ax.figure.get_size_inches()
        ax.figure.set_size_inches(width + 2.6, height)
        ax.figure.legend(lines, labels, title="variant", fontsize="small", loc="outside right")


def plot_result(
    dataset: xr.Dataset,
    variable: str | None = None,
    x: str | None = None,
    kind: str = "auto",
    select: Mapping[str, Any] | None = None,
    level: float = 0.95,
    overlay: Sequence[str] = (),
) -> Figure:
    """Draw ``variable`` of a result dataset; see the module docstring for the choices.

    ``select`` fixes dimensions, e.g. ``{"variant": "rmax", "layers": 7}`` (values may be
    given as text, as on the command line; coordless dims such as ``ue`` take an index).
    ``overlay`` names metrics in the same units drawn as dashed reference lines in a mean
    figure (their mean over trials), e.g. a benchmark such as ``digital_rate_bps_hz``.
    """
    if kind not in KINDS:
        raise PlotError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    select = select or {}
    dataset = apply_selection(dataset, select)
    variable = variable or default_variable(dataset)
    if variable not in dataset.simframe.metrics:
        raise PlotError(
            f"cannot plot {variable!r}; real-valued metrics of this dataset: "
            f"{', '.join(dataset.simframe.metrics)}"
        )
    if kind == "auto":
        own = dataset.simframe.metric_dims(variable)
        kind = "mean" if x is not None or not own else "cdf"
    title = _title(dataset, variable, select)
    if kind == "cdf":
        if x is not None or overlay:
            raise PlotError("a CDF has the metric's values on the x axis; drop --x and --overlay")
        return _cdf_figure(dataset, variable, title)
    return _mean_figure(dataset, variable, title, x, level, tuple(overlay))
