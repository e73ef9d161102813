"""Power allocators: non-negative, on budget, per row; water-filling and WMMSE properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_mumiso.downlink import sum_rates_bps_hz
from simframe_mumiso.power import DampedWaterFilling, EqualPower, WmmsePower, water_filling

from tests.mumiso.blocks import complex_normal

ALLOCATORS = [EqualPower(), DampedWaterFilling(), WmmsePower()]


def random_channels(seed: int, trials: int, users: int, spread: float) -> np.ndarray:
    """Effective channels whose rows (users) differ in strength by up to ``10^spread``."""
    rng = np.random.default_rng(seed)
    strength = 10 ** (spread * rng.random((trials, users, 1)))
    return complex_normal(rng, (trials, users, users)) * strength


@pytest.mark.parametrize("allocator", ALLOCATORS, ids=lambda a: a.name)
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    trials=st.integers(1, 6),
    users=st.integers(1, 6),
    spread=st.floats(0.0, 4.0),
    budget=st.floats(1e-3, 1e3),
)
def test_powers_are_non_negative_and_spend_the_budget_row_by_row(
    allocator, seed, trials, users, spread, budget
):
    channels = random_channels(seed, trials, users, spread)
    initial = budget * np.random.default_rng(seed).dirichlet(np.ones(users), size=trials)
    powers = allocator.allocate(channels, 0.05, budget, initial_w=initial)
    assert powers.shape == (trials, users)
    assert np.all(powers >= 0.0)
    np.testing.assert_allclose(powers.sum(axis=1), budget, rtol=1e-12)
    for b in range(trials):  # every row alone: the same bits
        alone = allocator.allocate(channels[b : b + 1], 0.05, budget, initial_w=initial[b : b + 1])
        np.testing.assert_array_equal(alone[0], powers[b])


@settings(max_examples=50, deadline=None)
@given(
    floors=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=8),
    budget=st.floats(1e-3, 1e3),
)
def test_water_filling_meets_its_optimality_conditions(floors, budget):
    """One common level mu: ``p_k = mu - f_k`` where ``f_k < mu``, zero elsewhere."""
    floors = np.array(floors)
    powers = water_filling(floors[None], budget)[0]
    assert np.all(powers >= 0.0)
    assert np.isclose(powers.sum(), budget, rtol=1e-12)
    filled = powers > 0.0
    level = (powers + floors)[filled]
    np.testing.assert_allclose(level, level[0], rtol=1e-9)
    assert np.all(floors[~filled] >= level[0] * (1 - 1e-12))


def test_water_filling_skips_unreachable_users_and_falls_back_to_equal_power():
    powers = water_filling(np.array([[1.0, np.inf, 2.0], [np.inf, np.inf, np.inf]]), 3.0)
    np.testing.assert_allclose(powers, [[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), users=st.integers(2, 6), spread=st.floats(0.0, 3.0))
def test_wmmse_never_returns_less_than_its_start(seed, users, spread):
    channels = random_channels(seed, 4, users, spread)
    start = np.random.default_rng(seed).dirichlet(np.ones(users), size=4)
    powers = WmmsePower().allocate(channels, 0.05, 1.0, initial_w=start)
    assert np.all(
        sum_rates_bps_hz(channels, powers, 0.05) >= sum_rates_bps_hz(channels, start, 0.05)
    )


def test_wmmse_reaches_the_two_user_optimum():
    """Two users, strong cross talk: the sum rate over the budget line has its maximum where
    WMMSE stops (found on a fine grid)."""
    channel = np.array([[[1.0, 0.6], [0.7j, 0.5]]])
    grid = np.linspace(0.0, 1.0, 100_001)
    powers = np.stack([grid, 1.0 - grid], axis=1)
    rates = sum_rates_bps_hz(np.broadcast_to(channel, (len(grid), 2, 2)), powers, 0.01)
    found = WmmsePower().allocate(channel, 0.01, 1.0)
    assert sum_rates_bps_hz(channel, found, 0.01)[0] >= rates.max() - 1e-6
