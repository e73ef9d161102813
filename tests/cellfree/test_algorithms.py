"""Pilot schemes, phase optimisers, power control and the system model of paper 003."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_cellfree.gradient_design import CellFreeGradientDesign
from simframe_cellfree.network import Cost231RicianNetwork, wrapped_offsets_m
from simframe_cellfree.phases import CellFreeRandomPhases, CellFreeStepSearch
from simframe_cellfree.pilots import GreedyPilots, RandomPilots
from simframe_cellfree.power import FullPower, MaxMinPower
from simframe_cellfree.system import SimCellFreeUplink
from simframe_metasurface.propagation import RayleighSommerfeldPropagation

from simframe import ParameterError, TrialContext

from .test_closed_form import small_problem


def system(phases=None, power=None, pilots=None, **params) -> SimCellFreeUplink:
    return SimCellFreeUplink(
        {
            "setup": Cost231RicianNetwork(),
            "propagation": RayleighSommerfeldPropagation(),
            "pilots": pilots or GreedyPilots(),
            "phases": phases or CellFreeRandomPhases(),
            "power": power or FullPower(),
        },
        **params,
    )


def run(model: SimCellFreeUplink, seed: int = 0):
    realisation = model.draw(np.random.default_rng(seed))
    trial = TrialContext(
        0, 0, "v", {}, np.random.default_rng(seed + 1), store=frozenset({"phases"})
    )
    return {name: metric.values for name, metric in model.simulate(realisation, trial).items()}


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), ues=st.integers(1, 12), tau_p=st.integers(1, 6))
@pytest.mark.parametrize("scheme", [RandomPilots, GreedyPilots])
def test_pilots_first_distinct_and_all_used(scheme, seed, ues, tau_p):
    problem, phases = small_problem(
        seed, aps=3, ues=ues, antennas=2, layers=1, atoms_per_layer=4, tau_p=tau_p
    )
    pilots = scheme().assign(problem, phases, np.random.default_rng(seed))
    first = min(ues, tau_p)
    assert len(set(pilots[:first])) == first
    assert pilots.min() >= 0 and pilots.max() < tau_p
    if ues >= tau_p:
        assert set(pilots) == set(range(tau_p))


def test_greedy_pilots_cause_less_contamination_than_random_on_average():
    gains = []
    for seed in range(6):
        greedy = run(system(aps=10, ues=20, pilots=GreedyPilots()), seed)["se_lsfd_bps_hz"]
        random = run(system(aps=10, ues=20, pilots=RandomPilots()), seed)["se_lsfd_bps_hz"]
        gains.append(greedy.sum() - random.sum())
    assert np.mean(gains) > 0.0


def test_step_search_improves_the_objective_monotonically():
    result = run(system(aps=4, ues=6, phases=CellFreeStepSearch(max_sweeps=3), atoms_per_layer=9))
    trace = result["objective_trace"]
    assert np.all(np.diff(trace) >= 0.0) and trace[-1] > trace[0]
    assert np.isclose(trace[-1], result["se_lsfd_bps_hz"].sum())
    coefficients = np.exp(1j * result["phases"])
    np.testing.assert_allclose(np.abs(coefficients), 1.0)


def test_max_min_power_within_budget_and_raises_the_worst_ue():
    model = dict(aps=6, ues=8, atoms_per_layer=9)
    full = run(system(**model))
    fair = run(system(power=MaxMinPower(), **model))
    assert np.all(fair["power_w"] >= 0.0) and np.all(fair["power_w"] <= 0.2 + 1e-12)
    assert fair["se_lsfd_bps_hz"].min() >= full["se_lsfd_bps_hz"].min() - 0.01
    # A common SE within the bisection bracket for every UE the weights let reach it.
    assert fair["se_lsfd_bps_hz"].min() > full["se_lsfd_bps_hz"].min()


@pytest.mark.parametrize("sim", [True, False])
def test_system_metrics_are_per_ue_and_finite(sim):
    result = run(system(aps=5, ues=7, sim=sim, atoms_per_layer=4))
    for name in ("se_lsfd_bps_hz", "se_egcd_bps_hz", "power_w", "pilot"):
        assert result[name].shape == (7,)
        assert np.all(np.isfinite(result[name]))
    assert np.all(result["se_lsfd_bps_hz"] >= result["se_egcd_bps_hz"] - 1e-12)


def test_total_atoms_sets_atoms_per_layer_and_refuses_remainders():
    assert system(aps=20, layers=2, total_atoms=1200).atoms == 30
    with pytest.raises(Exception, match="total_atoms"):
        system(aps=7, layers=2, total_atoms=1200)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        (dict(ues=10**8), "ues"),
        (dict(atoms_per_layer=10**7), "atoms_per_layer"),
        (dict(aps=10, total_atoms=4 * 10**9), "total_atoms"),
    ],
)
def test_memory_refusal_names_the_parameter_that_drives_the_estimate(params, named):
    with pytest.raises(ParameterError) as refused:
        system(**params)
    assert refused.value.parameter == named and "GiB" in refused.value.message


def test_wrap_around_offsets_take_the_nearest_copy():
    offsets = wrapped_offsets_m(np.array([[10.0, 10.0]]), np.array([[990.0, 500.0]]), 1000.0)
    np.testing.assert_allclose(offsets[0, 0], [-20.0, 490.0])


def test_shadowing_and_path_loss_statistics():
    setup = Cost231RicianNetwork(shadowing_std_db=0.0)
    fading = setup.draw(np.random.default_rng(0), 3, 4)
    noise_db = -93.99 - 30.0
    expected_db = -30.18 - 26 * np.log10(fading.distance_m) - noise_db
    np.testing.assert_allclose(10 * np.log10(fading.gain), expected_db, atol=0.01)
    assert np.all(fading.distance_m >= 15.0 - 1.65)
    np.testing.assert_allclose(fading.rician_factor, 10 ** (1.3 - 0.003 * fading.distance_m))


def test_steering_is_the_default_and_ues_behind_the_aperture_are_refused():
    model = system(aps=3, ues=4, atoms_per_layer=9)
    assert model.los_response == "steering"
    fading = model.draw(np.random.default_rng(0))
    los = model.problem(fading).los
    assert not np.allclose(los, los[:, :1])  # UEs have different LoS responses at an AP
    np.testing.assert_allclose(model.front_end.boresight, [0.0, 0.0, -1.0])
    above = Cost231RicianNetwork(ue_height_m=20.0).draw(np.random.default_rng(0), 3, 4)
    with pytest.raises(ValueError, match="behind the SIM aperture"):
        model.problem(above)


def test_atom_area_is_its_own_parameter_and_scales_the_hops():
    base = system(aps=2, atoms_per_layer=9)
    wide = system(aps=2, atoms_per_layer=9, atom_spacing_wavelengths=1.0)
    big = system(aps=2, atoms_per_layer=9, atom_area_square_wavelengths=0.5)
    # Default area lambda^2 / 4 = spacing^2 at half-wavelength spacing, as before.
    assert base.atom_area_square_wavelengths == 0.25
    np.testing.assert_allclose(big.front_end.hops[1], 2 * base.front_end.hops[1])
    assert np.linalg.norm(wide.front_end.hops[1], 2) < 1.0  # sparser layer, same atoms: lossy


def test_passivity_warning_only_for_real_amplification_with_readable_norm():
    assert system(aps=2, layers=6, atoms_per_layer=36).warnings() == []  # norm 1.0001
    (warning,) = system(aps=2, atoms_per_layer=36, atom_spacing_wavelengths=0.25).warnings()
    assert "spectral norm 2.776 exceeds 1" in warning and "passive = true" in warning


def test_pilot_reassignment_after_phase_design_is_an_option():
    search = CellFreeStepSearch(max_sweeps=2)
    once = run(system(aps=4, ues=8, phases=search, atoms_per_layer=9, tau_p=3))
    again = run(
        system(aps=4, ues=8, phases=search, atoms_per_layer=9, tau_p=3, reassign_pilots=True)
    )
    assert set(again["pilot"]) == set(range(3))
    np.testing.assert_array_equal(once["phases"], again["phases"])  # same design, then pilots
    assert not np.array_equal(once["se_lsfd_bps_hz"], again["se_lsfd_bps_hz"])


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), starts=st.integers(1, 3))
@pytest.mark.parametrize(
    "optimiser",
    [
        lambda starts: CellFreeStepSearch(max_sweeps=1, starts=starts),
        lambda starts: CellFreeGradientDesign(max_iterations=15, starts=starts),
    ],
    ids=["step_search", "gradient"],
)
def test_best_of_starts_keeps_the_best_design_and_reports_its_phases(optimiser, seed, starts):
    problem, phases = small_problem(seed, aps=3, ues=4, antennas=2, layers=2, atoms_per_layer=4)
    single = optimiser(1).optimise(problem, phases, np.random.default_rng(seed))
    best = optimiser(starts).optimise(problem, phases, np.random.default_rng(seed))
    assert best.objective_trace[-1] >= single.objective_trace[-1]  # the first start is the same
    assert np.all(np.isfinite(best.phases_rad)) and best.phases_rad.shape == phases.shape
    reached = problem.se(problem.terms(best.phases_rad), problem.full_power_w).sum()
    assert reached == pytest.approx(best.objective_trace[-1], rel=1e-9)
    if starts == 1:
        np.testing.assert_array_equal(best.phases_rad, single.phases_rad)
