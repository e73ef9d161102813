"""A third-party phase optimiser written from the interface docstrings plugs into the system."""

from __future__ import annotations

import textwrap

import numpy as np
from simframe_hmimo import interfaces
from simframe_hmimo.channel import CorrelatedRayleighChannel
from simframe_hmimo.interfaces import HmimoPhaseOptimiser, PhaseResult
from simframe_hmimo.power import WaterFilling
from simframe_hmimo.random_phases import RandomPhases
from simframe_hmimo.system import SimHmimoLink
from simframe_metasurface.propagation import RayleighSommerfeldPropagation

from simframe import Parameter
from simframe.trial import TrialContext


def docstring_example() -> type[HmimoPhaseOptimiser]:
    """The optimiser class of the interfaces module's docstring, executed as written there."""
    doc = interfaces.__doc__
    block = doc[doc.index("    class BestOfRandom") : doc.index("Register it with")]
    namespace = {"HmimoPhaseOptimiser": HmimoPhaseOptimiser, "PhaseResult": PhaseResult,
                 "Parameter": Parameter}  # fmt: skip
    exec(textwrap.dedent(block), namespace)
    return namespace["BestOfRandom"]


def simulate(optimiser) -> dict:
    system = SimHmimoLink(
        {
            "channel": CorrelatedRayleighChannel(),
            "propagation": RayleighSommerfeldPropagation(),
            "phases": optimiser,
            "power": WaterFilling(),
        },
        tx_atoms=16,
        rx_atoms=16,
        tx_layers=2,
        rx_layers=2,
    )
    trial = TrialContext(0, 0, "v", {}, np.random.default_rng(3))
    return system.simulate(system.draw(np.random.default_rng(0)), trial)


def test_docstring_example_optimiser_runs_and_is_at_least_its_first_draw():
    best = simulate(docstring_example()(draws=8))
    first = simulate(RandomPhases())  # the same first random draw from the same stream
    assert float(best["rate_bps_hz"].values) >= float(first["rate_bps_hz"].values)
    trace = best["objective_trace"].values
    assert trace.shape == (8,) and np.all(np.diff(trace) >= 0)
    assert float(trace[-1]) == float(best["rate_bps_hz"].values)
