"""The batched downlink: effective channel, sum rate, its exact gradient and the curvature."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_mumiso.downlink import sinr, sum_rates_bps_hz, user_rates_bps_hz

from tests.mumiso.blocks import (
    dense_effective_channel,
    random_block,
    random_phases,
    random_powers,
    sizes,
)


@settings(max_examples=30, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1), trials=st.integers(1, 4))
def test_effective_channel_is_the_cascade(sizes, seed, trials):
    rng = np.random.default_rng(seed)
    block = random_block(rng, *sizes, trials)
    phases = random_phases(rng, block, trials)
    effective = block.effective_channels(phases)
    for b in range(trials):
        expected = dense_effective_channel(block, b, phases[b])
        np.testing.assert_allclose(effective[b], expected, rtol=1e-10, atol=1e-12)


def test_sinr_and_rates_follow_their_definitions():
    channel = np.array([[[2.0, 1.0j], [0.5, 1.0 - 1.0j]]])
    powers = np.array([[0.25, 0.75]])
    noise = 0.1
    expected = np.array(
        [4 * 0.25 / (1 * 0.75 + noise), 2 * 0.75 / (0.25 * 0.25 + noise)]
    )  # p_k |H_kk|^2 / (sum_{j != k} p_j |H_kj|^2 + sigma^2)
    np.testing.assert_allclose(sinr(channel, powers, noise)[0], expected, rtol=1e-15)
    np.testing.assert_allclose(user_rates_bps_hz(channel, powers, noise)[0], np.log2(1 + expected))
    assert np.isclose(sum_rates_bps_hz(channel, powers, noise)[0], np.log2(1 + expected).sum())


@settings(max_examples=25, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1))
def test_angle_gradient_matches_central_differences(sizes, seed):
    rng = np.random.default_rng(seed)
    block = random_block(rng, *sizes, 2)
    phases = random_phases(rng, block, 2)
    powers = random_powers(rng, block, 2)
    result = block.rate_gradients(phases, powers)
    np.testing.assert_allclose(
        result.sum_rates_bps_hz, block.sum_rates(phases, powers), rtol=1e-13, atol=0
    )
    step = 1e-6
    for index in np.ndindex(block.phase_shape):
        moved = []
        for sign in (1.0, -1.0):
            turned = phases.copy()
            turned[(slice(None), *index)] *= np.exp(1j * sign * step)
            moved.append(block.sum_rates(turned, powers))
        numeric = (moved[0] - moved[1]) / (2 * step)
        analytic = result.angles[(slice(None), *index)]
        assert np.all(np.abs(numeric - analytic) <= 1e-6 * np.maximum(1.0, np.abs(numeric)))


@settings(max_examples=25, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1), trials=st.integers(2, 6))
def test_a_trial_has_the_same_bits_whatever_its_block(sizes, seed, trials):
    """Rates, gradients, curvature and H of a trial do not depend on the other trials of its
    block (nor on their number or order), to the bit."""
    rng = np.random.default_rng(seed)
    block = random_block(rng, *sizes, trials)
    phases = random_phases(rng, block, trials)
    powers = random_powers(rng, block, trials)
    whole = block.rate_gradients(phases, powers)
    curvature = block.curvature_diagonal(phases, powers)
    for rows in (np.arange(trials)[::-1][: max(1, trials // 2)], np.array([trials - 1])):
        subset = block.rate_gradients(phases[rows], powers[rows], rows)
        np.testing.assert_array_equal(subset.sum_rates_bps_hz, whole.sum_rates_bps_hz[rows])
        np.testing.assert_array_equal(subset.angles, whole.angles[rows])
        np.testing.assert_array_equal(subset.effective, whole.effective[rows])
        np.testing.assert_array_equal(
            block.curvature_diagonal(phases[rows], powers[rows], rows), curvature[rows]
        )
    for b in range(trials):  # the block of one trial alone
        alone = block.trial(b).rate_gradients(phases[b : b + 1], powers[b : b + 1])
        np.testing.assert_array_equal(alone.angles[0], whole.angles[b])
        np.testing.assert_array_equal(alone.sum_rates_bps_hz[0], whole.sum_rates_bps_hz[b])


@settings(max_examples=15, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1))
def test_curvature_diagonal_is_the_weighted_reach_of_every_atom(sizes, seed):
    """``d_n = sum_kj w_kj |A_kn|^2 |F_nj|^2`` with ``A`` and ``F`` from dense products."""
    rng = np.random.default_rng(seed)
    block = random_block(rng, *sizes, 1)
    phases = random_phases(rng, block, 1)
    powers = random_powers(rng, block, 1)
    curvature = block.curvature_diagonal(phases, powers)[0]
    effective = block.effective_channels(phases)[0]
    received = np.abs(effective) ** 2 * powers[0]
    total = received.sum(axis=1) + block.noise_w
    interference_noise = total - np.diag(received)
    weights = powers[0][None, :] / interference_noise[:, None]
    np.fill_diagonal(weights, powers[0] / total)
    field = block.hops[0]
    after = [block.channels[0]]
    for layer in range(block.layers - 1, 0, -1):
        after.insert(0, after[0] @ np.diag(phases[0, layer]) @ block.hops[layer])
    for layer in range(block.layers):
        expected = np.einsum("kj,kn,nj->n", weights, np.abs(after[layer]) ** 2, np.abs(field) ** 2)
        np.testing.assert_allclose(curvature[layer], expected, rtol=1e-10)
        if layer + 1 < block.layers:
            field = block.hops[layer + 1] @ (phases[0, layer][:, None] * field)
