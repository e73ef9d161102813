"""Sum-rate maximisation by the batched torus L-BFGS, alternating with the power slot."""

from __future__ import annotations

import numpy as np
from simframe_metasurface.torus_lbfgs import minimise_lbfgs_block

from simframe import Parameter
from simframe_mumiso.downlink import DownlinkBlock, sum_rates_bps_hz
from simframe_mumiso.interfaces import MumisoPhaseOptimiser, MumisoPowerAllocator, PhaseDesign


class _NegativeSumRate:
    """``x -> (-R, -dR/dx)`` for the angles ``x`` ``(b, L N)`` of the trials ``rows``."""

    def __init__(self, block: DownlinkBlock, powers_w: np.ndarray) -> None:
        self.block, self.powers_w = block, powers_w

    def __call__(self, x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        phases = np.exp(1j * x).reshape(len(x), *self.block.phase_shape)
        result = self.block.rate_gradients(phases, self.powers_w[rows], rows)
        return -result.sum_rates_bps_hz, -result.angles.reshape(len(x), -1)


class SumRateLbfgs(MumisoPhaseOptimiser):
    """Sum-rate maximisation: L-BFGS on the SIM's angles, alternating with the power slot.

    Every outer iteration runs up to ``inner_iterations`` of the Riemannian L-BFGS on the torus
    of the angles (:func:`simframe_metasurface.torus_lbfgs.minimise_lbfgs_block`: exact
    retraction and transport, Armijo backtracking, a fresh curvature memory of ``memory`` pairs)
    with the exact gradient of the sum rate (one adjoint pass, O(L N^2 K)) at fixed powers, then
    the power slot started from the current powers; a power step that would lower the sum rate
    is not taken, so the sum rate never falls. From the trial's first random draw (the start of
    ``an_ga`` and ``mumiso_random_phases``) with the power slot's powers. A trial stops when an
    outer iteration raises its sum rate by less than ``tolerance`` (relative), or after
    ``max_outer_iterations``. Every trial of a block is optimised together (batched
    evaluations), each with its own line searches and stopping. The trace holds the sum rate at
    the start and after every outer iteration.
    """

    name = "sum_rate_lbfgs"
    parameters = (
        Parameter("max_outer_iterations", int, 20, help="outer iterations at most", minimum=1),
        Parameter("inner_iterations", int, 100, help="L-BFGS iterations per outer", minimum=1),
        Parameter("memory", int, 10, help="L-BFGS memory (stored pairs)", minimum=1),
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
    )

    def optimise_block(self, block, allocator, rngs):
        phases = np.stack([block.random_phases(rng) for rng in rngs])
        return self.ascend(block, allocator, phases)

    def ascend(
        self, block: DownlinkBlock, allocator: MumisoPowerAllocator, phases: np.ndarray
    ) -> list[PhaseDesign]:
        """Maximise every trial's sum rate from ``phases`` ``(B, L, N)``."""
        trials = len(block)
        x = np.angle(phases).reshape(trials, -1)
        effective = block.effective_channels(phases)
        powers = allocator.allocate(effective, block.noise_w, block.budget_w)
        rates = sum_rates_bps_hz(effective, powers, block.noise_w)
        trace = [rates.copy()]
        rounds = np.zeros(trials, dtype=int)
        evaluations = np.ones(trials, dtype=int)
        active = np.ones(trials, dtype=bool)
        objective = _NegativeSumRate(block, powers)
        for _ in range(self.max_outer_iterations):
            rows = np.flatnonzero(active)
            if rows.size == 0:
                break
            result = minimise_lbfgs_block(
                objective,
                x,
                memory=self.memory,
                max_iterations=self.inner_iterations,
                first_step=self.first_step_rad,
                active=active,
            )
            x[rows] = result.point[rows]
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
        history = np.array(trace)
        final = self._phases(block, x)
        return [
            PhaseDesign(
                final[b],
                powers[b],
                int(rounds[b]),
                tuple(history[: rounds[b] + 1, b]),
                int(evaluations[b]),
            )
            for b in range(trials)
        ]

    @staticmethod
    def _phases(block: DownlinkBlock, x: np.ndarray) -> np.ndarray:
        return np.exp(1j * x).reshape(len(x), *block.phase_shape)
