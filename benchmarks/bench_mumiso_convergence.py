"""Convergence of the downlink's phase optimisers: sum rate against budget and CPU time.

For An et al.'s setting (sim_mumiso_downlink defaults: 28 GHz, N = 100, K = 4, T = 5 lambda,
15 dBm, -104 dBm) at each L and a few channels, on one BLAS thread, all channels in one block:

1. each method at its defaults, and with 10x its budget of outer iterations and no early stop
   (the long-run reference): the default's sum rate as a percentage of the reference (ratio of
   the means, and the lowest per channel), and the CPU time per trial until the mean over the
   channels reaches 99 % of the reference's mean, in the 10x run and in the default run;
2. ``sum_rate_lbfgs`` from ``--starts`` other random starts: the default's percentage of the
   best sum rate any start reaches (its own included) on each channel;
3. ours against ``an_ga`` on the same channels from the same starts.

Run: python benchmarks/bench_mumiso_convergence.py [--layers 1 4 7 10] [--trials 4]
[--starts 3] [--param NAME=VALUE ...] [--power mumiso_wmmse] [--skip-reference]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from simframe_metasurface.propagation import RayleighSommerfeldPropagation
from simframe_mumiso.an_ga import AnGradientAscent
from simframe_mumiso.channel import CorrelatedRayleighUsers
from simframe_mumiso.downlink import DownlinkBlock
from simframe_mumiso.interfaces import MumisoPhaseOptimiser, PhaseDesign
from simframe_mumiso.power import DampedWaterFilling, EqualPower, WmmsePower
from simframe_mumiso.random_phases import RandomPhases
from simframe_mumiso.sum_rate_lbfgs import SumRateLbfgs
from simframe_mumiso.system import SimMumisoDownlink
from threadpoolctl import threadpool_limits

from simframe.scenario import parse_override

ALLOCATORS = {
    "mumiso_iwf": DampedWaterFilling,
    "mumiso_wmmse": WmmsePower,
    "mumiso_equal_power": EqualPower,
}


def an_block(layers: int, trials: int, seed: int = 2023, **params) -> DownlinkBlock:
    """``trials`` channels of An et al.'s downlink at ``layers`` layers (system defaults)."""
    components = {
        "channel": CorrelatedRayleighUsers(),
        "propagation": RayleighSommerfeldPropagation(),
        "phases": RandomPhases(),
        "power": DampedWaterFilling(),
    }
    system = SimMumisoDownlink(components, layers=layers, **params)
    rng = np.random.default_rng(seed)
    channels = np.stack([system.draw(rng) for _ in range(trials)])
    return DownlinkBlock(system.hops, channels, system.noise_w, system.budget_w)


def run(optimiser: MumisoPhaseOptimiser, allocator, block, seed: int) -> tuple[list, float]:
    """Designs of every trial from the streams ``[seed, b]``, and the CPU seconds per trial
    (``time.process_time``, which a loaded machine does not inflate)."""
    rngs = [np.random.default_rng([seed, b]) for b in range(len(block))]
    start = time.process_time()
    designs = optimiser.optimise_block(block, allocator, rngs)
    return designs, (time.process_time() - start) / len(block)


def finals(designs: list[PhaseDesign]) -> np.ndarray:
    return np.array([design.objective_trace[-1] for design in designs])


def seconds_to_reach(designs: list[PhaseDesign], target: float) -> float | None:
    """Block CPU time per trial until the mean over the channels of their sum-rate traces
    (a finished channel keeps its last value) reaches ``target``; ``None`` if it never does."""
    length = max(len(design.objective_trace) for design in designs)
    traces = np.array(
        [np.pad(d.objective_trace, (0, length - len(d.objective_trace)), "edge") for d in designs]
    )
    elapsed = max((d.elapsed_s for d in designs), key=len)
    reached = np.flatnonzero(traces.mean(axis=0) >= target)
    return None if reached.size == 0 else elapsed[reached[0]] / len(designs)


def tenfold(optimiser: MumisoPhaseOptimiser) -> MumisoPhaseOptimiser:
    """The optimiser with 10x its outer-iteration budget and no early stop."""
    params = dict(optimiser.params)
    key = "max_outer_iterations" if "max_outer_iterations" in params else "max_iterations"
    params[key] *= 10
    params["tolerance"] = 0.0
    return type(optimiser)(**params)


def describe(name: str, designs, seconds: float, reference=None, reference_seconds=None) -> None:
    rates = finals(designs)
    line = (
        f"  {name:15s} {rates.mean():7.3f} bit/s/Hz  {seconds:6.2f} CPU s/trial  "
        f"{np.mean([d.evaluations for d in designs]):6.0f} evaluations"
    )
    if reference is not None:
        ref = finals(reference)
        target = 0.99 * ref.mean()
        default_time, reference_time = (
            seconds_to_reach(designs, target),
            seconds_to_reach(reference, target),
        )
        line += (
            f"  | 10x: {ref.mean():7.3f} ({reference_seconds:6.2f} CPU s/trial): "
            f"{100 * rates.mean() / ref.mean():5.1f} % (lowest channel "
            f"{100 * np.min(rates / ref):5.1f} %); 99 % of it after "
            + ("never" if reference_time is None else f"{reference_time:.2f} CPU s/trial")
            + " in the 10x run, "
            + (
                "not in the default run"
                if default_time is None
                else f"{default_time:.2f} in the default run"
            )
        )
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 4, 7, 10])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a sum_rate_lbfgs parameter (repeatable)",
    )
    parser.add_argument(
        "--power",
        choices=sorted(ALLOCATORS),
        default="mumiso_wmmse",
        help="power slot of sum_rate_lbfgs (an_ga always runs with mumiso_iwf)",
    )
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    ours = SumRateLbfgs(**dict(parse_override(text) for text in args.param))
    ours_power = ALLOCATORS[args.power]()
    methods = [("an_ga", AnGradientAscent(), DampedWaterFilling()), ("ours", ours, ours_power)]
    print(f"sum_rate_lbfgs: {dict(ours.params)}, power {args.power}")
    with threadpool_limits(1):
        for layers in args.layers:
            block = an_block(layers, args.trials)
            print(f"L = {layers}, {args.trials} channels:")
            results = {}
            for name, optimiser, allocator in methods:
                designs, seconds = run(optimiser, allocator, block, 0)
                results[name] = designs
                if args.skip_reference:
                    describe(name, designs, seconds)
                    continue
                reference, reference_seconds = run(tenfold(optimiser), allocator, block, 0)
                describe(name, designs, seconds, reference, reference_seconds)
            best = finals(results["ours"])
            for start in range(1, args.starts + 1):
                best = np.maximum(best, finals(run(ours, ours_power, block, start)[0]))
            rates = finals(results["ours"])
            if args.starts:
                print(
                    f"  ours: {100 * rates.mean() / best.mean():5.1f} % of the best of "
                    f"{args.starts + 1} starts (lowest channel {100 * np.min(rates / best):5.1f} %)"
                )
            gain = rates - finals(results["an_ga"])
            print(
                f"  ours - an_ga on the same channels and starts: mean {gain.mean():+.3f}, "
                f"lowest {gain.min():+.3f} bit/s/Hz",
                flush=True,
            )


if __name__ == "__main__":
    main()
