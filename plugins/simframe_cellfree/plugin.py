"""Registration of the built-in cellfree components (paper 003)."""

from simframe import hookimpl
from simframe_cellfree.gradient_design import CellFreeGradientDesign
from simframe_cellfree.network import Cost231RicianNetwork
from simframe_cellfree.phases import CellFreeRandomPhases, CellFreeStepSearch
from simframe_cellfree.pilots import GreedyPilots, RandomPilots
from simframe_cellfree.power import FullPower, MaxMinPower
from simframe_cellfree.system import SimCellFreeUplink


@hookimpl
def simframe_system_models():
    return [SimCellFreeUplink]


@hookimpl
def simframe_channel_models():
    return [Cost231RicianNetwork]


@hookimpl
def simframe_pilot_schemes():
    return [RandomPilots, GreedyPilots]


@hookimpl
def simframe_phase_optimisers():
    return [CellFreeRandomPhases, CellFreeStepSearch, CellFreeGradientDesign]


@hookimpl
def simframe_power_allocators():
    return [FullPower, MaxMinPower]
