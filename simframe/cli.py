"""The ``simframe`` command line: run, validate, plugins (and plot, when matplotlib is present).

Heavy modules (xarray, scipy, matplotlib, dask and the plugins) are imported by the commands
that need them, so that ``simframe --help`` answers at once.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from simframe.errors import ScenarioError, SimframeError
from simframe.wording import counted, size

if TYPE_CHECKING:
    from simframe.components import ComponentInfo, Parameter
    from simframe.plugins import PluginSettings, Registry
    from simframe.scenario import Scenario


def _plugin_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--plugin",
        "plugins",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="Load a local plugin module from this file (repeatable).",
    )(fn)


def _set_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a scenario value, e.g. --set system.tx_layers=3 (repeatable).",
    )(fn)


TRACEBACK_ENV = "SIMFRAME_TRACEBACK"
"""Set to 1 to print the full traceback behind a failed run, like ``--traceback``."""


def _fail(error: SimframeError, traceback: bool = False) -> NoReturn:
    """Print ``error`` (after the original traceback when asked) and exit: 2 for a scenario
    or a run refused before it started, 128 + N for a run stopped by signal N, else 1."""
    details = getattr(error, "details", "")
    if details and (traceback or os.environ.get(TRACEBACK_ENV, "") not in ("", "0")):
        click.echo(f"traceback of the original exception:\n{details.rstrip()}", err=True)
    click.echo(f"error: {error}", err=True)
    sys.exit(2 if isinstance(error, ScenarioError) else getattr(error, "exit_status", 1))


def _load(
    path: str, plugins: tuple[str, ...], overrides: tuple[str, ...]
) -> tuple[Scenario, Registry, PluginSettings]:
    """Load the plugins and the scenario, print its warnings; exit with the error on failure."""
    from simframe.plugins import PluginSettings, get_registry
    from simframe.scenario import load_scenario

    settings = PluginSettings(local_plugins=tuple(str(Path(p).resolve()) for p in plugins))
    try:
        registry = get_registry(settings)
        loaded = load_scenario(path, registry, overrides)
    except SimframeError as error:
        _fail(error)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    return loaded, registry, settings


@click.group()
@click.version_option(package_name="simframe", prog_name="simframe")
def main() -> None:
    """Simulate SIM-aided wireless systems from scenario files."""


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="netCDF file to write, or a directory (an existing one, or a path ending in /) to "
    "write SCENARIO's name + .nc into [default: the current directory].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes [default: all cores].",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=None,
    help="Override the scenario's number of trials.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where trials run.",
)
@click.option(
    "--address",
    default=None,
    help="dask scheduler address (tcp://host:8786); a local cluster if omitted.",
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="Record failed trials as NaN with their error text instead of stopping.",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Discard finished points and an existing result instead of continuing "
    "(never a file that is not a simframe result).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--traceback",
    "show_traceback",
    is_flag=True,
    help=f"When a trial fails, print the full traceback of its exception "
    f"(also: {TRACEBACK_ENV}=1).",
)
@_set_option
@_plugin_option
def run(
    scenario: str,
    output: str | None,
    workers: int | None,
    trials: int | None,
    executor: str,
    address: str | None,
    keep_going: bool,
    fresh: bool,
    quiet: bool,
    show_traceback: bool,
    overrides: tuple[str, ...],
    plugins: tuple[str, ...],
) -> None:
    """Run SCENARIO and write a labelled netCDF dataset.

    Every finished sweep point is kept in OUTPUT.parts/ at once; running the same command
    again after an interruption continues where it stopped, provided that the scenario and
    the code of the plugins taking part are unchanged.
    """
    from simframe.executors import available_cores
    from simframe.runner import RunOptions, run_scenario

    if trials is not None:
        overrides = (*overrides, f"trials={trials}")
    loaded, registry, settings = _load(scenario, plugins, overrides)
    out = _output_path(output, scenario)
    options = RunOptions(
        output=out,
        workers=workers or available_cores(),
        executor=executor,
        address=address,
        record_errors=keep_going,
        fresh=fresh,
        progress=not quiet,
        command=shlex.join(["simframe", *sys.argv[1:]]),
    )
    try:
        report = run_scenario(loaded, registry, settings, options)
    except SimframeError as error:
        _fail(error, show_traceback)
    if report.already_complete:
        click.echo(
            f"{out} is already complete for this scenario; nothing to do (--fresh reruns it)"
        )
        for note in report.notes:
            click.echo(f"note: {note}")
        return
    if report.points_resumed:
        click.echo(
            f"resumed: {report.points_resumed} of {report.points_total} sweep points "
            "were already finished"
        )
    click.echo(f"wrote {out}")
    for note in report.notes:
        click.echo(note)
    if report.failed_trials:
        click.echo(
            f"error: {counted(report.failed_trials, 'trial')} failed; see the dataset's "
            "'error' variable",
            err=True,
        )
        sys.exit(1)


def _output_path(output: str | None, scenario: str) -> Path:
    """``-o``: a file, or a directory (existing, or written with a trailing separator) that
    receives SCENARIO's name + .nc."""
    name = Path(scenario).stem + ".nc"
    if not output:
        return Path(name)
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        return Path(output) / name
    return Path(output)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@_set_option
@_plugin_option
def validate(scenario: str, overrides: tuple[str, ...], plugins: tuple[str, ...]) -> None:
    """Check SCENARIO without running it and summarise what a run would do."""
    loaded, _, _ = _load(scenario, plugins, overrides)
    sweep = " x ".join(f"{a.dim}[{len(a)}]" for a in loaded.axes) or "no sweep"
    at_most = "" if loaded.precision is None else "at most "
    simulations = loaded.n_points * len(loaded.variants) * loaded.trials
    memory = loaded.trial_memory_bytes
    click.echo(
        f"{scenario}: valid. {loaded.system_cls.name}; {sweep}; "
        f"{counted(len(loaded.variants), 'variant')} ({', '.join(loaded.variants)}); {at_most}"
        f"{counted(loaded.trials, 'trial')} = {at_most}{counted(simulations, 'simulation')} in "
        f"blocks of {counted(loaded.trial_block, 'trial')}"
        + (f"; about {size(memory)} per trial and worker" if memory else "")
    )
    if loaded.precision is not None:
        click.echo(
            f"each sweep point stops when {loaded.precision.describe()} for every variant "
            f"(after at least {counted(loaded.precision.min_trials, 'trial')})"
        )


def _parameter_rows(parameters: tuple[Parameter, ...]) -> list[str]:
    rows = []
    for p in parameters:
        default = "(required)" if p.required else repr(p.default)
        unit = f" [{p.unit}]" if p.unit and p.unit != "1" else ""
        rows.append(f"    {p.name}: {p.type.__name__} = {default}{unit}  {p.help}")
    return rows


def _describe(info: ComponentInfo) -> str:
    from simframe.components import SystemModel

    cls = info.cls
    lines = [f"  {cls.name}  ({info.origin})", f"    {cls.summary()}"]
    lines += _parameter_rows(cls.parameters)
    if issubclass(cls, SystemModel):
        lines.append("    slots:")
        lines += [
            f"      [{n}] {s.kind.value}, default {s.default!r}  {s.help}"
            for n, s in cls.slots.items()
        ]
        if cls.optional_outputs:
            lines.append("    optional outputs (store = [...]):")
            lines += [f"      {n}: {h}" for n, h in cls.optional_outputs.items()]
    return "\n".join(lines)


@main.command()
@click.argument("name", required=False)
@_plugin_option
def plugins(name: str | None, plugins: tuple[str, ...]) -> None:
    """List every component with its parameters, units and origin, or document NAME.

    NAME is a component (e.g. rayleigh_sommerfeld) or a plugin option group; its full
    documentation is printed as markdown: docstring, class, parameters with types, defaults,
    units and allowed values, the slots it fits and a scenario snippet.
    """
    from simframe import docgen
    from simframe.components import ComponentKind, suggest
    from simframe.plugins import PluginSettings, get_registry

    try:
        registry = get_registry(PluginSettings(local_plugins=plugins))
    except SimframeError as error:
        _fail(error)
    if name is not None:
        matches = [i for i in registry.all_components() if i.name == name]
        groups = registry.option_groups
        if not matches and name not in groups:
            names = [i.name for i in registry.all_components()] + list(groups)
            click.echo(f"error: no component named {name!r}{suggest(name, names)}", err=True)
            sys.exit(2)
        sections = [
            docgen.component_section(info.cls, registry, "#", origin=info.origin)
            for info in matches
        ]
        if name in groups:
            group, origin = groups[name]
            sections.append(docgen.option_group_section(group, "#", origin=origin))
        click.echo("\n".join(sections), nl=False)
        return
    for kind in ComponentKind:
        click.echo(f"{kind.value}s:")
        for info in registry.components[kind].values():
            click.echo(_describe(info))
    if registry.option_groups:
        click.echo("plugin option groups ([plugins.NAME] tables):")
        for group_name, (group, origin) in registry.option_groups.items():
            click.echo(f"  {group_name}  ({origin})\n    {group.help}")
            click.echo("\n".join(_parameter_rows(group.parameters)))


def _selection(pairs: tuple[str, ...]) -> dict[str, str]:
    selection = {}
    for pair in pairs:
        dim, sep, value = pair.partition("=")
        if not sep or not dim:
            raise click.BadParameter(f"expected DIM=VALUE, got {pair!r}", param_hint="--select")
        selection[dim.strip()] = value.strip()
    return selection


@main.command()
@click.argument("result", type=click.Path(exists=True, dir_okay=False))
@click.option("-v", "--variable", help="Metric to plot [default: the first in bit/s/Hz].")
@click.option("-x", "--x", "x", help="Dimension on the x axis [default: the first swept one].")
@click.option(
    "--kind",
    type=click.Choice(["auto", "mean", "cdf"]),
    default="auto",
    show_default=True,
    help="mean +- confidence interval over trials, or an empirical CDF; auto draws a CDF for "
    "per-user metrics (dims such as ue, stream) and a mean otherwise.",
)
@click.option(
    "--select",
    "selections",
    multiple=True,
    metavar="DIM=VALUE",
    help="Fix a dimension, e.g. --select layers=7 --select variant=rmax (repeatable); "
    "dims without coordinates (ue, stream) take an index.",
)
@click.option(
    "--overlay",
    "overlays",
    multiple=True,
    metavar="VAR",
    help="Also draw this metric's mean as a dashed reference line, e.g. a benchmark "
    "(same units; repeatable).",
)
@click.option(
    "--level",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Confidence level of the interval.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Figure file; the suffix picks the format (.png, .pdf, .svg) "
    "[default: RESULT's name + _VARIABLE.png].",
)
def plot(
    result: str,
    variable: str | None,
    x: str | None,
    kind: str,
    selections: tuple[str, ...],
    overlays: tuple[str, ...],
    level: float,
    output: str | None,
) -> None:
    """Draw a figure from RESULT, a dataset written by `simframe run` (needs matplotlib)."""
    from simframe.plotting import PlotError, default_variable, plot_result
    from simframe.results import open_result

    dataset = open_result(result)
    try:
        variable = variable or default_variable(dataset)
        figure = plot_result(dataset, variable, x, kind, _selection(selections), level, overlays)
    except (PlotError, KeyError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    out = Path(output) if output else Path(f"{Path(result).stem}_{variable}.png")
    figure.savefig(out, dpi=150)
    click.echo(f"wrote {out}")
