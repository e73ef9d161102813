"""Paper 003's headline claims measured on ``sim_cellfree_uplink`` datasets, with intervals.

The paper (Shi et al., arXiv 2409.12851, Section V) states its results as a few numbers and
trends: optimised SIM vs conventional cell-free (CF) and vs random phases, LSFD vs EGCD, "10 SIM
APs beat 15 CF APs", the optimum number of APs for 1200 meta-atoms, the optimisation gain vs AP
antennas, the 95 %-likely gains of max-min power control and the meta-atom spacing table.
:data:`CLAIMS` measures each on the datasets of the figures it comes from (the full
``scenarios/cellfree_*.toml`` or the reduced ``cellfree_sensitivity_*.toml``), with a 95 %
percentile-bootstrap interval over drops, and says whether it holds by a stated rule.

Variants are recognised by what they override, not by their names (:func:`variant_roles`):
``system.sim = false`` is conventional CF, ``cellfree_random_phases`` random phases, anything
else an optimised design; ``power.model = "max_min_power"`` is max-min power control. Every other
difference from the scenario's base tables is the variant's *setting*, so one dataset can hold
several settings of the open choices (the sensitivity study) and each is measured against the
CF and random-phase variants of the same setting, on the same drops.

``python -m simframe_cellfree.claims --fig2 A.nc --fig3 B.nc --fig4 C.nc --table1 D.nc
--fig9 E.nc`` prints the claims table; ``--settings`` prints one row per setting instead
(``--rank``: best first by the calibration objective; ``--one-choice``: only the settings that
change one open choice; ``--claims KEY,...``: those columns only). ``--column NAME=DIR``
(repeatable) takes the figures' datasets from a directory, by the names ``simframe run`` gives
them, and puts the settings side by side.
"""

from __future__ import annotations

import argparse
import tomllib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from simframe.accessor import expanded_level
from simframe_cellfree.system import SimCellFreeUplink

Setting = frozenset
"""A variant's setting: the ``(TABLE.KEY, value)`` pairs in which it differs from the base."""
TODAY: Setting = Setting()
"""The scenario's own setting (no difference from its base tables)."""

FIGURES = ("fig2", "fig3", "fig4", "table1", "fig9")
SIM_ONLY_KEYS = frozenset(
    {
        "system.layers",
        "system.atoms_per_layer",
        "system.total_atoms",
        "system.atom_spacing_wavelengths",
        "system.atom_area_square_wavelengths",
        "system.thickness_wavelengths",
    }
)
"""Keys that do not change a conventional-CF variant (no SIM): its setting ignores them."""
RANDOM_PHASES = "cellfree_random_phases"
MAX_MIN = "max_min_power"
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 20240918
LEVEL = 0.95


@dataclass(frozen=True)
class Role:
    """What a variant is: ``arm`` (``cf``, ``random`` or ``opt``), ``power`` (``full`` or
    ``maxmin``) and its ``setting`` (the other differences from the base tables)."""

    arm: str
    power: str
    setting: Setting


def _flatten(tables: Mapping[str, Mapping]) -> dict[str, object]:
    return {
        f"{table}.{key}": value for table, body in tables.items() for key, value in body.items()
    }


def variant_roles(dataset: xr.Dataset) -> dict[str, Role]:
    """The :class:`Role` of every variant of ``dataset``, from the scenario text it records.

    A variant's tables are merged with the base ones as the scenario loader does (a table
    naming another ``model`` replaces the base table, else it is merged key by key).
    """
    raw = tomllib.loads(dataset.attrs["scenario"])
    slots = SimCellFreeUplink.slots
    base = {"system": {k: v for k, v in raw.get("system", {}).items() if k != "model"}}
    for slot, declared in slots.items():
        base[slot] = {"model": declared.default, **raw.get(slot, {})}
    base_flat = _flatten(base)
    roles = {}
    variants = raw.get("variants", {}) or {"default": {}}
    for name in (str(v) for v in np.atleast_1d(dataset["variant"].values)):
        tables = {key: dict(body) for key, body in base.items()}
        for key, body in variants.get(name, {}).items():
            if key == "label" or key == "plugins":
                continue
            if "model" in body and body["model"] != tables[key].get("model"):
                tables[key] = dict(body)
            else:
                tables[key].update(body)
        flat = _flatten(tables)
        changed = {
            key: value
            for key, value in flat.items()
            if key not in base_flat or base_flat[key] != value
        }
        removed = {key: None for key in base_flat if key not in flat}
        changed |= removed
        arm = "opt"
        if flat.get("system.sim", True) is False:
            arm = "cf"
        elif flat.get("phases.model") == RANDOM_PHASES:
            arm = "random"
        power = "maxmin" if flat.get("power.model") == MAX_MIN else "full"
        ignored = {"system.sim", "power.model"}
        if arm != "opt":
            ignored |= {key for key in changed if key.startswith("phases.")}
        if arm == "cf":
            ignored |= SIM_ONLY_KEYS | {key for key in changed if key.startswith("propagation.")}
        setting = Setting((k, v) for k, v in changed.items() if k not in ignored)
        roles[name] = Role(arm, power, setting)
    return roles


def setting_label(setting: Setting) -> str:
    """``key = value, ...`` of a setting (``today`` for the base setting)."""
    if not setting:
        return "today"
    return ", ".join(f"{key} = {value}" for key, value in sorted(setting, key=str))


_READABLE = {
    "system.los_response": "LoS {}",
    "system.atoms_per_layer": "M = {}",
    "setup.area_side_m": "area {:g} m",
    "system.ues": "K = {}",
    "system.tau_p": "tau_p = {}",
    "phases.max_iterations": "gradient, at most {} iterations",
    "phases.starts": "best of {} starts",
}


def describe(setting: Setting) -> str:
    """A short reading of a setting ("Algorithm 2, 6 sweeps, kappa intercept 5 dB"); keys it
    has no words for are written as ``key = value``."""
    if not setting:
        return "today"
    values = dict(setting)
    parts = []
    if values.pop("phases.model", None) == "cellfree_step_search":
        sweeps = values.pop("phases.max_sweeps", None)
        plural = "" if sweeps == 1 else "s"
        parts.append("Algorithm 2" + ("" if sweeps is None else f", {sweeps} sweep{plural}"))
    intercept = values.pop("setup.rician_k_intercept_db", None)
    slope = values.pop("setup.rician_k_slope_db_per_m", None)
    if slope == 0.0:
        parts.append(f"kappa fixed at {intercept or 0.0:g} dB")
    else:
        if intercept is not None:
            parts.append(f"kappa intercept {intercept:g} dB")
        if slope is not None:
            parts.append(f"kappa slope {slope:g} dB/m")
    for key in [k for k in _READABLE if k in values]:
        parts.append(_READABLE[key].format(values.pop(key)))
    parts += [f"{key} = {value}" for key, value in sorted(values.items(), key=str)]
    return ", ".join(parts)


def one_choice(setting: Setting) -> bool:
    """Whether ``setting`` changes at most one table (the phase design, the network setup, the
    system or the propagation): one open choice at a time, as the sensitivity study varies."""
    return len({key.split(".", 1)[0] for key, _ in setting}) <= 1


class Measurements:
    """Per-drop SE of the figures' datasets and their bootstrap resamples.

    Drops of one sweep point are resampled together for every variant (paired comparisons);
    different sweep points hold different drops and are resampled independently. Row 0 of
    every returned array is the estimate on the drops themselves, rows 1.. the resamples.
    """

    def __init__(self, datasets: Mapping[str, xr.Dataset], draws: int = BOOTSTRAP_DRAWS):
        unknown = set(datasets) - set(FIGURES)
        if unknown:
            raise ValueError(f"unknown figures {sorted(unknown)}; expected some of {FIGURES}")
        self.datasets = dict(datasets)
        self.roles = {figure: variant_roles(ds) for figure, ds in self.datasets.items()}
        self.draws = draws
        self._indices: dict[tuple, np.ndarray] = {}

    def settings(self) -> list[Setting]:
        """Every setting of an optimised full-power variant, in order of first appearance."""
        found: list[Setting] = []
        for roles in self.roles.values():
            for role in roles.values():
                if role.arm == "opt" and role.power == "full" and role.setting not in found:
                    found.append(role.setting)
        return found

    def has(self, figure: str, setting: Setting) -> bool:
        """Whether ``figure`` has an optimised full-power variant at ``setting``."""
        return figure in self.roles and any(
            (role.arm, role.power, role.setting) == ("opt", "full", setting)
            for role in self.roles[figure].values()
        )

    def variant(self, figure: str, arm: str, setting: Setting, power: str = "full") -> str:
        """The variant of ``figure`` with this arm, power and (for its arm) setting."""
        wanted = setting
        if arm != "opt":
            wanted = Setting((k, v) for k, v in setting if not k.startswith("phases."))
        if arm == "cf":
            wanted = Setting(
                (k, v)
                for k, v in wanted
                if k not in SIM_ONLY_KEYS and not k.startswith("propagation.")
            )
        for name, role in self.roles[figure].items():
            if (role.arm, role.power, role.setting) == (arm, power, wanted):
                return name
        raise KeyError(
            f"{figure}: no {arm} variant with {power} power at setting {setting_label(wanted)}"
        )

    def _resample(self, figure: str, point: Mapping[str, object], trials: int) -> np.ndarray:
        key = (figure, tuple(sorted(point.items())))
        if key not in self._indices:
            rng = np.random.default_rng([BOOTSTRAP_SEED, zlib.crc32(repr(key).encode())])
            draws = rng.integers(0, trials, (self.draws, trials))
            self._indices[key] = np.vstack([np.arange(trials), draws])
        return self._indices[key]

    def se(
        self,
        figure: str,
        point: Mapping[str, object],
        arm: str,
        setting: Setting,
        power: str = "full",
        metric: str = "se_lsfd_bps_hz",
    ) -> np.ndarray:
        """Resampled per-UE SE ``(1 + draws, trials, ue)`` of one variant at one point."""
        dataset = self.datasets[figure]
        name = self.variant(figure, arm, setting, power)
        values = dataset[metric].sel(variant=name, **point).transpose("trial", "ue").values
        return values[self._resample(figure, point, len(values))]

    def mean(self, figure, point, arm, setting, power="full", metric="se_lsfd_bps_hz"):
        """Mean SE per UE over drops and UEs ``(1 + draws,)``."""
        values = self.se(figure, point, arm, setting, power, metric)
        return np.nanmean(values.reshape(len(values), -1), axis=1)

    def likely95(self, figure, point, arm, setting, power="full"):
        """95 %-likely SE per UE (5th percentile over drops and UEs) ``(1 + draws,)``."""
        values = self.se(figure, point, arm, setting, power)
        return np.nanquantile(values.reshape(len(values), -1), 0.05, axis=1)

    def coordinate(self, figure: str, dim: str) -> list:
        return [v.item() for v in self.datasets[figure][dim].values]

    def drops(self, figure: str) -> int:
        return int(self.datasets[figure].sizes["trial"])


def _gain(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 100.0 * (a / b - 1.0)


@dataclass(frozen=True)
class Claim:
    """One of the paper's statements, measured by ``measure`` and judged by ``holds``.

    ``paper`` is the paper's number in ``unit`` (NaN where it states a trend only); ``rule``
    says in words when the claim holds.
    """

    key: str
    figure: str
    statement: str
    paper: float
    unit: str
    rule: str
    measure: Callable[[Measurements, Setting], np.ndarray]
    holds: Callable[[float], bool]


def _within(paper_percent: float, factor: float = 1.25) -> Callable[[float], bool]:
    """A gain holds when ``1 + gain`` is within ``factor`` of the paper's ``1 + gain``."""
    target = 1.0 + paper_percent / 100.0

    def holds(value: float) -> bool:
        return target / factor <= 1.0 + value / 100.0 <= target * factor

    return holds


def _band(paper_percent: float, factor: float = 1.25) -> str:
    target = 1.0 + paper_percent / 100.0
    low, high = 100.0 * (target / factor - 1.0), 100.0 * (target * factor - 1.0)
    return f"{low:+.0f} % to {high:+.0f} %"


def _fig2(aps):
    return {"aps": aps}


def _opt_vs(arm: str, aps: int):
    def measure(m: Measurements, s: Setting) -> np.ndarray:
        return _gain(m.mean("fig2", _fig2(aps), "opt", s), m.mean("fig2", _fig2(aps), arm, s))

    return measure


def _random_vs_cf(m: Measurements, s: Setting) -> np.ndarray:
    return _gain(m.mean("fig2", _fig2(10), "random", s), m.mean("fig2", _fig2(10), "cf", s))


def _lsfd_over_egcd(arm: str):
    def measure(m: Measurements, s: Setting) -> np.ndarray:
        lsfd = m.mean("fig2", _fig2(10), arm, s)
        return lsfd / m.mean("fig2", _fig2(10), arm, s, metric="se_egcd_bps_hz")

    return measure


def _sim10_vs_cf15(m: Measurements, s: Setting) -> np.ndarray:
    return _gain(m.mean("fig2", _fig2(10), "opt", s), m.mean("fig2", _fig2(15), "cf", s))


def _gain_growth(m: Measurements, s: Setting) -> np.ndarray:
    return _opt_vs("cf", 15)(m, s) - _opt_vs("cf", 10)(m, s)


def _optimum_aps(m: Measurements, s: Setting) -> np.ndarray:
    aps = m.coordinate("fig3", "aps")
    means = np.stack([m.mean("fig3", {"aps": a}, "opt", s) for a in aps])
    return np.asarray(aps, dtype=float)[np.argmax(means, axis=0)]


def _opt_vs_cf_most_aps(m: Measurements, s: Setting) -> np.ndarray:
    most = {"aps": max(m.coordinate("fig3", "aps"))}
    return _gain(m.mean("fig3", most, "opt", s), m.mean("fig3", most, "cf", s))


def _opt_vs_random_antennas(antennas: int):
    def measure(m: Measurements, s: Setting) -> np.ndarray:
        point = {"antennas": antennas}
        return _gain(m.mean("fig4", point, "opt", s), m.mean("fig4", point, "random", s))

    return measure


def _sim2_vs_cf4(m: Measurements, s: Setting) -> np.ndarray:
    two, four = {"antennas": 2}, {"antennas": 4}
    return _gain(m.mean("fig4", two, "opt", s), m.mean("fig4", four, "cf", s))


def _opt_vs_cf_antennas8(m: Measurements, s: Setting) -> np.ndarray:
    point = {"antennas": 8}
    return _gain(m.mean("fig4", point, "opt", s), m.mean("fig4", point, "cf", s))


SPACINGS = (0.25, 0.75, 1.0)


def _spacing_gap(arm: str, spacing: float):
    def measure(m: Measurements, s: Setting) -> np.ndarray:
        at = m.mean("table1", {"atom_spacing_wavelengths": spacing}, arm, s)
        return _gain(at, m.mean("table1", {"atom_spacing_wavelengths": 0.5}, arm, s))

    return measure


def _worst_spacing_gap(arm: str):
    def measure(m: Measurements, s: Setting) -> np.ndarray:
        return np.max([_spacing_gap(arm, spacing)(m, s) for spacing in SPACINGS], axis=0)

    return measure


def _likely_gain(arm: str, power: str):
    def measure(m: Measurements, s: Setting) -> np.ndarray:
        reference = m.likely95("fig9", {}, "random", s)
        return _gain(m.likely95("fig9", {}, arm, s, power), reference)

    return measure


def _negative(value: float) -> bool:
    return value < 0.0


def _positive(value: float) -> bool:
    return value > 0.0


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "opt_vs_cf",
        "fig2",
        "optimised SIM vs CF, 10 APs (mean SE)",
        33.0,
        "%",
        "+20 % to +80 %",
        _opt_vs("cf", 10),
        lambda v: 20.0 <= v <= 80.0,
    ),
    Claim(
        "opt_vs_random",
        "fig2",
        "optimised vs random phases, 10 APs",
        57.0,
        "%",
        _band(57.0),
        _opt_vs("random", 10),
        _within(57.0),
    ),
    Claim(
        "random_vs_cf",
        "fig2",
        "random SIM phases vs CF, 10 APs (paper: below)",
        np.nan,
        "%",
        "< 0",
        _random_vs_cf,
        _negative,
    ),
    Claim(
        "lsfd_egcd_cf",
        "fig2",
        "LSFD / EGCD, CF, 10 APs (paper: twofold)",
        2.0,
        "x",
        "1.6 to 2.5",
        _lsfd_over_egcd("cf"),
        lambda v: 1.6 <= v <= 2.5,
    ),
    Claim(
        "lsfd_egcd_opt",
        "fig2",
        "LSFD / EGCD, optimised SIM, 10 APs",
        2.0,
        "x",
        "1.6 to 2.5",
        _lsfd_over_egcd("opt"),
        lambda v: 1.6 <= v <= 2.5,
    ),
    Claim(
        "sim10_vs_cf15",
        "fig2",
        "10 SIM APs (optimised) vs 15 CF APs (paper: beat)",
        np.nan,
        "%",
        "> 0",
        _sim10_vs_cf15,
        _positive,
    ),
    Claim(
        "gain_growth",
        "fig2",
        "SIM-over-CF gain at 15 APs minus at 10 APs (paper: grows)",
        np.nan,
        "points",
        "> 0",
        _gain_growth,
        _positive,
    ),
    Claim(
        "optimum_aps",
        "fig3",
        "APs of the highest optimised SE, 1200 atoms",
        20.0,
        "APs",
        "= 20",
        _optimum_aps,
        lambda v: v == 20.0,
    ),
    Claim(
        "opt_vs_cf_most_aps",
        "fig3",
        "optimised SIM vs CF at the most APs, 1200 atoms (paper: CF ahead beyond 30)",
        np.nan,
        "%",
        "< 0",
        _opt_vs_cf_most_aps,
        _negative,
    ),
    Claim(
        "opt_vs_random_n2",
        "fig4",
        "optimised vs random phases, N = 2",
        59.0,
        "%",
        _band(59.0),
        _opt_vs_random_antennas(2),
        _within(59.0),
    ),
    Claim(
        "opt_vs_random_n8",
        "fig4",
        "optimised vs random phases, N = 8",
        4.0,
        "%",
        _band(4.0),
        _opt_vs_random_antennas(8),
        _within(4.0),
    ),
    Claim(
        "sim2_vs_cf4",
        "fig4",
        "2-antenna SIM AP vs 4-antenna CF AP (paper: close to)",
        0.0,
        "%",
        _band(0.0),
        _sim2_vs_cf4,
        _within(0.0),
    ),
    Claim(
        "opt_vs_cf_n8",
        "fig4",
        "optimised SIM vs CF, N = 8 (paper: CF overtakes)",
        np.nan,
        "%",
        "< 0",
        _opt_vs_cf_antennas8,
        _negative,
    ),
    Claim(
        "spacing_opt",
        "table1",
        "largest gap to lambda/2, optimised (paper: -2 %, lambda/2 best)",
        -2.0,
        "%",
        "< 0",
        _worst_spacing_gap("opt"),
        _negative,
    ),
    Claim(
        "spacing_random",
        "table1",
        "largest gap to lambda/2, random (paper: -7 %, lambda/2 best)",
        -7.0,
        "%",
        "< 0",
        _worst_spacing_gap("random"),
        _negative,
    ),
    Claim(
        "likely_full_opt",
        "fig9",
        "95 %-likely SE, full power, optimised vs random",
        70.0,
        "%",
        _band(70.0),
        _likely_gain("opt", "full"),
        _within(70.0),
    ),
    Claim(
        "likely_maxmin_random",
        "fig9",
        "95 %-likely SE, max-min random vs full-power random",
        106.0,
        "%",
        _band(106.0),
        _likely_gain("random", "maxmin"),
        _within(106.0),
    ),
    Claim(
        "likely_maxmin_opt",
        "fig9",
        "95 %-likely SE, max-min optimised vs full-power random",
        188.0,
        "%",
        _band(188.0),
        _likely_gain("opt", "maxmin"),
        _within(188.0),
    ),
)
REQUIRED = ("sim10_vs_cf15", "gain_growth", "opt_vs_cf")
"""Claims a calibrated setting must meet (the other claims are counted)."""


@dataclass(frozen=True)
class Estimate:
    """A claim's value on the drops, its bootstrap interval and verdict (``support``: the share
    of resamples in which the claim holds)."""

    value: float
    lower: float
    upper: float
    holds: bool
    support: float


def estimate(claim: Claim, measurements: Measurements, setting: Setting) -> Estimate:
    """``claim`` at ``setting``: the expanded percentile-bootstrap interval at 95 %
    (:func:`simframe.accessor.expanded_level` for the fewest drops involved)."""
    samples = claim.measure(measurements, setting)
    level = expanded_level(LEVEL, max(measurements.drops(claim.figure), 2))
    lower, upper = np.quantile(samples[1:], [(1 - level) / 2, (1 + level) / 2])
    support = float(np.mean([claim.holds(float(v)) for v in samples[1:]]))
    return Estimate(float(samples[0]), float(lower), float(upper), claim.holds(samples[0]), support)


def evaluate(measurements: Measurements, setting: Setting = TODAY) -> dict[str, Estimate]:
    """Every claim whose figure ``measurements`` holds at ``setting``."""
    return {
        claim.key: estimate(claim, measurements, setting)
        for claim in CLAIMS
        if measurements.has(claim.figure, setting)
    }


def closeness(estimates: Mapping[str, Estimate]) -> float:
    """Mean ``|log((1 + ours) / (1 + paper))|`` over the claims with a paper percentage (the
    smaller, the closer to the paper's numbers)."""
    terms = [
        abs(np.log((1 + e.value / 100) / (1 + claim.paper / 100)))
        for claim in CLAIMS
        if claim.key in estimates and claim.unit == "%" and np.isfinite(claim.paper)
        for e in [estimates[claim.key]]
        if e.value > -100
    ]
    return float(np.mean(terms)) if terms else float("nan")


@dataclass(frozen=True)
class Score:
    """The calibration objective: every :data:`REQUIRED` claim holds (``feasible``), then
    the most other claims hold (``held``), then the numbers are closest (``closeness``)."""

    feasible: bool
    held: int
    closeness: float

    def key(self) -> tuple:
        return (self.feasible, self.held, -self.closeness)


def score(estimates: Mapping[str, Estimate]) -> Score:
    feasible = all(estimates[key].holds for key in REQUIRED if key in estimates)
    held = sum(e.holds for key, e in estimates.items() if key not in REQUIRED)
    return Score(feasible, held, closeness(estimates))


def _cell(claim: Claim, e: Estimate) -> str:
    if claim.unit == "APs":
        return f"{e.value:.0f} ({100 * e.support:.0f} %)"
    if claim.unit == "x":
        return f"{e.value:.2f} [{e.lower:.2f}, {e.upper:.2f}]"
    return f"{e.value:+.0f} [{e.lower:+.0f}, {e.upper:+.0f}]"


def claims_table(columns: Mapping[str, dict[str, Estimate]]) -> str:
    """Markdown: one row per claim, the paper's number and rule, then one column per setting
    (value, 95 % interval, verdict)."""
    names = list(columns)
    lines = [
        "| claim | paper | holds if | " + " | ".join(names) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for claim in CLAIMS:
        cells = []
        for name in names:
            e = columns[name].get(claim.key)
            cells.append("-" if e is None else f"{_cell(claim, e)} {'yes' if e.holds else 'no'}")
        paper = "-" if not np.isfinite(claim.paper) else f"{claim.paper:g} {claim.unit}"
        lines.append(f"| {claim.statement} | {paper} | {claim.rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def settings_table(
    measurements: Measurements,
    keys: tuple[str, ...] | None = None,
    settings: list[Setting] | None = None,
    labels: Mapping[Setting, str] | None = None,
    rank: bool = False,
) -> str:
    """Markdown: one row per setting (default: every setting, labelled by
    :func:`setting_label` unless ``labels`` names it), one column per claim in ``keys``
    (default: all) with value, interval and ``x`` where it fails, and the calibration score
    (``held``: the other claims that hold, of those measured). ``rank`` orders the rows by
    the calibration objective (:class:`Score`), best first."""
    chosen = [
        c for c in CLAIMS if (keys is None or c.key in keys) and c.figure in measurements.datasets
    ]
    lines = [
        "| setting | " + " | ".join(c.key for c in chosen) + " | required | held | closeness |",
        "| --- | " + " | ".join("---" for _ in chosen) + " | --- | --- | --- |",
    ]
    rows = []
    for setting in measurements.settings() if settings is None else settings:
        estimates = evaluate(measurements, setting)
        rows.append((setting, estimates, score(estimates)))
    if rank:
        rows.sort(key=lambda row: row[2].key(), reverse=True)
    for setting, estimates, result in rows:
        measured = sum(1 for key in estimates if key not in REQUIRED)
        cells = [
            "-"
            if c.key not in estimates
            else f"{_cell(c, estimates[c.key])}{'' if estimates[c.key].holds else ' x'}"
            for c in chosen
        ]
        label = (labels or {}).get(setting, setting_label(setting))
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {'yes' if result.feasible else 'no'} | {result.held} of {measured}"
            + f" | {result.closeness:.3f} |"
        )
    return "\n".join(lines)


STEMS = {
    "fig2": "se_vs_aps",
    "fig3": "fixed_total_atoms",
    "fig4": "se_vs_antennas",
    "table1": "atom_spacing",
    "fig9": "power_cdf",
}
"""The scenario of each figure: ``scenarios/cellfree_STEM.toml`` (today's setting),
``cellfree_STEM_calibrated.toml`` and ``cellfree_sensitivity_STEM.toml``."""


def load_directory(folder: str | Path) -> dict[str, xr.Dataset]:
    """The figures' datasets in ``folder``, found by the names ``simframe run`` gives them
    (``cellfree_STEM.nc``, ``cellfree_STEM_calibrated.nc`` or ``cellfree_sensitivity_STEM.nc``,
    see :data:`STEMS`); a figure with none is left out, one with several is an error."""
    found = {}
    for figure, stem in STEMS.items():
        names = (f"cellfree_{stem}", f"cellfree_{stem}_calibrated", f"cellfree_sensitivity_{stem}")
        paths = [
            Path(folder) / f"{name}.nc" for name in names if (Path(folder) / f"{name}.nc").exists()
        ]
        if len(paths) > 1:
            raise ValueError(f"{folder}: several datasets of {figure}: {[p.name for p in paths]}")
        if paths:
            found[figure] = xr.open_dataset(paths[0])
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for figure in FIGURES:
        parser.add_argument(f"--{figure}", metavar="FILE.nc", help=f"dataset of {figure}")
    parser.add_argument(
        "--column",
        metavar="NAME=DIR",
        action="append",
        default=[],
        help="a column of the claims table from the datasets in DIR (load_directory); repeat "
        "it to compare settings side by side",
    )
    parser.add_argument("--settings", action="store_true", help="one row per setting")
    parser.add_argument(
        "--rank", action="store_true", help="with --settings: best first by the objective"
    )
    parser.add_argument(
        "--one-choice",
        action="store_true",
        help="with --settings: only settings that change one open choice (one table)",
    )
    parser.add_argument(
        "--claims", metavar="KEY,...", help="with --settings: these claims' columns only"
    )
    parser.add_argument("--draws", type=int, default=BOOTSTRAP_DRAWS, help="bootstrap resamples")
    args = parser.parse_args(argv)
    sources = {}
    for column in args.column:
        name, _, folder = column.partition("=")
        if not folder:
            parser.error(f"--column {column!r}: expected NAME=DIR")
        sources[name] = load_directory(folder)
    datasets = {
        figure: xr.open_dataset(getattr(args, figure))
        for figure in FIGURES
        if getattr(args, figure)
    }
    if datasets:
        sources["ours"] = datasets
    if not any(sources.values()):
        parser.error("give at least one dataset")
    if args.settings:
        if len(sources) > 1:
            parser.error("--settings takes one set of datasets")
        measurements = Measurements(next(iter(sources.values())), args.draws)
        chosen = measurements.settings()
        if args.one_choice:
            chosen = [setting for setting in chosen if one_choice(setting)]
        keys = None
        if args.claims:
            keys = tuple(args.claims.split(","))
            unknown = set(keys) - {claim.key for claim in CLAIMS}
            if unknown:
                parser.error(f"unknown claims {sorted(unknown)}")
        labels = {setting: describe(setting) for setting in chosen}
        print(settings_table(measurements, keys, chosen, labels, rank=args.rank))
    else:
        columns = {
            name: evaluate(Measurements(found, args.draws)) for name, found in sources.items()
        }
        print(claims_table(columns))


if __name__ == "__main__":
    main()
