"""RMax (paper 000 Algorithm 1) and the Hybrid of Section V: Riemannian rate maximisation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simframe import Parameter
from simframe_hmimo.imin import InterferenceMinimisation
from simframe_hmimo.interfaces import HmimoPhaseOptimiser, HmimoPowerAllocator, PhaseResult
from simframe_hmimo.link_block import LinkBlock
from simframe_hmimo.power import WaterFilling
from simframe_hmimo.rate_ascent import POWER_SCHEDULES, AscentSettings, maximise_rates


class RateMaximisation(HmimoPhaseOptimiser):
    """RMax, paper 000 Algorithm 1: Riemannian L-BFGS on the phases, alternating with power.

    Each outer iteration runs ``inner_iterations`` of the Riemannian L-BFGS of
    :mod:`simframe_metasurface.torus_lbfgs` on the TX and RX phases together (the paper
    alternates a TX block and an RX block; one joint block reaches the same rate in fewer
    evaluations, see docs/reproductions/paper000.md), with the exact gradients of Theorem 1 and
    the angles preconditioned by the rate's curvature per atom (``preconditioner_exponent``, see
    :mod:`simframe_hmimo.rate_ascent`; a fresh curvature memory every outer iteration),
    then the power slot (``wmmse`` in the paper) started from the current powers
    (``power_schedule = "alternating"``, the paper's schedule), or ascends the power logits
    together with the phases and polishes with the power slot (``"joint"``). Random initial
    phases, equal initial power. A trial stops when an outer iteration raises its rate by less
    than ``tolerance`` (relative) or after ``max_outer_iterations`` (100: at L = 8 the rate
    still grows after 50, which reach 97.7 % of what 10x the budget reaches on 6 channels;
    docs/reproductions/paper000.md). The rate never falls
    between outer iterations; the trace holds it before the first and after every outer
    iteration. All trials of a block are optimised together (batched evaluations), each with its
    own line searches and stopping, so a trial's result does not depend on the others.
    """

    name = "rmax"
    parameters = (
        Parameter("max_outer_iterations", int, 100, help="outer iterations at most", minimum=1),
        Parameter("inner_iterations", int, 200, help="L-BFGS iterations per outer", minimum=1),
        Parameter("memory", int, 30, help="L-BFGS memory (stored pairs)", minimum=1),
        Parameter("tolerance", float, 1e-4, "1", "stop at this relative rate gain", minimum=0.0),
        Parameter(
            "first_step_rad",
            float,
            0.1,
            "rad",
            "largest change of a (preconditioned) angle in a steepest-descent step (no pairs yet)",
            minimum=0.0,
        ),
        Parameter(
            "power_schedule",
            str,
            "alternating",
            help="powers by the power slot between phase blocks, or ascended with the phases",
            choices=POWER_SCHEDULES,
        ),
        Parameter(
            "preconditioner_exponent",
            float,
            0.25,
            unit="1",
            help="angles scaled by (curvature / mean)^this every outer iteration; 0 = off",
            minimum=0.0,
            maximum=1.0,
        ),
        Parameter(
            "min_power_share",
            float,
            1e-2,
            "1",
            "a power step may not take a stream below this share of P_t / S until the phases "
            "have converged with every stream on; 0 = no guard",
            minimum=0.0,
            maximum=1.0,
        ),
    )

    @property
    def settings(self) -> AscentSettings:
        return AscentSettings(
            rounds=self.max_outer_iterations,
            iterations_per_round=self.inner_iterations,
            memory=self.memory,
            first_step_rad=self.first_step_rad,
            tolerance=self.tolerance,
            power_schedule=self.power_schedule,
            preconditioner_exponent=self.preconditioner_exponent,
            min_power_share=self.min_power_share,
        )

    def optimise(self, link, allocator, rng):
        return self.optimise_block(LinkBlock.of_links([link]), allocator, [rng])[0]

    def optimise_block(self, block, allocator, rngs):
        return self.maximise_from(block, allocator, *self.starts(block, rngs))

    def starts(
        self, block: LinkBlock, rngs: list[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """TX phases, RX phases and powers each trial starts from: random phases from the
        trial's stream, equal powers."""
        starts = [block.link(b).random_phases(rng) for b, rng in enumerate(rngs)]
        tx = np.stack([start[0] for start in starts])
        rx = np.stack([start[1] for start in starts])
        return tx, rx, equal_powers(block)

    def maximise_from(
        self,
        block: LinkBlock,
        allocator: HmimoPowerAllocator,
        tx: np.ndarray,
        rx: np.ndarray,
        powers: np.ndarray,
    ) -> list[PhaseResult]:
        """Algorithm 1 from the given phases and powers, every trial of the block at once."""
        result = maximise_rates(block, allocator, tx, rx, powers, self.settings)
        return [
            PhaseResult(
                result.tx[b],
                result.rx[b],
                result.powers_w[b],
                int(result.rounds[b]),
                tuple(result.rate_trace[: result.rounds[b] + 1, b]),
            )
            for b in range(len(block))
        ]


class HybridOptimisation(RateMaximisation):
    """Hybrid, paper 000 Section V: IMin's phases initialise RMax.

    Runs Algorithm 2 exactly as the ``imin`` optimiser does (random phases from the trial's
    stream, ``imin_max_sweeps`` sweeps), then RMax from its phases with equal powers, as
    Algorithm 1 starts ("the phase shifts returned by Algorithm 2 are used to initialize
    Algorithm 1"). IMin's water-filling gives no power to streams with a weak direct gain, and
    RMax could not bring such a stream back (see :mod:`simframe_hmimo.rate_ascent`). The
    trace is RMax's, starting at IMin's phases with equal powers; ``iterations`` counts IMin's
    sweeps and RMax's outer iterations.
    """

    name = "hybrid"
    parameters = (
        *RateMaximisation.parameters,
        Parameter("imin_max_sweeps", int, 30, help="IMin sweeps at most", minimum=1),
        Parameter("imin_tolerance", float, 1e-4, "1", "IMin relative stop change", minimum=0.0),
    )

    def optimise_block(self, block, allocator, rngs):
        starts = self.imin_results(block, rngs)
        results = self.maximise_from(block, allocator, *self._from_imin(block, starts))
        return [
            replace(result, iterations=start.iterations + result.iterations)
            for start, result in zip(starts, results, strict=True)
        ]

    def starts(self, block, rngs):
        """IMin's phases per trial (see :meth:`imin_results`) and equal powers."""
        return self._from_imin(block, self.imin_results(block, rngs))

    def imin_results(self, block: LinkBlock, rngs: list[np.random.Generator]) -> list[PhaseResult]:
        """Algorithm 2 with water-filling on every trial, from the trial's stream."""
        imin = InterferenceMinimisation(
            max_sweeps=self.imin_max_sweeps, tolerance=self.imin_tolerance
        )
        return [imin.optimise(block.link(b), WaterFilling(), rng) for b, rng in enumerate(rngs)]

    @staticmethod
    def _from_imin(
        block: LinkBlock, results: list[PhaseResult]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """TX and RX phases of ``results`` stacked over the trials, and equal powers."""
        return (
            np.stack([result.tx_phases for result in results]),
            np.stack([result.rx_phases for result in results]),
            equal_powers(block),
        )


def equal_powers(block: LinkBlock) -> np.ndarray:
    """``P_t / S`` on every stream of every trial of ``block``, ``(B, S)``."""
    return np.full((len(block), block.antennas), block.budget_w / block.antennas)
