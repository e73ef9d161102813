"""The analytic gradient of the closed-form objective and the gradient phase design (paper 003)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_cellfree.closed_form import COMBINERS
from simframe_cellfree.gradient_design import (
    OBJECTIVES,
    CellFreeGradientDesign,
    Objective,
    phase_gradient,
)
from simframe_cellfree.uplink import LOS_RESPONSES

from simframe import ComponentKind
from simframe.plugins import get_registry

from .test_closed_form import small_problem

FINITE_DIFFERENCE_STEP_RAD = 1e-4
GRADIENT_RTOL = 1e-7


def closed_form_objective(problem, phases_rad, objective: Objective) -> float:
    """The objective evaluated through the public closed form, independently of the gradient."""
    se = problem.se(problem.terms(phases_rad), problem.full_power_w)
    return objective.value_and_slope(se)[0]


def finite_difference_gradient(problem, phases_rad, objective: Objective) -> np.ndarray:
    """Fourth-order central differences on every angle (truncation error O(h^4))."""
    h = FINITE_DIFFERENCE_STEP_RAD
    gradient = np.empty_like(phases_rad)
    for index in np.ndindex(phases_rad.shape):
        values = []
        for multiple in (2, 1, -1, -2):
            shifted = phases_rad.copy()
            shifted[index] += multiple * h
            values.append(closed_form_objective(problem, shifted, objective))
        gradient[index] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h)
    return gradient


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    aps=st.integers(1, 3),
    ues=st.integers(1, 3),
    antennas=st.integers(1, 2),
    layers=st.integers(1, 2),
    atoms=st.sampled_from([1, 2, 4]),
    pilots=st.integers(1, 3),
    combiner=st.sampled_from(COMBINERS),
    los=st.sampled_from(LOS_RESPONSES),
    kind=st.sampled_from(OBJECTIVES),
)
def test_gradient_matches_finite_differences(
    seed, aps, ues, antennas, layers, atoms, pilots, combiner, los, kind
):
    problem, phases = small_problem(
        seed,
        aps=aps,
        ues=ues,
        antennas=antennas,
        layers=layers,
        atoms_per_layer=atoms,
        tau_p=min(pilots, ues),
        combiner=combiner,
        los_response=los,
    )
    objective = Objective(kind, temperature_bps_hz=0.3)
    value, gradient = phase_gradient(problem, phases, objective)
    assert value == pytest.approx(closed_form_objective(problem, phases, objective), rel=1e-12)
    reference = finite_difference_gradient(problem, phases, objective)
    scale = max(np.abs(reference).max(), abs(value))
    assert np.abs(gradient - reference).max() <= GRADIENT_RTOL * scale


def test_pilot_contamination_terms_are_exercised_by_the_gradient_check():
    """Two UEs on one pilot: the coherent term c_ki is nonzero and enters the checked gradient."""
    problem, phases = small_problem(
        5, aps=2, ues=3, antennas=2, layers=2, atoms_per_layer=4, tau_p=1
    )
    assert np.abs(problem.terms(phases).coherent).max() > 0.0
    objective = Objective()
    gradient = phase_gradient(problem, phases, objective)[1]
    reference = finite_difference_gradient(problem, phases, objective)
    assert np.abs(gradient - reference).max() <= GRADIENT_RTOL * np.abs(reference).max()


@settings(max_examples=30, deadline=None)
@given(
    se=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=8),
    temperature=st.floats(0.01, 2.0),
)
def test_soft_minimum_lies_within_t_log_k_below_the_minimum(se, temperature):
    values = np.array(se)
    soft, slope = Objective("softmin_se", temperature).value_and_slope(values)
    assert values.min() - temperature * np.log(len(values)) - 1e-9 <= soft <= values.min() + 1e-9
    np.testing.assert_allclose(slope.sum(), 1.0)
    assert np.all(slope >= 0.0)


def test_unknown_objective_refused():
    with pytest.raises(ValueError, match="softmin_se"):
        Objective("max_se")


def test_design_without_sim_refused():
    problem, phases = small_problem(0, aps=2, ues=2, antennas=2, sim=False, tau_p=1)
    with pytest.raises(ValueError, match="SIM"):
        CellFreeGradientDesign().optimise(problem, phases, np.random.default_rng(0))


@pytest.mark.parametrize("kind", OBJECTIVES)
def test_design_raises_its_objective_and_returns_the_point_it_reports(kind):
    problem, phases = small_problem(
        2, aps=3, ues=4, antennas=2, layers=2, atoms_per_layer=9, tau_p=2, los_response="steering"
    )
    optimiser = CellFreeGradientDesign(objective=kind, max_iterations=60)
    design = optimiser.optimise(problem, phases, np.random.default_rng(0))
    trace = design.objective_trace
    objective = Objective(kind, optimiser.softmin_temperature_bps_hz)
    assert design.phases_rad.shape == phases.shape and np.isrealobj(design.phases_rad)
    assert np.all((design.phases_rad >= 0.0) & (design.phases_rad < 2 * np.pi))
    assert trace[0] == pytest.approx(closed_form_objective(problem, phases, objective))
    assert trace[-1] == pytest.approx(closed_form_objective(problem, design.phases_rad, objective))
    assert np.all(np.diff(trace) >= 0.0) and trace[-1] > trace[0]


def test_relative_gain_tolerance_stops_after_the_first_window():
    problem, phases = small_problem(2, aps=3, ues=4, antennas=2, atoms_per_layer=9, tau_p=2)
    rng = np.random.default_rng(0)
    loose = CellFreeGradientDesign(window=5, tolerance=1e3, max_iterations=100)
    assert len(loose.optimise(problem, phases, rng).objective_trace) == 6
    capped = CellFreeGradientDesign(window=5, tolerance=0.0, max_iterations=12)
    assert len(capped.optimise(problem, phases, rng).objective_trace) == 13


def test_registered_and_usable_from_a_scenario_through_the_cli(tmp_path):
    info = get_registry().get(ComponentKind.PHASE_OPTIMISER, "cellfree_gradient")
    assert info.cls is CellFreeGradientDesign
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(
        """
title = "gradient phase design on a tiny network"
trials = 2
seed = 5

[system]
model = "sim_cellfree_uplink"
aps = 3
ues = 4
antennas = 2
layers = 2
atoms_per_layer = 4
tau_p = 2
los_response = "steering"

[variants.random]
phases = { model = "cellfree_random_phases" }

[variants.gradient]
phases = { model = "cellfree_gradient", max_iterations = 30 }
"""
    )
    output = tmp_path / "tiny.nc"
    command = [sys.executable, "-m", "simframe", "run", str(scenario), "-o", str(output)]
    subprocess.run([*command, "--quiet", "--workers", "1"], check=True)
    with xr.open_dataset(output) as dataset:
        se = dataset["se_lsfd_bps_hz"].sum("ue")
        gain = se.sel(variant="gradient") - se.sel(variant="random")
        assert np.all(gain.values > 0.0)
