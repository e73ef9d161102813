"""Loading a scenario: read, validate every part, expand into sweep points x variants.

Validation collects every problem before raising, each naming the key path in the file; a
scenario either loads completely or raises one :class:`~simframe.errors.ScenarioError` listing
them all.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from simframe.components import SystemModel, suggest
from simframe.errors import ScenarioError
from simframe.plugins import Registry
from simframe.scenario.composition import (
    Tables,
    base_tables,
    build_checked,
    resolve_configuration,
    system_class,
    variant_tables,
)
from simframe.scenario.metrics import DeclaredMetrics
from simframe.scenario.model import Configuration, Scenario, SweepAxis
from simframe.scenario.problems import Problems
from simframe.scenario.reading import apply_overrides, parse_override, read_scenario_file
from simframe.scenario.settings import (
    GENERAL_KEYS,
    MAX_TRIALS_TOTAL,
    general_settings,
    precision_target,
    run_settings,
)
from simframe.scenario.sweeps import (
    MAX_POINTS,
    clashes_with_metrics,
    located_warning,
    sweep_axes,
    with_units,
)

STRUCTURE_KEYS = ("system", "sweep", "variants", "plugins", "run", "precision")


def load_scenario(
    path: str | Path,
    registry: Registry,
    overrides: tuple[str, ...] = (),
) -> Scenario:
    """Read, validate and expand a scenario file; raise :class:`ScenarioError` listing all problems.

    ``overrides`` are ``KEY=VALUE`` strings as given to ``--set`` (e.g. ``trials=5``).
    """
    source = str(path)
    text, raw = read_scenario_file(path)
    problems = Problems()
    apply_overrides(raw, overrides, problems)
    with threadpool_limits(1):  # many small systems are built: threads only add overhead
        return _expand(source, text, tuple(overrides), raw, registry, problems)


def _expand(
    source: str,
    text: str,
    overrides: tuple[str, ...],
    raw: dict[str, Any],
    registry: Registry,
    problems: Problems,
) -> Scenario:
    known = [*GENERAL_KEYS, *STRUCTURE_KEYS]
    system_cls = system_class(raw, registry, problems)
    slots = list(system_cls.slots) if system_cls else []
    for key in raw:
        if key not in known and key not in slots:
            problems.add(key, "unknown top-level key" + suggest(key, known + slots))
    general = general_settings(raw, problems)
    trials_given = "trials" in {parse_override(o)[0] for o in overrides}
    precision, trials = precision_target(raw, general.trials, trials_given, problems)
    if system_cls is None:
        raise ScenarioError(source, problems.items)
    run = run_settings(raw, system_cls, problems)
    for name in general.store:
        if name not in system_cls.optional_outputs:
            problems.add(
                "store",
                f"{name!r} is not an optional output of {system_cls.name!r}"
                f"{suggest(name, list(system_cls.optional_outputs))}",
            )
    before_structure = problems.reported
    base = base_tables(raw, system_cls, problems)
    variants = variant_tables(raw, system_cls, base, problems)
    axes = sweep_axes(raw, system_cls, problems)
    if problems.reported > before_structure:
        # Without a sound sweep and variant structure the points cannot be expanded.
        raise ScenarioError(source, problems.items)
    _refuse_too_large(source, axes, len(variants), trials)
    # unknown outputs are reported above; a system declares metrics only for its own
    metrics = DeclaredMetrics(
        frozenset(general.store) & frozenset(system_cls.optional_outputs), problems
    )
    configurations, warnings, trial_memory_bytes = _configurations(
        system_cls, variants, axes, registry, metrics
    )
    metrics.check_precision(precision)
    clashes_with_metrics(axes, metrics.specs, problems)
    if problems:
        raise ScenarioError(source, problems.items)
    axes = [with_units(axis, system_cls, configurations, registry) for axis in axes]
    return Scenario(
        source=source,
        text=text,
        overrides=overrides,
        title=general.title,
        description=general.description,
        trials=trials,
        seed=general.seed,
        store=frozenset(general.store),
        axes=axes,
        variants=list(variants),
        configurations=configurations,
        system_cls=system_cls,
        warnings=[located_warning(text, points, axes) for text, points in warnings.items()],
        trial_memory_bytes=trial_memory_bytes,
        trial_block=run.trial_block,
        paired=run.paired,
        precision=precision,
        metrics=metrics.specs,
    )


def _refuse_too_large(
    source: str, axes: list[SweepAxis], n_variants: int, trials: int | None
) -> None:
    n_points = math.prod(len(a) for a in axes)
    total = n_points * n_variants * (trials or 1)
    if n_points > MAX_POINTS or total > MAX_TRIALS_TOTAL:
        raise ScenarioError(
            source,
            [
                f"key 'sweep': the sweep has {n_points:,} points x {n_variants} variants x "
                f"{trials or 1:,} trials = {total:,} trials; simframe accepts at most "
                f"{MAX_TRIALS_TOTAL:,} trials and {MAX_POINTS:,} points in one run: "
                "split the sweep"
            ],
        )


def _configurations(
    system_cls: type[SystemModel],
    variants: dict[str, Tables],
    axes: list[SweepAxis],
    registry: Registry,
    metrics: DeclaredMetrics,
) -> tuple[dict[tuple[int, str], Configuration], dict[str, set[tuple[int, ...]]], int]:
    """Resolve and build every (sweep point, variant), gathering what each declares it returns.

    Returns the configurations, each distinct warning text with the sweep points where it
    arose, and the largest memory one trial needs. A problem found building the systems is
    reported once per key, with the sweep points where it arose. A progress bar shows on a
    terminal when this takes more than a second.
    """
    problems = metrics.problems
    configurations: dict[tuple[int, str], Configuration] = {}
    warnings: dict[str, set[tuple[int, ...]]] = {}
    trial_memory_bytes = 0
    shape = tuple(len(a) for a in axes)
    progress = tqdm(
        total=math.prod(shape) * len(variants),
        desc="validating",
        unit="configuration",
        delay=1.0,
        disable=None,  # only on a terminal
        leave=False,
    )
    with progress:
        for point, index in enumerate(itertools.product(*(range(n) for n in shape))):
            label = ", ".join(f"{a.dim}={a.values[0][i]}" for a, i in zip(axes, index, strict=True))
            for name, tables in variants.items():
                progress.update()
                composed = {k: dict(v) for k, v in tables.items()}
                for axis, i in zip(axes, index, strict=True):
                    for path, values in zip(axis.paths, axis.values, strict=True):
                        table, param = path.rsplit(".", 1)
                        where = f"{axis.source}.{path}[{i}]"
                        composed.setdefault(table, {})[param] = (values[i], where)
                config = resolve_configuration(system_cls, composed, registry, problems)
                if config is None:
                    continue
                configurations[(point, name)] = config
                found = Problems()
                system = build_checked(config, composed, "", registry, found)
                problems.absorb(found, label)
                if system is None:
                    continue
                metrics.add(system, name, label)
                for warning in [*system.warnings(), *system.plausibility_warnings()]:
                    warnings.setdefault(warning, set()).add(index)
                trial_memory_bytes = max(trial_memory_bytes, system.estimate_memory_bytes())
    return configurations, warnings, trial_memory_bytes
