"""Hook specifications: everything a plugin can contribute to simframe.

A plugin is a module (or object) with functions decorated by :data:`hookimpl` whose names are
the hooks below. Register it in the ``simframe`` entry-point group of your package::

    [project.entry-points.simframe]
    my_plugin = "my_package.simframe_plugin"

or load a single file for a quick experiment with ``simframe run --plugin my_plugin.py``.
Hook implementations may accept any subset of a hook's arguments, by name.

Two families of hooks exist:

* **Registration hooks** (``simframe_<kind>s``) return component classes. They are called once,
  when the plugin manager is built. A component name must be unique within its kind across all
  plugins; a clash is an error naming both plugins.
* **Physical-layer hooks** are called during every trial, in the worker process that runs it.
  They see a :class:`simframe.TrialContext` whose ``options`` holds the ``[plugins.NAME]``
  tables of the scenario. A hook should act only when its own option group is present there,
  so that installing a plugin never changes results of scenarios that do not ask for it.
  A hook that needs randomness draws it from ``trial.rng_for(KEY)``, a stream of its own (KEY:
  e.g. its option group's name), never from ``trial.rng``, which belongs to the algorithms:
  drawing from it would change their random starts, hence results, even where the hook models
  nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import numpy as np

    from simframe.components import Component, OptionGroup, SystemModel
    from simframe.trial import Metric, TrialContext

hookspec = pluggy.HookspecMarker("simframe")
hookimpl = pluggy.HookimplMarker("simframe")

PHYSICAL_LAYER_HOOKS = (
    "simframe_channel_drawn",
    "simframe_channel_estimate",
    "simframe_phases_configured",
    "simframe_trial_metrics",
)
"""The hooks called in every trial; the core calls their implementations one at a time (so
they cannot be hook wrappers) and checks what each returns."""


# --- registration hooks ---------------------------------------------------------------------


@hookspec
def simframe_system_models() -> Iterable[type[SystemModel]]:
    """Return system model classes (subclasses of :class:`simframe.SystemModel`).

    A system model owns a scenario's ``[system]`` table: it declares the slots (channel,
    propagation, phases, power, ...) that scenarios fill with components, draws a random
    realisation per trial and evaluates one variant's algorithms on it.
    """


@hookspec
def simframe_channel_models() -> Iterable[type[Component]]:
    """Return channel model classes (``kind = ComponentKind.CHANNEL_MODEL``).

    A channel model draws the small-scale (and, for networks, large-scale) channel of a trial.
    The method it implements is defined by the system models it lists in ``systems``.
    """


@hookspec
def simframe_propagation_models() -> Iterable[type[Component]]:
    """Return propagation model classes (``kind = ComponentKind.PROPAGATION_MODEL``).

    A propagation model gives the complex transmission coefficients of one hop between two
    sets of radiating elements, e.g. Rayleigh-Sommerfeld diffraction between metasurface
    layers; see :class:`simframe_metasurface.propagation.PropagationModel` for the interface.
    """


@hookspec
def simframe_phase_optimisers() -> Iterable[type[Component]]:
    """Return phase optimiser classes (``kind = ComponentKind.PHASE_OPTIMISER``).

    A phase optimiser chooses the unit-modulus transmission coefficients of every meta-atom.
    Its interface is defined by the system model it targets (``systems``).
    """


@hookspec
def simframe_power_allocators() -> Iterable[type[Component]]:
    """Return power allocator classes (``kind = ComponentKind.POWER_ALLOCATOR``).

    A power allocator returns non-negative powers that respect the system's power budget.
    """


@hookspec
def simframe_pilot_schemes() -> Iterable[type[Component]]:
    """Return pilot scheme classes (``kind = ComponentKind.PILOT_SCHEME``).

    A pilot scheme assigns one of the orthogonal pilots to every user.
    """


@hookspec
def simframe_option_groups() -> Iterable[OptionGroup]:
    """Return :class:`simframe.OptionGroup` objects declaring settings for this plugin's hooks.

    A scenario enables a group with a ``[plugins.NAME]`` table; the core validates it against
    the group's parameters and hands the resolved values to every physical-layer hook as
    ``trial.options[NAME]``.
    """


# --- physical-layer hooks, called in every trial --------------------------------------------


@hookspec
def simframe_channel_drawn(trial: TrialContext, channel: Any) -> None:
    """Called after a trial's realisation is drawn, before any algorithm sees it.

    ``channel`` is the system model's realisation object: for ``sim_hmimo_link`` the complex
    ``M x N`` array ``H~``, for ``sim_cellfree_uplink`` a ``LargeScaleFading`` (see the plugin
    guide). A hook may modify its arrays in place; that changes the *true* channel, which every
    algorithm and metric then uses. To model what algorithms do not know (an estimation error),
    return an estimate from ``simframe_channel_estimate`` instead. It is called once per
    variant, always on an identical fresh draw. Draw any randomness from
    ``trial.rng_for(KEY)`` (the same for every variant of the trial). Afterwards the core makes
    the realisation read-only: every later hook and the system model see it as it is now.
    """


@hookspec(firstresult=True)
def simframe_channel_estimate(trial: TrialContext, channel: Any) -> Any | None:
    """Return what the variant's algorithms know of the channel, or ``None`` for the truth.

    Called once per trial and variant, after ``simframe_channel_drawn``. ``channel`` is the
    true realisation (do not modify it); return a new object of the same type and shape holding
    the estimate: ``channel + error`` for the HMIMO link's ``H~`` array, a
    ``dataclasses.replace(channel, gain=...)`` copy for the cell-free ``LargeScaleFading``.
    Phase optimisers, power allocators and pilot schemes then design on the estimate
    (``trial.known_channel``) while every metric is computed on the truth (``trial.channel``),
    which is how imperfect CSI lowers the rate. Draw the error from ``trial.rng_for(KEY)``,
    never from ``trial.rng``: then a zero error gives results identical, bit for bit, to a run
    without the hook. ``channel`` is read-only (modifying it raises); the estimate is checked
    against it (:meth:`simframe.SystemModel.check_estimate`: same type, shapes and kind of
    numbers, so never a real estimate of a complex channel), and a mismatch fails the trial
    naming this hook and its plugin. At most one implementation may return an estimate in a
    trial: two estimates are an error naming both plugins.
    """


@hookspec
def simframe_phases_configured(trial: TrialContext, phases: Mapping[str, np.ndarray]) -> None:
    """Called after the phase optimiser returns, before powers are allocated and metrics computed.

    ``phases`` maps each metasurface stack of the system (e.g. ``"tx"`` and ``"rx"``) to a
    complex array of unit-modulus transmission coefficients, one row per layer. Modify the
    arrays in place to model a hardware impairment, e.g. quantise each phase to ``b`` bits;
    every value must stay unit modulus. Implementations are called one after the other, each
    seeing the previous one's changes; after each, the core checks that every array kept its
    shape and unit modulus, and a violation fails the trial naming that hook and its plugin.
    Draw any randomness (phase noise, say) from ``trial.rng_for(KEY)``.
    """


@hookspec
def simframe_trial_metrics(
    trial: TrialContext, metrics: Mapping[str, Metric]
) -> Mapping[str, Metric] | None:
    """Return extra per-trial metrics to store in the dataset, or ``None``.

    ``metrics`` holds what the system model computed for this trial and variant (read only).
    ``trial.channel`` is the true realisation, ``trial.known_channel`` what the algorithms
    used, and ``trial.quantities`` the system's per-trial quantities (e.g. the HMIMO link's
    ``effective_channel`` and ``powers_w``, the cell-free uplink's per-UE ``se_bps_hz``; listed
    per system in the plugin guide), whether or not the scenario stores them; the channels
    are read-only. Names must not clash with the system's own metrics or with another
    plugin's. Draw any randomness from ``trial.rng_for(KEY)``.
    """
