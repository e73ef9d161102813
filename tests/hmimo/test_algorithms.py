"""IMin, RMax, Hybrid and the PG benchmark on small random links."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_hmimo.imin import InterferenceMinimisation, off_diagonal_power
from simframe_hmimo.interfaces import HmimoLink
from simframe_hmimo.link import sinr
from simframe_hmimo.link_block import LinkBlock
from simframe_hmimo.power import WaterFilling, Wmmse
from simframe_hmimo.projected_gradient import ProjectedGradientFit
from simframe_hmimo.random_phases import RandomPhases
from simframe_hmimo.rate_ascent import angle_gradient
from simframe_hmimo.rmax import HybridOptimisation, RateMaximisation

from tests.hmimo.links import random_link
from tests.hmimo.test_system import make_system

OPTIMISERS = [
    RandomPhases(),
    InterferenceMinimisation(max_sweeps=5),
    RateMaximisation(max_outer_iterations=3, inner_iterations=10),
    HybridOptimisation(max_outer_iterations=2, inner_iterations=10, imin_max_sweeps=3),
    ProjectedGradientFit(restarts_per_layer=1, max_iterations=10),
]
small_sizes = st.tuples(
    st.integers(2, 4), st.integers(2, 9), st.integers(2, 9), st.integers(1, 3), st.integers(1, 3)
)


@pytest.mark.parametrize("optimiser", OPTIMISERS, ids=lambda o: o.name)
@settings(max_examples=8, deadline=None)
@given(sizes=small_sizes, seed=st.integers(0, 2**32 - 1))
def test_phases_are_unit_modulus_and_powers_valid(optimiser, sizes, seed):
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    result = optimiser.optimise(link, Wmmse(), rng)
    assert result.tx_phases.shape == link.tx_shape and result.rx_phases.shape == link.rx_shape
    np.testing.assert_allclose(np.abs(result.tx_phases), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(result.rx_phases), 1.0, atol=1e-12)
    assert np.all(result.powers_w >= 0) and np.isclose(result.powers_w.sum(), link.budget_w)


@settings(max_examples=15, deadline=None)
@given(sizes=small_sizes, seed=st.integers(0, 2**32 - 1))
def test_imin_off_diagonal_power_falls_monotonically(sizes, seed):
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    result = InterferenceMinimisation(max_sweeps=8, tolerance=0.0).optimise(
        link, WaterFilling(), rng
    )
    trace = np.array(result.objective_trace)
    assert np.all(np.diff(trace) <= 1e-12 * trace[0])
    channel = link.effective_channel(result.tx_phases, result.rx_phases)
    assert np.isclose(off_diagonal_power(channel), trace[-1], rtol=1e-9)


def test_imin_single_atom_update_is_the_closed_form_minimum():
    """Rotating any one atom away from IMin's choice never lowers the off-diagonal power."""
    rng = np.random.default_rng(11)
    link = random_link(rng, 3, 4, 4, 2, 1)
    result = InterferenceMinimisation(max_sweeps=50, tolerance=0.0).optimise(
        link, WaterFilling(), rng
    )
    base = off_diagonal_power(link.effective_channel(result.tx_phases, result.rx_phases))
    for n in range(4):
        for angle in np.linspace(0.1, 2 * np.pi - 0.1, 7):
            rx = result.rx_phases.copy()
            rx[0, n] *= np.exp(1j * angle)
            assert off_diagonal_power(link.effective_channel(result.tx_phases, rx)) >= base * (
                1 - 1e-6
            )


@settings(max_examples=8, deadline=None)
@given(
    sizes=small_sizes,
    seed=st.integers(0, 2**32 - 1),
    exponent=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
)
def test_rmax_never_lowers_the_rate(sizes, seed, exponent):
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    result = RateMaximisation(
        max_outer_iterations=4,
        inner_iterations=15,
        tolerance=0.0,
        preconditioner_exponent=exponent,
    ).optimise(link, Wmmse(), rng)
    trace = np.array(result.objective_trace)
    assert np.all(np.diff(trace) >= -1e-9)
    assert np.isclose(
        trace[-1], link.rate_bps_hz(result.tx_phases, result.rx_phases, result.powers_w)
    )


def test_rmax_improves_on_its_random_start():
    rng = np.random.default_rng(5)
    link = random_link(rng, 4, 16, 16, 2, 2)
    result = RateMaximisation().optimise(link, Wmmse(), rng)
    assert result.objective_trace[-1] > result.objective_trace[0] + 1.0


@settings(max_examples=8, deadline=None)
@given(sizes=small_sizes, seed=st.integers(0, 2**32 - 1))
def test_hybrid_starts_at_imins_phases_with_equal_powers(sizes, seed):
    """Hybrid = RMax from IMin's phases and equal powers: its trace starts at that rate and
    never falls below it."""
    link = random_link(np.random.default_rng(seed), *sizes)
    imin = InterferenceMinimisation(max_sweeps=5).optimise(
        link, WaterFilling(), np.random.default_rng(seed + 1)
    )
    hybrid = HybridOptimisation(
        imin_max_sweeps=5, max_outer_iterations=2, inner_iterations=10
    ).optimise(link, Wmmse(), np.random.default_rng(seed + 1))
    equal = np.full(link.antennas, link.budget_w / link.antennas)
    start_rate = link.rate_bps_hz(imin.tx_phases, imin.rx_phases, equal)
    hybrid_rate = link.rate_bps_hz(hybrid.tx_phases, hybrid.rx_phases, hybrid.powers_w)
    assert hybrid.objective_trace[0] == pytest.approx(start_rate, rel=1e-12)
    assert hybrid_rate >= start_rate - 1e-9


def test_rmax_keeps_every_stream_on_the_amplifying_link():
    """Paper 000's link at L = K = 10 (4 x 4 atoms per layer, amplifying hops, about 80 dB SINR
    once optimised). Without the power guard (``min_power_share = 0``), the power step after
    the first outer iteration switches a weak stream off on both channels; the phase gradient
    then ignores it and WMMSE cannot bring it back. With the guard every stream ends above
    0 dB."""
    system = make_system(tx_atoms=16, rx_atoms=16, tx_layers=10, rx_layers=10)
    rng = np.random.default_rng(1)
    links = [
        HmimoLink(system.tx_hops, system.rx_hops, system.draw(rng), system.noise_w, system.budget_w)
        for _ in range(2)
    ]

    def optimised(**params):
        return RateMaximisation(**params).optimise_block(
            LinkBlock.of_links(links), Wmmse(), [np.random.default_rng([3, b]) for b in range(2)]
        )

    for result in optimised(max_outer_iterations=3, min_power_share=0.0):
        assert result.powers_w.min() < 1e-6 * system.budget_w
    for link, result in zip(links, optimised(), strict=True):
        channel = link.effective_channel(result.tx_phases, result.rx_phases)
        assert sinr(channel, result.powers_w, link.noise_w).min() > 1.0


def test_pg_fit_lowers_the_nmse_and_scaled_rate_is_flagged():
    rng = np.random.default_rng(2)
    link = random_link(rng, 2, 9, 9, 2, 2)
    plain = ProjectedGradientFit(restarts_per_layer=2).optimise(
        link, WaterFilling(), np.random.default_rng(1)
    )
    scaled = ProjectedGradientFit(restarts_per_layer=2, scaled_rate=True).optimise(
        link, WaterFilling(), np.random.default_rng(1)
    )
    assert plain.objective_trace[-1] < plain.objective_trace[0]
    assert plain.channel_scale == 1.0 and scaled.channel_scale != 1.0
    np.testing.assert_array_equal(plain.tx_phases, scaled.tx_phases)


@pytest.mark.parametrize("schedule", ["alternating", "joint"])
@pytest.mark.parametrize("optimiser_class", [RateMaximisation, HybridOptimisation])
@settings(max_examples=5, deadline=None)
@given(sizes=small_sizes, seed=st.integers(0, 2**32 - 1))
def test_block_optimisation_equals_per_trial(optimiser_class, schedule, sizes, seed):
    """Optimising three trials in one block gives each trial the very bits it gets alone (same
    seed, same numbers whatever a block's composition; see ``link_block.COLUMN_PANEL``)."""
    rng = np.random.default_rng(seed)
    base = random_link(rng, *sizes)
    links = [replace(base, channel=random_link(rng, *sizes).channel) for _ in range(3)]
    optimiser = (
        optimiser_class(
            max_outer_iterations=2, inner_iterations=3, power_schedule=schedule, imin_max_sweeps=2
        )
        if optimiser_class is HybridOptimisation
        else optimiser_class(max_outer_iterations=2, inner_iterations=3, power_schedule=schedule)
    )
    together = optimiser.optimise_block(
        LinkBlock.of_links(links), Wmmse(), [np.random.default_rng([seed, b]) for b in range(3)]
    )
    for b, link in enumerate(links):
        alone = optimiser.optimise(link, Wmmse(), np.random.default_rng([seed, b]))
        np.testing.assert_array_equal(together[b].tx_phases, alone.tx_phases)
        np.testing.assert_array_equal(together[b].rx_phases, alone.rx_phases)
        np.testing.assert_array_equal(together[b].powers_w, alone.powers_w)
        np.testing.assert_array_equal(together[b].objective_trace, alone.objective_trace)
        assert np.all(np.diff(together[b].objective_trace) >= -1e-9)
        assert np.isclose(together[b].powers_w.sum(), link.budget_w)


def test_angle_gradient_of_a_trial_does_not_depend_on_the_block():
    """``Im(g conj(theta))`` per trial gets the same bits in a block of 20 as alone, at
    Fig. 1's size (numpy's complex product alone rounds a block's tail differently)."""
    rng = np.random.default_rng(0)
    shape = (20, 9, 100)
    gradient = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    phases = np.exp(1j * rng.uniform(0.0, 2.0 * np.pi, shape))
    block = angle_gradient(gradient, phases)
    np.testing.assert_allclose(block, np.imag(gradient * phases.conj()), rtol=0, atol=1e-14)
    for b in range(shape[0]):
        np.testing.assert_array_equal(block[b], angle_gradient(gradient[b], phases[b]))


def test_third_party_optimiser_runs_per_trial_in_a_block():
    """An optimiser that only implements ``optimise`` gets one call per trial of a block."""
    rng = np.random.default_rng(2)
    base = random_link(rng, 2, 4, 4, 1, 1)
    links = [replace(base, channel=random_link(rng, 2, 4, 4, 1, 1).channel) for _ in range(2)]
    results = RandomPhases().optimise_block(
        LinkBlock.of_links(links), Wmmse(), [np.random.default_rng(b) for b in range(2)]
    )
    for b, link in enumerate(links):
        alone = RandomPhases().optimise(link, Wmmse(), np.random.default_rng(b))
        np.testing.assert_array_equal(results[b].tx_phases, alone.tx_phases)
