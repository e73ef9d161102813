"""Theorem 1: the adjoint gradient against central finite differences and the dense reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_hmimo.link import dense_rate_gradient, effective_channel, rate_gradient

from tests.hmimo.links import random_link

sizes = st.tuples(
    st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.integers(1, 4)
)


def random_case(sizes, seed: int):
    """A random link with random phases and a random power split summing to 1 W."""
    rng = np.random.default_rng(seed)
    link = random_link(rng, *sizes)
    tx, rx = link.random_phases(rng)
    return link, tx, rx, rng.dirichlet(np.ones(link.antennas))


def angle_derivative(link, tx, rx, powers, side: str, index: tuple[int, int], step=1e-6) -> float:
    """Central difference of the rate in the angle of one meta-atom."""
    rates = []
    for sign in (1.0, -1.0):
        phases = {"tx": tx.copy(), "rx": rx.copy()}
        phases[side][index] *= np.exp(1j * sign * step)
        rates.append(link.rate_bps_hz(phases["tx"], phases["rx"], powers))
    return (rates[0] - rates[1]) / (2 * step)


@settings(max_examples=25, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1))
def test_adjoint_gradient_matches_central_differences(sizes, seed):
    link, tx, rx, powers = random_case(sizes, seed)
    rate, grad_tx, grad_rx = rate_gradient(link, tx, rx, powers)
    assert np.isclose(rate, link.rate_bps_hz(tx, rx, powers))
    for side, phases, grad in (("tx", tx, grad_tx), ("rx", rx, grad_rx)):
        analytic = np.imag(grad * phases.conj())
        for index in np.ndindex(phases.shape):
            numeric = angle_derivative(link, tx, rx, powers, side, index)
            assert abs(numeric - analytic[index]) <= 1e-5 * max(1.0, abs(numeric)), (side, index)


@settings(max_examples=15, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1))
def test_adjoint_equals_dense_reference(sizes, seed):
    link, tx, rx, powers = random_case(sizes, seed)
    adjoint, dense = rate_gradient(link, tx, rx, powers), dense_rate_gradient(link, tx, rx, powers)
    np.testing.assert_allclose(adjoint[0], dense[0], rtol=1e-10)
    np.testing.assert_allclose(adjoint[1], dense[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(adjoint[2], dense[2], rtol=1e-9, atol=1e-12)


def test_effective_channel_is_the_paper_product():
    """Column propagation equals V_R H~ V_T formed from full matrices (eq. (4))."""
    rng = np.random.default_rng(3)
    link = random_link(rng, 3, 9, 4, 3, 2)
    tx, rx = link.random_phases(rng)
    v_t = np.diag(tx[0]) @ link.tx_hops[0]
    for layer in range(1, 3):
        v_t = np.diag(tx[layer]) @ link.tx_hops[layer] @ v_t
    v_r = link.rx_hops[0] @ np.diag(rx[0]) @ link.rx_hops[1] @ np.diag(rx[1])
    np.testing.assert_allclose(effective_channel(link, tx, rx), v_r @ link.channel @ v_t)
