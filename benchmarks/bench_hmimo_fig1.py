"""Wall time of scenarios/hmimo_fig1.toml with --workers 2 and a reduced trial count.

Runs the CLI with ``--trials T`` (default 2), extrapolates the wall time to the scenario's 100
trials (linearly; start-up is measured with one trial and subtracted). The link optimises blocks
of up to 20 trials together, which is cheaper per trial than blocks of T < 20, so the estimate
is pessimistic for small T. Prints where the time goes: optimiser seconds per variant and per
number of layers, from the ``runtime_s`` metric. The target for the full figure is <= 10 minutes
on 2 cores.
Run: python benchmarks/bench_hmimo_fig1.py [TRIALS]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xarray as xr

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "hmimo_fig1.toml"
FULL_TRIALS = 100


def run(trials: int, output: Path) -> float:
    start = time.perf_counter()
    command = ["simframe", "run", str(SCENARIO), "-o", str(output), "--workers", "2"]
    subprocess.run([*command, "--trials", str(trials), "--quiet", "--fresh"], check=True)
    return time.perf_counter() - start


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    with tempfile.TemporaryDirectory() as folder:
        one = run(1, Path(folder) / "one.nc")
        wall = run(trials, Path(folder) / "fig1.nc")
        with xr.open_dataset(Path(folder) / "fig1.nc", engine="netcdf4") as dataset:
            runtime = dataset.runtime_s.load()
    per_trial = max(wall - one, 0.0) / max(trials - 1, 1)
    startup = one - per_trial
    estimate = startup + per_trial * FULL_TRIALS
    print(f"Fig. 1 with {trials} trials, --workers 2: {wall:.1f} s (1 trial: {one:.1f} s)")
    print(f"extrapolated to {FULL_TRIALS} trials: {estimate / 60:.1f} min (target <= 10 min)")
    print(f"ratio target / estimate: {600 / estimate:.2f}")
    share = runtime.sum(("layers", "trial"))
    total = float(share.sum())
    print("optimiser time per variant (share of all optimiser time):")
    for variant in share.variant.values:
        seconds = float(share.sel(variant=variant))
        print(f"  {variant:15s} {seconds:7.1f} s  {100 * seconds / total:5.1f} %")
    print("mean optimiser seconds per trial, by layers (all variants):")
    per_layer = runtime.sum("variant").mean("trial")
    cells = [
        f"L={int(layers)}: {float(seconds):.2f}"
        for layers, seconds in zip(per_layer.layers, per_layer, strict=True)
    ]
    print("  " + "  ".join(cells))


if __name__ == "__main__":
    main()
