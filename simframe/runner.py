"""The scheduler: expands a scenario into jobs, runs them, persists every finished sweep point
and assembles the final dataset.

A run writes one netCDF file per finished sweep point into ``OUT.nc.parts/`` (each written
aside and renamed), so Ctrl-C or ``kill -9`` loses only the points in flight. Running the same
scenario to the same output again continues where it stopped; a changed scenario is refused
rather than mixed with old results.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import xarray as xr
from tqdm import tqdm

import simframe
from simframe.errors import RunError
from simframe.execution import Job, Outcome, RunSpec, TrialError, run_job
from simframe.executors import make_executor
from simframe.plugins import PluginSettings, Registry
from simframe.results import combine_points, open_result, point_dataset, write_atomically
from simframe.scenario import Scenario

MANIFEST = "manifest.json"


@dataclass
class RunOptions:
    output: Path
    workers: int = 1
    executor: str = "local"
    address: str | None = None
    record_errors: bool = False
    fresh: bool = False
    progress: bool = True
    command: str = ""


@dataclass
class RunReport:
    output: Path
    points_total: int
    points_resumed: int
    points_run: int
    already_complete: bool = False
    failed_trials: int = 0
    notes: list[str] = field(default_factory=list)


def parts_directory(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def _part_path(parts: Path, point: int) -> Path:
    return parts / f"point-{point:06d}.nc"


def _chunks(trials: int, workers: int) -> list[tuple[int, ...]]:
    """Split a point's trials so that every worker gets several jobs per point."""
    size = max(1, math.ceil(trials / (4 * workers)))
    return [tuple(range(i, min(i + size, trials))) for i in range(0, trials, size)]


def _check_memory(scenario: Scenario, workers: int) -> None:
    per_trial = scenario.trial_memory_bytes
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return
    if per_trial * workers > available:
        raise RunError(
            f"{scenario.source}: one trial needs about {per_trial / 2**30:.1f} GiB and "
            f"{workers} workers would need {per_trial * workers / 2**30:.1f} GiB, but only "
            f"{available / 2**30:.1f} GiB are available; reduce the sizes or --workers"
        )


def _prepare_parts(scenario: Scenario, parts: Path, fresh: bool) -> set[int]:
    """Create or validate the parts directory; return the points already finished."""
    fingerprint = scenario.fingerprint
    manifest = parts / MANIFEST
    if fresh and parts.exists():
        shutil.rmtree(parts)
    if manifest.exists():
        recorded = json.loads(manifest.read_text())
        if recorded.get("fingerprint") != fingerprint:
            raise RunError(
                f"{parts} holds finished points of a different scenario (from "
                f"{recorded.get('source')}); its results cannot be mixed with this one's. "
                "Run with --fresh to discard them, or write to another output with -o"
            )
        return {point for point in range(scenario.n_points) if _part_path(parts, point).exists()}
    parts.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"fingerprint": fingerprint, "source": scenario.source}))
    return set()


def _global_attrs(scenario: Scenario, registry: Registry, command: str) -> dict[str, str | int]:
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return {
        "Conventions": "CF-1.10",
        "title": scenario.title,
        "description": scenario.description,
        "source": f"simframe {simframe.__version__}",
        "history": f"{now}: {command or 'simframe run ' + scenario.source}",
        "references": scenario.system_cls.references,
        "system_model": scenario.system_cls.name,
        "scenario_file": scenario.source,
        "scenario": scenario.text,
        "scenario_overrides": " ".join(scenario.overrides),
        "scenario_fingerprint": scenario.fingerprint,
        "seed_entropy": str(scenario.seed),
        "plugin_versions": json.dumps(registry.versions, sort_keys=True),
        "warnings": "\n".join(scenario.warnings),
    }


def _runtime_per_variant(dataset: xr.Dataset) -> str:
    if "runtime_s" not in dataset:
        return ""
    other = [d for d in dataset.runtime_s.dims if d != "variant"]
    totals = dataset.runtime_s.sum(dim=other)
    return json.dumps(
        {
            str(v): round(float(t), 3)
            for v, t in zip(dataset.variant.values, totals.values, strict=True)
        }
    )


def _finished_result(output: Path, fingerprint: str) -> bool:
    if not output.exists():
        return False
    with xr.open_dataset(output, engine="netcdf4", auto_complex=True) as existing:
        recorded = existing.attrs.get("scenario_fingerprint")
    if recorded == fingerprint:
        return True
    raise RunError(
        f"{output} already holds the result of a different scenario; "
        "run with --fresh to replace it, or write to another output with -o"
    )


def run_scenario(
    scenario: Scenario, registry: Registry, settings: PluginSettings, options: RunOptions
) -> RunReport:
    """Run every remaining sweep point of ``scenario`` and write the combined dataset."""
    output = options.output
    parts = parts_directory(output)
    if not options.fresh and not parts.exists() and _finished_result(output, scenario.fingerprint):
        return RunReport(output, scenario.n_points, scenario.n_points, 0, already_complete=True)
    _check_memory(scenario, options.workers)
    done = _prepare_parts(scenario, parts, options.fresh)
    remaining = [p for p in range(scenario.n_points) if p not in done]
    report = RunReport(output, scenario.n_points, len(done), 0)
    if remaining:
        _run_points(scenario, settings, options, parts, remaining, report)
    finished = {p: open_result(_part_path(parts, p)) for p in range(scenario.n_points)}
    dataset = combine_points(scenario, finished)
    dataset.attrs.update(_global_attrs(scenario, registry, options.command))
    dataset.attrs["variant_runtime_s"] = _runtime_per_variant(dataset)
    if "error" in dataset:
        report.failed_trials = int((dataset.error != "").sum())
    write_atomically(dataset, output)
    shutil.rmtree(parts)
    return report


def _run_points(
    scenario: Scenario,
    settings: PluginSettings,
    options: RunOptions,
    parts: Path,
    remaining: list[int],
    report: RunReport,
) -> None:
    spec = RunSpec(
        token=scenario.fingerprint,
        settings=settings,
        entropy=scenario.seed,
        store=scenario.store,
        variants=tuple(scenario.variants),
        configurations=scenario.configurations,
        coordinates={p: scenario.point_coordinates(p) for p in range(scenario.n_points)},
        record_errors=options.record_errors,
    )
    executor = make_executor(options.executor, options.workers, options.address)
    chunks = _chunks(scenario.trials, executor.workers)
    jobs = [Job(point, chunk) for point in remaining for chunk in chunks]
    pending: dict[int, list[Outcome]] = defaultdict(list)
    trials_left = {point: scenario.trials for point in remaining}
    progress = tqdm(
        total=len(remaining) * scenario.trials,
        unit="trial",
        desc=Path(scenario.source).stem,
        disable=not options.progress,
    )
    completed = False
    try:
        for job, outcomes in executor.map_unordered(functools.partial(run_job, spec), jobs):
            pending[job.point].extend(outcomes)
            trials_left[job.point] -= len(job.trials)
            progress.update(len(job.trials))
            if trials_left[job.point] == 0:
                dataset = point_dataset(scenario, job.point, pending.pop(job.point))
                write_atomically(dataset, _part_path(parts, job.point))
                report.points_run += 1
        completed = True
    except TrialError as exc:
        raise RunError(_stopped(str(exc), report, parts)) from None
    except KeyboardInterrupt:
        raise RunError(_stopped("interrupted", report, parts)) from None
    finally:
        progress.close()
        executor.close(abort=not completed)


def _stopped(reason: str, report: RunReport, parts: Path) -> str:
    kept = report.points_resumed + report.points_run
    return (
        f"{reason}\n{kept} of {report.points_total} sweep points are finished and kept in "
        f"{parts}; run the same command again to continue"
    )
