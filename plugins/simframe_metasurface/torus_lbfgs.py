"""Riemannian L-BFGS on products of circles, vectorised over a block of independent problems.

The phases of ``P`` meta-atoms, ``theta = exp(j phi)``, form the torus ``(S^1)^P``. It is flat:
with the exponential map ``R_theta(v) = theta exp(j v)`` (``v`` real, in radians) and parallel
transport (a tangent vector ``j v theta`` at ``theta`` goes to ``j v theta'`` at ``theta'``), the
Riemannian L-BFGS of Huang, Gallivan & Absil (SIAM J. Optim. 2015) is exactly L-BFGS on the
angles ``phi``: the retraction is exact, the transport is isometric and costs nothing (tangent
vectors are stored by their real coordinates ``v``), and the curvature pairs stay valid after
transport. This is why no projection of stored pairs is needed here, unlike the embedded
formulation of :func:`simframe_metasurface.manifold.minimise_rlbfgs` (normalisation retraction,
projection transport), which it agrees with to first order.

Extra Euclidean coordinates (e.g. power logits) may be appended to ``phi``: the space stays flat.

The ``B`` problems of a block are independent: each has its own curvature memory, first step,
Armijo line search (step halving until ``f(x + t d) <= f(x) + 1e-4 t <grad, d>`` with a strict
decrease) and stopping mask. Each round of the line search evaluates only the problems still
searching, and a stopped problem is never evaluated again. A problem's iterates depend on no
other problem of the block, to the bit when the cost's batched products round every problem
alike (the HMIMO link does, see :mod:`simframe_hmimo.link_block`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BlockCostAndGradient = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``(x, rows) -> (f, grad)``: ``x`` is ``(b, P)`` for the problems ``rows`` (indices into the
block); returns costs ``(b,)`` and gradients ``(b, P)`` w.r.t. the coordinates."""

ARMIJO_SUFFICIENT_DECREASE = 1e-4
ARMIJO_MAX_BACKTRACKS = 30
CAUTIOUS_UPDATE_FACTOR = 1e-4


@dataclass
class CurvatureMemory:
    """The newest ``capacity`` pairs ``(s, y)`` of every problem, in per-problem ring buffers.

    ``pushed[b]`` counts the pairs problem ``b`` stored since it was last cleared, so its newest
    pair sits at slot ``(pushed[b] - 1) % capacity``; empty slots hold zeros. ``step_changes``
    ``[b, i, j] = <s_i, y_j>`` and ``change_changes`` ``[b, i, j] = <y_i, y_j>`` (slot order) are
    kept up to date on every push, so that the inverse Hessian acts through the compact form
    (:meth:`inverse_hessian_times`). ``scale[b]`` is ``<s, y> / <y, y>`` of the newest pair.
    """

    steps: np.ndarray
    gradient_changes: np.ndarray
    step_changes: np.ndarray
    change_changes: np.ndarray
    scale: np.ndarray
    pushed: np.ndarray

    @classmethod
    def empty(cls, problems: int, capacity: int, size: int) -> CurvatureMemory:
        if capacity < 1:
            raise ValueError(f"memory must be >= 1, got {capacity}")
        return cls(
            np.zeros((problems, capacity, size)),
            np.zeros((problems, capacity, size)),
            np.zeros((problems, capacity, capacity)),
            np.zeros((problems, capacity, capacity)),
            np.ones(problems),
            np.zeros(problems, dtype=int),
        )

    @property
    def capacity(self) -> int:
        return self.steps.shape[1]

    def clear(self, rows: np.ndarray) -> None:
        for array in (self.steps, self.gradient_changes, self.step_changes, self.change_changes):
            array[rows] = 0.0
        self.pushed[rows] = 0

    def push(self, rows: np.ndarray, steps: np.ndarray, changes: np.ndarray, dots: np.ndarray):
        slots = self.pushed[rows] % self.capacity
        self.steps[rows, slots] = steps
        self.gradient_changes[rows, slots] = changes
        stored_steps, stored_changes = (
            select_rows(self.steps, rows),
            select_rows(self.gradient_changes, rows),
        )
        with_steps = _times(stored_steps, changes)
        with_changes, among_changes = np.moveaxis(
            stored_changes @ np.stack([steps, changes], axis=2), 2, 0
        )
        self.step_changes[rows, slots, :] = with_changes
        self.step_changes[rows, :, slots] = with_steps
        self.change_changes[rows, slots, :] = among_changes
        self.change_changes[rows, :, slots] = among_changes
        self.scale[rows] = dots / among_changes[np.arange(len(rows)), slots]
        self.pushed[rows] += 1

    def inverse_hessian_times(self, rows: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        """``H g`` by the compact representation of Byrd, Nocedal & Schnabel (1994), eq. (2.6),
        the same matrix as the two-loop recursion, for every problem of ``rows`` at once.

        With the pairs in chronological order, ``a = S^T g``, ``b = Y^T g``, ``R`` the upper
        triangle of ``S^T Y``, ``D`` its diagonal and ``gamma`` the scale:
        ``p = R^{-1} a``, ``H g = gamma g + S R^{-T} ((D + gamma Y^T Y) p - gamma b) - gamma Y p``.
        The large arrays enter only through four batched matrix products; empty slots get
        ``R_ii = D_ii = 1`` and, being zero, contribute nothing.
        """
        capacity = self.capacity
        order = (self.pushed[rows, None] + np.arange(capacity)) % capacity  # oldest first
        filled = np.arange(capacity) >= capacity - np.minimum(self.pushed[rows, None], capacity)
        pick = np.arange(len(rows))[:, None, None], order[:, :, None], order[:, None, :]
        step_changes = select_rows(self.step_changes, rows)[pick]
        change_changes = select_rows(self.change_changes, rows)[pick]
        diagonal = np.where(filled, np.diagonal(step_changes, axis1=1, axis2=2), 1.0)
        upper = np.triu(step_changes, 1) + diagonal[:, :, None] * np.eye(capacity)
        gamma = self.scale[rows]
        steps, changes = select_rows(self.steps, rows), select_rows(self.gradient_changes, rows)
        a = _times(steps, gradients)[np.arange(len(rows))[:, None], order]
        b = _times(changes, gradients)[np.arange(len(rows))[:, None], order]
        p = np.linalg.solve(upper, a[:, :, None])
        middle = diagonal[:, :, None] * p + gamma[:, None, None] * (change_changes @ p)
        top = np.linalg.solve(upper.swapaxes(1, 2), middle - gamma[:, None, None] * b[:, :, None])
        weights_steps = np.empty_like(a)
        weights_changes = np.empty_like(a)
        np.put_along_axis(weights_steps, order, top[:, :, 0], axis=1)
        np.put_along_axis(weights_changes, order, -gamma[:, None] * p[:, :, 0], axis=1)
        return (
            gamma[:, None] * gradients
            + (weights_steps[:, None, :] @ steps)[:, 0]
            + (weights_changes[:, None, :] @ changes)[:, 0]
        )


def select_rows(array, rows: np.ndarray | None):
    """``array[rows]`` (the problems ``rows`` of a block), without a copy when ``rows`` is
    ``None`` or every problem in order, as a whole block's evaluation passes it."""
    if rows is None or (len(rows) == len(array) and np.array_equal(rows, np.arange(len(array)))):
        return array
    return array[rows]


def _times(stacked: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``stacked[b] @ vectors[b]`` for every problem, ``(b, m, P) x (b, P) -> (b, m)`` (BLAS)."""
    return (stacked @ vectors[:, :, None])[:, :, 0]


@dataclass(frozen=True)
class BlockResult:
    """Outcome of :func:`minimise_lbfgs_block` for every problem of the block."""

    point: np.ndarray
    """``(B, P)`` final coordinates."""
    cost: np.ndarray
    """``(B,)`` final costs (never above the start's)."""
    gradient: np.ndarray
    """``(B, P)`` gradients at ``point``."""
    iterations: np.ndarray
    """``(B,)`` accepted iterations per problem."""
    evaluations: np.ndarray
    """``(B,)`` cost-and-gradient evaluations per problem (the start's included)."""
    cost_trace: np.ndarray
    """``(iterations + 1, B)``: the cost at the start and after every iteration of the block
    (a stopped problem's cost repeats)."""


def minimise_lbfgs_block(
    cost_and_gradient: BlockCostAndGradient,
    start: np.ndarray,
    *,
    memory: int = 10,
    max_iterations: int = 100,
    gradient_tolerance: float = 1e-8,
    relative_tolerance: float = 0.0,
    window: int = 1,
    first_step: float = 0.1,
    active: np.ndarray | None = None,
) -> BlockResult:
    """Minimise ``B`` independent smooth costs of real coordinates ``(B, P)`` by L-BFGS.

    A problem stops when its gradient norm is at most ``gradient_tolerance``, when its last
    ``window`` iterations together lower its cost by at most ``relative_tolerance * |cost|``
    (checked after every iteration from its ``window``-th on), when the line search finds no
    decrease even along the steepest-descent direction, or after ``max_iterations``. Without
    curvature pairs (first iteration, or after the memory was cleared because a quasi-Newton
    direction failed) the direction is steepest descent scaled so that its largest coordinate
    is ``first_step``. ``memory`` is the number of pairs kept per problem. ``active``
    (``(B,)`` bool) leaves the other problems untouched and unevaluated (their cost and
    gradient are returned as NaN).
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    point = np.array(start, dtype=float)
    problems, size = point.shape
    history = CurvatureMemory.empty(problems, memory, size)
    active = np.ones(problems, dtype=bool) if active is None else np.array(active, dtype=bool)
    rows = np.flatnonzero(active)
    cost, gradient = np.full(problems, np.nan), np.full((problems, size), np.nan)
    cost[rows], gradient[rows] = cost_and_gradient(point[rows], rows)
    evaluations = active.astype(int)
    active &= np.isfinite(cost)
    iterations = np.zeros(problems, dtype=int)
    recent = np.broadcast_to(cost, (window, problems)).copy()  # cost at iteration i in i % window
    trace = [cost.copy()]
    for _ in range(max_iterations):
        active &= np.linalg.norm(gradient, axis=1) > gradient_tolerance
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        direction, slope = _directions(history, rows, gradient[rows], first_step)
        accepted, new_point, new_cost, new_gradient, searched = _armijo(
            cost_and_gradient, point[rows], cost[rows], direction, slope, rows
        )
        evaluations[rows] += searched
        failed = rows[~accepted]
        had_pairs = history.pushed[failed] > 0
        history.clear(failed[had_pairs])
        active[failed[~had_pairs]] = False
        moved = rows[accepted]
        steps = new_point[accepted] - point[moved]
        changes = new_gradient[accepted] - gradient[moved]
        dots = np.einsum("bp,bp->b", steps, changes)
        squares = np.einsum("bp,bp->b", steps, steps)
        norms = np.linalg.norm(gradient[moved], axis=1)
        cautious = (squares > 0.0) & (dots >= CAUTIOUS_UPDATE_FACTOR * norms * squares)
        history.push(moved[cautious], steps[cautious], changes[cautious], dots[cautious])
        point[moved], cost[moved], gradient[moved] = (
            new_point[accepted],
            new_cost[accepted],
            new_gradient[accepted],
        )
        iterations[moved] += 1
        slots = iterations[moved] % window
        gain = recent[slots, moved] - cost[moved]  # over the last `window` iterations
        stalled = (iterations[moved] >= window) & (gain <= relative_tolerance * np.abs(cost[moved]))
        active[moved[stalled]] = False
        recent[slots, moved] = cost[moved]
        trace.append(cost.copy())
    return BlockResult(point, cost, gradient, iterations, evaluations, np.array(trace))


def _directions(
    history: CurvatureMemory, rows: np.ndarray, gradient: np.ndarray, first_step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Quasi-Newton directions, steepest descent (largest coordinate ``first_step``) for
    problems without pairs or whose quasi-Newton direction is not a descent direction."""
    direction = -history.inverse_hessian_times(rows, gradient)
    slope = np.einsum("bp,bp->b", gradient, direction)
    steepest = (history.pushed[rows] == 0) | ~(slope < 0.0)
    history.clear(rows[steepest & (history.pushed[rows] > 0)])
    if np.any(steepest):
        g = gradient[steepest]
        largest = np.maximum(np.abs(g).max(axis=1, keepdims=True), np.finfo(float).tiny)
        direction[steepest] = -first_step * g / largest
        slope[steepest] = np.einsum("bp,bp->b", g, direction[steepest])
    return direction, slope


def _armijo(
    cost_and_gradient: BlockCostAndGradient,
    point: np.ndarray,
    cost: np.ndarray,
    direction: np.ndarray,
    slope: np.ndarray,
    rows: np.ndarray,
):
    """Backtracking from the unit step, halving, for every problem at once; each round evaluates
    only the problems still searching. Returns ``(accepted, point, cost, gradient, evaluations)``
    per problem of ``rows``."""
    count = len(rows)
    lengths = np.ones(count)
    accepted = np.zeros(count, dtype=bool)
    new_point, new_cost = point.copy(), cost.copy()
    new_gradient = np.zeros_like(point)
    evaluations = np.zeros(count, dtype=int)
    pending = np.arange(count)
    for _ in range(ARMIJO_MAX_BACKTRACKS):
        candidate = point[pending] + lengths[pending, None] * direction[pending]
        trial_cost, trial_gradient = cost_and_gradient(candidate, rows[pending])
        evaluations[pending] += 1
        good = (
            np.isfinite(trial_cost)
            & (trial_cost < cost[pending])
            & (
                trial_cost
                <= cost[pending] + ARMIJO_SUFFICIENT_DECREASE * lengths[pending] * slope[pending]
            )
        )
        done = pending[good]
        accepted[done] = True
        new_point[done], new_cost[done], new_gradient[done] = (
            candidate[good],
            trial_cost[good],
            trial_gradient[good],
        )
        pending = pending[~good]
        if pending.size == 0:
            break
        lengths[pending] *= 0.5
    return accepted, new_point, new_cost, new_gradient, evaluations
