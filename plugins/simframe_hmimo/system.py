"""``sim_hmimo_link``: a point-to-point HMIMO link with a SIM on each side (paper 000)."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from simframe_metasurface.geometry import (
    layer_stack,
    perfect_square_problem,
    uniform_linear_array,
    wavelength_m,
)
from simframe_metasurface.propagation import stack_hops
from threadpoolctl import threadpool_limits

from simframe import ComponentKind, ContractError, MetricSpec, Parameter, Slot, SystemModel
from simframe_hmimo.backend import BACKENDS, backend_named
from simframe_hmimo.interfaces import SYSTEM_NAME, HmimoGeometry, PhaseResult
from simframe_hmimo.link import rate_bps_hz, sinr, stream_powers
from simframe_hmimo.link_block import LinkBlock
from simframe_hmimo.power import water_filling

PASSIVITY_TOLERANCE = 1e-9
"""Spectral norms up to 1 + this count as passive (a hop scaled to norm 1 lands within it)."""


def dbm_to_w(power_dbm: float) -> float:
    return 10.0 ** (power_dbm / 10.0) / 1000.0


def digital_rate_bps_hz(
    channel: np.ndarray, streams: int, noise_w: float, budget_w: float
) -> float:
    """Digital benchmark: water-filling over the ``streams`` largest singular values of ``H~``."""
    gains = np.linalg.svd(channel, compute_uv=False)[:streams] ** 2 / noise_w
    return float(np.sum(np.log2(1.0 + gains * water_filling(gains, budget_w))))


METRICS = {
    "rate_bps_hz": MetricSpec("bit/s/Hz", "achievable rate, eq. (5)"),
    "sinr": MetricSpec("1", "SINR per stream (linear)", ("stream",)),
    "interference_w": MetricSpec("W", "inter-stream interference power per stream", ("stream",)),
    "digital_rate_bps_hz": MetricSpec(
        "bit/s/Hz", "digital benchmark: water-filling over the S largest singular values of H~"
    ),
    "iterations": MetricSpec("1", "phase optimiser iterations"),
    "max_hop_spectral_norm": MetricSpec(
        "1", "largest spectral norm of any SIM hop (> 1: not passive)"
    ),
    "rate_channel_scale": MetricSpec("1", "scale of H the rate is evaluated on (1: unscaled)"),
}
"""The metrics of every trial, beside the phase optimiser's trace (its ``objective``)."""

OPTIONAL_METRICS: dict[str, dict[str, MetricSpec]] = {
    "channel": {
        "channel": MetricSpec("1", "channel H~", ("rx_atom", "tx_atom"), complex=True),
    },
    "effective_channel": {
        "effective_channel": MetricSpec(
            "1", "effective channel H", ("stream", "antenna"), complex=True
        ),
    },
    "phases": {
        "tx_phases": MetricSpec("1", "TX coefficients", ("tx_layer", "tx_atom"), complex=True),
        "rx_phases": MetricSpec("1", "RX coefficients", ("rx_layer", "rx_atom"), complex=True),
        **{
            f"{side}_atom_position_m": MetricSpec(
                "m",
                f"{side.upper()} meta-atom coordinates (x, y, z) in the {side.upper()} SIM's frame",
                (f"{side}_layer", f"{side}_atom", "xyz"),
            )
            for side in ("tx", "rx")
        },
    },
    "powers": {"powers_w": MetricSpec("W", "stream powers", ("stream",))},
}
"""The metrics each optional output (``store``) adds."""


GEOMETRY_PARAMETERS = (
    "carrier_frequency_hz",
    "antennas",
    "tx_atoms",
    "rx_atoms",
    "tx_layers",
    "rx_layers",
    "thickness_m",
)
"""The system parameters the hops and the channel's statistics depend on."""


def _component_key(component) -> tuple:
    return type(component), tuple(sorted(component.params.items()))


@functools.lru_cache(maxsize=8)
def _link_precomputation(geometry: tuple, propagation: tuple, channel: tuple) -> tuple:
    """TX hops, RX hops (transposed), the hops' spectral norms, the :class:`HmimoGeometry` and
    the channel sampler of a link of ``geometry`` (the values of :data:`GEOMETRY_PARAMETERS`),
    for the propagation and channel models given as ``(class, sorted parameter items)``.

    Computed with one BLAS thread whoever asks first, so that the shared result (and every
    channel drawn from it) has the same bits in any process and under any thread setting.
    """
    with threadpool_limits(1):
        return _compute_link_precomputation(geometry, propagation, channel)


def _compute_link_precomputation(geometry: tuple, propagation: tuple, channel: tuple) -> tuple:
    carrier_frequency_hz, antenna_count, tx_atoms, rx_atoms, tx_count, rx_count, thickness = (
        geometry
    )
    wavelength = wavelength_m(carrier_frequency_hz)
    spacing, area = wavelength / 2.0, wavelength**2 / 4.0
    antennas = uniform_linear_array(antenna_count, spacing)
    tx_layers = layer_stack(tx_atoms, tx_count, thickness, spacing)
    rx_layers = layer_stack(rx_atoms, rx_count, thickness, spacing)
    propagation_model = propagation[0](**dict(propagation[1]))
    tx = stack_hops(propagation_model, antennas, tx_layers, wavelength, area)
    rx = stack_hops(propagation_model, antennas, rx_layers, wavelength, area)
    layout = HmimoGeometry(wavelength, antennas, tuple(tx_layers), antennas, tuple(rx_layers))
    sampler = channel[0](**dict(channel[1])).sampler(layout)
    norms = np.concatenate([tx.spectral_norms, rx.spectral_norms])
    return tx.hops, tuple(hop.T for hop in rx.hops), norms, layout, sampler


class SimHmimoLink(SystemModel):
    """Point-to-point HMIMO link with a stacked intelligent metasurface at TX and RX (paper 000).

    ``H = V_R H~ V_T`` (eq. (4)); ``V_T``/``V_R`` chain the hops of the propagation slot (eq.
    (1) by default) and the phases of the phase slot; ``H~`` comes from the channel slot. Stream
    ``s`` leaves TX antenna ``s`` and is detected at RX antenna ``s``; the rate is eq. (5) with
    the powers of the phase optimiser (computed by the power slot). Both SIMs have the same
    thickness ``thickness_m`` (D_T = D_R, as in the paper's figures); layer spacing D/L and
    D/K, the antenna array one spacing in front of layer 1 (spec sim-hmimo.md). The RX SIM is
    the mirror image of the TX SIM, so its hops are the transposed TX-style hops.

    Passivity: for layer gaps of about one wavelength and below, eq. (1) on lambda/2-spaced atoms
    gives hops with spectral norm above 1 (energy gain: 1.0004 at a gap of lambda, 1.15 at
    lambda/2, 2.07 at lambda/5). ``warnings()`` says so and every trial records
    ``max_hop_spectral_norm``; ``propagation = { passive = true }`` scales such hops to norm 1.
    """

    name = SYSTEM_NAME
    parameters = (
        Parameter(
            "carrier_frequency_hz",
            float,
            6e9,
            "Hz",
            "carrier frequency",
            minimum=1.0,
            plausible=(1e8, 3e12),
        ),
        Parameter("antennas", int, 4, help="antennas S on each side (= streams)", minimum=1),
        Parameter(
            "tx_atoms",
            int,
            100,
            help="meta-atoms N per TX layer (square)",
            minimum=1,
            check=perfect_square_problem,
        ),
        Parameter(
            "rx_atoms",
            int,
            100,
            help="meta-atoms M per RX layer (square)",
            minimum=1,
            check=perfect_square_problem,
        ),
        Parameter("tx_layers", int, 7, help="TX metasurface layers L", minimum=1),
        Parameter("rx_layers", int, 7, help="RX metasurface layers K", minimum=1),
        Parameter(
            "thickness_m",
            float,
            0.1,
            "m",
            "thickness of each SIM, D_T = D_R",
            minimum=1e-6,
            plausible=(1e-4, 1.0),
        ),
        Parameter(
            "tx_power_dbm", float, 20.0, "dBm", "total transmit power P_t", plausible=(-40.0, 70.0)
        ),
        Parameter(
            "noise_power_dbm",
            float,
            -110.0,
            "dBm",
            "noise power sigma^2",
            plausible=(-200.0, -30.0),
        ),
        Parameter(
            "backend",
            str,
            "numpy",
            help="array library of the batched hop products (torch: CUDA if available)",
            choices=BACKENDS,
        ),
    )
    trial_block = 20
    """Trials of a sweep point optimised together (one hop product serves all of them)."""
    slots = {
        "channel": Slot(
            ComponentKind.CHANNEL_MODEL, "correlated_rayleigh", "channel H~ between SIMs"
        ),
        "propagation": Slot(
            ComponentKind.PROPAGATION_MODEL, "rayleigh_sommerfeld", "hops inside each SIM"
        ),
        "phases": Slot(ComponentKind.PHASE_OPTIMISER, "hybrid", "meta-atom phase optimiser"),
        "power": Slot(ComponentKind.POWER_ALLOCATOR, "wmmse", "stream power allocator"),
    }
    realisation_slots = ("channel",)
    """``H~`` depends on the geometry (the system's parameters) and the channel model alone."""
    optional_outputs = {
        "channel": "the channel H~ between the SIMs (complex, rx_atom x tx_atom)",
        "effective_channel": "the effective channel H (complex, stream x antenna)",
        "phases": "TX and RX meta-atom coefficients (complex, layer x atom) and the atoms' "
        "coordinates (m, layer x atom x xyz), enough to rebuild both SIMs",
        "powers": "the stream powers in W",
    }
    references = (
        "paper 000: 'Scaling Achievable Rates in SIM-aided MIMO Systems with Metasurface "
        "Layers: A Hybrid Optimization Framework'; An et al., JSAC 2023 (PG benchmark)"
    )

    def __init__(self, components, **params):
        super().__init__(components, **params)
        self.refuse_if_too_large("tx_atoms" if self.tx_atoms >= self.rx_atoms else "rx_atoms")
        self._precompute(components)  # the core runs construction with one BLAS thread

    def _precompute(self, components) -> None:
        """Geometry, hops, their spectral norms and the channel sampler of this sweep point,
        shared with every other instance of the same geometry, propagation and channel model
        (a sweep of the power or the algorithms computes them once)."""
        geometry = tuple(getattr(self, name) for name in GEOMETRY_PARAMETERS)
        shared = _link_precomputation(
            geometry,
            _component_key(components["propagation"]),
            _component_key(components["channel"]),
        )
        self.tx_hops, self.rx_hops, self.hop_spectral_norms, self.geometry = shared[:4]
        self.draw_channel = shared[4]
        self.noise_w = dbm_to_w(self.noise_power_dbm)
        self.budget_w = dbm_to_w(self.tx_power_dbm)
        self.array_backend = backend_named(self.backend)

    def warnings(self) -> list[str]:
        largest = float(self.hop_spectral_norms.max())
        if largest <= 1.0 + PASSIVITY_TOLERANCE:
            return []
        spacing_m = self.thickness_m / max(self.tx_layers, self.rx_layers)
        return [
            f"a SIM hop has spectral norm {largest:.4f} > 1: the modelled layers amplify energy. "
            f"Eq. (1) on lambda/2-spaced meta-atoms gains energy once adjacent layers are about "
            f"one wavelength apart or closer, more the closer they are; here they are "
            f"{spacing_m:.4g} m = {spacing_m / self.geometry.wavelength_m:.2f} lambda apart. "
            "Part of any rate gain with more layers is this gain; set `passive = true` in "
            "[propagation] for a passive SIM"
        ]

    def declared_metrics(self, store):
        """:data:`METRICS`, the phase optimiser's trace and the optional outputs in ``store``."""
        objective = self.components["phases"].objective
        declared = {**METRICS, objective.variable: objective.spec}
        for output in sorted(store):
            declared.update(OPTIONAL_METRICS[output])
        return declared

    def estimate_memory_bytes(self) -> int:
        hops = self.tx_layers * self.tx_atoms**2 + self.rx_layers * self.rx_atoms**2
        return 16 * 4 * (hops + 3 * self.tx_atoms * self.rx_atoms)

    def draw(self, rng):
        return self.draw_channel(rng)

    def simulate(self, realisation, trial):
        """One trial: :meth:`simulate_block` with a block of one."""
        return self.simulate_block([realisation], [trial])[0]

    def simulate_block(self, realisations, trials):
        """Optimise the block's trials together on their ``known_channel`` (the estimate, if a
        plugin gives one) through the phase slot's ``optimise_block``; evaluate every metric of
        each trial on its true realisation."""
        known = [
            realisation if trial.known_channel is None else trial.known_channel
            for realisation, trial in zip(realisations, trials, strict=True)
        ]
        design = LinkBlock(
            self.tx_hops,
            self.rx_hops,
            np.stack(known),
            self.noise_w,
            self.budget_w,
            self.array_backend,
        )
        optimiser = self.components["phases"]
        results = optimiser.optimise_block(
            design, self.components["power"], [trial.rng for trial in trials]
        )
        if len(results) != len(trials):
            raise ContractError(
                optimiser, f"returned {len(results)} phase results for {len(trials)} trials"
            )
        for result in results:
            if not isinstance(result, PhaseResult):
                raise ContractError(
                    optimiser, f"returned a {type(result).__name__}, expected a PhaseResult"
                )
            if (problem := result.problem(design)) is not None:
                raise ContractError(optimiser, f"returned a PhaseResult {problem}")
        return [
            self._trial_metrics(realisation, trial, design.link(b), result)
            for b, (realisation, trial, result) in enumerate(
                zip(realisations, trials, results, strict=True)
            )
        ]

    def _trial_metrics(self, realisation, trial, design, result):
        link = dataclasses.replace(design, channel=realisation)
        power = self.components["power"]
        phases = {"tx": result.tx_phases.copy(), "rx": result.rx_phases.copy()}
        trial.phases_configured(phases)
        channel = result.channel_scale * link.effective_channel(phases["tx"], phases["rx"])
        powers = result.powers_w
        hooks_changed_phases = not (
            np.array_equal(phases["tx"], result.tx_phases)
            and np.array_equal(phases["rx"], result.rx_phases)
        )
        if hooks_changed_phases:
            known_effective = result.channel_scale * design.effective_channel(
                phases["tx"], phases["rx"]
            )
            powers = power.allocate(known_effective, self.noise_w, self.budget_w, initial_w=powers)
        _, interference = stream_powers(channel, powers)
        objective = self.components["phases"].objective
        values = {
            "rate_bps_hz": rate_bps_hz(channel, powers, self.noise_w),
            "sinr": sinr(channel, powers, self.noise_w),
            "interference_w": interference,
            "digital_rate_bps_hz": digital_rate_bps_hz(
                realisation, self.antennas, self.noise_w, self.budget_w
            ),
            "iterations": result.iterations,
            objective.variable: np.asarray(result.objective_trace, dtype=float),
            "max_hop_spectral_norm": float(self.hop_spectral_norms.max()),
            "rate_channel_scale": result.channel_scale,
        }
        trial.quantities.update(
            effective_channel=channel, phases=phases, powers_w=powers, optimiser_result=result
        )
        if trial.stores("channel"):
            values["channel"] = realisation
        if trial.stores("effective_channel"):
            values["effective_channel"] = channel
        if trial.stores("phases"):
            values["tx_phases"], values["rx_phases"] = phases["tx"], phases["rx"]
            for side, layers in (
                ("tx", self.geometry.tx_layers_m),
                ("rx", self.geometry.rx_layers_m),
            ):
                values[f"{side}_atom_position_m"] = np.stack(layers)
        if trial.stores("powers"):
            values["powers_w"] = powers
        declared = self.declared_metrics(trial.store)
        return {name: declared[name].metric(value) for name, value in values.items()}
