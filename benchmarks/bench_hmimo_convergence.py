"""Convergence of the HMIMO rate maximisers: rate against wall time, the two convergence tests, and
the cost of one evaluation.

1. Seconds per rate-and-gradient evaluation (Theorem 1) per trial: the per-trial link
   (``HmimoLink.rate_gradient``) against the batched block (``LinkBlock.rate_gradients``) on
   numpy, and on PyTorch (CPU here; CUDA when available) if it is installed.
2. For each L = K and method, on the first ``--trials`` channels of paper 000's Fig. 1 run
   (``scenarios/hmimo_fig1.toml``: the same channels and starts as trials 0, 1, ... of
   ``simframe run``), or on channels of a fixed seed (``--channels seeded``):

   - the method at its defaults: rate, evaluations and seconds per channel, and the lowest
     stream SINR (a stream switched off shows as about -3000 dB);
   - **test 1**, the default's rate against 10x its outer-iteration budget with no early stop,
     from the same start;
   - **test 2**, against the best of ``--starts`` independent starts (other random phases, so
     for Hybrid another IMin run) and of a restart from the default's phases with equal
     powers, all at the defaults. A trap passes test 1 (10x the budget ends in it too) but
     not test 2.

   The standard of docs/reproductions/paper000.md: the mean over the channels within 1 % of
   each test's mean. The worst channel is printed too.

All on one BLAS thread; the channels of a measurement are optimised together in one block.
Run: python benchmarks/bench_hmimo_convergence.py [--trials 6] [--layers 7 8 9 10]
[--methods rmax hybrid] [--param NAME=VALUE ...] [--starts 3] [--skip-reference]
[--channels fig1|seeded] [--timing-only] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from simframe_hmimo.backend import backend_named
from simframe_hmimo.channel import CorrelatedRayleighChannel
from simframe_hmimo.interfaces import HmimoLink
from simframe_hmimo.link import sinr
from simframe_hmimo.link_block import LinkBlock
from simframe_hmimo.power import Wmmse
from simframe_hmimo.random_phases import RandomPhases
from simframe_hmimo.rate_ascent import AscentResult, maximise_rates
from simframe_hmimo.rmax import RateMaximisation, equal_powers
from simframe_hmimo.system import SimHmimoLink
from simframe_metasurface.propagation import RayleighSommerfeldPropagation
from threadpoolctl import threadpool_limits

from simframe.components import ComponentKind
from simframe.plugins import get_registry
from simframe.scenario import load_scenario, parse_override

FIG1 = Path(__file__).resolve().parents[1] / "scenarios" / "hmimo_fig1.toml"


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


@dataclass(frozen=True)
class Channels:
    """The channels of a measurement, each trial's algorithm seed, and where they come from."""

    block: LinkBlock
    seeds: list[np.random.SeedSequence]

    def rngs(self, start: int = 0) -> list[np.random.Generator]:
        """The algorithms' generators of start ``start`` (0: the Fig. 1 run's own)."""
        if start == 0:
            return [np.random.default_rng(seed) for seed in self.seeds]
        return [
            np.random.default_rng(
                np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 1000 + start))
            )
            for seed in self.seeds
        ]


def fig1_channels(layers: int, trials: int) -> Channels:
    """Trials 0 .. ``trials`` - 1 of ``scenarios/hmimo_fig1.toml`` at L = K = ``layers``: the
    channels and algorithm streams ``simframe run`` gives them."""
    registry = get_registry()
    scenario = load_scenario(FIG1, registry)
    point = next(
        p for p in range(scenario.n_points) if scenario.point_coordinates(p)["layers"] == layers
    )
    system = scenario.configurations[(point, "rmax")].build(registry)
    links, seeds = [], []
    for trial in range(trials):
        channel_seed, algorithm_seed = np.random.SeedSequence(
            scenario.seed, spawn_key=(point, trial)
        ).spawn(2)
        links.append(drawn_link(system, np.random.default_rng(channel_seed)))
        seeds.append(algorithm_seed)
    return Channels(LinkBlock.of_links(links), seeds)


def seeded_channels(layers: int, trials: int) -> Channels:
    """``trials`` channels of :func:`paper_block` (seed 2025), starts from seeds ``[7, b]``."""
    return Channels(
        paper_block(layers, trials),
        [np.random.SeedSequence([7, b]) for b in range(trials)],
    )


def seconds_per_evaluation(block: LinkBlock, repeats: int = 5) -> dict[str, float]:
    """Seconds per trial of one rate-and-gradient evaluation, per path."""
    rng = np.random.default_rng(0)
    trials = len(block)
    starts = [block.link(b).random_phases(rng) for b in range(trials)]
    tx, rx = np.stack([s[0] for s in starts]), np.stack([s[1] for s in starts])
    powers = equal_powers(block)
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


@dataclass(frozen=True)
class Run:
    """One method's run on every channel of a block."""

    result: AscentResult
    start_s: float
    """Seconds the start (random phases, or IMin for Hybrid) took for the whole block."""

    @property
    def rates(self) -> np.ndarray:
        return self.result.rate_trace[-1]

    def seconds_per_channel(self) -> np.ndarray:
        """Wall time per channel at every entry of the rate trace."""
        return (self.result.elapsed_s + self.start_s) / len(self.rates)


def run(
    method: RateMaximisation,
    channels: Channels,
    start: int = 0,
    settings=None,
    initial: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Run:
    """``method`` from its start number ``start`` (or from ``initial`` phases and powers)."""
    began = time.perf_counter()
    tx, rx, powers = initial or method.starts(channels.block, channels.rngs(start))
    start_s = time.perf_counter() - began
    result = maximise_rates(channels.block, Wmmse(), tx, rx, powers, settings or method.settings)
    return Run(result, start_s)


def lowest_sinr_db(block: LinkBlock, result: AscentResult) -> np.ndarray:
    """The lowest stream SINR of every channel, dB (about -3000 dB for a stream without power)."""
    values = sinr(block.effective_channels(result.tx, result.rx), result.powers_w, block.noise_w)
    return 10.0 * np.log10(np.maximum(values.min(axis=1), 1e-300))


def convergence(method: RateMaximisation, channels: Channels, reference: bool, starts: int) -> dict:
    """Both convergence tests of ``method`` on ``channels``; prints and returns the numbers."""
    block = channels.block
    default = run(method, channels)
    rates = default.rates
    record = {
        "method": method.name,
        "rates": rates.tolist(),
        "evaluations": default.result.evaluations.tolist(),
        "seconds_per_channel": float(default.seconds_per_channel()[-1]),
        "lowest_sinr_db": lowest_sinr_db(block, default.result).tolist(),
    }
    print(
        f"  {method.name:6s} defaults ({method.max_outer_iterations} x "
        f"{method.inner_iterations}): {rates.mean():7.2f} bit/s/Hz in "
        f"{record['seconds_per_channel']:6.2f} s per channel, "
        f"{default.result.evaluations.mean():6.0f} evaluations per channel, lowest stream "
        f"SINR {min(record['lowest_sinr_db']):.1f} dB"
    )
    _print_trace("defaults", default)
    best = rates.copy()
    if reference:
        long_run = replace(method.settings, rounds=10 * method.max_outer_iterations, tolerance=0.0)
        tenfold = run(method, channels, settings=long_run)
        record["tenfold_rates"] = tenfold.rates.tolist()
        record["tenfold_seconds_per_channel"] = float(tenfold.seconds_per_channel()[-1])
        _print_test("test 1, 10x the budget", rates, tenfold.rates, tenfold)
        _print_trace("10x", tenfold)
        best = np.maximum(best, tenfold.rates)
    if starts:
        others = [run(method, channels, start=k).rates for k in range(1, starts + 1)]
        reset = run(
            method,
            channels,
            initial=(default.result.tx, default.result.rx, equal_powers(block)),
        ).rates
        record["start_rates"] = [other.tolist() for other in others]
        record["reset_rates"] = reset.tolist()
        best = np.maximum.reduce([best, reset, *others])
        _print_test(f"test 2, best of {starts} starts and a power reset", rates, best)
    record["best_rates"] = best.tolist()
    return record


def _print_test(name: str, rates: np.ndarray, reference: np.ndarray, timed: Run | None = None):
    ratios = rates / reference
    seconds = "" if timed is None else f" ({timed.seconds_per_channel()[-1]:.1f} s per channel)"
    print(
        f"    {name}: {reference.mean():7.2f}{seconds}; defaults = "
        f"{100 * rates.mean() / reference.mean():5.1f} % of it (worst channel "
        f"{100 * ratios.min():5.1f} %)"
    )


def _print_trace(name: str, timed: Run) -> None:
    means = timed.result.rate_trace.mean(axis=1)
    seconds = timed.seconds_per_channel()
    marks = np.unique(np.geomspace(1, len(means) - 1, 8).astype(int)) if len(means) > 1 else []
    print(
        f"    {name}, rate vs s per channel: "
        + ", ".join(f"{seconds[i]:.2f} s: {means[i]:.1f}" for i in marks)
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
    parser.add_argument("--trials", type=int, default=6, help="channels per L")
    parser.add_argument("--block", type=int, default=20, help="trials per evaluation timing")
    parser.add_argument("--layers", type=int, nargs="+", default=[7, 8, 9, 10])
    parser.add_argument("--channels", choices=["fig1", "seeded"], default="fig1")
    parser.add_argument("--skip-reference", action="store_true", help="no 10x-budget runs")
    parser.add_argument("--starts", type=int, default=3, help="independent starts (0: none)")
    parser.add_argument("--timing-only", action="store_true", help="only seconds per evaluation")
    parser.add_argument("--json", type=Path, help="write every channel's numbers here")
    parser.add_argument("--methods", nargs="+", default=["rmax", "hybrid"], choices=sorted(methods))
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of every method other than its default, e.g. preconditioner_exponent=0",
    )
    args = parser.parse_args()
    params = dict(parse_override(item) for item in args.param)
    records = []
    for layers in args.layers:
        print(f"L = K = {layers}, N = M = 100, S = 4")
        timings = seconds_per_evaluation(paper_block(layers, args.block))
        baseline = timings["per-trial numpy"]
        print(f"  one rate-and-gradient evaluation, block of {args.block} trials:")
        for name, seconds in timings.items():
            print(f"  {name:24s} {seconds * 1e3:6.3f} ms per trial ({baseline / seconds:4.2f}x)")
        if args.timing_only:
            continue
        chosen = fig1_channels if args.channels == "fig1" else seeded_channels
        channels = chosen(layers, args.trials)
        print(f"  {args.trials} channels ({args.channels}), one block:")
        for method in args.methods:
            record = convergence(
                methods[method](**params), channels, not args.skip_reference, args.starts
            )
            records.append({"layers": layers, "channels": args.channels, **record})
            if args.json:
                args.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
