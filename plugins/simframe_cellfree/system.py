"""The SIM-enhanced cell-free massive MIMO uplink of paper 003 as a simframe system model."""

from __future__ import annotations

import time

import numpy as np
from simframe_metasurface.geometry import wavelength_m

from simframe import ComponentKind, Metric, MetricSpec, Parameter, ParameterError, Slot, SystemModel
from simframe_cellfree.access_point import build_front_end
from simframe_cellfree.closed_form import COMBINERS
from simframe_cellfree.interfaces import SYSTEM, returned_array
from simframe_cellfree.network import LargeScaleFading
from simframe_cellfree.uplink import LOS_RESPONSES, UplinkProblem, los_response

PASSIVITY_TOLERANCE = 1e-3
"""Relative excess of a hop's spectral norm over 1 that is not reported."""


METRICS = {
    "se_lsfd_bps_hz": MetricSpec("bit/s/Hz", "UatF SE per UE with LSFD", ("ue",)),
    "se_egcd_bps_hz": MetricSpec("bit/s/Hz", "UatF SE per UE with EGCD", ("ue",)),
    "mean_se_bps_hz": MetricSpec("bit/s/Hz", "mean SE per UE (combiner)"),
    "min_se_bps_hz": MetricSpec("bit/s/Hz", "lowest SE of a UE (combiner)"),
    "power_w": MetricSpec("W", "UE data power", ("ue",)),
    "pilot": MetricSpec("1", "pilot index per UE", ("ue",), categorical=True),
    "objective_trace": MetricSpec(
        "bit/s/Hz",
        "phase design objective per iteration (per sweep for Algorithm 2)",
        ("iteration",),
    ),
    "phase_design_time_s": MetricSpec("s", "phase design runtime", timing=True),
    "power_control_time_s": MetricSpec("s", "power control runtime", timing=True),
}
"""The metrics of every trial."""

OPTIONAL_METRICS = {
    "phases": MetricSpec("rad", "SIM phases", ("ap", "sim_layer", "atom")),
    "large_scale": MetricSpec("dB", "channel gain over noise", ("ap", "ue")),
}
"""The metric each optional output (``store``) adds, under the output's name."""


class SimCellFreeUplink(SystemModel):
    """SIM-enhanced cell-free massive MIMO uplink: MR at the APs, LSFD or EGCD at the CPU.

    Shi et al., paper 003 (spec sim-cellfree.md): L APs with N antennas, each behind a SIM of Q
    layers x M meta-atoms (``sim = false``: the conventional cell-free baseline, G_l = I_N), K
    single-antenna UEs, tau_p pilots in blocks of tau_c. A trial is one network realisation;
    per trial the system draws random initial phases, assigns pilots (Algorithm 1 or random),
    designs the phases (Algorithm 2 or random), optionally assigns pilots again at the designed
    phases (``reassign_pilots``; the paper assigns them once, before the phase design, Section
    IV), allocates powers (full or max-min, Algorithm 3) and reports the closed-form UatF SE
    (eqs. (12)-(14)) per UE for both CPU combiners.
    ``combiner`` selects the one the phase and power optimisers target.
    """

    name = SYSTEM
    parameters = (
        Parameter("aps", int, 20, "", "number of APs L", minimum=1),
        Parameter("ues", int, 20, "", "number of UEs K", minimum=1),
        Parameter("antennas", int, 4, "", "antennas per AP N", minimum=1),
        Parameter("sim", bool, True, "", "SIM in front of every AP (false: conventional CF)"),
        Parameter("layers", int, 2, "", "SIM layers Q", minimum=1),
        Parameter("atoms_per_layer", int, 36, "", "meta-atoms per layer M", minimum=1),
        Parameter(
            "total_atoms",
            int,
            0,
            "",
            "if > 0: meta-atoms of all SIMs together; sets M = total / (L Q) (Fig. 3)",
            minimum=0,
        ),
        Parameter(
            "carrier_frequency_hz",
            float,
            2e9,
            "Hz",
            "carrier frequency",
            minimum=1e6,
            plausible=(1e8, 3e12),
        ),
        Parameter(
            "atom_spacing_wavelengths", float, 0.5, "1", "meta-atom spacing / lambda", minimum=0.01
        ),
        Parameter(
            "atom_area_square_wavelengths",
            float,
            0.25,
            "lambda^2",
            "meta-atom area A / lambda^2 in the Rayleigh-Sommerfeld hops (independent of spacing)",
            minimum=1e-6,
        ),
        Parameter(
            "thickness_wavelengths",
            float,
            5.0,
            "1",
            "SIM thickness T / lambda",
            minimum=0.01,
            plausible=(0.05, 100.0),
        ),
        Parameter(
            "max_power_mw",
            float,
            200.0,
            "mW",
            "UE power p_max (data and pilot)",
            minimum=0,
            plausible=(1e-3, 1e5),
        ),
        Parameter("tau_c", int, 200, "", "coherence block length (symbols)", minimum=2),
        Parameter("tau_p", int, 10, "", "pilot length = number of orthogonal pilots", minimum=1),
        Parameter(
            "combiner", str, "lsfd", "", "CPU combining the optimisers target", choices=COMBINERS
        ),
        Parameter(
            "los_response",
            str,
            "steering",
            "",
            "LoS response over the atoms: 3-D plane-wave steering, or all ones (comparison only)",
            choices=LOS_RESPONSES,
        ),
        Parameter(
            "reassign_pilots",
            bool,
            False,
            "",
            "assign pilots again at the designed phases (the paper assigns them once, before)",
        ),
    )
    slots = {
        "setup": Slot(ComponentKind.CHANNEL_MODEL, "cost231_rician_network", "network layout"),
        "propagation": Slot(
            ComponentKind.PROPAGATION_MODEL, "rayleigh_sommerfeld", "SIM hops (W^1 ... W^Q)"
        ),
        "pilots": Slot(ComponentKind.PILOT_SCHEME, "greedy_pilots", "pilot assignment"),
        "phases": Slot(ComponentKind.PHASE_OPTIMISER, "cellfree_gradient", "SIM phase design"),
        "power": Slot(ComponentKind.POWER_ALLOCATOR, "full_power", "UE data power control"),
    }
    realisation_slots = ("setup",)
    """A drop depends on the numbers of APs and UEs and on the setup (channel model) alone."""
    optional_outputs = {
        "phases": "SIM phases per AP, layer and atom (rad)",
        "large_scale": "channel gain over noise per AP and UE (dB)",
    }
    references = (
        "Shi, Zhang, Zhu, An, Yuen, Ai, 'Harnessing stacked intelligent metasurface for enhanced "
        "cell-free massive MIMO systems', arXiv 2409.12851 (IEEE TWC 2025)"
    )

    def __init__(self, components, **params):
        super().__init__(components, **params)
        if self.tau_p > self.tau_c - 1:
            raise ParameterError("tau_p", f"must be below tau_c = {self.tau_c}")
        self.atoms = self._atoms_per_layer()
        terms = self._memory_terms()
        self.refuse_if_too_large(max(terms, key=terms.__getitem__))
        self.wavelength_m = wavelength_m(self.carrier_frequency_hz)
        self.front_end = build_front_end(
            antennas=self.antennas,
            sim=self.sim,
            layers=self.layers,
            atoms=self.atoms,
            wavelength_m=self.wavelength_m,
            atom_spacing_m=self.atom_spacing_wavelengths * self.wavelength_m,
            atom_area_m2=self.atom_area_square_wavelengths * self.wavelength_m**2,
            thickness_m=self.thickness_wavelengths * self.wavelength_m,
            propagation=components["propagation"],
        )

    def _atoms_per_layer(self) -> int:
        if self.total_atoms == 0:
            return self.atoms_per_layer
        per_sim = self.aps * self.layers
        if self.total_atoms % per_sim:
            raise ParameterError(
                "total_atoms", f"{self.total_atoms} is not a multiple of aps x layers = {per_sim}"
            )
        return self.total_atoms // per_sim

    def warnings(self) -> list[str]:
        """A warning when an inter-layer hop amplifies the field by more than
        ``PASSIVITY_TOLERANCE`` (smaller excesses, e.g. 1.0001 with many thin layers, are the
        discretisation's, not a physical gain)."""
        if not self.sim or self.layers < 2:
            return []
        norm = max(float(np.linalg.norm(h, 2)) for h in self.front_end.hops[1:])
        if norm <= 1.0 + PASSIVITY_TOLERANCE:
            return []
        return [
            f"inter-layer hop spectral norm {norm:.4g} exceeds 1 by more than "
            f"{PASSIVITY_TOLERANCE:g}: the modelled SIM amplifies the field (atom area "
            f"{self.atom_area_square_wavelengths:g} lambda^2, spacing "
            f"{self.atom_spacing_wavelengths:g} lambda, layer gap "
            f"{self.thickness_wavelengths / self.layers:g} lambda); set [propagation] passive = "
            "true to scale such hops to norm 1"
        ]

    def _memory_terms(self) -> dict[str, int]:
        """Complex entries one trial holds, split by the parameter that drives each term.

        Step-search candidates of all APs ``2 M L (M N + K r^2)``, the closed-form terms
        ``3 L K^2`` and statistics ``4 L K N^2`` (r, the pilot sharers, taken as K / tau_p).
        """
        m, n, k, aps = max(self.atoms, 1), self.antennas, self.ues, self.aps
        sharers = -(-k // self.tau_p)
        return {
            "total_atoms" if self.total_atoms else "atoms_per_layer": 2 * m * m * n * aps,
            "ues": 2 * m * aps * k * sharers**2 + 3 * aps * k * k,
            "aps": 2 * m * aps * k * n,
            "antennas": aps * k * n * n * 4,
        }

    def estimate_memory_bytes(self) -> int:
        return int(16 * sum(self._memory_terms().values()))

    def draw(self, rng: np.random.Generator) -> LargeScaleFading:
        return self.components["setup"].draw(rng, self.aps, self.ues)

    def problem(self, realisation: LargeScaleFading) -> UplinkProblem:
        """The realisation bound to this system's front end, before pilots are assigned."""
        return UplinkProblem(
            front_end=self.front_end,
            fading=realisation,
            los=los_response(realisation, self.front_end, self.wavelength_m, self.los_response),
            max_power_w=self.max_power_mw / 1e3,
            tau_p=self.tau_p,
            tau_c=self.tau_c,
            combiner=self.combiner,
        )

    def initial_phases(self, rng: np.random.Generator) -> np.ndarray:
        """Uniform random phases ``(L, Q, M)`` (``(L, 0, 0)`` without a SIM)."""
        shape = (self.aps, self.layers, self.atoms) if self.sim else (self.aps, 0, 0)
        return rng.uniform(0.0, 2 * np.pi, shape)

    def _pilots(self, problem: UplinkProblem, phases: np.ndarray, rng) -> np.ndarray:
        """The pilot slot's assignment, checked: one index in ``[0, tau_p)`` per UE."""
        scheme = self.components["pilots"]
        pilots = scheme.assign(problem, phases, rng)
        return returned_array(scheme, "pilots", pilots, (self.ues,), "iu", (0, self.tau_p - 1))

    def declared_metrics(self, store):
        """:data:`METRICS` and the optional outputs in ``store``."""
        return {**METRICS, **{output: OPTIONAL_METRICS[output] for output in sorted(store)}}

    def simulate(self, realisation: LargeScaleFading, trial) -> dict[str, Metric]:
        """Design pilots, phases and powers on ``trial.known_channel``; evaluate on the truth."""
        known = realisation if trial.known_channel is None else trial.known_channel
        initial = self.initial_phases(trial.rng)
        problem = self.problem(known)
        pilots = self._pilots(problem, initial, trial.rng)
        problem = problem.with_pilots(pilots)
        start = time.perf_counter()
        if self.sim:
            optimiser = self.components["phases"]
            design = optimiser.optimise(problem, initial, trial.rng)
            phases = returned_array(optimiser, "phases_rad", design.phases_rad, initial.shape, "f")
            trace = design.objective_trace
        else:
            phases, trace = initial, np.array([], dtype=float)
        phase_time = time.perf_counter() - start
        coefficients = {f"ap{ap}": np.exp(1j * phases[ap]) for ap in range(self.aps) if self.sim}
        trial.phases_configured(coefficients)
        if self.sim:
            phases = np.stack([np.angle(coefficients[f"ap{ap}"]) for ap in range(self.aps)])
        if self.reassign_pilots and self.sim:
            pilots = self._pilots(problem, phases, trial.rng)
            problem = problem.with_pilots(pilots)
        start = time.perf_counter()
        allocator = self.components["power"]
        power = allocator.allocate(problem, phases)
        returned_array(allocator, "powers", power, (self.ues,), "f", (0.0, np.inf))
        power_time = time.perf_counter() - start
        if known is not realisation:
            problem = self.problem(realisation).with_pilots(pilots)
        terms = problem.terms(phases)
        se = {combiner: problem.se(terms, power, combiner) for combiner in COMBINERS}
        chosen = se[self.combiner]
        values = {
            "se_lsfd_bps_hz": se["lsfd"],
            "se_egcd_bps_hz": se["egcd"],
            "mean_se_bps_hz": chosen.mean(),
            "min_se_bps_hz": chosen.min(),
            "power_w": power,
            "pilot": pilots,
            "objective_trace": trace,
            "phase_design_time_s": phase_time,
            "power_control_time_s": power_time,
        }
        trial.quantities.update(pilots=pilots, phases_rad=phases, power_w=power, se_bps_hz=se)
        if trial.stores("phases"):
            values["phases"] = phases
        if trial.stores("large_scale"):
            values["large_scale"] = 10 * np.log10(realisation.gain)
        declared = self.declared_metrics(trial.store)
        return {name: declared[name].metric(value) for name, value in values.items()}
