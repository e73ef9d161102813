"""Random phases: the unoptimised reference of every SIM figure."""

from __future__ import annotations

import numpy as np

from simframe_mumiso.downlink import sum_rates_bps_hz
from simframe_mumiso.interfaces import MumisoPhaseOptimiser, PhaseDesign


class RandomPhases(MumisoPhaseOptimiser):
    """Independent uniform phases on every meta-atom (the first draw of the trial's stream, the
    start of the other optimisers); the power slot then allocates the power."""

    name = "mumiso_random_phases"

    def optimise_block(self, block, allocator, rngs):
        phases = np.stack([block.random_phases(rng) for rng in rngs])
        effective = block.effective_channels(phases)
        powers = allocator.allocate(effective, block.noise_w, block.budget_w)
        rates = sum_rates_bps_hz(effective, powers, block.noise_w)
        return [
            PhaseDesign(phases[b], powers[b], 0, (float(rates[b]),), 1) for b in range(len(block))
        ]
