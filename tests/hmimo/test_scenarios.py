"""The hmimo scenarios run through the CLI: reduced versions by default, full ones marked slow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simframe.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
REDUCED = (
    "system.tx_atoms=16",
    "system.rx_atoms=16",
    "phases.max_outer_iterations=1",
    "phases.inner_iterations=5",
)


def run(tmp_path: Path, scenario: str, *arguments: str) -> xr.Dataset:
    output = tmp_path / "out.nc"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(SCENARIOS / scenario),
            "-o",
            str(output),
            "--workers",
            "1",
            "--quiet",
            *arguments,
        ],
    )
    assert result.exit_code == 0, result.output
    with xr.open_dataset(output, engine="netcdf4", auto_complex=True) as dataset:
        return dataset.load()


def reduced(*pairs: str) -> list[str]:
    return [argument for pair in pairs for argument in ("--set", pair)]


def test_quickstart_runs_and_optimised_beats_random(tmp_path):
    dataset = run(tmp_path, "quickstart.toml", "--trials", "2")
    rates = dataset.rate_bps_hz.mean("trial")
    assert (rates.sel(variant="hybrid") > rates.sel(variant="random")).all()


def test_fig1_reduced(tmp_path):
    sweep = (
        "sweep.linked.layers.system.tx_layers=[1, 7]",
        "sweep.linked.layers.system.rx_layers=[1, 7]",
    )
    overrides = reduced(*REDUCED, *sweep, "precision.min_trials=2")
    dataset = run(tmp_path, "hmimo_fig1.toml", "--trials", "2", *overrides)
    assert set(dataset.variant.values) == {"random", "pg", "rmax", "imin", "hybrid"}
    assert dataset.rate_bps_hz.dims == ("layers", "variant", "trial")
    assert list(dataset.layers.values) == [1, 7]
    assert np.isfinite(dataset.rate_bps_hz).all()
    assert dataset.rate_bps_hz.attrs["units"] == "bit/s/Hz"
    assert float(dataset.max_hop_spectral_norm.sel(layers=7, variant="hybrid")[0]) > 1.0
    assert (dataset.rate_channel_scale == 1.0).all()


def test_fig1_passive_reduced(tmp_path):
    sweep = (
        "sweep.linked.layers.system.tx_layers=[7]",
        "sweep.linked.layers.system.rx_layers=[7]",
    )
    dataset = run(tmp_path, "hmimo_fig1_passive.toml", "--trials", "1", *reduced(*REDUCED, *sweep))
    assert float(dataset.max_hop_spectral_norm.max()) <= 1.0 + 1e-9
    assert dataset.attrs["warnings"] == ""


def test_fig2_reduced(tmp_path):
    sweep = ("sweep.system.thickness_m=[0.05, 0.1]", "system.tx_layers=2", "system.rx_layers=2")
    dataset = run(tmp_path, "hmimo_fig2.toml", "--trials", "1", *reduced(*REDUCED, *sweep))
    assert dataset.rate_bps_hz.sizes["thickness_m"] == 2
    assert np.isfinite(dataset.rate_bps_hz).all()


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario", ["hmimo_fig1.toml", "hmimo_fig1_passive.toml", "hmimo_fig2.toml"]
)
def test_full_figure(tmp_path, scenario):
    dataset = run(tmp_path, scenario)
    assert np.isfinite(dataset.rate_bps_hz).all()
