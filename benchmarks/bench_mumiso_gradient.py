"""Cost of the downlink's sum rate and exact gradient: batched against per trial, and memory.

1. Seconds per trial of one sum-rate-and-gradient evaluation (forward and adjoint pass,
   O(L N^2 K)) for trials evaluated one at a time (a block of one each) and stacked in one
   block (one hop product for all of them), and the ratio.
2. The dense reference (every layer's "after" and "before" matrices multiplied out, as a
   per-atom derivation does) against the adjoint pass, per trial.
3. Memory: the peak Python-allocated memory (tracemalloc) of a phase optimiser's block per
   trial, against the system's own estimate (``estimate_memory_bytes``).

An et al.'s setting (N = 100, K = 4), one BLAS thread; times are CPU seconds of the process
(``time.process_time``), which a loaded machine does not inflate.
Run: python benchmarks/bench_mumiso_gradient.py [--layers 1 4 10] [--block 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from bench_mumiso_convergence import an_block
from simframe_metasurface.propagation import RayleighSommerfeldPropagation
from simframe_mumiso.an_ga import AnGradientAscent
from simframe_mumiso.channel import CorrelatedRayleighUsers
from simframe_mumiso.downlink import sum_rate_channel_gradient
from simframe_mumiso.power import DampedWaterFilling, WmmsePower
from simframe_mumiso.random_phases import RandomPhases
from simframe_mumiso.sum_rate_lbfgs import SumRateLbfgs
from simframe_mumiso.system import SimMumisoDownlink
from threadpoolctl import threadpool_limits


def dense_angle_gradient(block, trial, phases, powers):
    """The gradient with every layer's surrounding products formed explicitly (reference)."""
    layers = block.layers
    cascade = phases[0][:, None] * block.hops[0]
    for layer in range(1, layers):
        cascade = phases[layer][:, None] * (block.hops[layer] @ cascade)
    effective = block.channels[trial] @ cascade
    seed = sum_rate_channel_gradient(effective, powers, block.noise_w)
    gradient = np.empty(phases.shape)
    for layer in range(layers):
        before = block.hops[0]
        for earlier in range(layer):
            before = block.hops[earlier + 1] @ (phases[earlier][:, None] * before)
        after = block.channels[trial]
        for later in range(layers - 1, layer, -1):
            after = (after * phases[later][None, :]) @ block.hops[later]
        euclidean = np.einsum("nk,nk->n", after.conj().T @ seed, before.conj())
        gradient[layer] = np.imag(euclidean * phases[layer].conj())
    return gradient


def evaluation_seconds(block, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    trials = len(block)
    phases = np.stack([block.random_phases(rng) for _ in range(trials)])
    powers = block.equal_powers(trials)
    singles = [block.trial(b) for b in range(trials)]

    def per_trial():
        for b, single in enumerate(singles):
            single.rate_gradients(phases[b : b + 1], powers[b : b + 1])

    def batched():
        block.rate_gradients(phases, powers)

    def dense():
        for b in range(min(trials, 4)):
            dense_angle_gradient(block, b, phases[b], powers[b])

    timings = {}
    for name, function, count in (
        ("per trial", per_trial, trials),
        ("batched", batched, trials),
        ("dense", dense, min(trials, 4)),
    ):
        function()  # warm up
        start = time.process_time()
        for _ in range(repeats):
            function()
        timings[name] = (time.process_time() - start) / repeats / count
    return timings


def peak_bytes(optimiser, allocator, block) -> int:
    """Peak memory of ``optimiser`` on ``block`` (random starts)."""
    rngs = [np.random.default_rng(b) for b in range(len(block))]
    tracemalloc.start()
    optimiser.optimise_block(block, allocator, rngs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def memory_per_trial(layers: int, block_size: int) -> None:
    system = SimMumisoDownlink(
        {
            "channel": CorrelatedRayleighUsers(),
            "propagation": RayleighSommerfeldPropagation(),
            "phases": RandomPhases(),
            "power": WmmsePower(),
        },
        layers=layers,
    )
    print(f"  system estimate: {system.estimate_memory_bytes() / 2**20:.1f} MiB per trial block")
    for name, optimiser, allocator in (
        ("an_ga", AnGradientAscent(max_iterations=5), DampedWaterFilling()),
        ("sum_rate_lbfgs", SumRateLbfgs(max_outer_iterations=2, inner_iterations=20), WmmsePower()),
    ):
        peaks = {}
        for size in (1, block_size):
            peaks[size] = peak_bytes(optimiser, allocator, an_block(layers, size))
        per_trial = (peaks[block_size] - peaks[1]) / (block_size - 1)
        print(
            f"  {name:15s} peak {peaks[1] / 2**20:6.2f} MiB for 1 trial, "
            f"{peaks[block_size] / 2**20:6.2f} MiB for {block_size}: "
            f"{per_trial / 2**20:5.2f} MiB per extra trial"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 4, 10])
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with threadpool_limits(1):
        for layers in args.layers:
            block = an_block(layers, args.block)
            t = evaluation_seconds(block, args.repeats)
            print(
                f"L = {layers}: one sum rate and gradient, per trial: "
                f"{1e3 * t['per trial']:.3f} ms one at a time, {1e3 * t['batched']:.3f} ms in a "
                f"block of {args.block} ({t['per trial'] / t['batched']:.2f}x faster); dense "
                f"products {1e3 * t['dense']:.2f} ms ({t['dense'] / t['batched']:.0f}x the "
                "batched adjoint pass)",
                flush=True,
            )
            memory_per_trial(layers, args.block)


if __name__ == "__main__":
    main()
