"""Random phases: the unoptimised reference of every SIM figure."""

from __future__ import annotations

from simframe_hmimo.interfaces import HmimoPhaseOptimiser, PhaseResult


class RandomPhases(HmimoPhaseOptimiser):
    """Independent uniform phases on every meta-atom; the power slot then allocates power."""

    name = "random_phases"

    def optimise(self, link, allocator, rng):
        tx, rx = link.random_phases(rng)
        powers = allocator.allocate(link.effective_channel(tx, rx), link.noise_w, link.budget_w)
        return PhaseResult(tx, rx, powers, 0, (link.rate_bps_hz(tx, rx, powers),))
