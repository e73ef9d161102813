"""The ``ds.simframe`` accessor: statistics of simframe result datasets in one call.

Registered when ``simframe`` is imported::

    import simframe  # registers the accessor
    from simframe.results import open_result

    ds = open_result("quickstart.nc")
    ds.simframe.sweep_dims                 # ("layers",)
    ds.simframe.mean_ci("rate_bps_hz")     # mean, lower, upper, count over trials
    ds.simframe.mean_ci("rate_bps_hz", method="bootstrap")  # percentile-bootstrap interval
    ds.simframe.variant("hybrid")          # one variant's slice
    ds.simframe.variant_labels             # variant id -> label shown in figures

    cf = open_result("cf.nc")              # a cell-free result (per-UE metrics)
    cf.simframe.likely("se_lsfd_bps_hz", 0.95)  # the value exceeded with probability 0.95
    cf.simframe.ecdf("se_lsfd_bps_hz")     # empirical CDF pooled over trials and UEs

Dimensions of a result: one per swept parameter (with a coordinate carrying ``units`` and
``long_name``), ``variant``, ``trial`` and the metrics' own dimensions (``stream``, ``ue``,
``iteration``, ... without a coordinate). Every returned variable keeps the metric's ``units``.

Trials that failed (``--keep-going``) and trials a point never ran (precision stopping pads a
point that stopped early with NaN; ``trials_run`` says how many it ran) are NaN and excluded
from every statistic. Categorical per-trial data (``simframe_role = "categorical"``, e.g. the
pilot index of a UE) and wall-clock timings are not metrics: they are never averaged.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Hashable, Sequence

import numpy as np
import xarray as xr
from scipy import stats

from simframe.results import CATEGORICAL_ROLE, TIMING_ROLE

RESERVED_DIMS = ("variant", "trial")
INTERVAL_METHODS = ("t", "bootstrap")
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20240607
"""Fixed, so that the same dataset always gives the same bootstrap interval."""
_BOOTSTRAP_CHUNK = 4_000_000  # resampled values held at once (memory bound)


class SimframeAccessor:
    """Statistics over trials and per-user samples of a simframe result dataset."""

    def __init__(self, dataset: xr.Dataset):
        self._ds = dataset

    # --- what the dataset holds -------------------------------------------------------------

    @property
    def sweep_dims(self) -> tuple[str, ...]:
        """The swept parameters' dimensions, in dataset order (they have a coordinate)."""
        return tuple(
            str(d) for d in self._ds.dims if d not in RESERVED_DIMS and d in self._ds.coords
        )

    @property
    def metrics(self) -> tuple[str, ...]:
        """Real-valued per-trial results, without wall-clock timings, complex outputs, errors."""
        return tuple(
            str(name)
            for name, var in self._ds.data_vars.items()
            if "trial" in var.dims
            and var.attrs.get("simframe_role") not in (TIMING_ROLE, CATEGORICAL_ROLE)
            and var.dtype.kind in "biuf"
        )

    def _with_role(self, role: str) -> tuple[str, ...]:
        """The data variables whose ``simframe_role`` is ``role``, in dataset order."""
        return tuple(
            str(n) for n, v in self._ds.data_vars.items() if v.attrs.get("simframe_role") == role
        )

    @property
    def categorical(self) -> tuple[str, ...]:
        """Per-trial labels or indices (``simframe_role = "categorical"``), never averaged."""
        return self._with_role(CATEGORICAL_ROLE)

    @property
    def timings(self) -> tuple[str, ...]:
        """Wall-clock variables (``units = "s"``), which differ between identical runs."""
        return self._with_role(TIMING_ROLE)

    def metric_dims(self, name: str) -> tuple[str, ...]:
        """The dims of metric ``name`` beyond the sweep, ``variant`` and ``trial`` (e.g. ``ue``)."""
        sweep = set(self.sweep_dims)
        return tuple(
            str(d) for d in self._metric(name).dims if d not in sweep and d not in RESERVED_DIMS
        )

    @property
    def plugin_versions(self) -> dict[str, str]:
        """Plugin name -> ``"distribution version"`` of the plugins that produced the dataset."""
        return json.loads(self._ds.attrs.get("plugin_versions", "{}"))

    @property
    def variants(self) -> tuple[str, ...]:
        """Variant ids (one when ``variant`` was selected away to a scalar coordinate)."""
        if "variant" not in self._ds.coords:
            return ()
        return tuple(str(v) for v in np.atleast_1d(self._ds["variant"].values))

    @property
    def variant_labels(self) -> dict[str, str]:
        """Variant id -> the label a figure shows.

        A ``variant_label`` coordinate along ``variant`` wins; else the ``label`` of the
        variant's table in the scenario text the dataset records (``[variants.NAME] label =
        "..."``); else the id with underscores as spaces.
        """
        if "variant_label" in self._ds.coords:
            return {
                str(v): str(label)
                for v, label in zip(
                    self.variants, np.atleast_1d(self._ds["variant_label"].values), strict=True
                )
            }
        try:
            tables = tomllib.loads(self._ds.attrs.get("scenario", "")).get("variants", {})
        except tomllib.TOMLDecodeError:
            tables = {}
        labels = {}
        for name in self.variants:
            table = tables.get(name)
            label = table.get("label") if isinstance(table, dict) else None
            labels[name] = label if isinstance(label, str) and label else name.replace("_", " ")
        return labels

    def variant(self, name: str) -> xr.Dataset:
        """The dataset of one variant (the ``variant`` dimension dropped)."""
        if name not in self.variants:
            raise KeyError(f"no variant {name!r}; the dataset has {', '.join(self.variants)}")
        return self._ds.sel(variant=name)

    # --- statistics -------------------------------------------------------------------------

    def mean_ci(
        self,
        name: str,
        level: float = 0.95,
        dim: str | Sequence[str] = "trial",
        method: str = "t",
    ) -> xr.Dataset:
        """Mean of metric ``name`` over ``dim`` with its confidence interval.

        ``method="t"``: the Student-t interval ``mean +- t s / sqrt(n)``. ``"bootstrap"``: the
        expanded percentile bootstrap interval of the mean (``scipy.stats.bootstrap``, 4000
        resamples, fixed seed), whose level is widened for ``n`` samples so that it matches
        the t interval's width for normal data (Hesterberg 2015: percentiles at the level
        ``2 Phi(sqrt(n / (n - 1)) t_{n-1}) - 1``; the plain percentile interval is too narrow
        for small ``n``). It never leaves the range of the samples, so a positive,
        heavy-tailed metric (an SINR, a rate near zero) gets no negative lower end, which the
        t interval can give; with two samples it is their range. Both are approximate with
        few samples.

        Returns a dataset with ``mean``, ``lower``, ``upper`` (in the metric's units) and
        ``count`` (the non-NaN samples each mean is taken over; failed and never-run trials
        are NaN and excluded). With fewer than two samples the interval is NaN: one trial says
        nothing about the spread.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must lie in (0, 1), got {level}")
        if method not in INTERVAL_METHODS:
            raise ValueError(f"method must be one of {', '.join(INTERVAL_METHODS)}, got {method!r}")
        data = self._metric(name)
        dims = [dim] if isinstance(dim, str) else list(dim)
        self._check_dims(data, dims)
        count = data.notnull().sum(dims)
        mean = data.mean(dims, skipna=True)
        if method == "t":
            std = data.std(dims, ddof=1, skipna=True)
            dof = (count - 1).where(count > 1)
            half = xr.apply_ufunc(stats.t.ppf, 0.5 + level / 2, dof) * std / np.sqrt(count)
            lower, upper = mean - half, mean + half
            what = f"{level:.0%} Student-t confidence interval over {', '.join(dims)}"
        else:
            lower, upper = _bootstrap_interval(data, dims, level)
            what = f"{level:.0%} percentile-bootstrap confidence interval over {', '.join(dims)}"
        attrs = dict(data.attrs)
        attrs.pop("simframe_role", None)
        return xr.Dataset(
            {
                "mean": mean.assign_attrs(attrs, long_name=f"mean {attrs.get('long_name', name)}"),
                "lower": lower.assign_attrs(attrs, long_name=f"lower end of the {what}"),
                "upper": upper.assign_attrs(attrs, long_name=f"upper end of the {what}"),
                "count": count.assign_attrs(units="1", long_name="number of samples"),
            },
            attrs={"confidence_level": level, "interval_method": method},
        )

    def percentile(
        self, name: str, q: float | Sequence[float], dims: Sequence[str] | None = None
    ) -> xr.DataArray:
        """The ``q``-th percentile(s) (0-100) of metric ``name`` over ``dims``.

        ``dims`` defaults to ``trial`` plus the metric's own dims, i.e. pooling every user
        (``ue``) or stream of every trial, as cell-free papers do for per-user spectral
        efficiency. NaN samples (padding, failed trials) are ignored.
        """
        data, dims = self._pooled(name, dims)
        scalar = np.ndim(q) == 0
        result = data.quantile(np.atleast_1d(q) / 100.0, dim=dims, skipna=True)
        result = result.assign_coords(quantile=result["quantile"] * 100.0).rename(
            quantile="percentile"
        )
        result["percentile"].attrs.update(units="%", long_name="percentile")
        result = result.assign_attrs(data.attrs)
        return result.squeeze("percentile", drop=True) if scalar else result

    def likely(self, name: str, probability: float = 0.95, dims: Sequence[str] | None = None):
        """The value of metric ``name`` that is exceeded with ``probability``.

        E.g. ``likely("se_bps_hz", 0.95)`` is the 95 %-likely per-user spectral efficiency: the
        5th percentile over trials and users (see :meth:`percentile` for ``dims``).
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must lie in [0, 1], got {probability}")
        result = self.percentile(name, 100.0 * (1.0 - probability), dims)
        long_name = result.attrs.get("long_name", name)  # percentile keeps the metric's attrs
        return result.assign_attrs(long_name=f"{probability:.0%}-likely {long_name}")

    def ecdf(self, name: str, dims: Sequence[str] | None = None) -> xr.Dataset:
        """Empirical CDF of metric ``name``, pooling the samples over ``dims``.

        ``dims`` defaults as in :meth:`percentile`. Returns a dataset over a new ``sample``
        dimension with ``value`` (sorted samples, in the metric's units) and ``probability``
        (the fraction of samples <= value); NaN samples are dropped, so where slices hold
        different numbers of valid samples the tail of the shorter ones is NaN.
        """
        data, dims = self._pooled(name, dims)
        pooled = data.stack(sample=dims).reset_index("sample", drop=True)
        pooled = pooled.drop_vars([d for d in dims if d in pooled.coords])
        values = np.sort(pooled.values, axis=-1)  # NaN sort to the end
        valid = np.sum(~np.isnan(values), axis=-1, keepdims=True)
        rank = np.arange(1, values.shape[-1] + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            probability = np.where(rank <= valid, rank / valid, np.nan)
        sorted_samples = pooled.copy(data=values)
        return xr.Dataset(
            {
                "value": sorted_samples.assign_attrs(data.attrs),
                "probability": sorted_samples.copy(data=probability).assign_attrs(
                    units="1", long_name="cumulative probability"
                ),
            }
        )

    # --- helpers ----------------------------------------------------------------------------

    def _metric(self, name: str) -> xr.DataArray:
        if name not in self._ds.data_vars:
            raise KeyError(
                f"no variable {name!r}; metrics of this dataset: {', '.join(self.metrics)}"
            )
        data = self._ds[name]
        if data.dtype.kind == "c":
            raise TypeError(
                f"{name!r} is complex; take np.abs(...) or .real of it explicitly first"
            )
        return data

    def _pooled(self, name: str, dims: Sequence[str] | None) -> tuple[xr.DataArray, list[str]]:
        """Metric ``name`` and the dims to pool it over (``trial`` and its own by default)."""
        data = self._metric(name)
        chosen = ["trial", *self.metric_dims(name)] if dims is None else list(dims)
        self._check_dims(data, chosen)
        return data, chosen

    @staticmethod
    def _check_dims(data: xr.DataArray, dims: Sequence[Hashable]) -> None:
        missing = [d for d in dims if d not in data.dims]
        if missing:
            raise ValueError(
                f"{data.name!r} has no dimension {', '.join(map(repr, missing))}; "
                f"its dims are {data.dims}"
            )


def expanded_level(level: float, n: int) -> float:
    """Level of the percentile bootstrap that gives a ``level`` interval from ``n`` samples.

    Hesterberg (2015), "What teachers should know about the bootstrap": use the percentiles at
    ``alpha'/2`` with ``Phi^-1(alpha'/2) = sqrt(n / (n - 1)) t_{alpha/2, n-1}``, which corrects
    the narrowness of the percentile interval (the bootstrap spread is the biased ``s``, and
    ``z`` replaces ``t``).
    """
    widened = np.sqrt(n / (n - 1)) * stats.t.ppf(0.5 + level / 2, n - 1)
    return float(min(1.0 - 2.0 * stats.norm.sf(widened), 1.0 - 1e-9))  # 1.0 is not a level


def _bootstrap_interval(
    data: xr.DataArray, dims: Sequence[str], level: float
) -> tuple[xr.DataArray, xr.DataArray]:
    """Expanded percentile-bootstrap interval of the mean over ``dims``, NaN samples excluded.

    Slices with the same number ``n`` of valid samples are resampled together (vectorised), at
    the level :func:`expanded_level` of ``n``; slices with fewer than two samples get NaN.
    """
    kept = [d for d in data.dims if d not in dims]
    moved = data.transpose(*kept, *dims)
    rows = moved.values.reshape(-1, int(np.prod([data.sizes[d] for d in dims])))
    valid = ~np.isnan(rows)
    counts = valid.sum(axis=1)
    lower = np.full(len(rows), np.nan)
    upper = np.full(len(rows), np.nan)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    for n in np.unique(counts[counts >= 2]):
        chosen = counts == n
        samples = rows[chosen][valid[chosen]].reshape(-1, n)  # row order kept
        batch = max(1, min(BOOTSTRAP_RESAMPLES, _BOOTSTRAP_CHUNK // (len(samples) * n)))
        result = stats.bootstrap(
            (samples,),
            np.mean,
            n_resamples=BOOTSTRAP_RESAMPLES,
            batch=batch,
            vectorized=True,
            axis=-1,
            confidence_level=expanded_level(level, int(n)),
            method="percentile",
            rng=rng,
        )
        # a resampled mean of n equal values can miss that value by an ulp: clip to the samples
        lower[chosen] = np.maximum(result.confidence_interval.low, samples.min(axis=-1))
        upper[chosen] = np.minimum(result.confidence_interval.high, samples.max(axis=-1))
    template = moved.isel({d: 0 for d in dims}, drop=True)
    shape = template.shape
    return template.copy(data=lower.reshape(shape)), template.copy(data=upper.reshape(shape))
