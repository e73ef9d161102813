"""simframe: scenario-driven simulation of systems aided by stacked intelligent metasurfaces.

The public API for plugin authors is re-exported here::

    from simframe import hookimpl, Parameter, Metric, SystemModel, Component, ComponentKind
"""

from importlib.metadata import PackageNotFoundError, version

# importing the module registers the ``ds.simframe`` xarray accessor
from simframe import accessor as accessor
from simframe.components import (
    Component,
    ComponentKind,
    OptionGroup,
    Parameter,
    Slot,
    SystemModel,
)
from simframe.errors import ParameterError, PluginError, RunError, ScenarioError
from simframe.hookspecs import hookimpl
from simframe.trial import Metric, MetricSpec, TrialContext

try:
    __version__ = version("simframe")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Component",
    "ComponentKind",
    "Metric",
    "MetricSpec",
    "OptionGroup",
    "Parameter",
    "ParameterError",
    "PluginError",
    "RunError",
    "ScenarioError",
    "Slot",
    "SystemModel",
    "TrialContext",
    "__version__",
    "hookimpl",
]
