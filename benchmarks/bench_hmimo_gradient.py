"""Adjoint gradient (Theorem 1, O(L N^2 S)) against the dense-product reference (O(L^2 N^3)).

Prints the time per gradient of each and their ratio at the paper's size (N = M = 100,
L = K = 7, S = 4), single BLAS thread. Expect the adjoint to be >= 10x faster.
Run: python benchmarks/bench_hmimo_gradient.py
"""

from __future__ import annotations

import time

import numpy as np
from bench_hmimo_convergence import paper_block
from simframe_hmimo.link import dense_rate_gradient, rate_gradient
from threadpoolctl import threadpool_limits


def seconds_per_call(function, *args, repeats: int) -> float:
    function(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        function(*args)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    for layers in (3, 7, 10):
        link = paper_block(layers, 1).link(0)
        rng = np.random.default_rng(0)
        tx, rx = link.random_phases(rng)
        powers = np.full(4, 0.025)
        adjoint = seconds_per_call(rate_gradient, link, tx, rx, powers, repeats=50)
        dense = seconds_per_call(dense_rate_gradient, link, tx, rx, powers, repeats=3)
        print(
            f"N = M = 100, L = K = {layers:2d}, S = 4: adjoint {adjoint * 1e3:7.2f} ms, "
            f"dense {dense * 1e3:8.1f} ms, ratio {dense / adjoint:6.1f}x"
        )


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
