"""The block scheduler: in-order decisions whatever the arrival order, bounded work in flight."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simframe.precision import PrecisionTarget
from simframe.scheduling import Plan, PointProgress

BLOCKS = [range(start, min(start + 4, 30)) for start in range(0, 30, 4)]  # 8 blocks, last of 2


def target(half_width: float) -> PrecisionTarget:
    return PrecisionTarget("m", half_width, None, 0.95, 8, 30)


def per_block(values: np.ndarray) -> list[np.ndarray]:
    return [values[:, block.start : block.stop] for block in BLOCKS]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    half_width=st.floats(0.05, 2.0),
    order=st.permutations(range(len(BLOCKS))),
)
def test_decision_does_not_depend_on_arrival_order(seed, half_width, order):
    values = np.random.default_rng(seed).normal(1.0, 1.0, size=(2, 30))
    in_order = PointProgress(0, BLOCKS, target(half_width), 8)
    for index, block in enumerate(per_block(values)):
        in_order.accept(index, block)
    shuffled = PointProgress(0, BLOCKS, target(half_width), 8)
    for index in order:
        shuffled.accept(index, per_block(values)[index])
    assert shuffled.stop == in_order.stop
    np.testing.assert_array_equal(shuffled.half_widths, in_order.half_widths)
    # the stop is the first block boundary (from min_trials on) that meets the target, or the end
    check = target(half_width)
    n = BLOCKS[in_order.stop - 1].stop
    assert check.met(*check.half_widths(values[:, :n])) or n == 30
    for boundary in (b.stop for b in BLOCKS[: in_order.stop - 1] if b.stop >= 8):
        assert not check.met(*check.half_widths(values[:, :boundary]))


def test_blocks_beyond_the_stop_are_discarded():
    point = PointProgress(0, BLOCKS, target(100.0), 8)  # met at the first decision (8 trials)
    point.accept(3, np.ones((2, 4)))  # a speculative block finishing early
    assert not point.decided
    point.accept(0, np.zeros((2, 4)))
    assert point.accept(1, np.ones((2, 4))) and point.stop == 2
    assert point.is_discarded(2) and point.is_discarded(3) and not point.is_discarded(1)
    assert point.next_block(speculative=True) is None


def test_at_most_one_job_per_worker_needed_blocks_first():
    points = {p: PointProgress(p, BLOCKS, target(0.1), 8) for p in (0, 1)}
    plan = Plan(points, workers=2)
    assert [plan.next_job(), plan.next_job(), plan.next_job()] == [(0, [0]), (0, [1]), None]
    plan.returned(0)
    assert plan.next_job() == (1, [0])  # point 0 needs no more than min_trials yet: point 1 does
    plan.returned(0)
    assert plan.next_job() == (1, [1])
    plan.returned(1)
    plan.returned(1)
    # nobody has decided (no block was accepted): idle workers run speculative blocks,
    # spread over the points with the fewest running
    assert sorted([plan.next_job(), plan.next_job()]) == [(0, [2]), (1, [2])]


def test_fixed_counts_want_every_block_in_jobs_of_consecutive_blocks():
    point = PointProgress(0, BLOCKS, None, 30)
    plan = Plan({0: point}, workers=2, group=3)
    assert [plan.next_job() for _ in range(3)] == [(0, [0, 1, 2]), (0, [3, 4, 5]), None]
    plan.returned(0)
    assert plan.next_job() == (0, [6, 7])
    for index in range(len(BLOCKS)):
        point.accept(index, None)
    assert point.decided and point.trials_taken == 30
