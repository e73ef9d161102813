"""An et al.'s gradient ascent on the SIM's angles (ICC 2023, SIM_GA.m), as a benchmark."""

from __future__ import annotations

import time

import numpy as np

from simframe import Parameter
from simframe_mumiso.downlink import sum_rates_bps_hz, unit_phasors
from simframe_mumiso.interfaces import MumisoPhaseOptimiser, block_designs


class AnGradientAscent(MumisoPhaseOptimiser):
    """An et al.'s gradient ascent (ICC 2023), their released protocol exactly, quirks included.

    From i.i.d. uniform phases (the first draw of the trial's stream, the same start as
    ``mumiso_random_phases`` and ``sum_rate_lbfgs``) and the power slot's powers (``mumiso_iwf``,
    An's damped water-filling, in the published code), every outer iteration:

    1. takes the exact gradient ``g`` of the sum rate w.r.t. every angle, powers held fixed;
    2. sets the step to ``pi / max(g)`` (the largest entry, not the largest magnitude);
    3. tries ``angles + step * g`` with powers re-allocated by the power slot, halving the step
       until the sum rate is not below the previous one, at most ``max_tries`` tries; after
       ``max_tries`` failures the last (smallest) step is taken anyway, even if it lowers the
       rate.

    It stops once an outer iteration changes the sum rate by less than ``tolerance`` relative to
    the previous one, or after ``max_iterations``. As published, the "previous" rate of the
    first outer iteration is twice the real one: its line search fails every try and takes a
    step of ``pi / max(g) / 2^(max_tries - 1)``. The one departure: a trial whose gradient is
    exactly zero (``max(g) = 0``, where the published step would be infinite) stops there.
    The trace holds the sum rate at the start and after every outer iteration.
    """

    name = "an_ga"
    parameters = (
        Parameter("max_iterations", int, 50, help="outer iterations at most", minimum=1),
        Parameter("max_tries", int, 20, help="step halvings per line search at most", minimum=1),
        Parameter(
            "tolerance", float, 1e-6, "1", "stop at this relative sum-rate change", minimum=0.0
        ),
    )

    def optimise_block(self, block, allocator, rngs):
        started = time.process_time()
        trials = len(block)
        phases = np.stack([block.random_phases(rng) for rng in rngs])
        angles = np.angle(phases)
        effective = block.effective_channels(phases)
        powers = allocator.allocate(effective, block.noise_w, block.budget_w)
        current = sum_rates_bps_hz(effective, powers, block.noise_w)
        trace = [current.copy()]
        elapsed = [time.process_time() - started]
        previous, current = current, 2.0 * current  # the published start: twice the real rate
        iterations = np.zeros(trials, dtype=int)
        evaluations = np.ones(trials, dtype=int)
        active = np.ones(trials, dtype=bool)
        while True:
            active &= (np.abs(current - previous) >= previous * self.tolerance) & (
                iterations < self.max_iterations
            )
            rows = np.flatnonzero(active)
            if rows.size == 0:
                break
            previous[rows] = current[rows]
            gradient = block.rate_gradients(phases[rows], powers[rows], rows).angles
            evaluations[rows] += 1
            largest = gradient.reshape(len(rows), -1).max(axis=1)
            stationary = largest <= 0.0
            active[rows[stationary]] = False
            rows, gradient, largest = rows[~stationary], gradient[~stationary], largest[~stationary]
            moved, powers[rows], current[rows], tries = self._line_search(
                block, allocator, angles[rows], gradient, np.pi / largest, previous[rows], rows
            )
            evaluations[rows] += tries
            phases[rows] = unit_phasors(moved)
            angles[rows] = np.angle(phases[rows])
            iterations[rows] += 1
            trace.append(np.where(iterations > 0, current, trace[0]))
            elapsed.append(time.process_time() - started)
        return block_designs(phases, powers, iterations, trace, evaluations, elapsed)

    def _line_search(self, block, allocator, angles, gradient, step, target, rows):
        """Backtracking for the trials ``rows``: ``angles + step * gradient`` with the step halved
        until the sum rate is not below ``target``, ``max_tries`` tries at most; the last try is
        kept either way. Returns the angles, powers, sum rates and tries per trial.

        The tries are the protocol's, but evaluated a few at a time: a trial still searching
        after ``t`` tries evaluates its next ``2^round`` steps together in one batch and takes the
        first that succeeds, exactly as one try after the other would (each try depends only on
        its step); the 20 failing tries of the first outer iteration take five batches.
        """
        moved = np.empty_like(angles)
        powers = np.empty((len(rows), block.users))
        rates = np.empty(len(rows))
        tries = np.zeros(len(rows), dtype=int)
        pending = np.arange(len(rows))
        batch = 1
        while pending.size:
            sizes = np.minimum(batch, self.max_tries - tries[pending])
            owner = np.repeat(pending, sizes)
            starts = np.cumsum(sizes) - sizes
            halvings = tries[owner] + np.arange(len(owner)) - np.repeat(starts, sizes)
            candidate = (
                angles[owner] + (step[owner] * 0.5**halvings)[:, None, None] * gradient[owner]
            )
            effective = block.effective_channels(unit_phasors(candidate), rows[owner])
            candidate_powers = allocator.allocate(effective, block.noise_w, block.budget_w)
            candidate_rates = sum_rates_bps_hz(effective, candidate_powers, block.noise_w)
            positions = np.arange(len(owner))
            succeeded = np.where(candidate_rates >= target[owner], positions, len(owner))
            first = np.minimum.reduceat(succeeded, starts)
            last_try = tries[pending] + sizes >= self.max_tries
            done = (first < len(owner)) | last_try
            chosen = np.where(first < len(owner), first, starts + sizes - 1)[done]
            finished = pending[done]
            moved[finished], powers[finished] = candidate[chosen], candidate_powers[chosen]
            rates[finished], tries[finished] = candidate_rates[chosen], halvings[chosen] + 1
            tries[pending[~done]] += sizes[~done]
            pending = pending[~done]
            batch *= 2
        return moved, powers, rates, tries
