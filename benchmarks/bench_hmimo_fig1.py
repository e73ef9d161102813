"""Wall time of paper 000's Fig. 1 (``scenarios/hmimo_fig1.toml``) and where it goes.

Runs the CLI with ``--workers 2`` at the scenario's ``[precision]`` setting (each sweep point
runs blocks of trials until every variant's mean rate is known to the stated half-width), or
with the given ``--set`` overrides, e.g. ``--set precision.half_width=4`` for a quicker look.
Prints the wall time, the trials each point ran, and the optimiser seconds per variant and per
number of layers (the ``runtime_s`` metric).
Run: python benchmarks/bench_hmimo_fig1.py [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import xarray as xr

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "hmimo_fig1.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "fig1.nc"
        command = ["simframe", "run", str(SCENARIO), "-o", str(output), "--workers", "2", "--quiet"]
        for override in args.overrides:
            command += ["--set", override]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        wall = time.perf_counter() - start
        with xr.open_dataset(output, engine="netcdf4") as dataset:
            runtime = dataset.runtime_s.load()
            trials_run = dataset.trials_run.load() if "trials_run" in dataset else None
    print(f"Fig. 1, --workers 2: {wall:.1f} s wall ({wall / 60:.1f} min)")
    if trials_run is not None:
        cells = [
            f"L={int(layers)}: {int(n)}"
            for layers, n in zip(trials_run.layers, trials_run, strict=True)
        ]
        print(f"trials per point: {'  '.join(cells)} ({int(trials_run.sum())} in all)")
    share = runtime.sum(("layers", "trial"))
    total = float(share.sum())
    print(f"optimiser time per variant (share of all {total:.0f} s of optimiser time):")
    for variant in share.variant.values:
        seconds = float(share.sel(variant=variant))
        print(f"  {variant:15s} {seconds:7.1f} s  {100 * seconds / total:5.1f} %")
    print(f"wall time x 2 workers / optimiser time: {2 * wall / total:.2f}")
    print("mean optimiser seconds per trial, by layers (all variants):")
    per_layer = runtime.sum("variant").mean("trial")
    cells = [
        f"L={int(layers)}: {float(seconds):.2f}"
        for layers, seconds in zip(per_layer.layers, per_layer, strict=True)
    ]
    print("  " + "  ".join(cells))


if __name__ == "__main__":
    main()
