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
    assert [line.get_label() for line in _lines(ax)] == ["one watt", "two watts"]
    assert ax.get_xlabel() == "signal-to-noise ratio [dB]"
    assert ax.get_ylabel() == "sum rate [bit/s/Hz]"
    assert "95% bootstrap confidence interval over 6 trials" in figure.get_suptitle()
    plotted = _lines(ax)[1].get_ydata()
    expected = ds.rate_bps_hz.sel(variant="two_watts").mean("trial").values
    np.testing.assert_allclose(plotted, expected)
    assert len(ax.collections) == 2  # one interval band per variant


def test_per_user_metric_gets_a_cdf_per_sweep_panel(toy_result):
    ds = open_result(toy_result)
    figure = plot_result(ds, "stream_rate_bps_hz", kind="cdf")
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(visible) == 3  # snr_db has three values
    assert visible[0].get_title() == "signal-to-noise ratio = 0 dB"
    assert figure.get_supylabel() == "empirical CDF"  # one label for all panels
    assert "6 trials x 3 streams (18 samples per line)" in figure.get_suptitle()
    (one, _two) = _lines(visible[0])
    samples = np.sort(ds.stream_rate_bps_hz.sel(snr_db=0.0, variant="one_watt").values.ravel())
    np.testing.assert_allclose(one.get_xdata(), samples)


def test_selection_and_a_metric_dim_on_the_x_axis(toy_result):
    ds = open_result(toy_result)
    figure = plot_result(ds, "objective_trace", x="iteration", select={"snr_db": "10"})
    (ax,) = figure.axes
    assert ax.get_xlabel() == "iteration"
    assert "(signal-to-noise ratio = 10 dB)" in figure.get_suptitle()
    figure = plot_result(ds, "stream_rate_bps_hz", kind="mean", select={"variant": "one_watt"})
    (ax,) = figure.axes
    assert "averaged over the streams of each trial" in figure.get_suptitle()
    assert ax.get_ylabel() == "rate per stream, averaged over streams [bit/s/Hz]"


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
    assert ax.get_xlabel() == "signal-to-noise ratio [dB]; swept along: power budget [W]"


def test_cdf_of_data_spanning_decades_gets_a_log_axis_that_says_what_it_cuts(toy_result):
    ds = open_result(toy_result)
    spread = ds.stream_rate_bps_hz.copy(data=10.0 ** (-12 * ds.stream_rate_bps_hz.values))
    spread = spread.where(ds.trial > 0, 0.0).assign_attrs(units="1", long_name="SINR")
    ds = ds.assign(spread=spread)  # zeros in trial 0
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


def _band(ax, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of the ``index``-th interval band drawn by fill_between."""
    vertices = ax.collections[index].get_paths()[0].vertices
    half = (len(vertices) - 1) // 2
    return vertices[1:half, 1], vertices[half + 1 : -1, 1][::-1]


def test_mean_of_a_per_user_metric_averages_users_within_each_trial(toy_result):
    ds = open_result(toy_result)
    figure = plot_result(ds, "stream_rate_bps_hz")  # swept: auto draws the mean against snr_db
    (ax,) = figure.axes
    assert ax.get_xlabel() == "signal-to-noise ratio [dB]"
    per_trial = ds.stream_rate_bps_hz.sel(variant="one_watt").mean("stream")
    np.testing.assert_allclose(_lines(ax)[0].get_ydata(), per_trial.mean("trial").values)
    one_point = plot_result(ds, "stream_rate_bps_hz", kind="mean", select={"snr_db": "10"})
    (ax,) = one_point.axes  # no sweep left: one point with its interval per variant
    assert [t.get_text() for t in ax.get_xticklabels()] == ["one watt", "two watts"]


def test_intervals_stay_within_the_range_of_a_positive_heavy_tailed_metric(toy_result):
    ds = open_result(toy_result)
    rng = np.random.default_rng(5)
    heavy = ds.rate_bps_hz.copy(data=rng.lognormal(0.0, 2.5, ds.rate_bps_hz.shape))
    ds = ds.assign(sinr=heavy.assign_attrs(units="1", long_name="SINR"))
    t_interval = ds.simframe.mean_ci("sinr")
    assert float(t_interval["lower"].min()) < 0  # the t interval would go below zero here
    (ax,) = plot_result(ds, "sinr").axes
    for index in range(2):
        lower, upper = _band(ax, index)
        assert np.all(lower > 0) and np.all(upper >= lower)


def test_variants_without_data_are_left_out_and_the_title_counts_real_trials(toy_result):
    ds = open_result(toy_result)
    trace = ds.objective_trace.where(ds.variant != "two_watts")  # a method without a trace
    ds = ds.assign(objective_trace=trace)
    figure = plot_result(ds, "objective_trace", x="iteration", select={"snr_db": "10"})
    (ax,) = figure.axes
    assert [line.get_label() for line in _lines(ax)] == ["one watt"]
    assert "over 6 trials" in figure.get_suptitle()
    assert "0 to" not in figure.get_suptitle()


def test_a_finished_trace_keeps_its_final_value_and_the_axis_ends_with_the_longest(toy_result):
    ds = open_result(toy_result)
    trace = ds.objective_trace.copy(data=np.full(ds.objective_trace.shape, np.nan))
    trace[..., 0, :3] = [1.0, 2.0, 3.0]  # trial 0 stops after 3 iterations
    trace[..., 1, :2] = [1.0, 5.0]  # trial 1 after 2; the others never ran (NaN)
    ds = ds.assign(objective_trace=trace, iterations=ds.iterations * 0 + 3)
    (ax,) = plot_result(ds, "objective_trace", x="iteration", select={"snr_db": "0"}).axes
    line = _lines(ax)[0]
    np.testing.assert_allclose(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), [1.0, 3.5, 4.0])  # trial 1 carried at 5


def test_precision_stopped_points_padded_with_nan_are_counted_per_point(toy_result):
    ds = open_result(toy_result)
    trials_run = np.array([2, 6, 4])  # per snr_db point, as precision stopping records it
    ran = ds.trial < ds.snr_db.copy(data=trials_run)
    ds = ds.assign(
        rate_bps_hz=ds.rate_bps_hz.where(ran),
        trials_run=("snr_db", trials_run, {"units": "1", "long_name": "trials run"}),
        half_width_reached=(("snr_db", "variant"), np.ones((3, 2)), {"units": "bit/s/Hz"}),
    )
    assert "trials_run" not in ds.simframe.metrics
    assert "half_width_reached" not in ds.simframe.metrics
    figure = plot_result(ds)
    assert "over 2 to 6 trials per point" in " ".join(figure.get_suptitle().split())
    counts = ds.simframe.mean_ci("rate_bps_hz")["count"].sel(variant="one_watt").values
    assert counts.tolist() == trials_run.tolist()


def test_labels_from_the_scenario_and_categorical_data_is_never_a_metric(toy_result):
    ds = open_result(toy_result)
    ds.attrs["scenario"] += "\n[variants.two_watts.labelled]\n"  # a table, not a label: ignored
    scenario = ds.attrs["scenario"].replace(
        "[variants.two_watts]", '[variants.two_watts]\nlabel = "P = 2 W"'
    )
    ds.attrs["scenario"] = scenario.replace("[variants.two_watts.labelled]\n", "")
    assert ds.simframe.variant_labels == {"one_watt": "one watt", "two_watts": "P = 2 W"}
    (ax,) = plot_result(ds).axes
    assert [line.get_label() for line in _lines(ax)] == ["one watt", "P = 2 W"]
    with_coord = ds.assign_coords(variant_label=("variant", ["1 W", "2 W"]))
    assert with_coord.simframe.variant_labels == {"one_watt": "1 W", "two_watts": "2 W"}
    pilots = ds.iterations.assign_attrs(simframe_role="categorical", long_name="pilot index")
    ds = ds.assign(pilot=pilots)
    assert "pilot" not in ds.simframe.metrics and ds.simframe.categorical == ("pilot",)
    with pytest.raises(PlotError, match="real-valued metrics"):
        plot_result(ds, "pilot")


def test_multi_panel_text_is_as_large_as_in_a_single_panel(toy_result):
    ds = open_result(toy_result)
    figure = plot_result(ds, "stream_rate_bps_hz", kind="cdf")
    figure.canvas.draw()
    texts = [t for t in figure.findobj(lambda a: hasattr(a, "get_fontsize")) if t.get_text()]
    assert texts and min(t.get_fontsize() for t in texts) >= 10


def test_variants_with_identical_statistics_share_one_labelled_line(toy_result):
    ds = open_result(toy_result)
    shared = ds.objective_trace.isel(variant=0, drop=True).broadcast_like(ds.objective_trace)
    ds = ds.assign(objective_trace=shared.transpose(*ds.objective_trace.dims))
    (ax,) = plot_result(ds, "objective_trace", x="iteration", select={"snr_db": "0"}).axes
    assert [line.get_label() for line in _lines(ax)] == ["one watt = two watts"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_cdf_of_a_scalar_metric_counts_its_trials(toy_result):
    """A per-trial scalar (no dims of its own) has a CDF over trials; the title counts them."""
    ds = open_result(toy_result)
    figure = plot_result(ds, "rate_bps_hz", kind="cdf")
    title = " ".join(figure.get_suptitle().split())
    assert "empirical CDF over 6 trials" in title
