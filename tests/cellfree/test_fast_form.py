"""The fast closed form (per-AP eigenbasis, per-AP sums) against the reference closed form."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simframe_cellfree.ap_objective import SumSeByAp
from simframe_cellfree.ap_sums import pilot_partners, rows_from_terms, sinr_by_ap_sums
from simframe_cellfree.closed_form import COMBINERS, closed_form_terms, sinr
from simframe_cellfree.eigenbasis import eigen_rows

from .test_closed_form import NETWORKS, small_problem


def assert_close(actual, expected, rtol=1e-10):
    """Equal up to ``rtol`` of the largest entry (round-off of different summation orders)."""
    scale = np.max(np.abs(expected), initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale + 1e-300)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), params=NETWORKS)
def test_eigenbasis_terms_rows_and_sums_equal_the_reference_closed_form(seed, params):
    problem, phases = small_problem(seed, **params)
    reference = closed_form_terms(
        problem.statistics(problem.transfer(phases)), problem.pilot_setup()
    )
    fast = problem.terms(phases)
    for name in ("gain", "noncoherent", "coherent"):
        assert_close(getattr(fast, name), getattr(reference, name))
    power = problem.full_power_w * np.random.default_rng(seed).uniform(0.05, 1.0, problem.ues)
    partners = pilot_partners(problem.pilots)
    rows = eigen_rows(
        problem.scaled_statistics(problem.transfer(phases)), problem.pilot_setup(), power, partners
    )
    expected = rows_from_terms(reference, power, partners)
    for name in ("gain", "noise", "coupling"):
        assert_close(getattr(rows, name), getattr(expected, name))
    for combiner in COMBINERS:
        np.testing.assert_allclose(
            sinr_by_ap_sums(fast, power, problem.pilots, combiner),
            sinr(reference, power, combiner),
            rtol=1e-9,
        )


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), combiner=st.sampled_from(COMBINERS))
def test_replacing_one_aps_summand_equals_a_full_evaluation(seed, combiner):
    problem, phases = small_problem(
        seed, aps=4, ues=7, antennas=2, layers=2, atoms_per_layer=4, tau_p=2, combiner=combiner
    )
    objective = SumSeByAp(problem, phases)
    ap = seed % problem.aps
    changed = phases.copy()
    changed[ap] = np.random.default_rng(seed).uniform(0, 2 * np.pi, phases[ap].shape)
    candidate = objective.summands(problem.transfer(changed))
    full = problem.se(problem.terms(changed), problem.full_power_w).sum()
    np.testing.assert_allclose(
        objective.trial(ap, tuple(p[None] for p in candidate)), [full], rtol=1e-12
    )
    scanned = objective.scan(tuple(p[None] for p in candidate))[0, ap]
    np.testing.assert_allclose(scanned, full, rtol=1e-12)
    objective.accept(ap, tuple(p[None] for p in candidate), 0)
    np.testing.assert_allclose(objective.value, full, rtol=1e-12)
