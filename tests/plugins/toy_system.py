"""A deliberately tiny system used to test the core without any paper's physics.

Loaded with ``--plugin tests/plugins/toy_system.py`` (or ``PluginSettings(local_plugins=...)``).
"""

from __future__ import annotations

import time

import numpy as np

from simframe import (
    Component,
    ComponentKind,
    Metric,
    MetricSpec,
    OptionGroup,
    Parameter,
    ParameterError,
    Slot,
    SystemModel,
    hookimpl,
)


class ToyPhases(Component):
    """Random phases on one surface, and a trace whose length varies between trials."""

    kind = ComponentKind.PHASE_OPTIMISER
    name = "toy_random_phases"
    systems = ("toy_link",)
    parameters = (
        Parameter("fail_on_trial", int, -1, help="raise in this trial (testing)"),
        Parameter("sleep_s", float, 0.0, unit="s", help="wait this long per trial", minimum=0.0),
    )

    def choose(self, streams: int, rng: np.random.Generator, trial: int) -> tuple[np.ndarray, int]:
        time.sleep(self.sleep_s)
        if trial == self.fail_on_trial:
            raise RuntimeError("the toy optimiser was told to fail")
        return np.exp(2j * np.pi * rng.random((1, streams))), int(rng.integers(1, 6))


class ToyEqualPower(Component):
    """Equal power per stream."""

    kind = ComponentKind.POWER_ALLOCATOR
    name = "toy_equal_power"
    systems = ("toy_link",)

    def allocate(self, gains: np.ndarray, budget: float) -> np.ndarray:
        return np.full(gains.shape, budget / gains.size)


METRICS = {
    "rate_bps_hz": MetricSpec("bit/s/Hz", "sum rate"),
    "stream_rate_bps_hz": MetricSpec("bit/s/Hz", "rate per stream", ("stream",)),
    "objective_trace": MetricSpec("bit/s/Hz", "trace", ("iteration",)),
    "iterations": MetricSpec("1", "iterations"),
}
CHANNEL = MetricSpec("1", "complex stream gains", ("stream",), complex=True)


class ToyLink(SystemModel):
    """Parallel Rayleigh streams whose gains a phase vector rotates (no physics)."""

    name = "toy_link"
    parameters = (
        Parameter("streams", int, 2, help="number of streams", minimum=1),
        Parameter("snr_db", float, 10.0, unit="dB", help="signal-to-noise ratio"),
        Parameter("budget_w", float, 1.0, unit="W", help="power budget", minimum=0.0),
        Parameter("memory_gib", float, 0.0, unit="GiB", help="claimed memory per trial", minimum=0),
    )
    slots = {
        "phases": Slot(ComponentKind.PHASE_OPTIMISER, "toy_random_phases", "phases"),
        "power": Slot(ComponentKind.POWER_ALLOCATOR, "toy_equal_power", "powers"),
    }
    realisation_slots = ()  # draw() uses only the number of streams
    optional_outputs = {"channel": "the complex stream gains"}
    references = "none: a test fixture"

    def __init__(self, components, **params):
        super().__init__(components, **params)
        if self.streams > 64:
            raise ParameterError("streams", "the toy link supports at most 64 streams")

    def warnings(self) -> list[str]:
        return ["toy warning: streams above 4"] if self.streams > 4 else []

    def estimate_memory_bytes(self) -> int:
        return int(self.memory_gib * 2**30)

    def declared_metrics(self, store):
        return {**METRICS, "channel": CHANNEL} if "channel" in store else METRICS

    def draw(self, rng):
        return (
            rng.standard_normal(self.streams) + 1j * rng.standard_normal(self.streams)
        ) / np.sqrt(2)

    def simulate(self, realisation, trial):
        return self.simulate_block([realisation], [trial])[0]

    def simulate_block(self, realisations, trials):
        """Phases per trial (from each trial's generator); the link evaluated for all at once."""
        chosen = [
            self.components["phases"].choose(self.streams, t.rng, t.trial_index) for t in trials
        ]
        for (phases, _), trial in zip(chosen, trials, strict=True):
            trial.phases_configured({"surface": phases})
        gains = np.stack(realisations) * np.concatenate([phases for phases, _ in chosen])
        powers = np.stack([self.components["power"].allocate(g, self.budget_w) for g in gains])
        snr = 10 ** (self.snr_db / 10)
        rates = np.log2(1 + snr * np.abs(gains) ** 2 * powers)
        totals = rates.sum(axis=1)
        results = []
        for i, ((_, iterations), trial) in enumerate(zip(chosen, trials, strict=True)):
            values = {
                "rate_bps_hz": totals[i],
                "stream_rate_bps_hz": rates[i],
                "objective_trace": np.linspace(0, totals[i], iterations),
                "iterations": iterations,
            }
            metrics = {name: METRICS[name].metric(v) for name, v in values.items()}
            if trial.stores("channel"):
                metrics["channel"] = CHANNEL.metric(gains[i])
            results.append(metrics)
        return results


QUANTISATION = OptionGroup(
    "toy_quantisation",
    (Parameter("bits", int, 1, help="phase resolution", minimum=1),),
    help="quantise phases to 2**bits levels",
)


@hookimpl
def simframe_system_models():
    return [ToyLink]


@hookimpl
def simframe_phase_optimisers():
    return [ToyPhases]


@hookimpl
def simframe_power_allocators():
    return [ToyEqualPower]


@hookimpl
def simframe_option_groups():
    return [QUANTISATION]


@hookimpl
def simframe_phases_configured(trial, phases):
    options = trial.options.get("toy_quantisation")
    if options is None:
        return
    step = 2 * np.pi / 2 ** options["bits"]
    for values in phases.values():
        values[...] = np.exp(1j * step * np.round(np.angle(values) / step))


@hookimpl
def simframe_trial_metrics(trial, metrics):
    if "toy_quantisation" in trial.options:
        return {"toy_bits": Metric(trial.options["toy_quantisation"]["bits"], "1", "phase bits")}
    return None
