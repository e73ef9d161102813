"""Phase optimisers of the downlink: unit modulus, budget, monotone ascent, block independence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_mumiso.an_ga import AnGradientAscent
from simframe_mumiso.power import DampedWaterFilling, EqualPower, WmmsePower
from simframe_mumiso.random_phases import RandomPhases
from simframe_mumiso.sum_rate_lbfgs import SumRateLbfgs

from tests.mumiso.blocks import random_block, sizes

OPTIMISERS = [
    RandomPhases(),
    AnGradientAscent(max_iterations=5),
    SumRateLbfgs(max_outer_iterations=3, inner_iterations=15),
    SumRateLbfgs(max_outer_iterations=3, inner_iterations=15, preconditioner_exponent=0.0),
]
ALLOCATORS = [DampedWaterFilling(), EqualPower(), WmmsePower()]


@pytest.mark.parametrize("optimiser", OPTIMISERS, ids=lambda o: o.name)
@settings(max_examples=10, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1), allocator=st.sampled_from(ALLOCATORS))
def test_designs_are_unit_modulus_on_budget_and_traced(optimiser, sizes, seed, allocator):
    rng = np.random.default_rng(seed)
    block = random_block(rng, *sizes, 2)
    designs = optimiser.optimise_block(
        block, allocator, [np.random.default_rng(seed + b) for b in range(2)]
    )
    assert len(designs) == 2
    for b, design in enumerate(designs):
        assert design.phases.shape == block.phase_shape
        np.testing.assert_allclose(np.abs(design.phases), 1.0, rtol=0, atol=1e-12)
        assert np.all(design.powers_w >= 0)
        np.testing.assert_allclose(design.powers_w.sum(), block.budget_w, rtol=1e-12)
        assert len(design.objective_trace) == design.iterations + 1
        rate = block.trial(b).sum_rates(design.phases[None], design.powers_w[None])[0]
        assert np.isclose(design.objective_trace[-1], rate, rtol=1e-9)


@settings(max_examples=10, deadline=None)
@given(sizes=sizes, seed=st.integers(0, 2**32 - 1))
def test_sum_rate_lbfgs_never_lowers_the_sum_rate(sizes, seed):
    rng = np.random.default_rng(seed)
    block = random_block(rng, *sizes, 3)
    optimiser = SumRateLbfgs(
        max_outer_iterations=4, inner_iterations=10, start_at_equal_power=False
    )
    for design in optimiser.optimise_block(
        block, DampedWaterFilling(), [np.random.default_rng(seed + b) for b in range(3)]
    ):
        trace = np.asarray(design.objective_trace)
        assert np.all(np.diff(trace) >= -1e-12 * trace[1:])  # up to round-off


def test_all_optimisers_start_from_the_trials_first_draw():
    """The random variant's phases are where an_ga and sum_rate_lbfgs start: one comparison on
    the same channel and the same start."""
    block = random_block(np.random.default_rng(3), 3, 9, 2, 1)
    random = RandomPhases().optimise_block(block, EqualPower(), [np.random.default_rng(7)])[0]
    an = AnGradientAscent().optimise_block(block, EqualPower(), [np.random.default_rng(7)])[0]
    ours = SumRateLbfgs(start_at_equal_power=False).optimise_block(
        block, EqualPower(), [np.random.default_rng(7)]
    )[0]
    assert random.objective_trace[0] == an.objective_trace[0] == ours.objective_trace[0]


@pytest.mark.parametrize(
    "optimiser",
    [
        AnGradientAscent(max_iterations=8),
        SumRateLbfgs(max_outer_iterations=4, inner_iterations=20, preconditioner_exponent=0.0),
        SumRateLbfgs(max_outer_iterations=4, inner_iterations=20),
    ],
    ids=["an_ga", "sum_rate_lbfgs_plain", "sum_rate_lbfgs_preconditioned"],
)
def test_a_trials_design_is_the_same_whatever_its_block(optimiser):
    block = random_block(np.random.default_rng(21), 3, 9, 3, 4)
    allocator = DampedWaterFilling() if optimiser.name == "an_ga" else WmmsePower()
    together = optimiser.optimise_block(
        block, allocator, [np.random.default_rng(60 + b) for b in range(4)]
    )
    for b in (1, 2):
        alone = optimiser.optimise_block(block.trial(b), allocator, [np.random.default_rng(60 + b)])
        np.testing.assert_array_equal(alone[0].phases, together[b].phases)
        np.testing.assert_array_equal(alone[0].powers_w, together[b].powers_w)
        assert alone[0].objective_trace == together[b].objective_trace
        assert alone[0].evaluations == together[b].evaluations
