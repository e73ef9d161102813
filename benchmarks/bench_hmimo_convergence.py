"""Convergence of the HMIMO rate maximisers: rate against wall time, and the cost of one evaluation.

1. Seconds per rate-and-gradient evaluation (Theorem 1) per trial: the per-trial link
   (``HmimoLink.rate_gradient``) against the batched block (``LinkBlock.rate_gradients``) on
   numpy, and on PyTorch (CPU here; CUDA when available) if it is installed.
2. For L = K = 7 and 10 (paper 000 Fig. 1 link, N = M = 100, S = 4) and a few channels: each
   method at its default settings, and with 10x its outer-iteration budget and no early stop
   (the long-run reference). Prints the rate against wall time, the time to reach 95 % of the
   reference, and the default's distance from the reference (the scenarios' target: within 2 %).

All on one BLAS thread; batched runs optimise all channels in one block.
Run: python benchmarks/bench_hmimo_convergence.py [--trials 4] [--block 20] [--layers 7 10]
[--methods rmax hybrid] [--param NAME=VALUE ...] [--skip-reference] [--timing-only]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from simframe_hmimo.backend import backend_named
from simframe_hmimo.channel import CorrelatedRayleighChannel
from simframe_hmimo.interfaces import HmimoLink
from simframe_hmimo.link_block import LinkBlock
from simframe_hmimo.power import Wmmse
from simframe_hmimo.random_phases import RandomPhases
from simframe_hmimo.rate_ascent import maximise_rates
from simframe_hmimo.rmax import RateMaximisation
from simframe_hmimo.system import SimHmimoLink
from simframe_metasurface.propagation import RayleighSommerfeldPropagation
from threadpoolctl import threadpool_limits

from simframe.components import ComponentKind
from simframe.plugins import get_registry
from simframe.scenario import parse_override


def fig1_system(layers: int) -> SimHmimoLink:
    """The Fig. 1 link of paper 000 at L = K = ``layers`` (its default parameters)."""
    return SimHmimoLink(
        {
            "channel": CorrelatedRayleighChannel(),
            "propagation": RayleighSommerfeldPropagation(),
            "phases": RandomPhases(),
            "power": Wmmse(),
        },
        tx_layers=layers,
        rx_layers=layers,
    )


def drawn_link(system: SimHmimoLink, rng: np.random.Generator) -> HmimoLink:
    """One trial's link of ``system``: its hops, a channel drawn from ``rng``, noise, budget."""
    return HmimoLink(
        system.tx_hops, system.rx_hops, system.draw(rng), system.noise_w, system.budget_w
    )


def paper_block(layers: int, trials: int, seed: int = 2025) -> LinkBlock:
    """``trials`` channels of the Fig. 1 link at L = K = ``layers``."""
    system = fig1_system(layers)
    rng = np.random.default_rng(seed)
    return LinkBlock.of_links([drawn_link(system, rng) for _ in range(trials)])


def seconds_per_evaluation(block: LinkBlock, repeats: int = 5) -> dict[str, float]:
    """Seconds per trial of one rate-and-gradient evaluation, per path."""
    rng = np.random.default_rng(0)
    trials = len(block)
    starts = [block.link(b).random_phases(rng) for b in range(trials)]
    tx, rx = np.stack([s[0] for s in starts]), np.stack([s[1] for s in starts])
    powers = np.full((trials, block.antennas), block.budget_w / block.antennas)
    links = [block.link(b) for b in range(trials)]

    def per_trial():
        for b, link in enumerate(links):
            link.rate_gradient(tx[b], rx[b], powers[b])

    timings = {"per-trial numpy": _timed(per_trial, repeats) / trials}
    backends = ["numpy"]
    try:
        import torch

        torch.set_num_threads(1)
        backends.append("torch")
    except ImportError:
        print("(PyTorch not installed: torch path not measured)")
    for name in backends:
        batched = replace(block, backend=backend_named(name))
        device = batched.backend.device
        timings[f"batched {name} ({device})"] = (
            _timed(lambda b=batched: b.rate_gradients(tx, rx, powers), repeats) / trials
        )
    return timings


def _timed(function, repeats: int) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def starts_for(method: RateMaximisation, block: LinkBlock):
    """Phases and powers each method starts from: random (rmax) or IMin's (hybrid), and the
    seconds the start took."""
    rngs = [np.random.default_rng([7, b]) for b in range(len(block))]
    began = time.perf_counter()
    tx, rx, powers = method.starts(block, rngs)
    return tx, rx, powers, time.perf_counter() - began


def convergence(method: RateMaximisation, block: LinkBlock, reference: bool) -> None:
    tx, rx, powers, start_s = starts_for(method, block)
    default = maximise_rates(block, Wmmse(), tx, rx, powers, method.settings)
    trials = len(block)
    rate = default.rate_trace[-1].mean()
    seconds = (default.elapsed_s[-1] + start_s) / trials
    print(
        f"  {method.name:6s} default ({method.max_outer_iterations} x {method.inner_iterations}):"
        f" {rate:7.2f} bit/s/Hz in {seconds:6.2f} s per trial, "
        f"{default.evaluations.mean():6.0f} evaluations per trial"
    )
    if not reference:
        return
    long_run = replace(method.settings, rounds=10 * method.max_outer_iterations, tolerance=0.0)
    result = maximise_rates(block, Wmmse(), tx, rx, powers, long_run)
    means = result.rate_trace.mean(axis=1)
    per_trial_s = (result.elapsed_s + start_s) / trials
    target = 0.95 * means[-1]
    reached = per_trial_s[np.argmax(means >= target)]
    print(
        f"  {method.name:6s} 10x budget: {means[-1]:7.2f} bit/s/Hz in {per_trial_s[-1]:6.1f} s "
        f"per trial; default = {100 * rate / means[-1]:5.1f} % of it; 95 % reached after "
        f"{reached:5.2f} s per trial"
    )
    marks = np.unique(np.geomspace(1, len(means) - 1, 8).astype(int))
    print(
        "    rate vs s/trial: "
        + ", ".join(f"{per_trial_s[i]:.2f} s: {means[i]:.1f}" for i in marks)
    )


def rate_maximisers() -> dict[str, type[RateMaximisation]]:
    """Every registered phase optimiser that runs :func:`maximise_rates` (built-in or from a
    plugin), by name."""
    optimisers = get_registry().components[ComponentKind.PHASE_OPTIMISER]
    return {
        name: info.cls
        for name, info in optimisers.items()
        if issubclass(info.cls, RateMaximisation)
    }


def main() -> None:
    methods = rate_maximisers()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4, help="channels for convergence")
    parser.add_argument("--block", type=int, default=20, help="trials per evaluation timing")
    parser.add_argument("--layers", type=int, nargs="+", default=[7, 10])
    parser.add_argument("--skip-reference", action="store_true", help="no 10x-budget runs")
    parser.add_argument("--timing-only", action="store_true", help="only seconds per evaluation")
    parser.add_argument("--methods", nargs="+", default=["rmax", "hybrid"], choices=sorted(methods))
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of both methods other than its default, e.g. preconditioner_exponent=0",
    )
    args = parser.parse_args()
    params = dict(parse_override(item) for item in args.param)
    for layers in args.layers:
        print(f"L = K = {layers}, N = M = 100, S = 4")
        timings = seconds_per_evaluation(paper_block(layers, args.block))
        baseline = timings["per-trial numpy"]
        print(f"  one rate-and-gradient evaluation, block of {args.block} trials:")
        for name, seconds in timings.items():
            print(f"  {name:24s} {seconds * 1e3:6.3f} ms per trial ({baseline / seconds:4.2f}x)")
        if args.timing_only:
            continue
        block = paper_block(layers, args.trials)
        print(f"  convergence on {args.trials} channels (one block):")
        for method in args.methods:
            optimiser = methods[method](**params)
            convergence(optimiser, block, not args.skip_reference)


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
