"""``sim_mumiso_downlink``: the SIM-aided multiuser MISO downlink of An et al. (ICC 2023)."""

from __future__ import annotations

import numpy as np
from simframe_metasurface.geometry import (
    layer_stack,
    perfect_square_problem,
    uniform_linear_array,
    wavelength_m,
)
from simframe_metasurface.propagation import stack_hops

from simframe import ComponentKind, MetricSpec, Parameter, ParameterError, Slot, SystemModel
from simframe_mumiso.downlink import DownlinkBlock, received_powers
from simframe_mumiso.interfaces import SYSTEM_NAME, MumisoGeometry, PhaseDesign

PASSIVITY_TOLERANCE = 1e-9
"""Spectral norms up to 1 + this count as passive (a hop scaled to norm 1 lands within it)."""
BUDGET_TOLERANCE = 1e-9
"""Relative deviation from the budget allowed in the powers a phase optimiser returns."""

METRICS = {
    "sum_rate_bps_hz": MetricSpec("bit/s/Hz", "sum rate"),
    "rate_bps_hz": MetricSpec("bit/s/Hz", "rate of every user", ("ue",)),
    "sinr": MetricSpec("1", "SINR of every user (linear)", ("ue",)),
    "interference_w": MetricSpec("W", "interference power at every user", ("ue",)),
    "noise_power_w": MetricSpec("W", "noise power sigma^2 at every user"),
    "iterations": MetricSpec("1", "phase optimiser outer iterations"),
    "evaluations": MetricSpec("1", "sum-rate evaluations of the phase optimiser"),
    "objective_trace": MetricSpec(
        "bit/s/Hz",
        "phase optimiser objective: sum rate at the start and after every outer iteration",
        ("iteration",),
    ),
    "max_hop_spectral_norm": MetricSpec(
        "1", "largest spectral norm of any SIM hop (> 1: not passive)"
    ),
}
"""The metrics of every trial."""

OPTIONAL_METRICS: dict[str, dict[str, MetricSpec]] = {
    "effective_channel": {
        "effective_channel": MetricSpec(
            "1",
            "effective channel H = G Phi_L W_L ... Phi_1 W_1 (user x antenna)",
            ("ue", "antenna"),
            complex=True,
        ),
    },
    "powers_w": {"powers_w": MetricSpec("W", "power of every user's stream", ("ue",))},
    "phases": {
        "phases": MetricSpec("1", "meta-atom coefficients", ("layer", "atom"), complex=True),
        "atom_position_m": MetricSpec(
            "m",
            "meta-atom coordinates (x, y, z) in the SIM's frame (antennas at z = 0)",
            ("layer", "atom", "xyz"),
        ),
    },
}
"""The metrics each optional output (``store``) adds."""


def dbm_to_w(power_dbm: float) -> float:
    return 10.0 ** (power_dbm / 10.0) / 1000.0


class SimMumisoDownlink(SystemModel):
    """SIM-aided multiuser MISO downlink: the SIM beamforms in the wave domain (An et al. 2023).

    K base-station antennas (a lambda/2 ULA along x, centred under the SIM) each send one
    user's stream through a SIM of L layers x N meta-atoms (square lambda/2 grids, thickness
    T = ``thickness_wavelengths`` lambda, layer spacing T / L, the antennas one spacing in front
    of layer 1). Hops come from the propagation slot (Rayleigh-Sommerfeld by default, meta-atom
    area lambda^2 / 4), the users' channels ``G`` (K x N) from the channel slot, the phases from
    the phase slot and the powers from the power slot (through the phase optimiser). With
    ``H = G Phi_L W_L ... Phi_1 W_1`` (K x K; stream k leaves antenna k),
    ``SINR_k = p_k |H_kk|^2 / (sum_{j != k} p_j |H_kj|^2 + sigma^2)`` and the sum rate is
    ``sum_k log2(1 + SINR_k)``.

    Geometry of An et al.'s code (SIM_GA.m): the antennas at ``bs_height_m`` above the users'
    plane, the SIM below them (its last layer at height h - T), user k (k = 1..K) on the ground
    at (k d, k d) with d = ``user_spacing_m``.

    Phases are designed on what the algorithms know (``trial.known_channel``); every metric is
    evaluated on the true ``G``. Passivity: at layer spacings of about lambda and below, the
    Rayleigh-Sommerfeld hops between lambda/2-spaced atoms have spectral norm above 1 (1.15 at
    lambda/2, An's spacing at L = 10); ``warnings()`` says so, every trial records
    ``max_hop_spectral_norm``, and ``propagation = { passive = true }`` scales such hops to
    norm 1.
    """

    name = SYSTEM_NAME
    parameters = (
        Parameter(
            "carrier_frequency_hz",
            float,
            28e9,
            "Hz",
            "carrier frequency f0",
            minimum=1.0,
            plausible=(1e8, 3e12),
        ),
        Parameter(
            "users", int, 4, help="users K, one BS antenna and stream each", minimum=1, maximum=1024
        ),
        Parameter(
            "atoms",
            int,
            100,
            help="meta-atoms N per layer (a square grid)",
            minimum=1,
            check=perfect_square_problem,
        ),
        Parameter("layers", int, 4, help="metasurface layers L", minimum=1, maximum=1000),
        Parameter(
            "thickness_wavelengths",
            float,
            5.0,
            "1",
            "SIM thickness T / lambda (layer spacing T / L)",
            minimum=1e-3,
            plausible=(0.05, 100.0),
        ),
        Parameter(
            "bs_height_m",
            float,
            10.0,
            "m",
            "height of the BS antennas above the users' plane (the SIM hangs below them)",
            minimum=0.0,
            plausible=(1.0, 300.0),
        ),
        Parameter(
            "user_spacing_m",
            float,
            10.0,
            "m",
            "user k stands at (k d, k d) on the ground, d this spacing",
            minimum=0.0,
            plausible=(0.1, 1e4),
        ),
        Parameter(
            "tx_power_dbm", float, 15.0, "dBm", "total transmit power P_t", plausible=(-40.0, 70.0)
        ),
        Parameter(
            "noise_power_dbm",
            float,
            -104.0,
            "dBm",
            "noise power sigma^2 at every user",
            plausible=(-200.0, -30.0),
        ),
    )
    trial_block = 20
    """Trials of a sweep point optimised together (one hop product serves all of them)."""
    realisation_slots = ("channel",)
    """The users' channels depend on the geometry (the system's parameters) and the channel
    model alone: sweeps of the phases, power or propagation slots are paired."""
    slots = {
        "channel": Slot(
            ComponentKind.CHANNEL_MODEL, "mumiso_correlated_rayleigh", "users' channels G"
        ),
        "propagation": Slot(
            ComponentKind.PROPAGATION_MODEL, "rayleigh_sommerfeld", "hops inside the SIM"
        ),
        "phases": Slot(ComponentKind.PHASE_OPTIMISER, "sum_rate_lbfgs", "meta-atom phases"),
        "power": Slot(ComponentKind.POWER_ALLOCATOR, "mumiso_wmmse", "power of every stream"),
    }
    optional_outputs = {
        "effective_channel": "the effective channel H (complex, ue x antenna)",
        "powers_w": "the power of every user's stream in W",
        "phases": "the meta-atom coefficients (complex, layer x atom) and the atoms' coordinates "
        "(m, layer x atom x xyz), enough to rebuild the SIM",
    }
    references = (
        "J. An, M. Di Renzo, M. Debbah, C. Yuen, 'Stacked Intelligent Metasurfaces for Multiuser "
        "Beamforming in the Wave Domain', IEEE ICC 2023 (code: github JianchengAn/SIM-2-MUMISO)"
    )

    def __init__(self, components, **params):
        super().__init__(components, **params)
        self.wavelength_m = wavelength_m(self.carrier_frequency_hz)
        self.thickness_m = self.thickness_wavelengths * self.wavelength_m
        if self.bs_height_m <= self.thickness_m:
            raise ParameterError(
                "bs_height_m",
                f"the users' plane must lie below the SIM: {self.bs_height_m:g} m is not above "
                f"its thickness {self.thickness_m:.4g} m",
            )
        self.refuse_if_too_large("atoms")
        spacing = self.wavelength_m / 2.0
        antennas = uniform_linear_array(self.users, spacing)
        layers = layer_stack(self.atoms, self.layers, self.thickness_m, spacing)
        step = self.user_spacing_m * np.arange(1, self.users + 1)
        users = np.column_stack([step, step, np.full(self.users, self.bs_height_m)])
        self.geometry = MumisoGeometry(self.wavelength_m, antennas, tuple(layers), users)
        hops = stack_hops(
            components["propagation"], antennas, layers, self.wavelength_m, spacing**2
        )
        self.hops = hops.hops
        self.hop_spectral_norms = hops.spectral_norms
        self.draw_channel = components["channel"].sampler(self.geometry)
        self.noise_w = dbm_to_w(self.noise_power_dbm)
        self.budget_w = dbm_to_w(self.tx_power_dbm)

    def warnings(self) -> list[str]:
        largest = float(self.hop_spectral_norms.max())
        if largest <= 1.0 + PASSIVITY_TOLERANCE:
            return []
        gap = self.thickness_m / self.layers
        return [
            f"a SIM hop has spectral norm {largest:.4f} > 1: the modelled layers amplify energy "
            f"(Rayleigh-Sommerfeld hops between lambda/2-spaced atoms gain energy once layers "
            f"are about one wavelength apart or closer; here {gap / self.wavelength_m:.2f} "
            "lambda). Part of any gain with more layers is this gain; set `passive = true` in "
            "[propagation] for a passive SIM"
        ]

    def estimate_memory_bytes(self) -> int:
        """Peak memory of one block of trials: the hops, their adjoints and the correlation
        root (shared), and per trial the fields of a forward and an adjoint pass and the
        curvature pairs of an L-BFGS with 30 pairs over the L N angles (0.97 MiB per trial
        measured at L = 10, N = 100, K = 4; benchmarks/bench_mumiso_gradient.py)."""
        atoms, layers, users = self.atoms, self.layers, self.users
        shared = 16 * (2 * layers * atoms**2 + atoms**2)
        per_trial = 16 * (4 * layers * atoms * users + 2 * users * atoms) + 8 * 70 * layers * atoms
        return shared + self.trial_block * per_trial

    def declared_metrics(self, store):
        """:data:`METRICS` and the metrics of the optional outputs in ``store``."""
        declared = dict(METRICS)
        for output in sorted(store):
            declared.update(OPTIONAL_METRICS[output])
        return declared

    def draw(self, rng):
        return self.draw_channel(rng)

    def simulate(self, realisation, trial):
        """One trial: :meth:`simulate_block` with a block of one."""
        return self.simulate_block([realisation], [trial])[0]

    def simulate_block(self, realisations, trials):
        """Optimise the block's trials together on their ``known_channel`` through the phase
        slot's ``optimise_block``; evaluate every metric of each trial on its true ``G``."""
        known = [
            realisation if trial.known_channel is None else trial.known_channel
            for realisation, trial in zip(realisations, trials, strict=True)
        ]
        design = DownlinkBlock(self.hops, np.stack(known), self.noise_w, self.budget_w)
        designs = self.components["phases"].optimise_block(
            design, self.components["power"], [trial.rng for trial in trials]
        )
        if len(designs) != len(trials):
            raise ValueError(
                f"the phase optimiser returned {len(designs)} designs for {len(trials)} trials"
            )
        return [
            self._trial_metrics(realisation, trial, design.trial(b), result)
            for b, (realisation, trial, result) in enumerate(
                zip(realisations, trials, designs, strict=True)
            )
        ]

    def _checked_powers(self, result: PhaseDesign) -> np.ndarray:
        powers = np.asarray(result.powers_w, dtype=float)
        if (
            powers.shape != (self.users,)
            or np.any(powers < 0.0)
            or abs(powers.sum() - self.budget_w) > BUDGET_TOLERANCE * self.budget_w
        ):
            raise ValueError(
                f"the phase optimiser returned powers {powers!r} W; expected {self.users} "
                f"values >= 0 summing to the budget {self.budget_w:.6g} W"
            )
        return powers

    def _trial_metrics(self, realisation, trial, design, result):
        powers = self._checked_powers(result)
        phases = {"sim": np.array(result.phases, dtype=complex)}
        trial.phases_configured(phases)
        configured = phases["sim"]
        if not np.array_equal(configured, result.phases):
            known = design.effective_channels(configured[None])
            powers = self.components["power"].allocate(
                known, self.noise_w, self.budget_w, initial_w=powers[None]
            )[0]
        truth = DownlinkBlock(self.hops, realisation[None], self.noise_w, self.budget_w)
        effective = truth.effective_channels(configured[None])[0]
        signal, interference = received_powers(effective, powers)
        sinr = signal / (interference + self.noise_w)
        rates = np.log2(1.0 + sinr)
        values = {
            "sum_rate_bps_hz": rates.sum(),
            "rate_bps_hz": rates,
            "sinr": sinr,
            "interference_w": interference,
            "noise_power_w": self.noise_w,
            "iterations": result.iterations,
            "evaluations": result.evaluations,
            "objective_trace": np.asarray(result.objective_trace, dtype=float),
            "max_hop_spectral_norm": float(self.hop_spectral_norms.max()),
            "effective_channel": effective,
            "powers_w": powers,
            "phases": configured,
            "atom_position_m": np.stack(self.geometry.layers_m),
        }
        trial.quantities.update(
            effective_channel=effective, phases=phases, powers_w=powers, design=result
        )
        return {
            name: spec.metric(values[name])
            for name, spec in self.declared_metrics(trial.store).items()
        }
