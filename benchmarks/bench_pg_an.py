"""Is ``pg_an`` converged at its defaults? Its rate against 10x its budget, on the same trials.

Fig. 1 setting of paper 000 (6 GHz, N = M = 100, S = 4, D = 0.1 m, correlated Rayleigh at
240 m, 20 dBm, -110 dBm), L = K = 7 and 10. For every trial (same channel, same optimiser seed)
it runs ``pg_an`` at its defaults (10 max(L, K) random draws, NMSE stop 1e-3), with 10x the
draws (the same draws and 9x more: budgets nest) and with a 10x tighter stop, and prints the
mean rate (unscaled ``H``, water-filling on the singular values of ``H~``), the mean final NMSE,
the seconds per trial, the ratio of the default's mean rate to the 10x budget's and the paired
difference per trial with its 95 % interval. The defaults count as converged when the ratio is
>= 0.98; the rate varies a lot from trial to trial, so read the ratio with the interval.
Single BLAS thread.
Run: python benchmarks/bench_pg_an.py [TRIALS [DRAWS_PER_LAYER [LAYERS]]]
(defaults: 20 trials per L, pg_an's 10 draws per layer, L = K = 7,10; e.g. ``100 100 7`` checks
100 draws per layer against 1000 at L = 7)
"""

from __future__ import annotations

import sys
import time

import numpy as np
from bench_hmimo_convergence import drawn_link, fig1_system
from simframe_hmimo.interfaces import HmimoLink
from simframe_hmimo.power import WaterFilling
from simframe_hmimo.projected_gradient import ProjectedGradientFit
from threadpoolctl import threadpool_limits

DEFAULTS = ProjectedGradientFit()


def budgets(draws_per_layer: int) -> dict[str, dict[str, float]]:
    """The budget under test and its two 10x enlargements."""
    base = {"restarts_per_layer": draws_per_layer, "tolerance": DEFAULTS.tolerance}
    return {
        "budget": base,
        "10x draws": {**base, "restarts_per_layer": 10 * draws_per_layer},
        "10x tighter stop": {**base, "tolerance": DEFAULTS.tolerance / 10},
    }


def fig1_links(layers: int, trials: int) -> list[HmimoLink]:
    """The Fig. 1 link at L = K = ``layers``, one channel per trial seeded by the trial."""
    system = fig1_system(layers)
    return [drawn_link(system, np.random.default_rng(trial)) for trial in range(trials)]


def run(optimiser: ProjectedGradientFit, links: list[HmimoLink]) -> tuple[np.ndarray, float, float]:
    """Rate per trial (bit/s/Hz), mean final NMSE and seconds per trial."""
    rates, nmse, seconds = [], [], 0.0
    for trial, link in enumerate(links):
        start = time.perf_counter()
        result = optimiser.optimise(link, WaterFilling(), np.random.default_rng([trial, 1]))
        seconds += time.perf_counter() - start
        rates.append(link.rate_bps_hz(result.tx_phases, result.rx_phases, result.powers_w))
        nmse.append(result.objective_trace[-1])
    return np.array(rates), float(np.mean(nmse)), seconds / len(links)


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    draws_per_layer = int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULTS.restarts_per_layer
    all_layers = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else [7, 10]
    for layers in all_layers:
        links = fig1_links(layers, trials)
        print(
            f"L = K = {layers}, {trials} trials (Fig. 1 setting of paper 000), budget: "
            f"{draws_per_layer} draws per layer, NMSE stop {DEFAULTS.tolerance:g}"
        )
        reference = None
        for label, overrides in budgets(draws_per_layer).items():
            rates, nmse, seconds = run(ProjectedGradientFit(**overrides), links)
            line = (
                f"  {label:16s} rate {rates.mean():7.3f} bit/s/Hz  NMSE {nmse:.4f}  "
                f"{seconds:6.3f} s/trial"
            )
            if reference is None:
                reference = rates
            else:
                gain = rates - reference
                half = 1.96 * gain.std(ddof=1) / np.sqrt(trials) if trials > 1 else np.nan
                line += (
                    f"  budget / this = {reference.mean() / rates.mean():.4f}"
                    f"  (this - budget: {gain.mean():+.3f} +- {half:.3f} bit/s/Hz)"
                )
            print(line, flush=True)


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
