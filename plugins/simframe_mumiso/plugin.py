"""Registration of the components of the SIM-aided multiuser MISO downlink (An et al. 2023)."""

from simframe import hookimpl
from simframe_mumiso.an_ga import AnGradientAscent
from simframe_mumiso.channel import CorrelatedRayleighUsers
from simframe_mumiso.power import DampedWaterFilling, EqualPower, WmmsePower
from simframe_mumiso.random_phases import RandomPhases
from simframe_mumiso.sum_rate_lbfgs import SumRateLbfgs
from simframe_mumiso.system import SimMumisoDownlink


@hookimpl
def simframe_system_models():
    return [SimMumisoDownlink]


@hookimpl
def simframe_channel_models():
    return [CorrelatedRayleighUsers]


@hookimpl
def simframe_phase_optimisers():
    return [RandomPhases, AnGradientAscent, SumRateLbfgs]


@hookimpl
def simframe_power_allocators():
    return [DampedWaterFilling, EqualPower, WmmsePower]
