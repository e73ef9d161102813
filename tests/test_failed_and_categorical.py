"""Failed trials keep NaN metric variables; categorical labels stay integers, never quantities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simframe.results import open_result
from simframe.trial import Metric

from .conftest import TOY_SCENARIO, invoke


def plugin(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "extra.py"
    path.write_text("import numpy as np\nfrom simframe import Metric, hookimpl\n\n\n" + body)
    return path


def run(tmp_path: Path, text: str, *extra: str):
    scenario = tmp_path / "toy.toml"
    scenario.write_text(text)
    out = tmp_path / "out.nc"
    result = invoke("run", str(scenario), "-o", str(out), "--quiet", "--keep-going", *extra)
    return result, (open_result(out) if out.exists() else None)


FAIL_AT_POINT_0 = """@hookimpl
def simframe_channel_drawn(trial, channel):
    if trial.point_index in FAILING:
        raise RuntimeError("no channel here")
"""


def test_points_where_every_trial_failed_keep_nan_metrics(tmp_path):
    extra = plugin(tmp_path, "FAILING = {0}\n\n\n" + FAIL_AT_POINT_0)
    result, ds = run(tmp_path, TOY_SCENARIO, "--plugin", str(extra))
    assert result.exit_code == 1 and "12 trials failed" in result.output
    assert ds.rate_bps_hz.sizes["snr_db"] == 3
    assert ds.rate_bps_hz.isel(snr_db=0).isnull().all()
    assert not ds.rate_bps_hz.isel(snr_db=slice(1, None)).isnull().any()
    assert ds.rate_bps_hz.attrs["units"] == "bit/s/Hz"


def test_a_run_where_everything_failed_says_so(tmp_path):
    extra = plugin(tmp_path, "FAILING = {0, 1, 2}\n\n\n" + FAIL_AT_POINT_0)
    result, ds = run(tmp_path, TOY_SCENARIO, "--plugin", str(extra))
    assert result.exit_code == 1
    assert "every trial failed: no trial returned a metric" in result.output
    assert list(ds.data_vars) == ["error"]


LABEL = """@hookimpl
def simframe_trial_metrics(trial, metrics):
    labels = np.array([trial.trial_index % 3, 7])
    return {"label": Metric(labels, "1", "a label per stream", ("pair",), categorical=True)}
"""


def test_categorical_metrics_stay_integer_labels(tmp_path):
    text = TOY_SCENARIO.replace(
        'model = "toy_random_phases"', 'model = "toy_random_phases"\nfail_on_trial = 4'
    )
    result, ds = run(tmp_path, text, "--plugin", str(plugin(tmp_path, LABEL)))
    assert result.exit_code == 1  # trial 4 failed, recorded
    label = ds.label
    assert label.dtype.kind == "i"
    assert label.attrs["simframe_role"] == "categorical" and "units" not in label.attrs
    assert (label.sel(trial=4) == -1).all()
    assert (label.sel(trial=5, pair=0) == 2).all() and (
        label.sel(pair=1).drop_sel(trial=4) == 7
    ).all()


def test_categorical_metrics_must_be_integers():
    with pytest.raises(ValueError, match="categorical values must be integers"):
        Metric(np.array([0.5]), "1", "label", ("ue",), categorical=True)
