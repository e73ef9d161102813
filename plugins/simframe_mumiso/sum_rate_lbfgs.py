"""Sum-rate maximisation by the batched torus L-BFGS, alternating with the power slot."""

from __future__ import annotations

import time

import numpy as np
from simframe_metasurface.torus_lbfgs import minimise_lbfgs_block, select_rows

from simframe import Parameter
from simframe_mumiso.downlink import DownlinkBlock, sum_rates_bps_hz, unit_phasors
from simframe_mumiso.interfaces import (
    MumisoPhaseOptimiser,
    MumisoPowerAllocator,
    PhaseDesign,
    block_designs,
)

CURVATURE_FLOOR = 1e-2
"""Curvature estimates below this fraction of their trial's mean count as this fraction."""


class _NegativeSumRate:
    """``u -> (-R, -dR/du)`` in the scaled coordinates ``u = scales * angles`` ``(b, L N)`` of
    the trials ``rows``."""

    def __init__(self, block: DownlinkBlock, powers_w: np.ndarray) -> None:
        self.block, self.powers_w = block, powers_w
        self.scales = np.ones((len(block), block.layers * block.atoms))

    def rescale(self, angles: np.ndarray, rows: np.ndarray, exponent: float) -> None:
        """Scales ``(d / mean d)^exponent`` for the trials ``rows`` at ``angles`` (``d`` the
        curvature diagonal, floored at ``CURVATURE_FLOOR`` of its mean)."""
        if exponent == 0.0:
            return
        phases = unit_phasors(angles).reshape(len(rows), *self.block.phase_shape)
        curvature = self.block.curvature_diagonal(phases, self.powers_w[rows], rows)
        curvature = curvature.reshape(len(rows), -1)
        mean = curvature.mean(axis=1, keepdims=True)
        usable = mean > 0.0
        relative = np.maximum(curvature, CURVATURE_FLOOR * mean) / np.where(usable, mean, 1.0)
        self.scales[rows] = np.where(usable, relative, 1.0) ** exponent

    def __call__(self, u: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scales = select_rows(self.scales, rows)
        phases = unit_phasors(u / scales).reshape(len(u), *self.block.phase_shape)
        result = self.block.rate_gradients(phases, self.powers_w[rows], rows)
        return -result.sum_rates_bps_hz, -result.angles.reshape(len(u), -1) / scales


class SumRateLbfgs(MumisoPhaseOptimiser):
    """Sum-rate maximisation: L-BFGS on the SIM's angles, alternating with the power slot.

    Every outer iteration runs up to ``inner_iterations`` of the Riemannian L-BFGS on the torus
    of the angles (:func:`simframe_metasurface.torus_lbfgs.minimise_lbfgs_block`: exact
    retraction and transport, Armijo backtracking, a fresh curvature memory of ``memory`` pairs)
    with the exact gradient of the sum rate (one adjoint pass, O(L N^2 K)) at fixed powers, then
    the power slot started from the current powers; a power step that would lower the sum rate
    is not taken, so the sum rate never falls. From the trial's first random draw (the start of
    ``an_ga`` and ``mumiso_random_phases``). The first outer iteration ascends at equal powers
    (``start_at_equal_power``): with every stream on, the SIM learns to separate all K users
    before the power slot may switch a weak one off. Started from the power slot's powers
    instead, a user the slot silences contributes nothing to the gradient and is never served
    again: a trap that costs 40-50 % of the sum rate at L = 4-10 in An et al.'s setting
    (docs/reproductions/mumiso_an2023.md). A trial stops when an
    outer iteration raises its sum rate by less than ``tolerance`` (relative), or after
    ``max_outer_iterations``. Every trial of a block is optimised together (batched
    evaluations), each with its own line searches and stopping. The trace holds the sum rate at
    the start and after every outer iteration.
    """

    name = "sum_rate_lbfgs"
    parameters = (
        Parameter("max_outer_iterations", int, 20, help="outer iterations at most", minimum=1),
        Parameter("inner_iterations", int, 200, help="L-BFGS iterations per outer", minimum=1),
        Parameter("memory", int, 30, help="L-BFGS memory (stored pairs)", minimum=1),
        Parameter(
            "tolerance", float, 1e-4, "1", "stop at this relative sum-rate gain", minimum=0.0
        ),
        Parameter(
            "first_step_rad",
            float,
            0.1,
            "rad",
            "largest change of an angle in a steepest-ascent step (no curvature pairs yet)",
            minimum=0.0,
        ),
        Parameter(
            "preconditioner_exponent",
            float,
            0.25,
            "1",
            "angles scaled by (curvature / mean)^this every outer iteration; 0 = off",
            minimum=0.0,
            maximum=1.0,
        ),
        Parameter(
            "start_at_equal_power",
            bool,
            True,
            help="first outer iteration at equal powers (false: at the power slot's powers)",
        ),
    )

    def optimise_block(self, block, allocator, rngs):
        phases = np.stack([block.random_phases(rng) for rng in rngs])
        return self.ascend(block, allocator, phases)

    def ascend(
        self, block: DownlinkBlock, allocator: MumisoPowerAllocator, phases: np.ndarray
    ) -> list[PhaseDesign]:
        """Maximise every trial's sum rate from ``phases`` ``(B, L, N)``."""
        started = time.process_time()
        trials = len(block)
        x = np.angle(phases).reshape(trials, -1)
        effective = block.effective_channels(phases)
        if self.start_at_equal_power:
            powers = block.equal_powers(trials)
        else:
            powers = allocator.allocate(effective, block.noise_w, block.budget_w)
        rates = sum_rates_bps_hz(effective, powers, block.noise_w)
        trace = [rates.copy()]
        elapsed = [time.process_time() - started]
        rounds = np.zeros(trials, dtype=int)
        evaluations = np.ones(trials, dtype=int)
        active = np.ones(trials, dtype=bool)
        objective = _NegativeSumRate(block, powers)
        for _ in range(self.max_outer_iterations):
            rows = np.flatnonzero(active)
            if rows.size == 0:
                break
            objective.rescale(x[rows], rows, self.preconditioner_exponent)
            result = minimise_lbfgs_block(
                objective,
                x * objective.scales,
                memory=self.memory,
                max_iterations=self.inner_iterations,
                first_step=self.first_step_rad,
                active=active,
            )
            x[rows] = result.point[rows] / objective.scales[rows]
            evaluations += result.evaluations
            phase_rates = -result.cost[rows]
            effective = block.effective_channels(self._phases(block, x[rows]), rows)
            candidate = allocator.allocate(
                effective, block.noise_w, block.budget_w, initial_w=powers[rows]
            )
            candidate_rates = sum_rates_bps_hz(effective, candidate, block.noise_w)
            better = candidate_rates >= phase_rates
            powers[rows[better]] = candidate[better]
            new_rates = np.where(better, candidate_rates, phase_rates)
            evaluations[rows] += 1
            rounds[rows] += 1
            active[rows] = new_rates - rates[rows] > self.tolerance * np.abs(rates[rows])
            rates[rows] = new_rates
            trace.append(rates.copy())
            elapsed.append(time.process_time() - started)
        final = self._phases(block, x)
        return block_designs(final, powers, rounds, trace, evaluations, elapsed)

    @staticmethod
    def _phases(block: DownlinkBlock, x: np.ndarray) -> np.ndarray:
        return unit_phasors(x).reshape(len(x), *block.phase_shape)
