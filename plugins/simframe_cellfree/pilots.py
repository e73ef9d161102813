"""Pilot assignment: random, and the interference-based greedy Algorithm 1 of paper 003."""

from __future__ import annotations

import numpy as np

from simframe_cellfree.interfaces import CellFreePilotScheme
from simframe_cellfree.uplink import UplinkProblem


def first_distinct(ues: int, tau_p: int, rng: np.random.Generator) -> np.ndarray:
    """Pilot per UE with the first ``min(tau_p, K)`` UEs on distinct, randomly ordered pilots;
    the rest marked -1 (unassigned)."""
    pilots = np.full(ues, -1)
    first = min(tau_p, ues)
    pilots[:first] = rng.permutation(tau_p)[:first]
    return pilots


class RandomPilots(CellFreePilotScheme):
    """The first tau_p UEs take distinct pilots in random order, the others a uniform random one."""

    name = "random_pilots"

    def assign(self, problem, phases_rad, rng):
        pilots = first_distinct(problem.ues, problem.tau_p, rng)
        rest = pilots < 0
        pilots[rest] = rng.integers(0, problem.tau_p, int(rest.sum()))
        return pilots


def contamination(problem: UplinkProblem, covariance: np.ndarray, pilots: np.ndarray, k: int):
    """Coherent interference UE ``k`` would suffer on each pilot ``(tau_p,)``.

    ``sum_{i on t} p_i |sum_l c_ki[l]|^2`` with ``c_ki[l] = sqrt(p_k p_i) tau_p
    tr(R_li Psi_lk^{-1} R_lk)`` and ``Psi_lk`` including UE k on pilot t (spec, Closed form).
    """
    p, tau_p = problem.max_power_w, problem.tau_p
    on_pilot = (pilots[None, :] == np.arange(tau_p)[:, None]).astype(float)  # (T, K)
    n = covariance.shape[-1]
    psi = (
        np.eye(n)
        + p * tau_p * np.einsum("ti,lixy->tlxy", on_pilot, covariance)
        + p * tau_p * covariance[None, :, k]
    )
    psi_inv_r = np.linalg.solve(psi, np.broadcast_to(covariance[None, :, k], psi.shape))
    c = p * tau_p * np.einsum("liab,tlba->til", covariance, psi_inv_r)
    return p * np.einsum("ti,ti->t", on_pilot, np.abs(c.sum(axis=-1)) ** 2)


class GreedyPilots(CellFreePilotScheme):
    """Algorithm 1: after the first tau_p UEs, each UE takes the least contaminated pilot.

    Contamination is the coherent interference from the pilot's current users, evaluated from
    the through-SIM statistics at the SIM phases in force when pilots are assigned.
    """

    name = "greedy_pilots"

    def assign(self, problem, phases_rad, rng):
        pilots = first_distinct(problem.ues, problem.tau_p, rng)
        covariance = problem.statistics(problem.transfer(phases_rad)).covariance
        for k in range(problem.tau_p, problem.ues):
            pilots[k] = int(np.argmin(contamination(problem, covariance, pilots, k)))
        return pilots
