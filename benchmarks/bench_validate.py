"""Time to validate a scenario against the number of its sweep points (it must grow linearly).

    python benchmarks/bench_validate.py [--points 400 4000 40000] [--case quickstart|toy|all]

Each case sweeps one parameter that leaves everything else alone over N values and loads the
scenario as ``simframe validate`` does (every point and variant resolved, its system built,
warnings located), in this process, without the start-up of the command. It prints the seconds
and the microseconds per (point, variant) for each N, and the ratio of each time to the smallest
N's scaled by the points: about 1 when validation is linear.

* ``quickstart``: ``scenarios/quickstart.toml`` (sim_hmimo_link, 36 meta-atoms per layer, 2
  variants) with its layer sweep replaced by ``system.tx_power_dbm``;
* ``toy``: the test suite's toy system (``tests/plugins/toy_system.py``), ``system.snr_db``.

Times depend on the load of the machine: say whether other work was running when quoting them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from simframe.plugins import PluginSettings, get_registry
from simframe.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TOY_PLUGIN = ROOT / "tests" / "plugins" / "toy_system.py"


def quickstart(points: int) -> str:
    text = (ROOT / "scenarios" / "quickstart.toml").read_text()
    text = text[: text.index("[sweep.linked.layers]")] + text[text.index("[variants.random]") :]
    values = ", ".join(f"{20 + i / points:.6f}" for i in range(points))
    return f"{text}\n[sweep]\nsystem.tx_power_dbm = [{values}]\n"


def toy(points: int) -> str:
    values = ", ".join(f"{i / points:.6f}" for i in range(points))
    return f"""title = "toy"
trials = 2
seed = 1

[system]
model = "toy_link"

[sweep]
system.snr_db = [{values}]

[variants.one]
system = {{ budget_w = 1.0 }}

[variants.two]
system = {{ budget_w = 2.0 }}
"""


CASES = {"quickstart": quickstart, "toy": toy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[400, 4000, 40000])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    args = parser.parse_args()
    registry = get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),)))
    names = list(CASES) if args.case == "all" else [args.case]
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            first: float | None = None
            for points in sorted(args.points):
                path = Path(directory) / f"{name}_{points}.toml"
                path.write_text(CASES[name](points))
                start = time.perf_counter()
                scenario = load_scenario(path, registry)
                seconds = time.perf_counter() - start
                per = seconds / (scenario.n_points * len(scenario.variants))
                first = per if first is None else first
                variants = len(scenario.variants)
                print(
                    f"{name}: {points} points x {variants} variants: {seconds:.2f} s, "
                    f"{per * 1e6:.0f} us per configuration, ratio to the smallest {per / first:.2f}"
                )


if __name__ == "__main__":
    main()
