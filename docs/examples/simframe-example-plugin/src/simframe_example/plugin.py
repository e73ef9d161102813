"""The module the ``simframe`` entry point names: every contribution of this package."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simframe import TrialContext, hookimpl
from simframe_example.coordinate_ascent import CoordinateAscentPhases
from simframe_example.quantisation import OPTION_GROUP, quantise_phases


@hookimpl
def simframe_option_groups():
    return [OPTION_GROUP]


@hookimpl
def simframe_phases_configured(trial: TrialContext, phases: Mapping[str, np.ndarray]) -> None:
    options = trial.options.get(OPTION_GROUP.name)
    if options is None:  # the scenario did not ask for quantisation: change nothing
        return
    for coefficients in phases.values():
        quantise_phases(coefficients, options["bits"])


@hookimpl
def simframe_phase_optimisers():
    return [CoordinateAscentPhases]
