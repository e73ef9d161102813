"""``an_ga`` against an independent implementation of An et al.'s protocol, in their setting.

The independent implementation (tests/mumiso/reference_an.py) shares no code with
simframe_mumiso: it multiplies the cascade out, takes every angle's derivative by the chain rule
through H with dense products, water-fills one floor at a time, and runs one trial at a time.
Both start from the same random phases on the same channels (An's geometry, N = 100, K = 4,
T = 5 lambda); the script prints, per channel, the outer iterations of each, the largest
difference between their sum-rate traces, the final sum rates and the largest difference
between the final phases and powers.

Run: python benchmarks/check_an_ga_protocol.py [--layers 1 2 3] [--trials 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from bench_mumiso_convergence import an_block
from simframe_mumiso.an_ga import AnGradientAscent
from simframe_mumiso.power import DampedWaterFilling
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.mumiso import reference_an


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    worst = {"trace": 0.0, "phases": 0.0, "powers": 0.0}
    same_iterations = 0
    with threadpool_limits(1):
        for layers in args.layers:
            block = an_block(layers, args.trials)
            rngs = [np.random.default_rng([7, b]) for b in range(args.trials)]
            designs = AnGradientAscent().optimise_block(block, DampedWaterFilling(), rngs)
            for b, design in enumerate(designs):
                start = block.random_phases(np.random.default_rng([7, b]))
                phases, powers, iterations, trace = reference_an.an_ga(
                    block.hops, block.channels[b], block.noise_w, block.budget_w, start
                )
                ours = np.asarray(design.objective_trace)
                length = min(len(ours), len(trace))
                gaps = {
                    "trace": float(np.max(np.abs(ours[:length] - np.asarray(trace[:length])))),
                    "phases": float(np.max(np.abs(design.phases - phases))),
                    "powers": float(np.max(np.abs(design.powers_w - powers)) / block.budget_w),
                }
                for key, gap in gaps.items():
                    worst[key] = max(worst[key], gap)
                same_iterations += design.iterations == iterations
                print(
                    f"L = {layers}, channel {b}: iterations an_ga {design.iterations}, "
                    f"reference {iterations}; sum rate {ours[-1]:.6f} vs {trace[-1]:.6f} "
                    f"bit/s/Hz; largest differences: trace {gaps['trace']:.1e} bit/s/Hz, "
                    f"phases {gaps['phases']:.1e}, powers {gaps['powers']:.1e} of P_t",
                    flush=True,
                )
    total = len(args.layers) * args.trials
    print(
        f"{same_iterations} of {total} channels with the same number of iterations; largest "
        f"differences over all: trace {worst['trace']:.1e} bit/s/Hz, phases "
        f"{worst['phases']:.1e}, powers {worst['powers']:.1e} of P_t"
    )


if __name__ == "__main__":
    main()
