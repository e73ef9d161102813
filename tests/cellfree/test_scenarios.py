"""Every cellfree scenario runs end to end through the CLI in a reduced form."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from simframe_cellfree.claims import CLAIMS, Measurements, evaluate
from simframe_cellfree.summary import se_summary

SCENARIOS = Path(__file__).parents[2] / "scenarios"
SMALL = ["system.ues=5"]
GRADIENT_SMALL = ["phases.max_iterations=20"]
FIGURES = (
    "cellfree_se_vs_aps",
    "cellfree_fixed_total_atoms",
    "cellfree_se_vs_antennas",
    "cellfree_layers_atoms",
    "cellfree_atom_spacing",
    "cellfree_power_cdf",
)
REDUCED = {
    "cellfree_se_vs_aps": ["sweep.system.aps=[2, 4]", "system.atoms_per_layer=4"],
    "cellfree_fixed_total_atoms": ["sweep.system.aps=[10, 12]", "system.total_atoms=240"],
    "cellfree_se_vs_antennas": [
        "sweep.system.antennas=[1, 2]",
        "system.aps=3",
        "system.atoms_per_layer=4",
    ],
    "cellfree_layers_atoms": [
        "sweep.system.layers=[1, 2]",
        "sweep.system.atoms_per_layer=[4]",
        "system.aps=3",
    ],
    "cellfree_atom_spacing": [
        "sweep.system.atom_spacing_wavelengths=[0.25, 0.5]",
        "system.aps=3",
        "system.atoms_per_layer=4",
    ],
    "cellfree_power_cdf": ["system.aps=3", "system.atoms_per_layer=4"],
    # The sensitivity study keeps the sweep values its claims read (10 and 15 APs, N = 2, 4, 8,
    # the four spacings), so the claims are computed on the reduced runs too.
    "cellfree_sensitivity_se_vs_aps": ["system.atoms_per_layer=4"],
    "cellfree_sensitivity_fixed_total_atoms": [
        "sweep.system.aps=[10, 20]",
        "system.total_atoms=240",
    ],
    "cellfree_sensitivity_se_vs_antennas": ["system.aps=3", "system.atoms_per_layer=4"],
    "cellfree_sensitivity_atom_spacing": ["system.aps=3", "system.atoms_per_layer=4"],
    "cellfree_sensitivity_power_cdf": ["system.aps=3", "system.atoms_per_layer=4"],
}
# The calibrated files have today's sweeps and the step search (no iteration cap to shorten).
REDUCED |= {f"{name}_calibrated": REDUCED[name] for name in FIGURES}
STUDY = {
    "fig2": "cellfree_sensitivity_se_vs_aps",
    "fig3": "cellfree_sensitivity_fixed_total_atoms",
    "fig4": "cellfree_sensitivity_se_vs_antennas",
    "table1": "cellfree_sensitivity_atom_spacing",
    "fig9": "cellfree_sensitivity_power_cdf",
}


def test_every_scenario_has_a_reduced_run():
    assert {p.stem for p in SCENARIOS.glob("cellfree_*.toml")} == set(REDUCED)


def run_scenario(name: str, output, *extra: str) -> xr.Dataset:
    """``python -m simframe run scenarios/NAME.toml -o OUTPUT --quiet EXTRA``, then open it."""
    command = [sys.executable, "-m", "simframe", "run", str(SCENARIOS / f"{name}.toml")]
    subprocess.run([*command, "-o", str(output), "--quiet", *extra], check=True)
    return xr.open_dataset(output)


@pytest.fixture(scope="module")
def reduced_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reduced")


def reduced_run(name: str, folder: Path) -> xr.Dataset:
    """The reduced run of scenario ``name`` (2 drops), run once per test module."""
    output = folder / f"{name}.nc"
    if output.exists():
        return xr.open_dataset(output)
    small = SMALL + ([] if name.endswith("_calibrated") else GRADIENT_SMALL)
    overrides = [arg for item in small + REDUCED[name] for arg in ("--set", item)]
    return run_scenario(name, output, "--trials", "2", "--workers", "1", *overrides)


@pytest.mark.parametrize("name", sorted(REDUCED))
def test_reduced_scenario_runs(name, reduced_folder):
    with reduced_run(name, reduced_folder) as dataset:
        summary = se_summary(dataset)
        ues = dataset["se_lsfd_bps_hz"].isel(variant=0).notnull().sum("ue")
        assert int(ues.max()) == 5  # the first variant keeps the reduced base size
        assert np.all(np.isfinite(summary["mean_se_bps_hz"].values))
        assert np.all(summary["likely95_se_bps_hz"] <= summary["mean_se_bps_hz"])
        lsfd, egcd = dataset["se_lsfd_bps_hz"], dataset["se_egcd_bps_hz"]
        assert np.all((lsfd >= egcd - 1e-12) | lsfd.isnull())  # NaN: padding of fewer UEs


def test_reduced_study_measures_every_claim_at_every_setting(reduced_folder):
    datasets = {figure: reduced_run(name, reduced_folder) for figure, name in STUDY.items()}
    measurements = Measurements(datasets, draws=20)
    settings = measurements.settings()
    assert len(settings) == 39  # today, 6 budgets, 13 network choices, 3 atom counts, 16 grid
    for setting in settings:
        estimates = evaluate(measurements, setting)
        atoms = any(key == "system.atoms_per_layer" for key, _ in setting)
        expected = {c.key for c in CLAIMS if not (atoms and c.figure == "fig3")}
        assert set(estimates) == expected  # Fig. 3 sets the atoms per layer by their total
        assert all(np.isfinite(e.value) for e in estimates.values())
    for dataset in datasets.values():
        dataset.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REDUCED))
def test_full_scenario_runs(name, tmp_path):
    with run_scenario(name, tmp_path / f"{name}.nc") as dataset:
        assert np.all(np.isfinite(se_summary(dataset)["mean_se_bps_hz"].values))


@pytest.mark.parametrize("name", FIGURES)
def test_calibrated_files_keep_todays_sweep_variants_seed_and_system(name):
    today = tomllib.loads((SCENARIOS / f"{name}.toml").read_text())
    calibrated = tomllib.loads((SCENARIOS / f"{name}_calibrated.toml").read_text())
    for key in ("trials", "seed", "system", "sweep"):
        assert calibrated.get(key) == today.get(key), key
    assert calibrated["variants"].keys() == today["variants"].keys()
    design = calibrated["phases"]
    assert design["model"] == "cellfree_step_search" and design["max_sweeps"] >= 1
    for variant, body in calibrated["variants"].items():
        before = today["variants"][variant]
        assert body.keys() == before.keys()
        if before.get("phases", {}).get("model") == "cellfree_gradient":
            assert body["phases"] == design  # the designed variants use the calibrated budget
        else:
            assert body == before
    assert set(calibrated["setup"]) == {"model", "rician_k_intercept_db"}
