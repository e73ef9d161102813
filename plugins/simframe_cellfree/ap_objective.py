"""The sum-SE objective of Algorithm 2 with every AP's summand replaceable.

Paper 003 eq. (23): sum over UEs of the closed-form SE at full power for the system's combiner.
The objective is kept as per-AP summands (:mod:`simframe_cellfree.ap_sums`) of terms computed in
each AP's eigenbasis (:mod:`simframe_cellfree.eigenbasis`), so that candidate phases of one AP
are scored by recomputing that AP's statistics and summands only, and candidates of all APs are
scored in one batch (each against the others' current phases).
"""

from __future__ import annotations

import numpy as np

from simframe_cellfree.ap_sums import ap_parts, pilot_partners, sinr_from_sums, sum_over_aps
from simframe_cellfree.closed_form import spectral_efficiency
from simframe_cellfree.eigenbasis import eigen_rows
from simframe_cellfree.uplink import UplinkProblem


class SumSeByAp:
    """Sum SE (bit/s/Hz) of ``problem`` at full power, held as one summand per AP."""

    def __init__(self, problem: UplinkProblem, phases_rad: np.ndarray):
        self.problem = problem
        self.power_w = problem.full_power_w
        self.partners = pilot_partners(problem.pilots)
        self.parts = self.summands(problem.transfer(phases_rad))
        self.sums = sum_over_aps(self.parts)

    def summands(self, transfers: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per-AP summands for transfers ``(..., L, M, N)``, AP axis last."""
        problem = self.problem
        stats = problem.scaled_statistics(transfers)
        rows = eigen_rows(stats, problem.pilot_setup(), self.power_w, self.partners)
        return ap_parts(rows, problem.combiner)

    def _value(self, sums) -> np.ndarray:
        problem = self.problem
        sinr = sinr_from_sums(sums, self.power_w, problem.combiner)
        return spectral_efficiency(sinr, problem.tau_p, problem.tau_c).sum(-1)

    @property
    def value(self) -> float:
        return float(self._value(self.sums))

    def scan(self, summands: tuple[np.ndarray, ...]) -> np.ndarray:
        """Objective ``(..., L)`` when AP l alone takes candidate summands ``(..., L)`` (the
        other APs as they are now)."""
        replaced = (
            np.moveaxis(total[..., None] - current + new, -1, new.ndim - current.ndim)
            for total, current, new in zip(self.sums, self.parts, summands, strict=True)
        )
        return self._value(tuple(replaced))

    def trial(self, ap: int, summands: tuple[np.ndarray, ...]) -> np.ndarray:
        """Objective ``(C,)`` with AP ``ap``'s summand replaced by each of ``C`` candidates
        (``summands`` with a leading candidate axis and the AP axis last)."""
        return self._value(
            tuple(
                total - current[..., ap] + new[..., ap]
                for total, current, new in zip(self.sums, self.parts, summands, strict=True)
            )
        )

    def accept(self, ap: int, summands: tuple[np.ndarray, ...], index: int) -> None:
        """Make candidate ``index`` AP ``ap``'s summand (sums recomputed from all summands,
        so no round-off accumulates)."""
        for current, new in zip(self.parts, summands, strict=True):
            current[..., ap] = new[index, ..., ap]
        self.sums = sum_over_aps(self.parts)
