"""The scheduler: expands a scenario into jobs, runs them, persists every finished sweep point
and assembles the final dataset.

A run writes one netCDF file per finished block of trials into ``OUT.nc.parts/`` (each written
aside and renamed) and, once a sweep point has all the trials it needs, one file for the point
in place of its blocks; so Ctrl-C or ``kill -9`` loses only the blocks in flight. Running the same
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

import simframe
from simframe.errors import RunError
from simframe.execution import Job, RunSpec, TrialError, run_job
from simframe.executors import make_executor
from simframe.plugins import PluginSettings, Registry
from simframe.precision import METHOD, per_trial_values
from simframe.results import (
    assemble_point,
    block_dataset,
    combine_points,
    open_result,
    write_atomically,
)
from simframe.scenario import Scenario
from simframe.scheduling import Plan, PointProgress
from simframe.trial import PRECISION_VARIABLES

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
    points_converged: int = 0
    """Points that reached the ``[precision]`` target (the others ran ``max_trials``)."""
    trials_discarded: int = 0
    """Trials of speculative blocks that finished beyond their point's stop (not stored)."""
    notes: list[str] = field(default_factory=list)


def parts_directory(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def _part_path(parts: Path, point: int) -> Path:
    return parts / f"point-{point:06d}.nc"


def _block_path(parts: Path, point: int, block: int) -> Path:
    """Where the job whose first block is ``block`` keeps its blocks."""
    return parts / f"block-{point:06d}-{block:06d}.nc"


def _block_files(parts: Path) -> dict[int, list[Path]]:
    """The files of finished blocks in ``parts`` by point (each holds a job's consecutive
    blocks), listed once per run."""
    files: dict[int, list[Path]] = {}
    for path in sorted(parts.glob("block-*-*.nc")):
        files.setdefault(int(path.stem.split("-")[1]), []).append(path)
    return files


def _first_block(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[1])


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
        if not set(dataset.data_vars) - {"error", *PRECISION_VARIABLES}:
            report.notes.append(
                "every trial failed: no trial returned a metric, so the dataset holds only the "
                "'error' texts (no metric names, units or dims to make NaN variables from)"
            )
    if scenario.precision is not None:
        report.notes.append(_precision_summary(scenario, dataset))
    write_atomically(dataset, output)
    shutil.rmtree(parts)
    return report


def _precision_values(scenario: Scenario, block: xr.Dataset) -> np.ndarray | None:
    """The ``[precision]`` metric of a finished block per variant and trial (NaN: failed).

    Validation made sure that every variant declares the metric as a real quantity; it is
    absent from a block only where every trial of the block failed.
    """
    target = scenario.precision
    if target is None:
        return None
    if target.metric not in block:
        return np.full((len(scenario.variants), block.sizes["trial"]), np.nan)
    return per_trial_values(block[target.metric].values)


class _SweepRun:
    """One run's persistence: finished blocks, then finished points, in ``OUT.nc.parts/``."""

    def __init__(self, scenario: Scenario, parts: Path, report: RunReport, progress: tqdm):
        self.scenario = scenario
        self.parts = parts
        self.report = report
        self.progress = progress
        self.files = _block_files(parts)  # every point's block files, kept up to date

    def job_finished(self, point: PointProgress, indices: list[int], blocks: xr.Dataset) -> None:
        """Keep a job's finished blocks on disk (one file) and let their point take them."""
        path = _block_path(self.parts, point.point, indices[0])
        write_atomically(blocks, path)
        self.files.setdefault(point.point, []).append(path)
        self._take(point, indices, blocks)

    def resume_blocks(self, point: PointProgress) -> None:
        """Take the blocks an interrupted run finished, as if they had just come back."""
        for path in list(self.files.get(point.point, [])):
            blocks = open_result(path)
            indices = sorted({int(t) // self.scenario.trial_block for t in blocks.trial.values})
            point.submitted.update(indices)
            self._take(point, indices, blocks)

    def _take(self, point: PointProgress, indices: list[int], blocks: xr.Dataset) -> None:
        """Hand the point each of ``indices``, the blocks in the dataset ``blocks``."""
        if point.decided:
            return
        values = _precision_values(self.scenario, blocks)
        of_block = blocks.trial.values // self.scenario.trial_block
        before = point.trials_taken
        for index in indices:
            point.accept(index, None if values is None else values[:, of_block == index])
        self.progress.update(point.trials_taken - before)
        if point.decided:
            self._finish_point(point)

    def _finish_point(self, point: PointProgress) -> None:
        """Assemble the point from its kept blocks, write it, drop the block files."""
        assert point.stop is not None
        trials_run = point.trials_taken
        files = sorted(self.files.pop(point.point, []))
        kept = [open_result(path) for path in files if _first_block(path) < point.stop]
        dataset = assemble_point(self.scenario, point.point, kept, trials_run)
        if self.scenario.precision is not None:
            dataset = dataset.assign(_precision_variables(self.scenario, point, dataset))
        write_atomically(dataset, _part_path(self.parts, point.point))
        for path in files:
            path.unlink()
        self.report.trials_discarded += sum(len(point.blocks[k]) for k in point.finished)
        self.progress.total -= self.scenario.trials - trials_run
        self.report.points_run += 1
        self.report.points_converged += point.converged


def _precision_variables(
    scenario: Scenario, point: PointProgress, dataset: xr.Dataset
) -> dict[str, xr.Variable]:
    """``trials_run`` and ``half_width_reached`` of a point a ``[precision]`` target stopped."""
    target = scenario.precision
    assert target is not None and point.half_widths is not None  # set at every stop
    metric = dataset[target.metric].attrs if target.metric in dataset else {}
    return {
        "trials_run": xr.Variable(
            (),
            point.trials_taken,
            {"units": "1", "long_name": "Monte Carlo trials run at the sweep point ([precision])"},
        ),
        "half_width_reached": xr.Variable(
            ("variant",),
            point.half_widths,
            {
                "units": metric.get("units", "1"),
                "long_name": f"half-width of the {target.level:g} confidence interval of the "
                f"mean {metric.get('long_name', target.metric)} over trials",
                "simframe_precision_target": target.describe(),
                "simframe_precision_method": METHOD,
            },
        ),
    }


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
    target = scenario.precision
    blocks = scenario.blocks()
    wanted = scenario.trials if target is None else target.min_trials
    points = {p: PointProgress(p, blocks, target, wanted) for p in remaining}
    progress = tqdm(
        total=len(remaining) * scenario.trials,
        unit="trial",
        desc=Path(scenario.source).stem,
        disable=not options.progress,
    )
    sweep = _SweepRun(scenario, parts, report, progress)
    executor = None
    completed = False
    try:
        for point in points.values():
            sweep.resume_blocks(point)
        executor = make_executor(options.executor, options.workers, options.address)
        # Blocks decided one by one travel alone; fixed counts go in a few jobs per worker.
        group = 1 if target else max(1, math.ceil(len(blocks) / (4 * executor.workers)))
        plan = Plan(points, executor.workers, group)
        run = functools.partial(run_job, spec)
        while True:
            while (chosen := plan.next_job()) is not None:
                point_index, indices = chosen
                job_blocks = tuple(tuple(blocks[index]) for index in indices)
                executor.submit(run, Job(point_index, job_blocks))
            if plan.in_flight == 0:
                break
            job, outcomes = executor.next_result()
            plan.returned(job.point)
            point = points[job.point]
            first = job.trials[0] // scenario.trial_block
            if point.is_discarded(first):  # a speculative block (precision runs: one per job)
                report.trials_discarded += len(job.trials)
            else:
                finished = block_dataset(scenario, job.point, job.trials, outcomes)
                indices = list(range(first, first + len(job.blocks)))
                sweep.job_finished(point, indices, finished)
            if target is not None:
                progress.set_postfix_str(_precision_status(report, plan), refresh=False)
        completed = True
    except TrialError as exc:
        raise RunError(_stopped(str(exc), report, parts), exc.details) from None
    except KeyboardInterrupt:
        raise RunError(_stopped("interrupted", report, parts)) from None
    finally:
        progress.close()
        if executor is not None:
            executor.close(abort=not completed)


def _precision_summary(scenario: Scenario, dataset: xr.Dataset) -> str:
    """One line on what the ``[precision]`` target cost: trials per point, points short of it."""
    target = scenario.precision
    assert target is not None
    trials_run = dataset.trials_run.values.ravel()
    half = dataset.half_width_reached.values.reshape(len(trials_run), -1)
    reached = 0
    if target.metric in dataset:
        sweep = [axis.dim for axis in scenario.axes]
        metric = dataset[target.metric].transpose(*sweep, "variant", "trial", ...).values
        flat = metric.reshape(len(trials_run), len(scenario.variants), scenario.trials, -1)
        for values, half_widths in zip(flat, half, strict=True):
            means = np.nanmean(per_trial_values(values), axis=1)
            reached += target.met(means, half_widths)
    return (
        f"precision ({target.describe()}): {reached} of {len(trials_run)} sweep points reached "
        f"it; trials run per point {trials_run.min()} to {trials_run.max()} "
        f"({trials_run.sum()} of at most {len(trials_run) * scenario.trials})"
    )


def _precision_status(report: RunReport, plan: Plan) -> str:
    at_most = report.points_run - report.points_converged
    return (
        f"points: {report.points_converged} converged, {at_most} at max_trials, "
        f"{plan.undecided} running"
    )


def _stopped(reason: str, report: RunReport, parts: Path) -> str:
    kept = report.points_resumed + report.points_run
    return (
        f"{reason}\n{kept} of {report.points_total} sweep points are finished and kept in "
        f"{parts} (with the finished blocks of trials of the others); run the same command "
        "again to continue"
    )
