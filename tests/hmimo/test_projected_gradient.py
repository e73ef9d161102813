"""``pg_an``: An et al.'s released PG protocol (spec sim-hmimo.md, corrected PG paragraph)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_hmimo.power import Wmmse
from simframe_hmimo.projected_gradient import (
    ProjectedGradientFit,
    batch_channels,
    fit_configuration,
    nmse_angle_gradients,
    target_gains,
)

from simframe.cli import main
from tests.hmimo.links import random_link

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

small_sizes = st.tuples(
    st.integers(1, 4), st.integers(2, 9), st.integers(2, 9), st.integers(1, 3), st.integers(1, 3)
)
seeds = st.integers(0, 2**32 - 1)
# with S = 1 every H fits exactly (NMSE 0, gradient round-off): the process tests need S >= 2
multi_stream_sizes = st.tuples(
    st.integers(2, 4), st.integers(2, 9), st.integers(2, 9), st.integers(1, 3), st.integers(1, 3)
)


def fitted_nmse(channel: np.ndarray, target: np.ndarray) -> float:
    """``min_alpha ||alpha H - diag(target)||^2 / ||target||^2`` in closed form (projection)."""
    inner = np.vdot(channel, np.diag(target))
    return 1.0 - abs(inner) ** 2 / (np.vdot(channel, channel).real * np.sum(target**2))


def link_with_random_phases(sizes, seed):
    """``(rng, link, target, tx_phases, rx_phases)``: a random link and random phases."""
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    return (rng, link, target_gains(link), *link.random_phases(rng))


def rx_size(link) -> int:
    return link.rx_shape[0] * link.rx_shape[1]


def wrapped(angle: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * angle))


@settings(max_examples=20, deadline=None)
@given(sizes=small_sizes, seed=seeds, scaled=st.booleans(), slot_power=st.booleans())
def test_unit_modulus_and_valid_powers(sizes, seed, scaled, slot_power):
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    optimiser = ProjectedGradientFit(
        restarts_per_layer=2, scaled_rate=scaled, singular_value_power=not slot_power
    )
    result = optimiser.optimise(link, Wmmse(), rng)
    assert result.tx_phases.shape == link.tx_shape and result.rx_phases.shape == link.rx_shape
    np.testing.assert_allclose(np.abs(result.tx_phases), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(result.rx_phases), 1.0, atol=1e-12)
    assert np.all(result.powers_w >= 0) and np.isclose(result.powers_w.sum(), link.budget_w)
    assert result.iterations == len(result.objective_trace) - 1
    assert np.all(np.isfinite(result.objective_trace))


@settings(max_examples=20, deadline=None)
@given(sizes=small_sizes, seed=seeds, draws=st.integers(1, 6))
def test_batched_channels_equal_one_configuration_at_a_time(sizes, seed, draws):
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    tx = np.exp(2j * np.pi * rng.random((draws, *link.tx_shape)))
    rx = np.exp(2j * np.pi * rng.random((draws, *link.rx_shape)))
    batched = batch_channels(link, tx, rx)
    for b in range(draws):
        np.testing.assert_allclose(
            batched[b], link.effective_channel(tx[b], rx[b]), rtol=1e-12, atol=1e-14
        )


@settings(max_examples=20, deadline=None)
@given(sizes=small_sizes, seed=seeds, per_layer=st.integers(1, 4))
def test_start_is_the_best_of_the_draws(sizes, seed, per_layer):
    link = random_link(np.random.default_rng(seed), *sizes)
    optimiser = ProjectedGradientFit(restarts_per_layer=per_layer)
    target = target_gains(link)
    tx, rx = optimiser.best_random_start(link, target, np.random.default_rng(seed + 1))

    # the same draws (TX then RX angles of each configuration in turn), one at a time
    draws = per_layer * max(link.tx_shape[0], link.rx_shape[0])
    assert optimiser.draws(link) == draws
    split = link.tx_shape[0] * link.tx_shape[1]
    angles = 2 * np.pi * np.random.default_rng(seed + 1).random((draws, split + rx_size(link)))
    all_tx = np.exp(1j * angles[:, :split]).reshape(draws, *link.tx_shape)
    all_rx = np.exp(1j * angles[:, split:]).reshape(draws, *link.rx_shape)
    nmse = [
        fitted_nmse(link.effective_channel(t, r), target)
        for t, r in zip(all_tx, all_rx, strict=True)
    ]
    chosen = fitted_nmse(link.effective_channel(tx, rx), target)
    assert chosen <= min(nmse) + 1e-12
    assert any(
        np.array_equal(tx, t) and np.array_equal(rx, r) for t, r in zip(all_tx, all_rx, strict=True)
    )

    result = optimiser.optimise(link, Wmmse(), np.random.default_rng(seed + 1))
    assert result.objective_trace[0] == pytest.approx(min(nmse), abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(sizes=multi_stream_sizes, seed=seeds, draws=st.integers(1, 300))
def test_more_draws_never_give_a_worse_start(sizes, seed, draws):
    """Budgets nest (our draw order; An's code draws afresh): 10x the draws evaluates the same
    configurations first, in batches of DRAW_BATCH, so its start is never worse."""
    link = random_link(np.random.default_rng(seed), *sizes)
    target = target_gains(link)
    layers = max(link.tx_shape[0], link.rx_shape[0])
    starts = [
        ProjectedGradientFit(restarts_per_layer=per_layer).best_random_start(
            link, target, np.random.default_rng(seed)
        )
        for per_layer in (max(draws // layers, 1), 10 * max(draws // layers, 1))
    ]
    few, many = (fitted_nmse(link.effective_channel(*start), target) for start in starts)
    assert many <= few + 1e-12


@settings(max_examples=15, deadline=None)
@given(sizes=small_sizes, seed=seeds)
def test_nmse_gradient_matches_finite_differences(sizes, seed):
    rng, link, target, tx, rx = link_with_random_phases(sizes, seed)
    fit = fit_configuration(link, tx, rx, target)
    gradients = nmse_angle_gradients(link, tx, rx, target, fit)
    assert fit.nmse == pytest.approx(fitted_nmse(link.effective_channel(tx, rx), target))
    angles = (np.angle(tx), np.angle(rx))

    def nmse(moves):
        phases = [np.exp(1j * (angle + move)) for angle, move in zip(angles, moves, strict=True)]
        return fitted_nmse(link.effective_channel(*phases), target)

    h = 1e-6
    for side, gradient in enumerate(gradients):
        moves = [np.zeros_like(angle) for angle in angles]
        moves[side] = h * rng.standard_normal(gradient.shape)
        numeric = (nmse(moves) - nmse([-move for move in moves])) / (2 * h)
        assert np.sum(gradient * moves[side]) / h == pytest.approx(numeric, rel=1e-5, abs=1e-8)
        # a common phase of one layer is undone by alpha: each layer's derivatives sum to 0
        np.testing.assert_allclose(gradient.sum(axis=1), 0.0, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(sizes=multi_stream_sizes, seed=seeds)
def test_a_small_first_step_lowers_the_nmse(sizes, seed):
    """The normalised direction is a descent direction (each side scaled by a positive factor).

    One stream is fitted exactly by alpha (NMSE 0, no direction), hence S >= 2."""
    _, link, target, tx, rx = link_with_random_phases(sizes, seed)
    optimiser = ProjectedGradientFit(step=1e-5, max_iterations=1)
    _, _, _, trace = optimiser.descend(link, target, tx, rx)
    assert trace[1] <= trace[0] + 1e-15


@settings(max_examples=20, deadline=None)
@given(sizes=multi_stream_sizes, seed=seeds, step=st.floats(1e-3, 0.2))
def test_each_sides_largest_move_is_step_pi_and_the_step_halves(sizes, seed, step):
    """An's eqs. (27)-(28): each side's gradient is scaled on its own so that its largest
    component is pi; the step is halved after every iteration."""
    _, link, target, tx, rx = link_with_random_phases(sizes, seed)
    iterates = [(tx, rx)]
    for iterations in (1, 2, 3):
        optimiser = ProjectedGradientFit(step=step, max_iterations=iterations, tolerance=0.0)
        next_tx, next_rx, _, trace = optimiser.descend(link, target, tx, rx)
        if len(trace) < iterations + 1:  # stationary point: no direction left
            return
        iterates.append((next_tx, next_rx))
    for k in range(3):
        (tx_a, rx_a), (tx_b, rx_b) = iterates[k], iterates[k + 1]
        for before, after in ((tx_a, tx_b), (rx_a, rx_b)):
            move = wrapped(np.angle(before) - np.angle(after))  # -(phi_next - phi) = step * d
            assert move.max() == pytest.approx(step * np.pi / 2**k, rel=1e-9)


@settings(max_examples=20, deadline=None)
@given(sizes=multi_stream_sizes, seed=seeds, tolerance=st.floats(1e-4, 0.2))
def test_stop_rule(sizes, seed, tolerance):
    """An's rule: keep going while |NMSE_k - NMSE_{k-1}| >= tol NMSE_{k-1}, tested from the
    second iteration on (the first is always followed by a second); besides, stop at
    ``max_iterations`` or where neither side's gradient has a positive component."""
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    result = ProjectedGradientFit(
        restarts_per_layer=1, tolerance=tolerance, max_iterations=40
    ).optimise(link, Wmmse(), rng)
    trace = np.asarray(result.objective_trace)
    change = np.abs(np.diff(trace)) / trace[:-1]
    assert np.all(change[1:-1] >= tolerance)
    stopped_by_tolerance = result.iterations >= 2 and change[-1] < tolerance
    if not (stopped_by_tolerance or result.iterations == 40):
        target = target_gains(link)
        fit = fit_configuration(link, result.tx_phases, result.rx_phases, target)
        gradients = nmse_angle_gradients(link, result.tx_phases, result.rx_phases, target, fit)
        assert all(gradient.max() <= 0.0 for gradient in gradients)


def test_scaled_rate_reports_alpha_and_keeps_the_phases():
    link = random_link(np.random.default_rng(4), 3, 9, 9, 2, 2)
    plain = ProjectedGradientFit().optimise(link, Wmmse(), np.random.default_rng(5))
    scaled = ProjectedGradientFit(scaled_rate=True).optimise(
        link, Wmmse(), np.random.default_rng(5)
    )
    np.testing.assert_array_equal(plain.tx_phases, scaled.tx_phases)
    np.testing.assert_array_equal(plain.powers_w, scaled.powers_w)
    target = target_gains(link)
    fit = fit_configuration(link, scaled.tx_phases, scaled.rx_phases, target)
    assert plain.channel_scale == 1.0 and scaled.channel_scale == pytest.approx(abs(fit.alpha))
    assert scaled.objective_trace[-1] == pytest.approx(fit.nmse)


@settings(max_examples=20, deadline=None)
@given(sizes=small_sizes, seed=seeds)
def test_powers_water_fill_the_singular_values_of_the_channel(sizes, seed):
    """p_s + sigma^2 / sigma_s^2 is the same water level on every stream with power."""
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    powers = ProjectedGradientFit(restarts_per_layer=1).optimise(link, Wmmse(), rng).powers_w
    values = np.linalg.svd(link.channel, compute_uv=False)
    gains = np.zeros(link.antennas)
    gains[: min(values.size, link.antennas)] = values[: link.antennas] ** 2 / link.noise_w
    active = powers > 0
    assert not np.any(active & (gains == 0))
    levels = powers[active] + 1.0 / gains[active]
    np.testing.assert_allclose(levels, levels[0], rtol=1e-9)
    assert np.all(1.0 / gains[~active & (gains > 0)] >= levels[0] - 1e-12)


def test_same_seed_same_result():
    link = random_link(np.random.default_rng(8), 2, 9, 4, 3, 1)
    first, second = (
        ProjectedGradientFit().optimise(link, Wmmse(), np.random.default_rng(9)) for _ in range(2)
    )
    np.testing.assert_array_equal(first.tx_phases, second.tx_phases)
    np.testing.assert_array_equal(first.rx_phases, second.rx_phases)
    assert first.objective_trace == second.objective_trace


def test_an2023_fig4_scenario_reduced(tmp_path):
    """scenarios/an2023_fig4.toml at 16 atoms, two sweep points and two trials: both variants
    run the same PG (same NMSE traces); only an_scaled reports the rate of |alpha| H."""
    output = tmp_path / "fig4.nc"
    overrides = (
        "system.tx_atoms=16",
        "system.rx_atoms=16",
        "sweep.system.tx_layers=[1, 3]",
        "sweep.system.rx_layers=[2]",
    )
    arguments = ["run", str(SCENARIOS / "an2023_fig4.toml"), "-o", str(output), "--quiet"]
    arguments += ["--trials", "2", "--workers", "1"]
    arguments += [argument for pair in overrides for argument in ("--set", pair)]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(output, engine="netcdf4") as dataset:
        scaled, plain = (dataset.sel(variant=name).load() for name in ("an_scaled", "unscaled"))
    np.testing.assert_array_equal(scaled.nmse_trace, plain.nmse_trace)
    assert (plain.rate_channel_scale == 1.0).all() and (scaled.rate_channel_scale > 1.0).all()
    assert (scaled.rate_bps_hz > plain.rate_bps_hz).all()
