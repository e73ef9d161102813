"""SIM phase design from statistical CSI: random phases and Algorithm 2 (step search).

The closed form depends only on statistics, so phases are optimised on it once per setup.
"""

from __future__ import annotations

import numpy as np

from simframe import Parameter
from simframe_cellfree.ap_objective import SumSeByAp
from simframe_cellfree.interfaces import (
    STARTS,
    CellFreePhaseOptimiser,
    PhaseDesign,
    best_of_starts,
)
from simframe_cellfree.uplink import UplinkProblem


class CellFreeRandomPhases(CellFreePhaseOptimiser):
    """Keeps the uniformly random initial phases (the paper's 'random phase shifts')."""

    name = "cellfree_random_phases"

    def optimise(self, problem, initial_rad, rng):
        objective = problem.se(problem.terms(initial_rad), problem.full_power_w).sum()
        return PhaseDesign(initial_rad.copy(), np.array([objective]))


def layer_factors(hops: tuple[np.ndarray, ...], phases_rad: np.ndarray, layer: int):
    """``(A, B)`` with ``G = A diag(theta_layer) B`` for phases ``(..., Q, M)``: ``B (..., M, N)``
    feeds the layer, ``A (..., M, M)`` follows it."""
    before = np.broadcast_to(hops[0], (*phases_rad.shape[:-2], *hops[0].shape))
    for q in range(1, layer + 1):
        before = hops[q] @ (np.exp(1j * phases_rad[..., q - 1, :])[..., :, None] * before)
    after = np.broadcast_to(
        np.eye(hops[0].shape[0], dtype=complex), (*before.shape[:-1], before.shape[-2])
    )
    for q in range(layer + 1, len(hops)):
        after = np.exp(1j * phases_rad[..., q, :])[..., :, None] * (hops[q] @ after)
    return after, before


class CellFreeStepSearch(CellFreePhaseOptimiser):
    """Algorithm 2: per-layer phase-step search of every AP's SIM on the closed-form sum SE.

    A sweep visits the layers in turn; a visit to layer q makes up to ``layer_passes`` passes.
    In a pass, every meta-atom of layer q of every AP is tried at ``+step`` and ``-step`` (all
    2 M L single-atom candidates scored in one batch, each against the other APs' current
    phases: rank-one updates of G_l, statistics in each AP's eigenbasis and the objective as
    per-AP sums, see :class:`~simframe_cellfree.ap_objective.SumSeByAp`). Then, AP by AP, three
    moves are compared against the current objective: the best single-atom step, all improving
    atoms stepped at once, and all improving atoms moved to the vertex of the parabola through
    their three values (clipped to the step); the best is kept if it raises the objective, so the
    objective never falls. After a sweep with a relative gain below ``tolerance`` the step is
    halved; the search stops when the step falls below ``min_step_rad`` or after ``max_sweeps``
    sweeps. Objective: sum over UEs of the closed-form SE at full power with the system's
    combiner (paper eq. (23)). With ``starts > 1`` the search runs from further random phases
    and keeps the best design (:func:`~simframe_cellfree.interfaces.best_of_starts`).

    With a small ``max_sweeps`` this is the paper's budget-limited use of Algorithm 2: it runs
    "until the target gain is achieved or the maximum number of cycles is reached" and gives
    "only ... a locally optimal solution" (Section IV-B, Remark 4).
    """

    name = "cellfree_step_search"
    parameters = (
        Parameter("initial_step_rad", float, np.pi / 4, "rad", "first phase step", minimum=1e-6),
        Parameter("min_step_rad", float, np.pi / 64, "rad", "stop below this step", minimum=1e-9),
        Parameter("max_sweeps", int, 30, "", "cap on sweeps over all layers", minimum=1),
        Parameter(
            "tolerance",
            float,
            1e-3,
            "1",
            "relative sweep gain below which the step halves",
            minimum=0.0,
        ),
        Parameter("layer_passes", int, 1, "", "cap on passes per layer visit", minimum=1),
        STARTS,
    )

    def optimise(self, problem, initial_rad, rng):
        return best_of_starts(
            lambda start: self._search(problem, start), initial_rad, rng, self.starts
        )

    def _search(self, problem: UplinkProblem, initial_rad: np.ndarray) -> PhaseDesign:
        """One step search from ``initial_rad``."""
        phases = initial_rad.copy()
        objective = SumSeByAp(problem, phases)
        trace = [objective.value]
        step = self.initial_step_rad
        for _ in range(self.max_sweeps):
            start = objective.value
            for layer in range(problem.front_end.layers):
                for _ in range(self.layer_passes):
                    if not self._improve_layer(problem, objective, phases, layer, step):
                        break
            trace.append(objective.value)
            if trace[-1] - start <= self.tolerance * abs(start):
                step /= 2
                if step < self.min_step_rad:
                    break
        return PhaseDesign(phases, np.array(trace))

    @staticmethod
    def _improve_layer(
        problem: UplinkProblem,
        objective: SumSeByAp,
        phases: np.ndarray,
        layer: int,
        step: float,
    ) -> bool:
        """One pass over ``layer`` of every AP; updates ``phases`` in place and says whether a
        move was accepted."""
        after, before = layer_factors(problem.front_end.hops, phases, layer)  # (L, M, M), (L, M, N)
        theta = np.exp(1j * phases[:, layer])  # (L, M)
        transfer = after @ (theta[..., None] * before)
        steps = np.array([step, -step])
        change = theta * (np.exp(1j * steps)[:, None, None] - 1.0)  # (2, L, M)
        outer = (
            np.swapaxes(after, -1, -2)[..., :, :, None] * before[..., :, None, :]
        )  # A[:, m] B[m]
        candidates = transfer[:, None] + change[..., None, None] * outer  # (2, L, M, M, N)
        summands = objective.summands(np.moveaxis(candidates, 2, 1))  # (2, M, ..., L)
        values = np.moveaxis(objective.scan(summands), -1, 1)  # (2, L, M)
        best = objective.value
        sign = np.argmax(values, axis=0)  # (L, M)
        per_atom = np.take_along_axis(values, sign[None], 0)[0]
        improving = per_atom > best
        if not improving.any():
            return False
        single = np.zeros_like(per_atom)
        atom = np.argmax(per_atom, axis=-1)
        aps = np.arange(problem.aps)
        single[aps, atom] = steps[sign[aps, atom]]
        # Per atom, the vertex of the parabola through the values at -step, 0, +step.
        slope = (values[0] - values[1]) / (2 * step)
        curvature = (values[0] + values[1] - 2 * best) / step**2
        vertex = np.where(curvature < 0, -slope / np.where(curvature < 0, curvature, 1.0), 0.0)
        deltas = np.stack(
            [
                np.where(improving, single, 0.0),
                np.where(improving, steps[sign], 0.0),
                np.where(improving, np.clip(vertex, -step, step), 0.0),
            ]
        )  # (3, L, M)
        options = np.exp(1j * (phases[:, layer] + deltas))
        moved = objective.summands(after @ (options[..., None] * before))  # (3, ..., L)
        accepted = False
        for ap in np.flatnonzero(improving.any(-1)):
            values = objective.trial(ap, moved)
            chosen = int(np.argmax(values))
            if values[chosen] > objective.value:
                objective.accept(ap, moved, chosen)
                phases[ap, layer] += deltas[chosen, ap]
                accepted = True
        return accepted
