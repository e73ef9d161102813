"""Imperfect channel knowledge: algorithms design on an estimate, metrics use the truth.

A ``simframe_channel_estimate`` hook returns what the variant's algorithms know of the trial's
channel; the system model hands that estimate to its phase optimiser, power allocator and pilot
scheme (``trial.known_channel``) and evaluates every metric on the true realisation
(``trial.channel``). The error models, per system:

* ``sim_hmimo_link`` (the realisation is ``H~``, a complex ``M x N`` array): the estimate is
  ``H~ + E`` with i.i.d. ``CN(0, nmse * P)`` entries, ``P`` the mean entry power of this
  trial's ``H~``, so that ``||E||^2 / ||H~||^2`` is ``nmse`` on average;
* ``sim_cellfree_uplink`` (the realisation is a ``LargeScaleFading``): every large-scale gain
  ``beta_lk`` is known with an independent log-normal error of ``gain_error_db`` dB standard
  deviation; positions, Rician factors and LoS phases are known exactly.

The errors are drawn from the hook's own stream, ``trial.rng_for("example_imperfect_csi")``,
never from ``trial.rng``, the algorithms' stream: at zero error the estimate is the truth and
every result equals, bit for bit, a run without the plugin. The stream is drawn from whenever
the option group is present, also for zero error, and a sweep over the error size is paired
(every value sees the same channels, random starts and standard normal errors, scaled).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from simframe_cellfree.network import LargeScaleFading

from simframe import OptionGroup, Parameter, TrialContext

OPTION_GROUP = OptionGroup(
    "example_imperfect_csi",
    (
        Parameter(
            "nmse",
            float,
            default=0.1,
            unit="1",
            help="sim_hmimo_link: normalised MSE of the estimate of H~",
            minimum=0.0,
        ),
        Parameter(
            "gain_error_db",
            float,
            default=1.0,
            unit="dB",
            help="sim_cellfree_uplink: std of the log-normal error of each large-scale gain",
            minimum=0.0,
        ),
    ),
    help="algorithms design on a noisy channel estimate (simframe-example-plugin)",
    systems=("sim_hmimo_link", "sim_cellfree_uplink"),
)


def hmimo_estimate(channel: np.ndarray, nmse: float, rng: np.random.Generator) -> np.ndarray:
    """``H~ + E``, ``E`` i.i.d. ``CN(0, nmse * mean |H~_ij|^2)``."""
    power = np.mean(np.abs(channel) ** 2)
    noise = rng.standard_normal(channel.shape) + 1j * rng.standard_normal(channel.shape)
    return channel + np.sqrt(nmse * power / 2.0) * noise


def cellfree_estimate(
    fading: LargeScaleFading, gain_error_db: float, rng: np.random.Generator
) -> LargeScaleFading:
    """The realisation with each gain ``beta_lk`` scaled by ``10^(e / 10)``, ``e ~ N(0, std^2)``."""
    error_db = gain_error_db * rng.standard_normal(fading.gain.shape)
    return dataclasses.replace(fading, gain=fading.gain * 10.0 ** (error_db / 10.0))


def channel_estimate(trial: TrialContext, channel: object) -> object | None:
    """The estimate for the scenario's system, or ``None`` (the truth) without the option group."""
    options = trial.options.get(OPTION_GROUP.name)
    if options is None:
        return None
    rng = trial.rng_for(OPTION_GROUP.name)
    if isinstance(channel, np.ndarray):
        return hmimo_estimate(channel, options["nmse"], rng)
    if isinstance(channel, LargeScaleFading):
        return cellfree_estimate(channel, options["gain_error_db"], rng)
    raise TypeError(f"example_imperfect_csi does not know the realisation {type(channel)}")


def realised_nmse(trial: TrialContext) -> float:
    """``||H^ - H~||^2 / ||H~||^2`` of this trial (HMIMO), from the trial's two channels."""
    error = trial.known_channel - trial.channel
    return float(np.sum(np.abs(error) ** 2) / np.sum(np.abs(trial.channel) ** 2))
