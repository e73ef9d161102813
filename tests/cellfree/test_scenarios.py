"""Every cellfree scenario runs end to end through the CLI in a reduced form."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from simframe_cellfree.summary import se_summary

SCENARIOS = Path(__file__).parents[2] / "scenarios"
SMALL = ["system.ues=5", "phases.max_iterations=20"]
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
}


def test_every_scenario_has_a_reduced_run():
    assert {p.stem for p in SCENARIOS.glob("cellfree_*.toml")} == set(REDUCED)


def run_scenario(name: str, output, *extra: str) -> xr.Dataset:
    """``python -m simframe run scenarios/NAME.toml -o OUTPUT --quiet EXTRA``, then open it."""
    command = [sys.executable, "-m", "simframe", "run", str(SCENARIOS / f"{name}.toml")]
    subprocess.run([*command, "-o", str(output), "--quiet", *extra], check=True)
    return xr.open_dataset(output)


@pytest.mark.parametrize("name", sorted(REDUCED))
def test_reduced_scenario_runs(name, tmp_path):
    overrides = [arg for item in SMALL + REDUCED[name] for arg in ("--set", item)]
    extra = ("--trials", "2", "--workers", "1", *overrides)
    with run_scenario(name, tmp_path / f"{name}.nc", *extra) as dataset:
        summary = se_summary(dataset)
        assert dataset["se_lsfd_bps_hz"].sizes["ue"] == 5
        assert np.all(np.isfinite(summary["mean_se_bps_hz"].values))
        assert np.all(summary["likely95_se_bps_hz"] <= summary["mean_se_bps_hz"])
        assert np.all(dataset["se_lsfd_bps_hz"] >= dataset["se_egcd_bps_hz"] - 1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REDUCED))
def test_full_scenario_runs(name, tmp_path):
    with run_scenario(name, tmp_path / f"{name}.nc") as dataset:
        assert np.all(np.isfinite(se_summary(dataset)["mean_se_bps_hz"].values))
