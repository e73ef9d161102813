"""The module the ``simframe`` entry point names: every contribution of this package."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simframe import Metric, TrialContext, hookimpl
from simframe_example import imperfect_csi
from simframe_example.coordinate_ascent import CoordinateAscentPhases
from simframe_example.quantisation import OPTION_GROUP, quantise_phases


@hookimpl
def simframe_option_groups():
    return [OPTION_GROUP, imperfect_csi.OPTION_GROUP]


@hookimpl
def simframe_phases_configured(trial: TrialContext, phases: Mapping[str, np.ndarray]) -> None:
    options = trial.options.get(OPTION_GROUP.name)
    if options is None:  # the scenario did not ask for quantisation: change nothing
        return
    for coefficients in phases.values():
        quantise_phases(coefficients, options["bits"])


@hookimpl
def simframe_channel_estimate(trial: TrialContext, channel: object) -> object | None:
    return imperfect_csi.channel_estimate(trial, channel)


@hookimpl
def simframe_trial_metrics(trial: TrialContext) -> dict[str, Metric] | None:
    if imperfect_csi.OPTION_GROUP.name not in trial.options:
        return None
    if not isinstance(trial.channel, np.ndarray):  # the cell-free realisation: nothing to add
        return None
    nmse = imperfect_csi.realised_nmse(trial)
    return {"csi_nmse": Metric(nmse, "1", "realised NMSE of the channel estimate of H~")}


@hookimpl
def simframe_phase_optimisers():
    return [CoordinateAscentPhases]
