"""Riemannian L-BFGS on products of complex circles: known optima, monotonicity, helpers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_metasurface.manifold import (
    _LimitedMemory,
    inner,
    minimise_rlbfgs,
    project,
    random_point,
    retract,
    transport,
)
from simframe_metasurface.torus_lbfgs import minimise_lbfgs_block

shapes = st.lists(st.integers(1, 12), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**32 - 1)


def rank_one_cost(a: np.ndarray):
    """``f(z) = -|a^H z|^2 = -Re(z^H a a^H z)``; its minimum is ``-(sum |a_i|)^2`` at
    ``z = exp(j angle a)`` times any global phase. ``egrad = -2 a (a^H z)``."""

    def cost_and_gradient(z: np.ndarray) -> tuple[float, np.ndarray]:
        correlation = np.vdot(a, z)
        return -(abs(correlation) ** 2), -2.0 * a * correlation

    return cost_and_gradient


def hermitian_quadratic_cost(matrix: np.ndarray, shape: tuple[int, ...]):
    """``f(z) = -Re(z^H A z)`` over ``z`` of any shape (flattened); ``egrad = -2 A z``."""

    def cost_and_gradient(z: np.ndarray) -> tuple[float, np.ndarray]:
        product = matrix @ z.ravel()
        return -np.vdot(z.ravel(), product).real, (-2.0 * product).reshape(shape)

    return cost_and_gradient


def random_hermitian(rng: np.random.Generator, size: int) -> np.ndarray:
    draw = rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))
    return (draw + draw.conj().T) / 2


def random_tangent(rng: np.random.Generator, point: np.ndarray, scale: float) -> np.ndarray:
    ambient = rng.normal(size=point.shape) + 1j * rng.normal(size=point.shape)
    return scale * project(point, ambient)


def test_rank_one_problem_reaches_the_analytic_optimum():
    rng = np.random.default_rng(7)
    shape = (3, 8)
    a = (rng.normal(size=shape) + 1j * rng.normal(size=shape)) / 5
    result = minimise_rlbfgs(rank_one_cost(a), random_point(rng, shape))
    optimum = -(np.sum(np.abs(a)) ** 2)
    assert result.cost == pytest.approx(optimum, rel=1e-10)
    assert result.point.shape == shape
    # the same point as exp(j angle a) up to one global phase
    relative_phase = result.point * np.exp(-1j * np.angle(a))
    assert np.allclose(relative_phase, relative_phase.flat[0], atol=1e-6)
    assert result.stop_reason == "gradient tolerance"


def test_gradient_tolerance_stop_is_genuine():
    """The reported gradient norm is the Riemannian gradient recomputed at the returned point.

    The default tolerance 1e-6 is resolvable for a cost of order one; 1e-8 is at the edge of
    double precision here and ends with "no progress" depending on rounding (see the test below).
    """
    rng = np.random.default_rng(3)
    size = 40
    matrix = random_hermitian(rng, size) / size
    problem = hermitian_quadratic_cost(matrix, (size,))
    result = minimise_rlbfgs(problem, random_point(rng, size))
    assert result.stop_reason == "gradient tolerance"
    _, egrad = problem(result.point)
    recomputed = np.linalg.norm(project(result.point, egrad))
    assert recomputed == pytest.approx(result.gradient_norm, rel=1e-12)
    assert recomputed <= 1e-6
    assert result.iterations < 1000


def test_quasi_newton_memory_speeds_up_convergence():
    """After the same number of iterations the Riemannian gradient is far smaller with a memory of
    30 pairs than with one pair on an ill-conditioned quadratic (curvature information is used)."""
    rng = np.random.default_rng(11)
    size = 60
    eigenvalues = np.geomspace(1.0, 1e3, size)
    basis, _ = np.linalg.qr(rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size)))
    problem = hermitian_quadratic_cost((basis * eigenvalues) @ basis.conj().T / size, (size,))
    start = random_point(rng, size)
    full = minimise_rlbfgs(problem, start, max_iterations=40, gradient_tolerance=0.0)
    short = minimise_rlbfgs(problem, start, memory=1, max_iterations=40, gradient_tolerance=0.0)
    assert full.iterations == short.iterations == 40
    assert full.gradient_norm < 0.1 * short.gradient_norm
    assert full.cost <= short.cost


def test_max_iterations_stop():
    rng = np.random.default_rng(5)
    problem = hermitian_quadratic_cost(random_hermitian(rng, 30), (30,))
    result = minimise_rlbfgs(problem, random_point(rng, 30), max_iterations=3)
    assert result.stop_reason == "max iterations"
    assert result.iterations == 3
    assert len(result.cost_trace) == 4
    assert result.cost_trace[-1] < result.cost_trace[0]


def test_unreachable_tolerance_ends_with_no_progress():
    """A cost of magnitude ~1e4 cannot resolve a gradient norm of 1e-12: the solver stops when the
    line search finds no decrease instead of looping until max_iterations."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=100) + 1j * rng.normal(size=100)
    result = minimise_rlbfgs(rank_one_cost(a), random_point(rng, 100), gradient_tolerance=1e-12)
    assert result.stop_reason == "no progress"
    assert result.iterations < 1000
    assert result.cost == pytest.approx(-(np.sum(np.abs(a)) ** 2), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, memory=st.integers(1, 12))
def test_trace_non_increasing_and_point_unit_modulus(shape, seed, memory):
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    problem = hermitian_quadratic_cost(random_hermitian(rng, size), shape)
    start = random_point(rng, shape)
    result = minimise_rlbfgs(problem, start, memory=memory, max_iterations=40)
    assert result.point.shape == shape
    assert np.allclose(np.abs(result.point), 1.0, atol=1e-12, rtol=0)
    assert np.all(np.diff(result.cost_trace) <= 0.0)
    assert len(result.cost_trace) == result.iterations + 1
    # the start is renormalised (|z| = 1 to the last bit), hence approx
    assert result.cost_trace[0] == pytest.approx(problem(start)[0], rel=1e-12, abs=1e-12)
    assert result.cost == result.cost_trace[-1] == problem(result.point)[0]


@settings(max_examples=50, deadline=None)
@given(shape=shapes, seed=seeds, scale=st.floats(1e-8, 1e8))
def test_retraction_is_unit_modulus_and_first_order(shape, seed, scale):
    rng = np.random.default_rng(seed)
    point = random_point(rng, shape)
    tangent = random_tangent(rng, point, scale)
    assert np.allclose(np.abs(retract(point, tangent)), 1.0, atol=1e-12, rtol=0)
    # R_z(v) = z + v + O(|v|^2): for a tangent v, |(z + v)/|z + v| - (z + v)| = sqrt(1 + |v|^2) - 1
    # <= |v|^2 / 2 elementwise (a fixed absolute tolerance failed for the largest draws)
    small = random_tangent(rng, point, 1e-6)
    remainder = np.abs(retract(point, small) - (point + small))
    assert np.all(remainder <= 0.5 * np.abs(small) ** 2 + 1e-15)


@settings(max_examples=50, deadline=None)
@given(shape=shapes, seed=seeds)
def test_projection_and_transport_land_in_the_tangent_space(shape, seed):
    rng = np.random.default_rng(seed)
    point, destination = random_point(rng, shape), random_point(rng, shape)
    ambient = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    tangent = project(point, ambient)
    assert np.allclose((tangent * point.conj()).real, 0.0, atol=1e-12)
    assert np.allclose(project(point, tangent), tangent, atol=1e-12)  # idempotent
    # the projection removes only the normal component: <ambient - tangent, tangent> = 0
    assert abs(inner(ambient - tangent, tangent)) <= 1e-10 * (1 + inner(ambient, ambient))
    moved = transport(destination, tangent)
    assert np.allclose((moved * destination.conj()).real, 0.0, atol=1e-12)
    # a stack of vectors is transported at once
    stacked = transport(destination, np.stack([tangent, 2 * tangent]))
    assert np.allclose(stacked, [moved, 2 * moved], atol=1e-12)


def test_egrad_convention_matches_directional_derivative():
    """``d/dt f(R_z(t v)) = <P_z egrad, v>`` at ``t = 0`` for the documented convention."""
    rng = np.random.default_rng(2)
    matrix = random_hermitian(rng, 12)
    problem = hermitian_quadratic_cost(matrix, (12,))
    point = random_point(rng, 12)
    tangent = random_tangent(rng, point, 1.0)
    _, egrad = problem(point)
    step = 1e-6
    finite_difference = (
        problem(retract(point, step * tangent))[0] - problem(retract(point, -step * tangent))[0]
    ) / (2 * step)
    assert finite_difference == pytest.approx(inner(project(point, egrad), tangent), rel=1e-6)


def test_start_given_as_shape_is_drawn_from_rng_reproducibly():
    a = np.exp(1j * np.arange(6.0))
    first = minimise_rlbfgs(rank_one_cost(a), (6,), rng=np.random.default_rng(4), max_iterations=2)
    again = minimise_rlbfgs(rank_one_cost(a), (6,), rng=np.random.default_rng(4), max_iterations=2)
    assert np.array_equal(first.cost_trace, again.cost_trace)
    with pytest.raises(ValueError, match="rng"):
        minimise_rlbfgs(rank_one_cost(a), (6,))


def test_start_off_the_manifold_is_refused():
    a = np.ones(4, dtype=complex)
    with pytest.raises(ValueError, match="unit modulus"):
        minimise_rlbfgs(rank_one_cost(a), np.full(4, 2.0 + 0j))
    with pytest.raises(ValueError, match="complex"):
        minimise_rlbfgs(rank_one_cost(a), np.ones(4))


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, pairs=st.integers(1, 6))
def test_memory_satisfies_the_secant_equation_and_stays_tangent(shape, seed, pairs):
    """The two-loop inverse Hessian maps the newest gradient change onto the newest step
    (``H y = s``, Nocedal & Wright eq. 6.17), and transport keeps every stored pair tangent."""
    rng = np.random.default_rng(seed)
    point = random_point(rng, shape)
    memory = _LimitedMemory(capacity=4, shape=shape)
    for _ in range(pairs):
        step = random_tangent(rng, point, 1.0)
        change = step + random_tangent(rng, point, 0.1)  # <s, y> > 0
        memory.push(step, change, inner(step, change))
    assert len(memory) == min(pairs, 4)
    assert np.allclose(memory.inverse_hessian_times(change), step, atol=1e-9)
    destination = random_point(rng, shape)
    memory.transport_to(destination)
    for stored in (memory.steps, memory.gradient_changes):
        assert np.allclose((stored * destination.conj()).real, 0.0, atol=1e-12)


def cosine_cost(targets: np.ndarray, weights: np.ndarray):
    """Block cost ``f_b(phi) = -sum_i w_bi cos(phi_bi - t_bi)``: minimum ``-sum w`` at
    ``phi = t`` (mod 2 pi), with very different curvatures across coordinates."""

    def cost_and_gradient(x: np.ndarray, rows: np.ndarray):
        difference = x - targets[rows]
        return (
            -np.sum(weights[rows] * np.cos(difference), axis=1),
            weights[rows] * np.sin(difference),
        )

    return cost_and_gradient


def cosine_problems(problems: int, size: int, seed: int):
    """Random targets, weights and a start within 2 rad of the targets per coordinate."""
    rng = np.random.default_rng(seed)
    targets = rng.uniform(-np.pi, np.pi, (problems, size))
    weights = rng.uniform(0.1, 10.0, (problems, size))
    return targets, weights, targets + rng.uniform(-2.0, 2.0, (problems, size))


@settings(max_examples=20, deadline=None)
@given(problems=st.integers(1, 5), size=st.integers(1, 20), seed=seeds)
def test_block_lbfgs_finds_the_optimum_and_never_rises(problems, size, seed):
    targets, weights, start = cosine_problems(problems, size, seed)
    result = minimise_lbfgs_block(
        cosine_cost(targets, weights), start, max_iterations=300, gradient_tolerance=1e-9
    )
    assert np.all(np.diff(result.cost_trace, axis=0) <= 1e-12)
    np.testing.assert_allclose(result.cost, -weights.sum(axis=1), rtol=1e-9)
    np.testing.assert_allclose(np.angle(np.exp(1j * (result.point - targets))), 0.0, atol=1e-4)


@settings(max_examples=20, deadline=None)
@given(
    problems=st.integers(1, 4),
    size=st.integers(1, 12),
    seed=seeds,
    window=st.integers(1, 8),
    tolerance=st.floats(1e-6, 1e-2),
)
def test_block_lbfgs_stops_at_the_first_window_that_gains_too_little(
    problems, size, seed, window, tolerance
):
    targets, weights, start = cosine_problems(problems, size, seed)
    result = minimise_lbfgs_block(
        cosine_cost(targets, weights),
        start,
        max_iterations=2000,
        gradient_tolerance=0.0,
        relative_tolerance=tolerance,
        window=window,
    )
    for b in range(problems):
        # Accepted iterations strictly lower the cost; rows where b did not move repeat it.
        trace = result.cost_trace[:, b]
        costs = trace[np.r_[True, np.diff(trace) != 0.0]]
        stop = result.iterations[b]
        assert len(costs) == stop + 1
        gains = costs[:-window] - costs[window:]  # gains[i - window]: the window ending at i
        small = gains <= tolerance * np.abs(costs[window:])
        assert not small[:-1].any(), "ran past a window that gained too little"
        if not small[-1:].any():  # the only other way to stop here: no progress at the optimum
            np.testing.assert_allclose(result.cost[b], -weights[b].sum(), rtol=1e-9)


@settings(max_examples=15, deadline=None)
@given(problems=st.integers(2, 5), size=st.integers(1, 12), seed=seeds)
def test_block_lbfgs_problems_do_not_depend_on_each_other(problems, size, seed):
    """Each problem of a block follows the iterates it follows alone; inactive ones stay put."""
    targets, weights, start = cosine_problems(problems, size, seed)
    active = np.arange(problems) % 2 == 0
    block = minimise_lbfgs_block(
        cosine_cost(targets, weights), start, max_iterations=15, memory=4, active=active
    )
    for b in range(problems):
        alone = minimise_lbfgs_block(
            cosine_cost(targets[b : b + 1], weights[b : b + 1]),
            start[b : b + 1],
            max_iterations=15 if active[b] else 0,
            memory=4,
        )
        np.testing.assert_allclose(block.point[b], alone.point[0], atol=1e-12)
        assert block.iterations[b] == alone.iterations[0]
    np.testing.assert_array_equal(block.point[~active], start[~active])
    assert np.all(block.evaluations[~active] == 0)
