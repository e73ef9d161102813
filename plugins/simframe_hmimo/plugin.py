"""Registration of the built-in hmimo components (paper 000)."""

from simframe import hookimpl
from simframe_hmimo.channel import CorrelatedRayleighChannel
from simframe_hmimo.imin import InterferenceMinimisation
from simframe_hmimo.power import EqualPower, WaterFilling, Wmmse
from simframe_hmimo.projected_gradient import ProjectedGradientFit
from simframe_hmimo.random_phases import RandomPhases
from simframe_hmimo.rmax import HybridOptimisation, RateMaximisation
from simframe_hmimo.system import SimHmimoLink


@hookimpl
def simframe_system_models():
    return [SimHmimoLink]


@hookimpl
def simframe_channel_models():
    return [CorrelatedRayleighChannel]


@hookimpl
def simframe_phase_optimisers():
    return [
        RandomPhases,
        InterferenceMinimisation,
        RateMaximisation,
        HybridOptimisation,
        ProjectedGradientFit,
    ]


@hookimpl
def simframe_power_allocators():
    return [EqualPower, WaterFilling, Wmmse]
