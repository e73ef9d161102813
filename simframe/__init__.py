"""simframe: scenario-driven simulation of systems aided by stacked intelligent metasurfaces.

The public API for plugin authors is re-exported here::

    from simframe import hookimpl, Parameter, Metric, SystemModel, Component, ComponentKind
"""

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from simframe.components import (
    Component,
    ComponentKind,
    OptionGroup,
    Parameter,
    Slot,
    SystemModel,
)
from simframe.errors import ContractError, ParameterError, PluginError, RunError, ScenarioError
from simframe.hookspecs import hookimpl
from simframe.trial import Metric, MetricSpec, TrialContext


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``then(module)`` once the module ``name`` is imported (a post-import hook).

    simframe's ``ds.simframe`` accessor must be registered on xarray whenever both are in use,
    but importing xarray (with pandas) for it costs the command line a second at start; so
    ``import simframe`` registers it when xarray is imported, or at once if it already is.
    (wrapt's post-import hooks do this too, but importing wrapt costs 0.1-0.2 s itself.)
    """

    def __init__(self, name: str, then: Callable[[ModuleType], None]):
        self.name = name
        self.then = then

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            execute = spec.loader.exec_module

            def exec_module(module: ModuleType) -> None:
                execute(module)
                self.then(module)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _register_accessor(xarray: ModuleType) -> None:
    """Register ``ds.simframe``; the accessor's module (which needs scipy, and simframe modules
    that may be importing xarray right now) is imported when a dataset first uses it."""

    def simframe_accessor(dataset: Any) -> Any:
        from simframe.accessor import SimframeAccessor

        return SimframeAccessor(dataset)

    xarray.register_dataset_accessor("simframe")(simframe_accessor)


if "xarray" in sys.modules:
    _register_accessor(sys.modules["xarray"])
else:
    sys.meta_path.insert(0, _AfterImport("xarray", _register_accessor))


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata only when asked: it is slow to import
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("simframe")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'simframe' has no attribute {name!r}")


__all__ = [
    "Component",
    "ComponentKind",
    "ContractError",
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
