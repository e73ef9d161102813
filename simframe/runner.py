"""The scheduler: expands a scenario into jobs, runs them, persists every finished sweep point
and assembles the final dataset.

A run writes one netCDF file per finished block of trials into ``OUT.nc.parts/`` (each written
aside and renamed) and, once a sweep point has all the trials it needs, one file for the point
in place of its blocks; so Ctrl-C, SIGTERM or ``kill -9`` loses only the blocks in flight.
Running the same scenario to the same output again continues where it stopped, after checking
every finished part as it reads it (a damaged one is set aside and recomputed alone). A changed
scenario, or changed code of a plugin that takes part (:mod:`simframe.provenance`), is refused
rather than mixed with old results. A lock keeps a second run off the same output, and a worker
process that dies has its jobs run again (:mod:`simframe.executors`).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

import simframe
from simframe.errors import RunError
from simframe.execution import Job, RunSpec, TrialError, run_job
from simframe.executors import StopSignals, WorkerDied, make_executor
from simframe.output import (
    REFUSED,
    OutputLock,
    block_files,
    block_path,
    check_output,
    discard_parts,
    first_block,
    part_path,
    parts_directory,
    read_manifest,
    set_aside,
    write_manifest,
)
from simframe.plugins import PluginSettings, Registry
from simframe.precision import METHOD, per_trial_values
from simframe.provenance import CodeIdentity, code_changes, code_identity
from simframe.results import (
    assemble_point,
    block_dataset,
    combine_points,
    open_result,
    write_atomically,
)
from simframe.scenario import Scenario
from simframe.scheduling import Blocks, Plan, PointProgress
from simframe.trial import PRECISION_VARIABLES

__all__ = ["RunOptions", "RunReport", "parts_directory", "run_scenario"]

CONTINUE = "run the same command again to continue"


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


def warn(message: str) -> None:
    """Print a warning on standard error at once, above the progress bar."""
    tqdm.write(f"warning: {message}", file=sys.stderr)


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


def _prepare_parts(scenario: Scenario, parts: Path, fresh: bool, code: CodeIdentity) -> list[int]:
    """Create or check the parts directory; return the points it says are finished."""
    if fresh:
        discard_parts(parts)
    recorded = read_manifest(parts)
    if recorded is None:
        write_manifest(
            parts, {"fingerprint": scenario.fingerprint, "source": scenario.source, "code": code}
        )
        return []
    if recorded.get("fingerprint") != scenario.fingerprint:
        raise RunError(
            f"{parts} holds finished points of a different scenario (from "
            f"{recorded.get('source')}); its results cannot be mixed with this one's. "
            "Run with --fresh to discard them, or write to another output with -o",
            exit_status=REFUSED,
        )
    if recorded.get("code") != code:
        changes = (
            code_changes(recorded["code"], code)
            if isinstance(recorded.get("code"), dict)
            else ["the code is not recorded (they were computed by an older simframe)"]
        )
        raise RunError(
            f"{parts} holds finished points computed by other code: {'; '.join(changes)}. "
            "Results of different code are never mixed: run with --fresh to discard them, "
            "or write to another output with -o",
            exit_status=REFUSED,
        )
    return [p for p in range(scenario.n_points) if part_path(parts, p).exists()]


def _read_checked(
    path: Path, output: Path, problem: Callable[[xr.Dataset], str | None]
) -> xr.Dataset | None:
    """The part file at ``path`` if it reads completely and ``problem`` finds nothing wrong;
    else None, with the file moved aside (``OUT.nc.corrupt/``) and a warning."""
    try:
        dataset = open_result(path)
        why = problem(dataset)
    except MemoryError:
        raise
    except Exception as exc:  # whatever the netCDF/HDF5 layers make of a damaged file
        why = f"{type(exc).__name__}: {exc}"
    if why is None:
        return dataset
    kept = set_aside(path, output)
    warn(f"{path} is damaged ({why}); it is moved to {kept} and its trials run again")
    return None


def _point_problem(scenario: Scenario, point: int, dataset: xr.Dataset) -> str | None:
    if dataset.attrs.get("simframe_point") != point:
        return f"it holds sweep point {dataset.attrs.get('simframe_point')}, not {point}"
    trials = dataset.sizes.get("trial", 0)
    expected = scenario.trials if scenario.precision is None else None
    if trials < 1 or trials > scenario.trials or (expected and trials != expected):
        return f"it holds {trials} trials, not {expected or f'1 to {scenario.trials}'}"
    return None


def _block_problem(scenario: Scenario, path: Path, dataset: xr.Dataset) -> str | None:
    point = int(path.stem.split("-")[1])
    if dataset.attrs.get("simframe_point") != point:
        return f"it holds sweep point {dataset.attrs.get('simframe_point')}, not {point}"
    trials = dataset.trial.values
    if not len(trials) or trials[0] // scenario.trial_block != first_block(path):
        return "its trials are not those of its block"
    if trials.max() >= scenario.trials:
        return f"it holds trial {trials.max()} of a scenario with {scenario.trials} trials"
    return None


def _global_attrs(
    scenario: Scenario, registry: Registry, code: CodeIdentity, command: str
) -> dict[str, str | int]:
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
        "paired_dims": " ".join(scenario.paired_dims),
        "plugin_versions": json.dumps(registry.versions, sort_keys=True),
        "plugin_code": json.dumps(code, sort_keys=True),
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


def _complete_result(output: Path, scenario: Scenario, code: CodeIdentity) -> RunReport | None:
    """The report of a run that has nothing to do, when ``output`` is its finished result."""
    if not output.exists():
        return None
    with xr.open_dataset(output, engine="netcdf4") as existing:
        attrs = dict(existing.attrs)
    if attrs.get("scenario_fingerprint") != scenario.fingerprint:
        raise RunError(
            f"{output} already holds the result of a different scenario; "
            "run with --fresh to replace it, or write to another output with -o",
            exit_status=REFUSED,
        )
    report = RunReport(output, scenario.n_points, scenario.n_points, 0, already_complete=True)
    recorded = json.loads(attrs.get("plugin_code", "null"))
    if recorded != code:
        changes = (
            code_changes(recorded, code)
            if isinstance(recorded, dict)
            else ["its code is not recorded (an older simframe wrote it)"]
        )
        report.notes.append(f"other code computed it: {'; '.join(changes)}")
    return report


def run_scenario(
    scenario: Scenario, registry: Registry, settings: PluginSettings, options: RunOptions
) -> RunReport:
    """Run every remaining sweep point of ``scenario`` and write the combined dataset.

    Raises :class:`RunError`: refused before anything ran (exit status 2), a trial failed or
    workers kept dying (1), or a signal stopped the run (128 + its number).
    """
    output = options.output
    parts = parts_directory(output)
    code = code_identity(registry, scenario)
    with OutputLock(output):
        check_output(output, parts)
        if not options.fresh and not parts.exists():
            complete = _complete_result(output, scenario, code)
            if complete is not None:
                return complete
        _check_memory(scenario, options.workers)
        report = RunReport(output, scenario.n_points, 0, 0)
        with StopSignals() as stop:
            try:
                _run(scenario, registry, settings, options, code, stop, report)
            except KeyboardInterrupt:
                signum = stop.received or signal.SIGINT
                reason = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}.get(
                    signum, "stopped"
                )
                message = f"{reason} ({signal.Signals(signum).name})"
                raise RunError(
                    _stopped(message, report, parts, CONTINUE), exit_status=128 + signum
                ) from None
            except TrialError as exc:
                advice = CONTINUE if not exc.repeatable else REPEATS
                raise RunError(_stopped(str(exc), report, parts, advice), exc.details) from None
            except WorkerDied as exc:
                message = (
                    f"worker processes died twice while running {_describe_jobs(exc.jobs)} "
                    f"({exc}): a crash in native code, or the out-of-memory killer (see dmesg)"
                )
                advice = "run the same command again to retry (fewer --workers if memory ran out)"
                raise RunError(_stopped(message, report, parts, advice)) from None
    return report


REPEATS = (
    "the same trial will fail again if the run is repeated (every trial is deterministic): fix "
    "the cause (a changed plugin or scenario starts over with --fresh), or add --keep-going to "
    "record failing trials in the dataset's 'error' variable and finish the rest"
)


def _run(
    scenario: Scenario,
    registry: Registry,
    settings: PluginSettings,
    options: RunOptions,
    code: CodeIdentity,
    stop: StopSignals,
    report: RunReport,
) -> None:
    output = options.output
    parts = parts_directory(output)
    finished: dict[int, xr.Dataset] = {}
    for point in _prepare_parts(scenario, parts, options.fresh, code):
        dataset = _read_checked(
            part_path(parts, point), output, functools.partial(_point_problem, scenario, point)
        )
        if dataset is not None:
            finished[point] = dataset
    report.points_resumed = len(finished)
    remaining = [p for p in range(scenario.n_points) if p not in finished]
    if remaining:
        _run_points(scenario, settings, options, parts, remaining, report, stop)
    for point in remaining:
        finished[point] = open_result(part_path(parts, point))
    dataset = combine_points(scenario, dict(sorted(finished.items())))
    dataset.attrs.update(_global_attrs(scenario, registry, code, options.command))
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
    discard_parts(parts)


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

    def __init__(self, scenario: Scenario, output: Path, report: RunReport, progress: tqdm) -> None:
        self.scenario = scenario
        self.output = output
        self.parts = parts_directory(output)
        self.report = report
        self.progress = progress
        self.files = block_files(self.parts)  # every point's block files, kept up to date

    def job_finished(self, point: PointProgress, indices: list[int], blocks: xr.Dataset) -> None:
        """Keep a job's finished blocks on disk (one file) and let their point take them."""
        path = block_path(self.parts, point.point, indices[0])
        write_atomically(blocks, path)
        self.files.setdefault(point.point, []).append(path)
        self._take(point, indices, blocks)

    def resume_blocks(self, point: PointProgress) -> None:
        """Take the blocks an interrupted run finished, as if they had just come back; a
        damaged block file is set aside, and its blocks run again."""
        for path in list(self.files.get(point.point, [])):
            blocks = _read_checked(
                path, self.output, functools.partial(_block_problem, self.scenario, path)
            )
            if blocks is None:
                self.files[point.point].remove(path)
                continue
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
        kept = [open_result(path) for path in files if first_block(path) < point.stop]
        dataset = assemble_point(self.scenario, point.point, kept, trials_run)
        if self.scenario.precision is not None:
            dataset = dataset.assign(_precision_variables(self.scenario, point, dataset))
        write_atomically(dataset, part_path(self.parts, point.point))
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
    stop: StopSignals,
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
        seed_points=scenario.seed_points,
    )
    target = scenario.precision
    blocks = Blocks(scenario.trials, scenario.trial_block)
    wanted = scenario.trials if target is None else target.min_trials
    points = {p: PointProgress(p, blocks, target, wanted) for p in remaining}
    progress = tqdm(
        total=len(remaining) * scenario.trials,
        unit="trial",
        desc=Path(scenario.source).stem,
        disable=not options.progress,
    )
    sweep = _SweepRun(scenario, options.output, report, progress)
    executor = None
    completed = False
    try:
        for point in points.values():
            sweep.resume_blocks(point)
        executor = make_executor(
            options.executor, options.workers, stop, _worker_died, options.address
        )
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
    finally:
        progress.close()
        if executor is not None:
            executor.close(abort=not completed)


def _describe_jobs(jobs: list[Job]) -> str:
    """``sweep point 0, trials 4-7 and point 2, trials 0-3`` (at most three named)."""
    named = [
        f"point {job.point}, trials {job.trials[0]}-{job.trials[-1]}"
        if len(job.trials) > 1
        else f"point {job.point}, trial {job.trials[0]}"
        for job in sorted(jobs, key=lambda job: (job.point, job.trials))[:3]
    ]
    more = f" and {len(jobs) - 3} more jobs" if len(jobs) > 3 else ""
    return "sweep " + " and ".join(named) + more


def _worker_died(cause: str, jobs: list[Job]) -> None:
    warn(f"a worker process died ({cause}) while running {_describe_jobs(jobs)}; they run again")


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
        flat = metric.reshape(len(trials_run), len(scenario.variants), dataset.sizes["trial"], -1)
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


def _stopped(reason: str, report: RunReport, parts: Path, advice: str) -> str:
    kept = report.points_resumed + report.points_run
    return (
        f"{reason}\n{kept} of {report.points_total} sweep points are finished and kept in "
        f"{parts} (with the finished blocks of trials of the others); {advice}"
    )
