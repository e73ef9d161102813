"""SIM phase design from statistical CSI: random phases and Algorithm 2 (step search).

The closed form depends only on statistics, so phases are optimised on it once per setup.
"""

from __future__ import annotations

import numpy as np

from simframe import Parameter
from simframe_cellfree.interfaces import CellFreePhaseOptimiser, PhaseDesign
from simframe_cellfree.uplink import UplinkProblem, replace_ap


class CellFreeRandomPhases(CellFreePhaseOptimiser):
    """Keeps the uniformly random initial phases (the paper's 'random phase shifts')."""

    name = "cellfree_random_phases"

    def optimise(self, problem, initial_rad, rng):
        objective = problem.se(problem.terms(initial_rad), problem.full_power_w).sum()
        return PhaseDesign(initial_rad.copy(), np.array([objective]))


def layer_factors(hops: tuple[np.ndarray, ...], phases_rad: np.ndarray, layer: int):
    """``(A, B)`` with ``G = A diag(theta_layer) B``; B (M x N) feeds the layer, A follows it."""
    before = hops[0]
    for q in range(1, layer + 1):
        before = hops[q] @ (np.exp(1j * phases_rad[q - 1])[:, None] * before)
    after = np.eye(hops[0].shape[0], dtype=complex)
    for q in range(layer + 1, len(hops)):
        after = np.exp(1j * phases_rad[q])[:, None] * (hops[q] @ after)
    return after, before


class CellFreeStepSearch(CellFreePhaseOptimiser):
    """Algorithm 2: per-AP, per-layer phase-step search on the closed-form sum SE.

    Cycles over APs and, within an AP, over layers. For a layer, every meta-atom's phase is tried
    at ``+step`` and ``-step`` (all 2M single-atom candidates evaluated in one batch from rank-one
    updates of G_l); the best single-atom change and the combination of all improving changes are
    compared and the better is kept if it raises the objective. After a sweep over all APs with a
    relative gain below ``tolerance`` the step is halved; the search stops when the step falls
    below ``min_step_rad`` or after ``max_sweeps`` sweeps. Objective: sum over UEs of the
    closed-form SE at full power with the system's combiner (paper eq. (23)).
    """

    name = "cellfree_step_search"
    parameters = (
        Parameter("initial_step_rad", float, np.pi / 4, "rad", "first phase step", minimum=1e-6),
        Parameter("min_step_rad", float, np.pi / 32, "rad", "stop below this step", minimum=1e-9),
        Parameter("max_sweeps", int, 8, "", "cap on sweeps over all APs", minimum=1),
        Parameter("tolerance", float, 1e-4, "1", "relative gain that counts", minimum=0.0),
    )

    def optimise(self, problem, initial_rad, rng):
        phases = initial_rad.copy()
        power = problem.full_power_w
        terms = problem.terms(phases)
        best = float(problem.se(terms, power).sum())
        trace = [best]
        step = self.initial_step_rad
        for _ in range(self.max_sweeps):
            start = best
            for ap in range(problem.aps):
                for layer in range(problem.front_end.layers):
                    best, terms = self._improve_layer(problem, phases, terms, best, ap, layer, step)
            trace.append(best)
            if best - start <= self.tolerance * abs(start):
                step /= 2
                if step < self.min_step_rad:
                    break
        return PhaseDesign(phases, np.array(trace))

    def _improve_layer(
        self,
        problem: UplinkProblem,
        phases: np.ndarray,
        terms,
        best: float,
        ap: int,
        layer: int,
        step: float,
    ):
        """One batched trial of single-atom steps on (ap, layer); updates ``phases`` in place."""
        power = problem.full_power_w
        after, before = layer_factors(problem.front_end.hops, phases[ap], layer)
        theta = np.exp(1j * phases[ap, layer])
        transfer = after @ (theta[:, None] * before)
        steps = np.array([step, -step])
        change = theta[None, :] * (np.exp(1j * steps)[:, None] - 1.0)  # (2, M)
        outer = after.T[:, :, None] * before[:, None, :]  # (M, M, N): A[:, m] B[m, :]
        candidates = transfer + (change[:, :, None, None] * outer[None]).reshape(
            -1, *transfer.shape
        )
        values = problem.se(replace_ap(terms, problem.ap_terms(ap, candidates), ap), power).sum(-1)
        values = values.reshape(2, -1)
        sign = np.argmax(values, axis=0)
        per_atom = values[sign, np.arange(values.shape[1])]
        improving = per_atom > best
        if not improving.any():
            return best, terms
        single = np.zeros_like(phases[ap, layer])
        atom = int(np.argmax(per_atom))
        single[atom] = steps[sign[atom]]
        combined = np.where(improving, steps[sign], 0.0)
        options = []
        for delta in (single, combined):
            trial_phases = phases[ap].copy()
            trial_phases[layer] += delta
            new_terms = replace_ap(
                terms, problem.ap_terms(ap, problem.front_end.transfer(trial_phases)), ap
            )
            options.append((float(problem.se(new_terms, power).sum()), delta, new_terms))
        value, delta, new_terms = max(options, key=lambda option: option[0])
        if value <= best:
            return best, terms
        phases[ap, layer] += delta
        return value, new_terms
