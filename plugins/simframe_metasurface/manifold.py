"""Riemannian limited-memory BFGS on a product of complex circles.

The manifold is ``{z in C^shape : |z_i| = 1 for every i}`` (the phase shifts of all meta-atoms of
one or more layers), a Riemannian submanifold of ``C^shape`` seen as a real vector space with the
metric ``<u, v> = Re(sum conj(u) v)``. The tangent space at ``z`` is ``{v : Re(v conj(z)) = 0}``
elementwise.

The solver follows Manopt's ``rlbfgs`` (Boumal et al.; Huang, Gallivan & Absil, SIAM J. Optim. 2015,
"A Broyden class of quasi-Newton methods for Riemannian optimization"; Absil, Mahony & Sepulchre,
"Optimization Algorithms on Matrix Manifolds", 2008, Sec. 4.1 retractions, 8.1 vector transport):

- retraction ``R_z(v) = (z + v) / |z + v|`` elementwise (never divides by zero: ``|z + v|^2 =
  1 + |v|^2`` for tangent ``v``);
- vector transport by projection onto the new tangent space, ``v -> v - Re(v conj(z)) z``;
- Riemannian gradient = projection of the Euclidean gradient;
- inverse-Hessian approximation by the limited-memory two-loop recursion with the initial scaling
  ``<s, y> / <y, y>`` of the newest accepted pair;
- cautious update: a pair ``(s, y)`` is stored only if ``<s, y> / <s, s> >= 1e-4 ||grad f||``
  (Manopt's default ``strict_inc_func``), which keeps the approximation positive definite;
- Armijo backtracking line search from the unit step (sufficient decrease ``1e-4``, halving).

Euclidean gradient convention: for a real cost ``f(z)`` the caller returns
``egrad = df/dRe(z) + 1j df/dIm(z)`` (twice the Wirtinger derivative ``df/dconj(z)``), so that the
first-order change is ``f(z + dz) - f(z) = Re(sum conj(egrad) dz)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CostAndGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]

ARMIJO_SUFFICIENT_DECREASE = 1e-4
ARMIJO_CONTRACTION = 0.5
ARMIJO_MAX_BACKTRACKS = 25
CAUTIOUS_UPDATE_FACTOR = 1e-4
UNIT_MODULUS_TOLERANCE = 1e-6


def inner(u: np.ndarray, v: np.ndarray) -> float:
    """Riemannian metric ``Re(sum conj(u) v)`` (the same at every point)."""
    return float(np.vdot(u, v).real)


def norm(v: np.ndarray) -> float:
    """Norm induced by :func:`inner`."""
    return float(np.linalg.norm(v))


def project(point: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Orthogonal projection of an ambient vector onto the tangent space at ``point``.

    ``v - Re(v conj(z)) z`` elementwise. ``vector`` may carry leading axes (a stack of vectors);
    ``point`` broadcasts against it. Applied to the Euclidean gradient it gives the Riemannian
    gradient; applied to a tangent vector at another point it is the vector transport.
    """
    return vector - (vector * point.conj()).real * point


def retract(point: np.ndarray, tangent: np.ndarray) -> np.ndarray:
    """Retraction by normalisation, ``(z + v) / |z + v|`` elementwise."""
    moved = point + tangent
    return moved / np.abs(moved)


def transport(destination: np.ndarray, tangent: np.ndarray) -> np.ndarray:
    """Vector transport by projection of ``tangent`` onto the tangent space at ``destination``."""
    return project(destination, tangent)


def random_point(rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
    """Uniformly distributed phases, ``exp(j theta)`` with ``theta ~ U[0, 2 pi)``."""
    return np.exp(1j * rng.uniform(0.0, 2.0 * np.pi, size=shape))


@dataclass(frozen=True)
class RiemannianResult:
    """Outcome of :func:`minimise_rlbfgs`."""

    point: np.ndarray
    """Complex unit-modulus array, same shape as the start."""
    cost: float
    iterations: int
    cost_trace: np.ndarray
    """Cost at the start, then after every iteration; non-increasing."""
    gradient_norm: float
    """Norm of the Riemannian gradient at ``point``."""
    stop_reason: str
    """``"gradient tolerance"``, ``"max iterations"`` or ``"no progress"`` (the line search found
    no decrease even along the steepest-descent direction)."""


class _LimitedMemory:
    """The stored pairs ``(s_k, y_k)`` and ``rho_k = 1 / <s_k, y_k>``, newest last.

    Pairs are kept as stacked arrays ``(pairs, *shape)`` so that transport is one vectorised
    projection.
    """

    def __init__(self, capacity: int, shape: tuple[int, ...]) -> None:
        self.capacity = capacity
        self.steps = np.empty((0, *shape), dtype=complex)
        self.gradient_changes = np.empty((0, *shape), dtype=complex)
        self.rhos = np.empty(0)
        self.hessian_scale = 1.0

    def __len__(self) -> int:
        return len(self.rhos)

    def clear(self) -> None:
        self.steps = self.steps[:0]
        self.gradient_changes = self.gradient_changes[:0]
        self.rhos = self.rhos[:0]

    def transport_to(self, point: np.ndarray) -> None:
        self.steps = transport(point, self.steps)
        self.gradient_changes = transport(point, self.gradient_changes)

    def push(self, step: np.ndarray, gradient_change: np.ndarray, step_dot_change: float) -> None:
        """Append the newest pair, dropping the oldest beyond the capacity."""
        self.steps = np.concatenate([self.steps, step[None]])[-self.capacity :]
        self.gradient_changes = np.concatenate([self.gradient_changes, gradient_change[None]])[
            -self.capacity :
        ]
        self.rhos = np.append(self.rhos, 1.0 / step_dot_change)[-self.capacity :]
        self.hessian_scale = step_dot_change / inner(gradient_change, gradient_change)

    def inverse_hessian_times(self, gradient: np.ndarray) -> np.ndarray:
        """Two-loop recursion (Nocedal & Wright Alg. 7.4; Huang et al. 2015 Alg. 2).

        Runs on real views (``Re(sum conj(u) v)`` is the dot product of the interleaved real and
        imaginary parts), which avoids a temporary per inner product.
        """
        pairs = len(self)
        steps = self.steps.reshape(pairs, -1).view(np.float64)
        changes = self.gradient_changes.reshape(pairs, -1).view(np.float64)
        q = gradient.astype(complex).ravel().view(np.float64)  # a copy
        alphas = np.empty(pairs)
        for i in range(pairs - 1, -1, -1):
            alphas[i] = self.rhos[i] * (steps[i] @ q)
            q -= alphas[i] * changes[i]
        r = self.hessian_scale * q
        for i in range(pairs):
            r += (alphas[i] - self.rhos[i] * (changes[i] @ r)) * steps[i]
        return r.view(complex).reshape(gradient.shape)


def _validated_start(start: np.ndarray | tuple[int, ...], rng: np.random.Generator | None):
    if isinstance(start, tuple):
        if rng is None:
            raise ValueError("a random start (start given as a shape) needs rng")
        return random_point(rng, start)
    point = np.asarray(start)
    if not np.iscomplexobj(point):
        raise ValueError("start must be a complex unit-modulus array (or a shape with rng)")
    modulus = np.abs(point)
    if not np.all(np.abs(modulus - 1.0) <= UNIT_MODULUS_TOLERANCE):
        raise ValueError(
            f"start must have unit modulus; largest deviation {np.max(np.abs(modulus - 1.0)):.3g}"
        )
    return point / modulus


def _evaluate(cost_and_gradient: CostAndGradient, point: np.ndarray) -> tuple[float, np.ndarray]:
    cost, egrad = cost_and_gradient(point)
    egrad = np.asarray(egrad)
    if egrad.shape != point.shape:
        raise ValueError(f"gradient shape {egrad.shape} differs from point shape {point.shape}")
    return float(cost), egrad


def _armijo_backtracking(
    cost_and_gradient: CostAndGradient,
    point: np.ndarray,
    cost: float,
    direction: np.ndarray,
    slope: float,
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray] | None:
    """First step ``t = 0.5^k`` with ``f(R(t d)) <= f + 1e-4 t <grad, d>`` and a strict decrease.

    Returns ``(step, new_point, new_cost, new_egrad)`` or ``None`` when no trial decreases the cost.
    Non-finite trial costs count as failures.
    """
    length = 1.0
    for _ in range(ARMIJO_MAX_BACKTRACKS):
        step = length * direction
        candidate = retract(point, step)
        candidate_cost, candidate_egrad = _evaluate(cost_and_gradient, candidate)
        if (
            np.isfinite(candidate_cost)
            and candidate_cost < cost
            and candidate_cost <= cost + ARMIJO_SUFFICIENT_DECREASE * length * slope
        ):
            return step, candidate, candidate_cost, candidate_egrad
        length *= ARMIJO_CONTRACTION
    return None


def minimise_rlbfgs(
    cost_and_gradient: CostAndGradient,
    start: np.ndarray | tuple[int, ...],
    *,
    memory: int = 30,
    max_iterations: int = 1000,
    gradient_tolerance: float = 1e-6,
    rng: np.random.Generator | None = None,
) -> RiemannianResult:
    """Minimise a smooth real cost over unit-modulus complex arrays by Riemannian L-BFGS.

    ``cost_and_gradient(z)`` returns ``(f(z), df/dRe z + 1j df/dIm z)`` for ``z`` of the start's
    shape. ``start`` is a complex unit-modulus array (deviations up to 1e-6 are renormalised), or a
    shape, in which case a uniformly random start is drawn from ``rng`` (only used then).
    Stops when the Riemannian gradient norm is at most ``gradient_tolerance``, after
    ``max_iterations`` iterations, or when the line search finds no decrease even along the
    steepest-descent direction (``"no progress"``, typically at the limit of floating-point
    resolution of the cost).

    The first iteration, and any iteration after a failed quasi-Newton line search (which clears
    the memory), uses the steepest-descent direction normalised to unit length.
    """
    if memory < 1:
        raise ValueError(f"memory must be >= 1, got {memory}")
    if max_iterations < 0:
        raise ValueError(f"max_iterations must be >= 0, got {max_iterations}")
    point = _validated_start(start, rng)
    cost, egrad = _evaluate(cost_and_gradient, point)
    if not np.isfinite(cost):
        raise ValueError(f"the cost at the start is not finite: {cost}")
    gradient = project(point, egrad)
    gradient_norm = norm(gradient)
    history = _LimitedMemory(memory, point.shape)
    trace = [cost]
    stop_reason = "max iterations"
    iterations = 0
    while True:
        if gradient_norm <= gradient_tolerance:
            stop_reason = "gradient tolerance"
            break
        if iterations >= max_iterations:
            break
        if len(history):
            direction = -history.inverse_hessian_times(gradient)
            slope = inner(gradient, direction)
            if not slope < 0.0:  # lost positive definiteness to rounding: restart the memory
                history.clear()
        if not len(history):
            direction = -gradient / gradient_norm
            slope = -gradient_norm
        accepted = _armijo_backtracking(cost_and_gradient, point, cost, direction, slope)
        if accepted is None:
            if len(history):
                history.clear()
                continue
            stop_reason = "no progress"
            break
        step, new_point, cost, egrad = accepted
        new_gradient = project(new_point, egrad)
        step = transport(new_point, step)
        gradient_change = new_gradient - transport(new_point, gradient)
        step_dot_change = inner(step, gradient_change)
        step_norm_squared = inner(step, step)
        history.transport_to(new_point)
        if (
            step_norm_squared > 0.0
            and step_dot_change / step_norm_squared >= CAUTIOUS_UPDATE_FACTOR * gradient_norm
        ):
            history.push(step, gradient_change, step_dot_change)
        point, gradient = new_point, new_gradient
        gradient_norm = norm(gradient)
        iterations += 1
        trace.append(cost)
    return RiemannianResult(
        point=point,
        cost=cost,
        iterations=iterations,
        cost_trace=np.asarray(trace),
        gradient_norm=gradient_norm,
        stop_reason=stop_reason,
    )
