"""``an_ga`` and ``mumiso_iwf`` reproduce An et al.'s protocol: checked against an independent
implementation (tests/mumiso/reference_an.py) on the same channels and starts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_mumiso.an_ga import AnGradientAscent
from simframe_mumiso.power import DampedWaterFilling

from tests.mumiso import reference_an
from tests.mumiso.blocks import complex_normal, random_block


@settings(max_examples=40, deadline=None)
@given(users=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), spread=st.floats(0.0, 3.0))
def test_damped_water_filling_is_ans(users, seed, spread):
    rng = np.random.default_rng(seed)
    effective = complex_normal(rng, (3, users, users)) * 10 ** (spread * rng.random((3, users, 1)))
    powers = DampedWaterFilling().allocate(effective, 0.05, 2.0)
    for b in range(3):
        expected = reference_an.iwf(effective[b], 0.05, 2.0)
        np.testing.assert_allclose(powers[b], expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("users", "atoms", "layers", "seed"), [(2, 4, 1, 1), (3, 9, 2, 2), (4, 4, 3, 3)]
)
def test_an_ga_follows_the_protocol_step_by_step(users, atoms, layers, seed):
    """Same start, same channel: the same iterations, trace, phases and powers as the
    independent implementation (to round-off)."""
    rng = np.random.default_rng(seed)
    block = random_block(rng, users, atoms, layers, 2)
    designs = AnGradientAscent().optimise_block(
        block, DampedWaterFilling(), [np.random.default_rng(seed + b) for b in range(2)]
    )
    for b, design in enumerate(designs):
        start = block.random_phases(np.random.default_rng(seed + b))
        phases, powers, iterations, trace = reference_an.an_ga(
            block.hops, block.channels[b], block.noise_w, block.budget_w, start
        )
        assert design.iterations == iterations
        np.testing.assert_allclose(design.objective_trace, trace, rtol=1e-9)
        np.testing.assert_allclose(design.phases, phases, rtol=0, atol=1e-7)
        np.testing.assert_allclose(design.powers_w, powers, rtol=1e-7, atol=1e-12)


def test_the_first_iteration_takes_the_smallest_step_whatever_the_rate():
    """The doubled 'previous' rate makes the first line search fail every try: the step taken
    is pi / max(g) / 2^(tries - 1), along the gradient at the start, even if the rate falls."""
    rng = np.random.default_rng(5)
    block = random_block(rng, 3, 9, 2, 1)
    allocator = DampedWaterFilling()
    for tries in (1, 4, 20):
        design = AnGradientAscent(max_iterations=1, max_tries=tries).optimise_block(
            block, allocator, [np.random.default_rng(9)]
        )[0]
        start = block.random_phases(np.random.default_rng(9))
        powers = allocator.allocate(block.effective_channels(start[None]), 0.05, 1.0)
        gradient = block.rate_gradients(start[None], powers).angles[0]
        step = np.pi / gradient.max() / 2 ** (tries - 1)
        np.testing.assert_allclose(design.phases, np.exp(1j * (np.angle(start) + step * gradient)))
        assert design.iterations == 1 and design.evaluations == 2 + tries
