"""The scenario's own settings: its general keys, the ``[run]`` table and the ``[precision]``
table (the components' parameters are resolved in :mod:`simframe.scenario.composition`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simframe.components import Parameter, SystemModel, resolve_parameters
from simframe.precision import PrecisionTarget
from simframe.scenario.problems import Problems, describe

GENERAL_KEYS = ("title", "description", "trials", "seed", "store")
MAX_TRIAL_BLOCK = 100_000
MAX_TRIALS_TOTAL = 10_000_000


@dataclass(frozen=True)
class GeneralSettings:
    """The scenario's top-level keys; ``None`` where a value is missing or invalid (reported)."""

    title: str
    description: str
    trials: int | None
    seed: int | None
    store: list[str]


def _positive(value: float) -> str | None:
    return None if value > 0 else f"expected a number > 0, got {value!r}"


def _open_unit(value: float) -> str | None:
    return (
        None if 0 < value < 1 else f"expected a number between 0 and 1 (exclusive), got {value!r}"
    )


def general_settings(raw: dict[str, Any], problems: Problems) -> GeneralSettings:
    """Validate ``title``, ``description``, ``trials``, ``seed`` and ``store``."""
    specs = {
        "title": Parameter("title", str, help="title"),
        "description": Parameter("description", str, ""),
        "trials": Parameter("trials", int, minimum=1, maximum=MAX_TRIALS_TOTAL),
        "seed": Parameter("seed", int, minimum=0, maximum=2**128 - 1),
    }
    values: dict[str, Any] = {}
    precision = raw.get("precision")
    if isinstance(precision, dict) and "max_trials" in precision:
        specs["trials"] = Parameter("trials", int, None, minimum=1, maximum=MAX_TRIALS_TOTAL)
    for key, spec in specs.items():
        if key not in raw:
            if spec.required:
                problems.add(key, f"missing; expected {spec.expected()}")
            values[key] = spec.default if not spec.required else None
            continue
        try:
            values[key] = spec.validate(raw[key])
        except ValueError as exc:
            problems.add(key, str(exc))
            values[key] = None
    store = raw.get("store", [])
    if not (isinstance(store, list) and all(isinstance(s, str) for s in store)):
        problems.add("store", f"expected a list of strings, got {describe(store)}")
        store = []
    return GeneralSettings(
        values["title"], values["description"], values["trials"], values["seed"], store
    )


def _settings_table(
    raw: dict[str, Any],
    table: str,
    parameters: tuple[Parameter, ...],
    owner: str,
    problems: Problems,
) -> dict[str, Any] | None:
    """Validate the top-level table ``table`` against ``parameters``; None on problems."""
    given = problems.table(raw.get(table, {}), table)
    resolved, found = resolve_parameters(parameters, given, owner)
    for key, message in found:
        problems.add(f"{table}.{key}", message)
    return None if found else resolved


@dataclass(frozen=True)
class RunSettings:
    """The ``[run]`` table."""

    trial_block: int
    paired: bool


def run_settings(
    raw: dict[str, Any], system_cls: type[SystemModel], problems: Problems
) -> RunSettings:
    """``[run] trial_block`` (defaulting to the system model's ``trial_block``) and
    ``[run] paired``."""
    default = system_cls.trial_block
    if not (isinstance(default, int) and 1 <= default <= MAX_TRIAL_BLOCK):
        problems.add(
            "system.model",
            f"system model {system_cls.name!r} declares trial_block = {default!r}; "
            f"expected an integer from 1 to {MAX_TRIAL_BLOCK} (a plugin bug)",
        )
        default = 1
    parameters = (
        Parameter(
            "trial_block",
            int,
            default,
            help="trials of one sweep point simulated together",
            minimum=1,
            maximum=MAX_TRIAL_BLOCK,
        ),
        Parameter(
            "paired",
            bool,
            True,
            help="sweep points that agree on what the system draws share their draws",
        ),
    )
    resolved = _settings_table(raw, "run", parameters, "the [run] table", problems)
    if resolved is None:
        return RunSettings(default, True)
    return RunSettings(resolved["trial_block"], resolved["paired"])


def precision_target(
    raw: dict[str, Any], trials: int | None, trials_given: bool, problems: Problems
) -> tuple[PrecisionTarget | None, int | None]:
    """The ``[precision]`` target and the trials a point may run at most; ``trials_given``
    says that ``trials`` came from the command line (``--trials`` or ``--set trials=``)."""
    if "precision" not in raw:
        return None, trials
    parameters = (
        Parameter("metric", str, help="metric whose mean must be precise"),
        Parameter("half_width", float, None, help="absolute target", check=_positive),
        Parameter("relative", float, None, help="target relative to |mean|", check=_positive),
        Parameter("level", float, 0.95, help="confidence level", check=_open_unit),
        Parameter("min_trials", int, 10, help="trials before any stop", minimum=2),
        Parameter(
            "max_trials",
            int,
            trials,
            help="most trials per point",
            minimum=2,
            maximum=MAX_TRIALS_TOTAL,
        ),
    )
    resolved = _settings_table(raw, "precision", parameters, "the [precision] table", problems)
    if resolved is None:
        return None, trials
    given = raw["precision"]
    if ("half_width" in given) == ("relative" in given):
        problems.add(
            "precision",
            "expected exactly one of 'half_width' (in the metric's units) or 'relative' "
            "(a fraction of the mean's magnitude)",
        )
        return None, trials
    maximum = resolved["max_trials"]
    if maximum is None:  # 'trials' is missing or invalid, already reported
        return None, trials
    if trials is not None and "trials" in raw and maximum != trials:
        if trials_given:
            problems.add(
                "precision.max_trials",
                f"{maximum} differs from --trials {trials} (or --set trials={trials}) on the "
                "command line; with [precision], both give the most trials a point may run: "
                f"use --set precision.max_trials={trials} instead",
            )
        else:
            problems.add(
                "precision.max_trials",
                f"{maximum} differs from trials = {trials}; with [precision], 'trials' is the "
                "most trials a point may run: give one of the two",
            )
        return None, trials
    if resolved["min_trials"] > maximum:
        problems.add(
            "precision.min_trials",
            f"{resolved['min_trials']} exceeds the most trials a point may run ({maximum})",
        )
        return None, trials
    return PrecisionTarget(**resolved), maximum
