"""The downlink's scenarios through the CLI: reduced versions by default, full ones marked slow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simframe.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
BUDGET_W = 10**1.5 / 1000


def run(tmp_path: Path, scenario: str, *arguments: str) -> xr.Dataset:
    output = tmp_path / "out.nc"
    command = ["run", str(SCENARIOS / scenario), "-o", str(output), "--quiet", *arguments]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(output, engine="netcdf4", auto_complex=True) as dataset:
        return dataset.load()


def check_ours_beats_an(dataset: xr.Dataset) -> None:
    """On the same channels and starts, ours is at least An's protocol at every sweep point."""
    rates = dataset.sum_rate_bps_hz.mean("trial")
    assert (rates.sel(variant="ours") >= rates.sel(variant="an_ga")).all()
    assert (rates.sel(variant="an_ga") > rates.sel(variant="random")).all()
    np.testing.assert_allclose(dataset.powers_w.sum("ue"), BUDGET_W, rtol=1e-12)


def test_an2023_reduced(tmp_path):
    """All N = 100 atoms at L = 1, 4 and 10, two trials, default budgets."""
    dataset = run(
        tmp_path, "mumiso_an2023.toml", "--trials", "2", "--set", "sweep.system.layers=[1, 4, 10]"
    )
    assert list(dataset.variant.values) == ["random", "an_ga", "ours"]
    assert dataset.effective_channel.dims == ("layers", "variant", "trial", "ue", "antenna")
    check_ours_beats_an(dataset)


def test_users_reduced(tmp_path):
    dataset = run(
        tmp_path,
        "mumiso_users.toml",
        "--trials",
        "1",
        "--set",
        "sweep.system.users=[1, 3]",
        "--set",
        "variants.ours.phases.max_outer_iterations=3",
    )
    assert dataset.rate_bps_hz.sizes["ue"] == 3
    assert np.isnan(dataset.rate_bps_hz.sel(users=1).values[..., 1:]).all()  # one user at K = 1
    check_ours_beats_an(dataset)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["mumiso_an2023.toml", "mumiso_users.toml"])
def test_full_scenarios(tmp_path, scenario):
    check_ours_beats_an(run(tmp_path, scenario, "--workers", "2"))
