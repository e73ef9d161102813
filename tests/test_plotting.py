"""simframe plot: the figure chosen from the dataset's dims, its labels, and CLI errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from simframe.plotting import PlotError, default_variable, plot_result
from simframe.results import open_result
from tests.conftest import invoke


@pytest.fixture
def toy_result(tmp_path, toy_scenario):
    out = tmp_path / "toy.nc"
    result = invoke("run", str(toy_scenario), "-o", str(out), "--workers", "1", "--quiet")
    assert result.exit_code == 0, result.output
    return out


def _lines(axes):
    return [line for line in axes.get_lines() if not line.get_label().startswith("_")]


def test_mean_figure_has_one_line_per_variant_with_labelled_axes(toy_result):
    ds = open_result(toy_result)
    figure = plot_result(ds)
    (ax,) = figure.axes
    assert default_variable(ds) == "rate_bps_hz"
    assert [line.get_label() for line in _lines(ax)] == ["one_watt", "two_watts"]
    assert ax.get_xlabel() == "signal-to-noise ratio [dB]"
    assert ax.get_ylabel() == "sum rate [bit/s/Hz]"
    assert "95% confidence interval over 6 trials" in figure.get_suptitle()
    plotted = _lines(ax)[1].get_ydata()
    expected = ds.rate_bps_hz.sel(variant="two_watts").mean("trial").values
    np.testing.assert_allclose(plotted, expected)
    assert len(ax.collections) == 2  # one interval band per variant


def test_per_user_metric_gets_a_cdf_per_sweep_panel(toy_result):
    ds = open_result(toy_result)
    figure = plot_result(ds, "stream_rate_bps_hz")
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(visible) == 3  # snr_db has three values
    assert visible[0].get_title() == "snr_db = 0.0 dB"
    assert visible[0].get_ylabel() == "empirical CDF"
    (one, _two) = _lines(visible[0])
    samples = np.sort(ds.stream_rate_bps_hz.sel(snr_db=0.0, variant="one_watt").values.ravel())
    np.testing.assert_allclose(one.get_xdata(), samples)


def test_selection_and_a_metric_dim_on_the_x_axis(toy_result):
    ds = open_result(toy_result)
    figure = plot_result(ds, "objective_trace", x="iteration", select={"snr_db": "10"})
    (ax,) = figure.axes
    assert ax.get_xlabel() == "iteration index"
    assert "snr_db = 10.0 dB" in figure.get_suptitle()
    figure = plot_result(ds, "stream_rate_bps_hz", kind="mean", select={"variant": "one_watt"})
    (ax,) = figure.axes
    assert "averaged over stream in each trial" in figure.get_suptitle()


def test_unplottable_requests_explain_themselves(toy_result):
    ds = open_result(toy_result)
    with pytest.raises(PlotError, match="choose one of"):
        plot_result(ds, select={"snr_db": "3"})
    with pytest.raises(PlotError, match="real-valued metrics"):
        plot_result(ds, "channel")
    with pytest.raises(PlotError, match="x must be a swept or metric dimension"):
        plot_result(ds, x="trial")
    two_sweeps = ds.expand_dims(streams=[2, 3]).assign_coords(streams=("streams", [2, 3]))
    with pytest.raises(PlotError, match="--select"):
        plot_result(two_sweeps, "objective_trace", x="iteration")


@pytest.mark.parametrize("suffix", [".png", ".pdf"])
def test_cli_writes_the_figure(toy_result, tmp_path, suffix):
    out = tmp_path / f"figure{suffix}"
    result = invoke("plot", str(toy_result), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000
    magic = out.read_bytes()[:4]
    assert magic == (b"\x89PNG" if suffix == ".png" else b"%PDF")
    bad = invoke("plot", str(toy_result), "--select", "nonsense")
    assert bad.exit_code != 0 and "DIM=VALUE" in bad.output
    missing = invoke("plot", str(toy_result), "-v", "nope")
    assert missing.exit_code == 2 and "rate_bps_hz" in missing.output


def test_linked_sweep_names_the_parameters_swept_along(tmp_path):
    scenario = tmp_path / "linked.toml"
    scenario.write_text(
        'title = "linked"\ntrials = 3\nseed = 1\n[system]\nmodel = "toy_link"\n'
        "[sweep.linked.setting]\nsystem.snr_db = [0.0, 10.0]\nsystem.budget_w = [1.0, 2.0]\n"
    )
    out = tmp_path / "linked.nc"
    assert invoke("run", str(scenario), "-o", str(out), "--workers", "1", "--quiet").exit_code == 0
    (ax,) = plot_result(open_result(out)).axes
    assert ax.get_xlabel() == "signal-to-noise ratio [dB], linked with budget_w"


def test_cdf_of_data_spanning_decades_gets_a_log_axis_that_says_what_it_cuts(toy_result):
    ds = open_result(toy_result)
    spread = ds.stream_rate_bps_hz.copy(data=10.0 ** (-12 * ds.stream_rate_bps_hz.values))
    ds = ds.assign(spread=spread.where(ds.trial > 0, 0.0))  # zeros in trial 0
    (ax,) = plot_result(ds, "spread", select={"snr_db": "20"}).axes
    assert ax.get_xscale() == "log"
    assert "not shown" in ax.get_xlabel()
    (ax,) = plot_result(ds, "stream_rate_bps_hz", select={"snr_db": "20"}).axes
    assert ax.get_xscale() == "linear"


def test_overlay_draws_a_shared_benchmark_once_and_refuses_other_units(toy_result):
    ds = open_result(toy_result)
    bound = ds.rate_bps_hz.max("variant").broadcast_like(ds.rate_bps_hz) + 1.0
    ds = ds.assign(bound_bps_hz=bound.assign_attrs(units="bit/s/Hz", long_name="an upper bound"))
    (ax,) = plot_result(ds, "rate_bps_hz", overlay=["bound_bps_hz"]).axes
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_label() for line in dashed] == ["an upper bound"]
    np.testing.assert_allclose(dashed[0].get_ydata(), bound.isel(variant=0).mean("trial").values)
    (ax,) = plot_result(ds, "rate_bps_hz", overlay=["stream_rate_bps_hz"]).axes
    per_variant = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(per_variant) == 2  # differs between the variants: one line each
    with pytest.raises(PlotError, match="not 'bit/s/Hz'"):
        plot_result(ds, "rate_bps_hz", overlay=["iterations"])
