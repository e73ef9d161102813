"""Power control: full power, and max-min SE by bisection over linear feasibility problems."""

from __future__ import annotations

import numpy as np

from simframe import Parameter
from simframe_cellfree.closed_form import (
    SinrTerms,
    combining_weights,
    interference_plus_noise,
    spectral_efficiency,
)
from simframe_cellfree.interfaces import CellFreePowerAllocator
from simframe_cellfree.uplink import UplinkProblem


class FullPower(CellFreePowerAllocator):
    """Every UE transmits at p_max."""

    name = "full_power"

    def allocate(self, problem, phases_rad):
        return problem.full_power_w


def normalised_gains(terms: SinrTerms, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s_k = |a^H b|^2 / a^H D a`` and ``I[i, k] = a_k^H Gamma_ki a_k / a_k^H D a_k``.

    For i = k, Gamma_kk - b b^H (spec, Algorithm 3). Obtained from the interference matrices with
    unit power on one UE at a time.
    """
    ues = terms.gain.shape[0]
    a = weights
    noise = np.einsum("kl,kl,kl->k", a.conj(), terms.gain, a).real
    signal = np.abs(np.einsum("kl,kl->k", a.conj(), terms.gain)) ** 2 / noise
    interference = np.empty((ues, ues))
    for i in range(ues):
        unit = np.zeros(ues)
        unit[i] = 1.0
        matrices = interference_plus_noise(terms, unit)
        interference[i] = np.einsum("kl,klm,km->k", a.conj(), matrices, a).real / noise - 1.0
    return signal, interference


def feasible_powers(
    target_sinr: float, signal: np.ndarray, interference: np.ndarray, max_power_w: float
) -> np.ndarray | None:
    """Least-total-power p in [0, p_max] with ``t (sum_i p_i I_ik + 1) <= p_k s_k``, or None."""
    from scipy.optimize import linprog  # imported when used: loading the plugin stays fast

    ues = len(signal)
    constraints = target_sinr * interference.T - np.diag(signal)
    result = linprog(
        np.ones(ues),
        A_ub=constraints,
        b_ub=np.full(ues, -target_sinr),
        bounds=[(0.0, max_power_w)] * ues,
        method="highs",
    )
    return np.clip(result.x, 0.0, max_power_w) if result.status == 0 else None


class MaxMinPower(CellFreePowerAllocator):
    """Algorithm 3: max-min SE power control by bisection on a common SE target.

    With the CPU weights a_k fixed, each bisection step is a linear feasibility problem in the
    powers (solved with HiGHS). The LSFD weights depend on the powers, so we alternate: weights at
    the current powers, bisection, recompute weights; re-optimising LSFD can only raise every
    UE's SINR. Stops at a ``bracket_bps_hz`` bisection bracket.
    """

    name = "max_min_power"
    parameters = (
        Parameter("bracket_bps_hz", float, 0.01, "bit/s/Hz", "bisection stop", minimum=1e-6),
        Parameter("alternations", int, 2, "", "weight/power alternations (LSFD)", minimum=1),
    )

    def allocate(self, problem: UplinkProblem, phases_rad):
        terms = problem.terms(phases_rad)
        prelog = 1.0 - problem.tau_p / problem.tau_c
        power = problem.full_power_w
        rounds = self.alternations if problem.combiner == "lsfd" else 1
        for _ in range(rounds):
            weights = combining_weights(terms, power, problem.combiner)
            signal, interference = normalised_gains(terms, weights)
            low = 0.0
            high = float(
                spectral_efficiency(
                    problem.max_power_w * signal.min(), problem.tau_p, problem.tau_c
                )
            )
            while high - low > self.bracket_bps_hz:
                middle = (low + high) / 2
                found = feasible_powers(
                    2 ** (middle / prelog) - 1, signal, interference, problem.max_power_w
                )
                if found is None:
                    high = middle
                else:
                    low, power = middle, found
        return power
