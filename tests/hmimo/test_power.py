"""Power allocators: non-negative powers spending the budget; water-filling and WMMSE checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_hmimo.link import rate_bps_hz
from simframe_hmimo.power import EqualPower, WaterFilling, Wmmse, water_filling

ALLOCATORS = [EqualPower(), WaterFilling(), Wmmse()]


def random_channel(seed: int, streams: int, cross: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = cross * (
        rng.standard_normal((streams, streams)) + 1j * rng.standard_normal((streams, streams))
    )
    return h + np.diag(rng.standard_normal(streams) * 3 + 1j * rng.standard_normal(streams))


@pytest.mark.parametrize("allocator", ALLOCATORS, ids=lambda a: a.name)
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    streams=st.integers(1, 6),
    cross=st.floats(0.0, 2.0),
    noise_w=st.floats(1e-6, 10.0),
    budget_w=st.floats(1e-4, 100.0),
)
def test_powers_are_nonnegative_and_spend_the_budget(
    allocator, seed, streams, cross, noise_w, budget_w
):
    powers = allocator.allocate(random_channel(seed, streams, cross), noise_w, budget_w)
    assert powers.shape == (streams,)
    assert np.all(powers >= 0.0)
    assert np.isclose(powers.sum(), budget_w, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(gains=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=8), budget=st.floats(1e-3, 1e3))
def test_water_filling_meets_kkt(gains, budget):
    """Active streams share one water level mu = p_s + 1/g_s; inactive ones have 1/g_s >= mu."""
    gains = np.array(gains)
    powers = water_filling(gains, budget)
    active = powers > 0
    level = powers[active] + 1 / gains[active]
    np.testing.assert_allclose(level, level[0], rtol=1e-9)
    assert np.all(1 / gains[~active] >= level[0] * (1 - 1e-12))


def test_water_filling_reference_value():
    # gains 1 and 1/4 per W with 1 W: level mu = (1 + 1 + 4)/2 = 3 > 4? no -> only stream 0.
    np.testing.assert_allclose(water_filling(np.array([1.0, 0.25]), 1.0), [1.0, 0.0])
    # with 5 W: mu = (5 + 1 + 4)/2 = 5 > 4 -> p = (4, 1).
    np.testing.assert_allclose(water_filling(np.array([1.0, 0.25]), 5.0), [4.0, 1.0])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), streams=st.integers(2, 5), cross=st.floats(0.1, 1.5))
def test_wmmse_is_at_least_equal_power(seed, streams, cross):
    h = random_channel(seed, streams, cross)
    equal = np.full(streams, 1.0 / streams)
    wmmse = Wmmse().allocate(h, 0.01, 1.0)
    assert rate_bps_hz(h, wmmse, 0.01) >= rate_bps_hz(h, equal, 0.01) - 1e-12


def test_wmmse_beats_equal_power_when_one_stream_is_hopeless():
    """Two streams, the second with a tiny direct gain and strong leakage into the first."""
    h = np.array([[1.0, 0.9], [0.0, 0.01]], dtype=complex)
    wmmse = Wmmse().allocate(h, 1e-3, 1.0)
    assert rate_bps_hz(h, wmmse, 1e-3) > rate_bps_hz(h, np.array([0.5, 0.5]), 1e-3) + 1.0
    assert wmmse[0] > 0.99


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    streams=st.integers(1, 6),
    log_gain=st.floats(-14.0, 0.0),
    noise_w=st.floats(1e-14, 1e-2),
)
@pytest.mark.parametrize("allocator", ALLOCATORS, ids=lambda a: a.name)
def test_budget_is_met_at_low_snr(allocator, seed, streams, log_gain, noise_w):
    """Tiny |H|^2 / sigma^2 (paper scale: |H|^2 ~ 1e-13, sigma^2 = 1e-14 W) must not lose power."""
    channel = np.sqrt(10.0**log_gain) * random_channel(seed, streams, 0.5)
    powers = allocator.allocate(channel, noise_w, 0.1)
    assert np.all(powers >= 0.0)
    assert np.isclose(powers.sum(), 0.1, rtol=1e-12)


def test_wmmse_gives_no_power_to_a_stream_with_a_zero_channel_column():
    h = np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=complex)
    powers = Wmmse().allocate(h, 1e-3, 1.0)
    assert np.all(np.isfinite(powers)) and powers[1] == 0.0
    assert rate_bps_hz(h, powers, 1e-3) > rate_bps_hz(h, np.full(3, 1 / 3), 1e-3)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    streams=st.integers(2, 5),
    cross=st.floats(0.0, 1.5),
    noise_w=st.floats(1e-6, 1.0),
    off=st.integers(0, 4),
)
def test_wmmse_brings_back_a_stream_started_without_power(seed, streams, cross, noise_w, off):
    """WMMSE's update is multiplicative: from a zero power alone it could never revive the
    stream. Started from powers with one stream off, it is at least as good as from equal
    powers."""
    h = random_channel(seed, streams, cross)
    start = np.full(streams, 1.0 / (streams - 1))
    start[off % streams] = 0.0
    revived = Wmmse().allocate(h, noise_w, 1.0, initial_w=start)
    fresh = Wmmse().allocate(h, noise_w, 1.0)
    assert rate_bps_hz(h, revived, noise_w) >= rate_bps_hz(h, fresh, noise_w) - 1e-12
