"""Confidence interval of a difference between sweep points: paired vs independent draws.

    python benchmarks/bench_paired_sweep.py [--case NAME|all] [--trials N] [--workers N]

Each case sweeps a plugin option (of the example plugin in
``docs/examples/simframe-example-plugin``, which must be installed) or an algorithm's setting,
and is run twice with the same seed: with paired draws (the default: trial ``t`` of every point
draws the same channels, random starts and error) and with ``[run] paired = false`` (every
point draws independently). For each swept value ``x`` beyond
the first, ``x0``, it prints the mean of the per-trial difference ``metric(x) - metric(x0)`` and
the half-width of its 95 % Student t interval (for independent draws the per-trial differences
are independent too, so the same interval applies), then the ratio of the unpaired to the
paired half-width and its square: how many times more trials the unpaired sweep needs for the
same precision of the difference.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simframe.plugins import PluginSettings, get_registry
from simframe.precision import PrecisionTarget, per_trial_values
from simframe.results import open_result
from simframe.runner import RunOptions, run_scenario
from simframe.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples" / "simframe-example-plugin" / "scenarios"


@dataclass(frozen=True)
class Case:
    scenario: Path | str
    """A scenario file, or the text of one."""
    dim: str
    metric: str
    overrides: tuple[str, ...] = ()
    variant: str | None = None
    """The variant compared (the scenario's first when None)."""


CASES = {
    # Hybrid phases and WMMSE powers designed on H~ + E, rate evaluated on H~.
    "hmimo_nmse": Case(
        EXAMPLES / "imperfect_csi.toml",
        "nmse",
        "rate_bps_hz",
        ("sweep.plugins.example_imperfect_csi.nmse=[0.0, 0.1, 1.0]",),
    ),
    # The Hybrid optimiser's budget of outer iterations on the quickstart's link (L = K = 2).
    "hmimo_iterations": Case(
        """title = "Hybrid's outer iterations"
seed = 7
trials = 2

[system]
model = "sim_hmimo_link"
tx_atoms = 36
rx_atoms = 36
tx_layers = 2
rx_layers = 2

[phases]
model = "hybrid"
inner_iterations = 100

[sweep]
phases.max_outer_iterations = [1, 2, 4]
""",
        "max_outer_iterations",
        "rate_bps_hz",
    ),
    # Coordinate-ascent phases quantised to b bits by the plugin's hook after the design.
    "hmimo_quantisation": Case(
        EXAMPLES / "example.toml", "bits", "rate_bps_hz", (), "coordinate_ascent"
    ),
    # Pilots, phases and max-min powers designed on erroneous large-scale gains.
    "cellfree_gain_error": Case(
        EXAMPLES / "imperfect_csi_cellfree.toml",
        "gain_error_db",
        "min_se_bps_hz",
        ("sweep.plugins.example_imperfect_csi.gain_error_db=[0.0, 1.0, 3.0]",),
    ),
}


def scenario_file(case: Case, directory: Path) -> Path:
    if isinstance(case.scenario, Path):
        return case.scenario
    path = directory / f"{case.dim}.toml"
    path.write_text(case.scenario)
    return path


def run(case: Case, trials: int, workers: int, paired: bool, directory: Path) -> np.ndarray:
    """The metric of the case's variant per sweep value and trial (per-trial mean over extra
    dims)."""
    settings = PluginSettings()
    registry = get_registry(settings)
    overrides = (*case.overrides, f"trials={trials}", f"run.paired={str(paired).lower()}")
    scenario = load_scenario(scenario_file(case, directory), registry, overrides)
    output = directory / f"{case.dim}_{'paired' if paired else 'independent'}.nc"
    run_scenario(scenario, registry, settings, RunOptions(output, workers, progress=False))
    dataset = open_result(output)[case.metric]
    chosen = dataset.isel(variant=0) if case.variant is None else dataset.sel(variant=case.variant)
    values = chosen.transpose(case.dim, "trial", ...)
    return per_trial_values(values.values)


def difference_intervals(values: np.ndarray) -> list[tuple[float, float]]:
    """Mean and 95 % half-width of ``values[i] - values[0]`` over trials, for i >= 1."""
    interval = PrecisionTarget("difference", 1.0, None, 0.95, 2, values.shape[1])
    means, half_widths = interval.half_widths(values[1:] - values[0])
    return list(zip(means.tolist(), half_widths.tolist(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="hmimo_nmse")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    names = list(CASES) if args.case == "all" else [args.case]
    with tempfile.TemporaryDirectory() as temporary:
        for name in names:
            case = CASES[name]
            paired = run(case, args.trials, args.workers, True, Path(temporary))
            independent = run(case, args.trials, args.workers, False, Path(temporary))
            scenario = scenario_file(case, Path(temporary))
            values = load_scenario(scenario, get_registry(), case.overrides).axes[0].values[0]
            print(f"{name}: {case.metric}(x) - {case.metric}(x0), {args.trials} trials, 95 %")
            rows = zip(
                values[1:],
                difference_intervals(paired),
                difference_intervals(independent),
                strict=True,
            )
            for x, (mean_p, half_p), (mean_i, half_i) in rows:
                ratio = half_i / half_p
                print(
                    f"  {case.dim} {x:g} - {values[0]:g}: paired {mean_p:+.4f} +- {half_p:.4f}, "
                    f"independent {mean_i:+.4f} +- {half_i:.4f}; width ratio {ratio:.2f} "
                    f"(x{ratio**2:.1f} trials for the same width)"
                )


if __name__ == "__main__":
    main()
