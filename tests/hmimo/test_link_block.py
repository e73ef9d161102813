"""The batched link: equal to the per-trial link, gradients against finite differences, backends."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_hmimo.backend import backend_named
from simframe_hmimo.interfaces import HmimoLink
from simframe_hmimo.link_block import LinkBlock

from tests.hmimo.links import random_link

sizes = st.tuples(
    st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.integers(1, 4)
)


def random_block(sizes, seed: int, trials: int):
    """``trials`` links sharing one random link's hops, each with its own channel, and random
    phases and power splits (1 W) per trial."""
    rng = np.random.default_rng(seed)
    base = random_link(rng, *sizes)
    links = [replace(base, channel=random_link(rng, *sizes).channel) for _ in range(trials)]
    block = LinkBlock.of_links(links)
    starts = [link.random_phases(rng) for link in links]
    tx, rx = np.stack([s[0] for s in starts]), np.stack([s[1] for s in starts])
    powers = rng.dirichlet(np.ones(base.antennas), size=trials)
    return block, links, tx, rx, powers


@settings(max_examples=25, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1), trials=st.integers(1, 5))
def test_batched_equals_per_trial(sizes, seed, trials):
    block, links, tx, rx, powers = random_block(sizes, seed, trials)
    batched = block.rate_gradients(tx, rx, powers)
    for b, link in enumerate(links):
        rate, grad_tx, grad_rx = link.rate_gradient(tx[b], rx[b], powers[b])
        assert np.isclose(batched.rates_bps_hz[b], rate, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batched.tx[b], grad_tx, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batched.rx[b], grad_rx, rtol=1e-9, atol=1e-12)
    # a subset of the block's trials, in another order, gets the very same bits
    rows = np.arange(trials)[::-1][: max(1, trials // 2)]
    subset = block.rate_gradients(tx[rows], rx[rows], powers[rows], rows)
    for name in ("rates_bps_hz", "tx", "rx", "powers"):
        np.testing.assert_array_equal(getattr(subset, name), getattr(batched, name)[rows])


@settings(max_examples=15, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1))
def test_batched_gradients_match_central_differences(sizes, seed):
    """Angles (Theorem 1) and powers, on the batched path, against central differences."""
    block, _, tx, rx, powers = random_block(sizes, seed, 2)
    result = block.rate_gradients(tx, rx, powers)
    step = 1e-6
    for side, phases, grad in (("tx", tx, result.tx), ("rx", rx, result.rx)):
        analytic = np.imag(grad * phases.conj())
        for index in np.ndindex(phases.shape[1:]):
            rates = []
            for sign in (1.0, -1.0):
                moved = {"tx": tx.copy(), "rx": rx.copy()}
                moved[side][(slice(None), *index)] *= np.exp(1j * sign * step)
                rates.append(block.rates_bps_hz(moved["tx"], moved["rx"], powers))
            numeric = (rates[0] - rates[1]) / (2 * step)
            assert np.all(
                np.abs(numeric - analytic[(slice(None), *index)])
                <= 1e-5 * np.maximum(1.0, np.abs(numeric))
            )
    for stream in range(powers.shape[1]):
        shift = np.zeros_like(powers)
        shift[:, stream] = step
        numeric = (
            block.rates_bps_hz(tx, rx, powers + shift) - block.rates_bps_hz(tx, rx, powers - shift)
        ) / (2 * step)
        assert np.all(
            np.abs(numeric - result.powers[:, stream]) <= 1e-5 * np.maximum(1.0, np.abs(numeric))
        )


@settings(max_examples=15, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1), trials=st.integers(1, 3))
def test_curvature_diagonal_is_the_gauss_newton_diagonal(sizes, seed, trials):
    """``d_n = sum_sj w_sj |dH_sj / dtheta_n|^2``, with ``dH / dtheta_n`` taken by brute force
    (``H`` is affine in each ``theta_n``: ``H(theta_n = 1) - H(theta_n = 0)``) and the weights
    ``p_j / (I_s + sigma^2)`` off the diagonal, ``p_s / T_s`` on it; also for a subset of rows."""
    block, _, tx, rx, powers = random_block(sizes, seed, trials)
    channels = block.effective_channels(tx, rx)
    received = np.abs(channels) ** 2 * powers[:, None, :]
    signal = np.diagonal(received, axis1=1, axis2=2)
    total = received.sum(axis=2) + block.noise_w
    weights = powers[:, None, :] / (total - signal)[:, :, None]
    for s in range(block.antennas):
        weights[:, s, s] = powers[:, s] / total[:, s]
    curvature = block.curvature_diagonal(tx, rx, powers)
    for side, phases, result in (("tx", tx, curvature[0]), ("rx", rx, curvature[1])):
        for index in np.ndindex(phases.shape[1:]):
            ends = []
            for value in (1.0, 0.0):
                moved = {"tx": tx.copy(), "rx": rx.copy()}
                moved[side][(slice(None), *index)] = value
                ends.append(block.effective_channels(moved["tx"], moved["rx"]))
            expected = np.sum(weights * np.abs(ends[0] - ends[1]) ** 2, axis=(1, 2))
            np.testing.assert_allclose(result[(slice(None), *index)], expected, rtol=1e-9)
    rows = np.arange(trials)[::-1][: max(1, trials - 1)]
    subset = block.curvature_diagonal(tx[rows], rx[rows], powers[rows], rows)
    np.testing.assert_array_equal(subset[0], curvature[0][rows])
    np.testing.assert_array_equal(subset[1], curvature[1][rows])


def test_links_of_a_block_must_share_hops():
    rng = np.random.default_rng(0)
    first, second = random_link(rng, 2, 4, 4, 2, 2), random_link(rng, 2, 4, 4, 2, 2)
    with pytest.raises(ValueError, match="share hops"):
        LinkBlock.of_links([first, second])
    single = LinkBlock.of_links([first])
    assert isinstance(single.link(0), HmimoLink)
    np.testing.assert_array_equal(single.link(0).channel, first.channel)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        backend_named("jax")


def test_torch_backend_equals_numpy():
    """PyTorch (complex128) agrees with numpy to 1e-9 relative on rates and gradients."""
    pytest.importorskip("torch")
    block, _, tx, rx, powers = random_block((3, 9, 16, 3, 2), 4, 3)
    on_numpy = block.rate_gradients(tx, rx, powers)
    on_torch = replace(block, backend=backend_named("torch")).rate_gradients(tx, rx, powers)
    np.testing.assert_allclose(on_torch.rates_bps_hz, on_numpy.rates_bps_hz, rtol=1e-9)
    np.testing.assert_allclose(on_torch.tx, on_numpy.tx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(on_torch.rx, on_numpy.rx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(on_torch.powers, on_numpy.powers, rtol=1e-9, atol=1e-12)
    torch_block = replace(block, backend=backend_named("torch"))
    for on_torch, on_numpy in zip(
        torch_block.curvature_diagonal(tx, rx, powers),
        block.curvature_diagonal(tx, rx, powers),
        strict=True,
    ):
        np.testing.assert_allclose(on_torch, on_numpy, rtol=1e-9)
