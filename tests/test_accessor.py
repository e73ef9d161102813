"""The ds.simframe accessor against direct numpy/scipy computations and a real toy result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import simframe  # noqa: F401  (registers the accessor)
from simframe.results import open_result
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parents[1]


def _result(values: np.ndarray, per_user: np.ndarray) -> xr.Dataset:
    """A dataset shaped like a simframe result: sweep dim layers, variant, trial, ue."""
    layers, variants, trials = values.shape
    return xr.Dataset(
        {
            "rate_bps_hz": (
                ("layers", "variant", "trial"),
                values,
                {"units": "bit/s/Hz", "long_name": "achievable rate"},
            ),
            "se_bps_hz": (
                ("layers", "variant", "trial", "ue"),
                per_user,
                {"units": "bit/s/Hz", "long_name": "spectral efficiency per UE"},
            ),
            "runtime_s": (
                ("layers", "variant", "trial"),
                np.ones_like(values),
                {"units": "s", "long_name": "runtime", "simframe_role": "timing"},
            ),
        },
        coords={
            "layers": ("layers", np.arange(1, layers + 1), {"long_name": "layers"}),
            "variant": ("variant", [f"v{i}" for i in range(variants)]),
            "trial": ("trial", np.arange(trials)),
        },
    )


@settings(max_examples=30, deadline=None)
@given(
    st.integers(2, 40),
    st.floats(0.5, 0.999),
    st.integers(0, 2**32 - 1),
)
def test_mean_ci_is_the_student_t_interval(trials, level, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(3.0, 2.0, (2, 2, trials))
    result = _result(values, rng.random((2, 2, trials, 3))).simframe.mean_ci("rate_bps_hz", level)
    sample = values[1, 0]
    low, high = stats.t.interval(level, trials - 1, sample.mean(), stats.sem(sample))
    chosen = result.sel(layers=2, variant="v0")
    assert float(chosen["mean"]) == pytest.approx(sample.mean())
    assert float(chosen["lower"]) == pytest.approx(low)
    assert float(chosen["upper"]) == pytest.approx(high)
    assert int(chosen["count"]) == trials
    assert result["mean"].attrs["units"] == "bit/s/Hz"


def test_mean_ci_skips_failed_trials_and_refuses_an_interval_from_one_sample():
    values = np.array([[[1.0, 2.0, np.nan, 6.0], [5.0, np.nan, np.nan, np.nan]]])
    result = _result(values, np.zeros((1, 2, 4, 1))).simframe.mean_ci("rate_bps_hz")
    assert result["count"].values.tolist() == [[3, 1]]
    assert float(result["mean"][0, 0]) == pytest.approx(3.0)
    assert float(result["mean"][0, 1]) == 5.0
    assert np.isnan(float(result["lower"][0, 1])) and np.isnan(float(result["upper"][0, 1]))


def test_percentiles_and_likely_pool_trials_and_users():
    rng = np.random.default_rng(7)
    per_user = rng.exponential(2.0, (3, 2, 50, 8))
    ds = _result(rng.random((3, 2, 50)), per_user)
    pooled = per_user[2, 1].ravel()
    assert float(ds.simframe.likely("se_bps_hz", 0.95).sel(layers=3, variant="v1")) == (
        pytest.approx(np.percentile(pooled, 5))
    )
    both = ds.simframe.percentile("se_bps_hz", [10, 90]).sel(layers=3, variant="v1")
    np.testing.assert_allclose(both.values, np.percentile(pooled, [10, 90]))
    assert both["percentile"].values.tolist() == [10.0, 90.0]
    per_trial = ds.simframe.percentile("se_bps_hz", 50, dims=["ue"])
    assert per_trial.dims == ("layers", "variant", "trial")
    assert ds.simframe.likely("se_bps_hz").attrs["units"] == "bit/s/Hz"


def test_ecdf_sorts_pooled_samples_and_ignores_padding():
    per_user = np.arange(24, dtype=float)[::-1].reshape(1, 2, 3, 4)
    per_user[0, 1, 2, 2:] = np.nan  # fewer users in one trial (padding)
    cdf = _result(np.zeros((1, 2, 3)), per_user).simframe.ecdf("se_bps_hz")
    first = cdf.isel(layers=0, variant=0)
    np.testing.assert_array_equal(first["value"], np.sort(per_user[0, 0].ravel()))
    np.testing.assert_allclose(first["probability"], np.arange(1, 13) / 12)
    second = cdf.isel(layers=0, variant=1)
    assert np.isnan(second["value"][-2:]).all()
    np.testing.assert_allclose(second["probability"][:10], np.arange(1, 11) / 10)
    assert cdf["value"].attrs["units"] == "bit/s/Hz"


def test_variant_selection_and_clear_errors():
    ds = _result(np.zeros((1, 2, 3)), np.zeros((1, 2, 3, 2)))
    assert "variant" not in ds.simframe.variant("v1").dims
    with pytest.raises(KeyError, match="v0, v1"):
        ds.simframe.variant("v9")
    with pytest.raises(KeyError, match="rate_bps_hz"):
        ds.simframe.mean_ci("rate")
    with pytest.raises(ValueError, match="no dimension 'ue'"):
        ds.simframe.mean_ci("rate_bps_hz", dim="ue")
    complex_ds = ds.assign(h=(("trial",), np.ones(3, complex), {"units": "1"}))
    with pytest.raises(TypeError, match="complex"):
        complex_ds.simframe.ecdf("h")


def test_accessor_on_a_real_toy_result(tmp_path, toy_scenario):
    out = tmp_path / "toy.nc"
    assert invoke("run", str(toy_scenario), "-o", str(out), "--workers", "1", "--quiet")
    ds = open_result(out)
    accessor = ds.simframe
    assert accessor.sweep_dims == ("snr_db",)
    assert "rate_bps_hz" in accessor.metrics and "channel" not in accessor.metrics
    assert accessor.timings == ("runtime_s",)
    assert accessor.metric_dims("stream_rate_bps_hz") == ("stream",)
    assert accessor.variants == ("one_watt", "two_watts")
    assert any(v == "local file" for v in accessor.plugin_versions.values())
    ci = accessor.mean_ci("rate_bps_hz")
    assert ci["mean"].dims == ("snr_db", "variant")
    np.testing.assert_allclose(ci["mean"], ds.rate_bps_hz.mean("trial").transpose(*ci["mean"].dims))
    assert (ci["lower"] <= ci["mean"]).all() and (ci["mean"] <= ci["upper"]).all()


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 30), st.integers(0, 2**32 - 1))
def test_bootstrap_interval_stays_within_the_samples_and_contains_the_mean(trials, seed):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, 2.0, (2, 2, trials))
    values[1, 1, trials // 2 :] = np.nan  # a point that stopped early (or failed trials)
    result = _result(values, rng.random((2, 2, trials, 1))).simframe.mean_ci(
        "rate_bps_hz", method="bootstrap"
    )
    low, mean, high = (result[k].values for k in ("lower", "mean", "upper"))
    finite = ~np.isnan(low)
    assert np.all(np.nanmin(values, axis=-1)[finite] <= low[finite])
    assert np.all(low[finite] <= mean[finite]) and np.all(mean[finite] <= high[finite])
    assert np.all(high[finite] <= np.nanmax(values, axis=-1)[finite])
    assert result.attrs["interval_method"] == "bootstrap"


def test_bootstrap_interval_of_two_trials_is_their_range_and_of_many_close_to_t():
    two = _result(np.array([[[1.0, 3.0]]]), np.zeros((1, 1, 2, 1))).simframe
    interval = two.mean_ci("rate_bps_hz", method="bootstrap").isel(layers=0, variant=0)
    assert (float(interval["lower"]), float(interval["upper"])) == (1.0, 3.0)
    rng = np.random.default_rng(1)
    normal = _result(rng.normal(5.0, 1.0, (1, 1, 400)), np.zeros((1, 1, 400, 1))).simframe
    t = normal.mean_ci("rate_bps_hz").isel(layers=0, variant=0)
    boot = normal.mean_ci("rate_bps_hz", method="bootstrap").isel(layers=0, variant=0)
    width_t = float(t["upper"] - t["lower"])
    assert float(boot["upper"] - boot["lower"]) == pytest.approx(width_t, rel=0.1)
    with pytest.raises(ValueError, match="method must be one of"):
        normal.mean_ci("rate_bps_hz", method="wald")


def test_expanded_level_widens_small_samples_and_tends_to_the_level():
    from simframe.accessor import expanded_level

    assert expanded_level(0.95, 3) > expanded_level(0.95, 10) > expanded_level(0.95, 100) > 0.95
    assert expanded_level(0.95, 10_000) == pytest.approx(0.95, abs=1e-3)
