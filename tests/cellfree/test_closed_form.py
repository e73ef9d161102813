"""Closed-form UatF SE of paper 003 against Monte Carlo and an independent scalar derivation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simframe_cellfree.closed_form import COMBINERS, combining_weights, sinr
from simframe_cellfree.monte_carlo import monte_carlo_sinr
from simframe_cellfree.network import Cost231RicianNetwork
from simframe_cellfree.phases import CellFreeRandomPhases
from simframe_cellfree.pilots import RandomPilots
from simframe_cellfree.power import FullPower
from simframe_cellfree.system import SimCellFreeUplink
from simframe_cellfree.uplink import UplinkProblem
from simframe_metasurface.propagation import RayleighSommerfeldPropagation


def small_problem(seed: int, **params) -> tuple[UplinkProblem, np.ndarray]:
    """A drawn network with random phases and pilots, ready for the closed form."""
    system = SimCellFreeUplink(
        {
            "setup": Cost231RicianNetwork(area_side_m=200.0),
            "propagation": RayleighSommerfeldPropagation(),
            "pilots": RandomPilots(),
            "phases": CellFreeRandomPhases(),
            "power": FullPower(),
        },
        **params,
    )
    rng = np.random.default_rng(seed)
    problem = system.problem(system.draw(rng))
    phases = system.initial_phases(rng)
    pilots = RandomPilots().assign(problem, phases, rng)
    return problem.with_pilots(pilots), phases


SMALL = dict(aps=4, ues=4, antennas=2, layers=2, atoms_per_layer=4, tau_p=2)


@pytest.mark.parametrize("combiner", COMBINERS)
@pytest.mark.parametrize("los", ["uniform", "steering"])
def test_closed_form_matches_monte_carlo_within_one_percent(combiner, los):
    problem, phases = small_problem(3, los_response=los, **SMALL)
    stats = problem.statistics(problem.transfer(phases))
    terms = problem.terms(phases)
    power = np.array([0.2, 0.05, 0.12, 0.2])
    weights = combining_weights(terms, power, combiner)
    closed = sinr(terms, power, combiner)
    sampled = monte_carlo_sinr(
        stats, problem.pilot_setup(), power, weights, 200_000, np.random.default_rng(7)
    )
    assert len(set(problem.pilots)) < problem.ues  # pilot contamination is exercised
    np.testing.assert_allclose(sampled, closed, rtol=0.01)


def scalar_reference_sinr(problem: UplinkProblem, power: np.ndarray, combiner: str):
    """Single-antenna Rician cell-free SINR derived directly (Ozdogan et al. 2019, N = 1).

    Per AP the estimate is ghat = e^{j phi} sqrt(lam) + CN(0, gamma) and the error CN(0, r -
    gamma), independent; moments of |ghat|^2 |g|^2 follow from E|a + Z|^4 = |a|^4 + 4|a|^2 s +
    2 s^2 for Z ~ CN(0, s). Written with loops, independently of the vectorised closed form.
    """
    beta, kappa = problem.fading.gain, problem.fading.rician_factor
    lam, r = beta * kappa / (kappa + 1), beta / (kappa + 1)
    p_pilot, tau_p, pilots = problem.max_power_w, problem.tau_p, problem.pilots
    n_ap, n_ue = beta.shape
    psi = np.array(
        [
            [1 + tau_p * p_pilot * r[ap, pilots == pilots[k]].sum() for k in range(n_ue)]
            for ap in range(n_ap)
        ]
    )
    gamma = p_pilot * tau_p * r**2 / psi
    b = lam + gamma
    result = np.empty(n_ue)
    for k in range(n_ue):
        matrix = np.diag(b[:, k])
        for i in range(n_ue):
            for ap in range(n_ap):
                if i == k:
                    fourth = lam[ap, k] ** 2 + 4 * lam[ap, k] * gamma[ap, k] + 2 * gamma[ap, k] ** 2
                    second = fourth + b[ap, k] * (r[ap, k] - gamma[ap, k]) - b[ap, k] ** 2
                else:
                    second = b[ap, k] * beta[ap, i]
                matrix[ap, ap] += power[i] * second
            if i != k and pilots[i] == pilots[k]:
                c = p_pilot * tau_p * r[:, i] * r[:, k] / psi[:, k]
                matrix += power[i] * np.outer(c, c)
        a = np.linalg.solve(matrix, b[:, k]) if combiner == "lsfd" else np.ones(n_ap)
        result[k] = power[k] * (a @ b[:, k]) ** 2 / (a @ matrix @ a)
    return result


@pytest.mark.parametrize("combiner", COMBINERS)
def test_single_antenna_without_sim_is_the_rician_cell_free_result(combiner):
    problem, phases = small_problem(5, aps=6, ues=5, antennas=1, sim=False, tau_p=3)
    power = np.array([0.2, 0.1, 0.2, 0.03, 0.15])
    closed = sinr(problem.terms(phases), power, combiner)
    np.testing.assert_allclose(closed, scalar_reference_sinr(problem, power, combiner), rtol=1e-10)


NETWORKS = st.fixed_dictionaries(
    dict(
        aps=st.integers(1, 5),
        ues=st.integers(1, 8),
        antennas=st.integers(1, 4),
        sim=st.booleans(),
        layers=st.integers(1, 3),
        atoms_per_layer=st.sampled_from([1, 4, 6, 9]),
        tau_p=st.integers(1, 4),
        los_response=st.sampled_from(["steering", "uniform"]),
    )
)
"""Small random networks for the closed form's property tests."""


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), params=NETWORKS, power_fraction=st.floats(0.0, 1.0))
def test_lsfd_never_below_egcd_and_se_never_negative(seed, params, power_fraction):
    problem, phases = small_problem(seed, **params)
    ues = problem.ues
    power = problem.full_power_w * np.random.default_rng(seed).uniform(power_fraction, 1.0, ues)
    terms = problem.terms(phases)
    lsfd, egcd = problem.se(terms, power, "lsfd"), problem.se(terms, power, "egcd")
    assert np.all(np.isfinite(lsfd)) and np.all(egcd >= 0.0)
    assert np.all(lsfd >= egcd * (1 - 1e-9) - 1e-12)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 1000), aps=st.integers(1, 3), ues=st.integers(1, 3))
def test_closed_form_matches_monte_carlo_on_random_small_networks(seed, aps, ues):
    problem, phases = small_problem(
        seed, aps=aps, ues=ues, antennas=2, layers=1, atoms_per_layer=4, tau_p=1
    )
    power = problem.full_power_w
    terms = problem.terms(phases)
    stats = problem.statistics(problem.transfer(phases))
    weights = combining_weights(terms, power, "lsfd")
    sampled = monte_carlo_sinr(
        stats, problem.pilot_setup(), power, weights, 100_000, np.random.default_rng(seed)
    )
    np.testing.assert_allclose(sampled, sinr(terms, power, "lsfd"), rtol=0.02)
