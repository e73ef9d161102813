"""Figures from result datasets, chosen from their dimensions (``simframe plot``).

Two kinds of figure cover what the papers show:

* ``mean``: the mean over trials with its confidence interval (percentile bootstrap, 95 % by
  default) against a swept parameter (or a metric's own dimension such as ``iteration``), one
  line per variant; without a swept parameter to draw against, one point with its interval
  per variant. A metric with per-user values (``ue``, ``stream``) is first averaged over its
  users within each trial, so the interval is over independent trials. An optimiser trace
  drawn against ``iteration`` (or ``*_iteration``) carries each trial's last value forward
  once it stopped, so every iteration averages the same trials.
* ``cdf``: the empirical CDF of a metric pooled over trials and its own dimensions (e.g. the
  spectral efficiency of every user in every trial), one line per variant.

The interval is the percentile bootstrap of the mean (``ds.simframe.mean_ci(...,
method="bootstrap")``): it stays within the range of the data, so a positive metric never gets
a negative lower end, as the Student-t interval of a heavy-tailed sample can. With fewer than
about 10 trials every interval is rough, and the bootstrap one is too narrow; the title states
the number of trials.

``kind="auto"`` draws a CDF for metrics with their own dimensions and a mean otherwise. Swept
dimensions that are neither the x axis nor pooled become one panel per value (one such
dimension at most; fix the others with ``select``). Variants without any data (a trace that a
method does not produce) are left out. Legends show the variants' labels
(``ds.simframe.variant_labels``). Needs matplotlib (``pip install 'simframe[plot]'``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import xarray as xr

from simframe.wording import counted

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

KINDS = ("auto", "mean", "cdf")
INTERVALS = ("bootstrap", "t")
MAX_PANELS = 12
LOG_SPAN = 100.0  # positive data spanning more than this factor get a logarithmic axis
LOG_DECADES = 12  # ... showing at most this many decades below the largest value
TITLE_WIDTH = 70
LEGEND_WIDTH = 28
RATE_UNITS = ("bit/s/Hz",)
TRACE_DIM = "iteration"
"""A metric dim named so (or ``*_iteration``) is an optimiser trace: trials that stopped early
keep their final value in a figure against it."""
PLURALS = {"ue": "UEs", "ap": "APs"}
"""How a figure counts the values of a metric dimension (default: the name plus "s")."""
FONTS = {
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 12,
}
"""Font sizes in points, the same in single- and multi-panel figures."""
SINGLE_PANEL_IN = (6.4, 4.2)
PANEL_IN = (3.9, 3.0)

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


def axis_label(variable: xr.DataArray | xr.Variable, fallback: str, note: str = "") -> str:
    """``long_name[, note] [units]``; dimensionless (``"1"``) and unit-less ones get no bracket."""
    name = variable.attrs.get("long_name") or fallback.replace("_", " ")
    name = f"{name}, {note}" if note else name
    units = variable.attrs.get("units", "")
    return f"{name} [{units}]" if units and units != "1" else name


def plural(dim: str, count: int | None = None) -> str:
    """``"20 UEs"`` / ``"streams"``: how a figure counts the values of a dimension."""
    word = PLURALS.get(dim, dim.replace("_", " ") + "s")
    return word if count is None else counted(count, word.removesuffix("s"), word)


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


def _linked(dataset: xr.Dataset, dim: str) -> tuple[list[xr.DataArray], list[xr.DataArray]]:
    """Coordinates swept along ``dim`` (a linked sweep): those with the same values, others."""
    along = [c for name, c in dataset.coords.items() if name != dim and c.dims == (dim,)]
    values = dataset[dim].values
    same = [c for c in along if np.array_equal(c.values, values)]
    return same, [c for c in along if not np.array_equal(c.values, values)]


def _coord_name(dataset: xr.Dataset, dim: str) -> str:
    """A sweep coordinate's long name, joined with those of linked ones of equal values
    (``"TX metasurface layers L = RX metasurface layers K"``)."""
    if dim not in dataset.coords:
        return dim.replace("_", " ")
    if dataset[dim].ndim == 1:
        same, _ = _linked(dataset, dim)
    else:  # a selected value: a linked coordinate is a scalar of the same value with a path
        value = dataset[dim].values
        same = [
            c
            for name, c in dataset.coords.items()
            if name != dim and c.ndim == 0 and "simframe_path" in c.attrs and c.values == value
        ]
    names = [c.attrs.get("long_name") or str(c.name) for c in (dataset[dim], *same)]
    return " = ".join(names)


def _panel_title(dataset: xr.Dataset, dim: str, value: Any) -> str:
    """``long name = value unit`` of a sweep coordinate (``dim value`` without one)."""
    if dim not in dataset.coords:
        return f"{dim.replace('_', ' ')} {value}"
    units = dataset[dim].attrs.get("units", "")
    suffix = f" {units}" if units and units != "1" else ""
    if isinstance(value, float | np.floating):
        value = f"{value:g}"
    return f"{_coord_name(dataset, dim)} = {value}{suffix}"


def _figure(n_panels: int) -> tuple[Figure, list[Axes]]:
    plt = _pyplot()
    columns = min(3, n_panels)
    rows = -(-n_panels // columns)
    width, height = SINGLE_PANEL_IN if n_panels == 1 else PANEL_IN
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(width * columns, height * rows + 0.9),
        squeeze=False,
        sharex=n_panels > 1,
        sharey=True,
        layout="constrained",
    )
    flat = list(axes.ravel())
    for unused in flat[n_panels:]:
        unused.set_visible(False)
    for ax in flat[:n_panels]:
        ax.xaxis.set_tick_params(labelbottom=True)  # shared x: ticks under every panel
    return figure, flat[:n_panels]


def _label_axes(figure: Figure, axes: list[Axes], xlabel: str, ylabel: str) -> None:
    """One x and y label per figure: on the axes for one panel, on the figure for several."""
    if len(axes) == 1:
        axes[0].set_xlabel(xlabel)
        axes[0].set_ylabel(ylabel)
    else:
        figure.supxlabel(xlabel, fontsize=FONTS["axes.labelsize"])
        figure.supylabel(ylabel, fontsize=FONTS["axes.labelsize"])


def _x_label(stats: xr.Dataset, x: str) -> str:
    """The x dimension's label; a linked sweep names the parameters swept along with it."""
    if x not in stats.coords:
        return x.replace("_", " ")
    units = stats[x].attrs.get("units", "")
    label = _coord_name(stats, x) + (f" [{units}]" if units and units != "1" else "")
    _, other = _linked(stats, x)
    if other:
        label += "; swept along: " + ", ".join(axis_label(c, str(c.name)) for c in other)
    return label


def _with_data(data: _Data, probe: xr.DataArray) -> _Data:
    """``data`` without the variants for which ``probe`` holds no value at all."""
    if "variant" not in probe.dims:
        return data
    present = probe.notnull().any([d for d in probe.dims if d != "variant"])
    if not bool(present.any()):
        raise PlotError(f"{probe.name!r} holds no value (every trial failed or it is all NaN)")
    return data.sel(variant=present.values)


def _by_variant(
    data: xr.Dataset | xr.DataArray, labels: Mapping[str, str]
) -> list[tuple[str, Any]]:
    if "variant" not in data.dims:
        name = str(data["variant"].values) if "variant" in data.coords else ""
        return [(labels.get(name, name), data)]
    return [(labels[str(v)], data.sel(variant=v)) for v in data["variant"].values]


def _merge_identical(stats: xr.Dataset, labels: Mapping[str, str]) -> tuple[xr.Dataset, dict]:
    """One line for variants whose statistics are identical everywhere (a random-phase trace
    shared by two power allocators), labelled with all their names joined by " = "."""
    if "variant" not in stats.dims:
        return stats, dict(labels)
    groups: list[list[str]] = []
    for name in map(str, stats["variant"].values):
        line = stats.sel(variant=name)
        for group in groups:
            first = stats.sel(variant=group[0])
            if all(np.array_equal(line[k], first[k], equal_nan=True) for k in stats.data_vars):
                group.append(name)
                break
        else:
            groups.append([name])
    merged = dict(labels)
    merged.update({g[0]: " = ".join(labels[n] for n in g) for g in groups})
    return stats.sel(variant=[g[0] for g in groups]), merged


def _trials_text(count: xr.DataArray) -> str:
    """How many trials the drawn means are over: ``"5 trials"`` or ``"20 to 100 trials"``."""
    trials = _range(count.values)
    return counted(trials, "trial") + ("" if trials.isdigit() else " per point")


def _overlay_lines(
    dataset: xr.Dataset, name: str, x: str, units: str, labels: Mapping[str, str]
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
    names = [labels[str(v)] for v in mean["variant"].values]
    return [(f"{long_name}, {v}", line) for v, line in zip(names, per_variant, strict=True)]


def _per_trial(data: xr.DataArray, own: Sequence[str], x: str | None) -> xr.DataArray:
    """The metric as one value per trial (and ``x``): users averaged, traces carried forward.

    A trace is cut after the last iteration any trial reached, then each trial that stopped
    earlier keeps its final value.
    """
    if x is not None and x in own and (x == TRACE_DIM or x.endswith(f"_{TRACE_DIM}")):
        reached = data.notnull().any([d for d in data.dims if d != x]).values
        data = _carry_forward(data.isel({x: slice(0, int(np.flatnonzero(reached).max()) + 1)}), x)
    averaged = [d for d in own if d != x]
    return data.mean(averaged, skipna=True, keep_attrs=True) if averaged else data


def _carry_forward(data: xr.DataArray, dim: str) -> xr.DataArray:
    """Each NaN along ``dim`` replaced by the last value before it (a finished trace's end)."""
    moved = data.transpose(..., dim)
    values = moved.values
    steps = np.arange(values.shape[-1])
    last = np.maximum.accumulate(np.where(np.isnan(values), 0, steps), axis=-1)
    filled = np.take_along_axis(values, last, axis=-1)
    return moved.copy(data=filled).transpose(*data.dims)


def _default_x(dataset: xr.Dataset, variable: str) -> str | None:
    sweep = [d for d in dataset.simframe.sweep_dims if dataset[variable].sizes.get(d, 1) > 1]
    return sweep[0] if sweep else None


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, TITLE_WIDTH))


def _mean_figure(
    dataset: xr.Dataset,
    variable: str,
    title: str,
    x: str | None,
    level: float,
    overlay: tuple[str, ...],
    interval: str,
) -> Figure:
    own = dataset.simframe.metric_dims(variable)
    x = x or _default_x(dataset, variable)
    if x is not None and (x not in dataset[variable].dims or x in ("variant", "trial")):
        raise PlotError(
            f"x must be a swept or metric dimension of {variable!r}: {dataset[variable].dims}"
        )
    per_trial = _per_trial(dataset[variable], own, x)
    per_trial = _with_data(per_trial, per_trial)
    keep = (x,) if x else ()
    stats = _squeeze(
        per_trial.to_dataset(name=variable).simframe.mean_ci(variable, level, method=interval),
        keep,
    )
    labels = dataset.simframe.variant_labels
    averaged = " and ".join(plural(d) for d in own if d != x)
    what = (
        (f"averaged over the {averaged} of each trial; " if averaged else "")
        + f"mean and {level:.0%} {'bootstrap' if interval == 'bootstrap' else 'Student-t'} "
        + f"confidence interval over {_trials_text(stats['count'])}"
    )
    note = f"averaged over {averaged}" if averaged else ""
    ylabel = axis_label(dataset[variable], variable, note)
    if x is None:
        figure = _variant_figure(stats, labels)
        figure.axes[0].set_ylabel(ylabel)
    else:
        figure = _line_figure(dataset, stats, x, ylabel, overlay, labels)
    figure.suptitle(f"{title}\n{_wrap(what)}")
    return figure


def _line_figure(
    dataset: xr.Dataset,
    stats: xr.Dataset,
    x: str,
    ylabel: str,
    overlay: tuple[str, ...],
    labels: Mapping[str, str],
) -> Figure:
    stats, labels = _merge_identical(stats, labels)
    panel_dim = _panels(stats, (x,))
    panel_values = stats[panel_dim].values if panel_dim else [None]
    figure, axes = _figure(len(panel_values))
    xs = stats[x].values if x in stats.coords else np.arange(stats.sizes[x])
    units = stats["mean"].attrs.get("units", "")
    references = [
        line for name in overlay for line in _overlay_lines(dataset, name, x, units, labels)
    ]
    for ax, panel_value in zip(axes, panel_values, strict=True):
        panel = stats.sel({panel_dim: panel_value}) if panel_dim else stats
        for label, line in _by_variant(panel, labels):
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
        if np.issubdtype(np.asarray(xs).dtype, np.integer):
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.3)
        if panel_dim:
            ax.set_title(_panel_title(dataset, panel_dim, panel_value))
    drawn = np.concatenate([stats[k].values.ravel() for k in ("mean", "lower", "upper")])
    if log := _log_axis(drawn, units):
        for ax in axes:
            ax.set_yscale("log")
            ax.set_ylim(log[0] / 2, log[2] * 2)
        ylabel = f"{ylabel}\n({log[1]})"
    _label_axes(figure, axes, _x_label(stats, x), ylabel)
    _legend(axes[0])
    return figure


def _variant_figure(stats: xr.Dataset, labels: Mapping[str, str]) -> Figure:
    """One point with its interval per variant (no swept parameter to draw against)."""
    figure, (ax,) = _figure(1)
    names = [str(v) for v in np.atleast_1d(stats["variant"].values)]
    mean = np.atleast_1d(stats["mean"].values)
    errors = np.abs(np.vstack([np.atleast_1d(stats[k].values) for k in ("lower", "upper")]) - mean)
    for i in range(len(names)):
        ax.errorbar(i, mean[i], yerr=errors[:, i : i + 1], fmt="o", capsize=5, markersize=6)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(["\n".join(textwrap.wrap(labels[n], 16)) for n in names])
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.grid(True, axis="y", alpha=0.3)
    return figure


def _cdf_figure(dataset: xr.Dataset, variable: str, title: str) -> Figure:
    data = _with_data(dataset, dataset[variable])
    cdf = _squeeze(data.simframe.ecdf(variable), ("sample",))
    own = dataset.simframe.metric_dims(variable)
    labels = dataset.simframe.variant_labels
    panel_dim = _panels(cdf, ("sample",))
    panel_values = cdf[panel_dim].values if panel_dim else [None]
    figure, axes = _figure(len(panel_values))
    for ax, panel_value in zip(axes, panel_values, strict=True):
        panel = cdf.sel({panel_dim: panel_value}) if panel_dim else cdf
        for label, line in _by_variant(panel, labels):
            ax.step(line["value"].values, line["probability"].values, where="post", label=label)
        ax.set_ylim(0.0, 1.0)
        ax.grid(True, alpha=0.3)
        if panel_dim:
            ax.set_title(_panel_title(dataset, panel_dim, panel_value))
    xlabel = axis_label(dataset[variable], variable)
    if log := _log_axis(cdf["value"].values, dataset[variable].attrs.get("units")):
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlim(log[0] / 2, log[2] * 2)
        xlabel = f"{xlabel}\n({log[1]})"
    _label_axes(figure, axes, xlabel, "empirical CDF")
    _legend(axes[0])
    samples = cdf["probability"].notnull().sum("sample").values
    valid = data[variable].notnull()
    trials = (valid.any(own) if own else valid).sum("trial").values
    per_trial = " x ".join(plural(d, dataset.sizes[d]) for d in own)
    pooled = counted(_range(trials), "trial") + (f" x {per_trial}" if own else "")
    per_line = counted(_range(samples), "sample")
    figure.suptitle(f"{title}\n{_wrap(f'empirical CDF over {pooled} ({per_line} per line)')}")
    return figure


def _range(values: Any) -> str:
    values = np.asarray(values)
    values = values[values > 0] if values.size else values
    if values.size == 0:
        return "0"
    fewest, most = int(values.min()), int(values.max())
    return f"{most}" if fewest == most else f"{fewest} to {most}"


def _log_axis(values: np.ndarray, units: str | None) -> tuple[float, str, float] | None:
    """``(lower limit, note, largest value)`` when non-negative data span more than LOG_SPAN.

    Such data need a logarithmic axis to be read; it shows at most LOG_DECADES decades below
    the largest value, and the note says when smaller values (or zeros) are cut off. Rates
    (RATE_UNITS) are a logarithm already and never get one.
    """
    if units in RATE_UNITS:
        return None
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
        if coord.ndim == 0 and name in selected and name != "variant"
    ]
    if "variant" in selected and "variant" in dataset.coords:
        variant = str(dataset["variant"].values)
        fixed.append(dataset.simframe.variant_labels.get(variant, variant))
    title = dataset.attrs.get("title", variable)
    return _wrap(f"{title} ({', '.join(fixed)})" if fixed else title)


def _legend(ax: Axes) -> None:
    """Variants (and reference lines) in a legend: inside the axes for a few lines, to the
    right of the figure for more, where it hides no data."""
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    if not lines:
        return
    labels = ["\n".join(textwrap.wrap(line.get_label(), LEGEND_WIDTH)) for line in lines]
    if len(lines) <= 3 and len(ax.figure.axes) == 1:
        ax.legend(lines, labels)
    else:
        width, height = ax.figure.get_size_inches()
        ax.figure.set_size_inches(width + 2.4, height)
        ax.figure.legend(lines, labels, loc="outside right")


def plot_result(
    dataset: xr.Dataset,
    variable: str | None = None,
    x: str | None = None,
    kind: str = "auto",
    select: Mapping[str, Any] | None = None,
    level: float = 0.95,
    overlay: Sequence[str] = (),
    interval: str = "bootstrap",
) -> Figure:
    """Draw ``variable`` of a result dataset; see the module docstring for the choices.

    ``select`` fixes dimensions, e.g. ``{"variant": "rmax", "layers": 7}`` (values may be
    given as text, as on the command line; coordless dims such as ``ue`` take an index).
    ``overlay`` names metrics in the same units drawn as dashed reference lines in a mean
    figure (their mean over trials), e.g. a benchmark such as ``digital_rate_bps_hz``.
    ``interval`` is ``"bootstrap"`` (percentile bootstrap of the mean) or ``"t"`` (Student t).
    """
    if kind not in KINDS:
        raise PlotError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if interval not in INTERVALS:
        raise PlotError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
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
        swept = _default_x(dataset, variable) is not None
        kind = "mean" if x is not None or not own or swept else "cdf"
    title = _title(dataset, variable, select)
    with _pyplot().rc_context(FONTS):
        if kind == "cdf":
            if x is not None or overlay:
                raise PlotError(
                    "a CDF has the metric's values on the x axis; drop --x and --overlay"
                )
            return _cdf_figure(dataset, variable, title)
        return _mean_figure(dataset, variable, title, x, level, tuple(overlay), interval)
