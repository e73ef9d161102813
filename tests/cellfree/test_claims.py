"""The claims of paper 003 measured on datasets: variant roles, paired bootstrap, verdicts."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_cellfree.claims import (
    CLAIMS,
    REQUIRED,
    TODAY,
    Measurements,
    Setting,
    claims_table,
    describe,
    evaluate,
    load_directory,
    main,
    one_choice,
    score,
    setting_label,
    settings_table,
    variant_roles,
)

FIG2 = """
title = "t"
trials = 3
seed = 1
[system]
model = "sim_cellfree_uplink"
aps = 20
[phases]
model = "cellfree_gradient"
[sweep]
system.aps = [10, 15]
[variants.conventional_cf]
system = { sim = false }
phases = { model = "cellfree_random_phases" }
[variants.sim_random_phases]
phases = { model = "cellfree_random_phases" }
[variants.sim_optimised_phases]
phases = { model = "cellfree_gradient" }
[variants.opt_budget]
phases = { model = "cellfree_step_search", max_sweeps = 4 }
[variants.cf_kappa]
system = { sim = false }
phases = { model = "cellfree_random_phases" }
setup = { rician_k_intercept_db = 5.0 }
[variants.random_kappa]
phases = { model = "cellfree_random_phases" }
setup = { rician_k_intercept_db = 5.0 }
[variants.opt_kappa]
setup = { rician_k_intercept_db = 5.0 }
[variants.random_atoms]
phases = { model = "cellfree_random_phases" }
system = { atoms_per_layer = 9 }
[variants.opt_atoms]
system = { atoms_per_layer = 9 }
[variants.maxmin_opt]
power = { model = "max_min_power" }
"""


def fig2_dataset_names() -> list[str]:
    return [
        line[len("[variants.") : -1] for line in FIG2.splitlines() if line.startswith("[variants.")
    ]


KAPPA = Setting({("setup.rician_k_intercept_db", 5.0)})
ATOMS = Setting({("system.atoms_per_layer", 9)})
BUDGET = Setting({("phases.model", "cellfree_step_search"), ("phases.max_sweeps", 4)})


def dataset(text: str, values, dims: dict[str, list]) -> xr.Dataset:
    """A result-shaped dataset: ``values`` ``(*sweep, variant, trial, ue)`` for both combiners
    (EGCD = LSFD / 2)."""
    names = [
        line.split(".", 1)[1].rstrip("]") for line in text.splitlines() if "[variants." in line
    ]
    coords = {**dims, "variant": names}
    shape = (*[len(v) for v in dims.values()], len(names), values.shape[-2], values.shape[-1])
    values = np.array(np.broadcast_to(values, shape))
    lsfd = xr.DataArray(values, dims=(*dims, "variant", "trial", "ue"), coords=coords)
    return xr.Dataset(
        {"se_lsfd_bps_hz": lsfd, "se_egcd_bps_hz": lsfd / 2}, attrs={"scenario": text}
    )


def fig2_dataset(per_variant: dict[str, float], drops: np.ndarray) -> xr.Dataset:
    """Fig. 2-shaped data: variant ``v`` at ``aps`` has SE ``per_variant[v] * drops * aps / 10``."""
    factor = np.array([per_variant[name] for name in fig2_dataset_names()])
    aps = np.array([1.0, 1.5])
    values = aps[:, None, None, None] * factor[None, :, None, None] * drops[None, None, :, :]
    return dataset(FIG2, values, {"aps": [10, 15]})


def test_roles_come_from_what_a_variant_overrides():
    roles = variant_roles(dataset(FIG2, np.ones((3, 2)), {"aps": [10, 15]}))
    assert (roles["conventional_cf"].arm, roles["conventional_cf"].setting) == ("cf", TODAY)
    assert (roles["sim_random_phases"].arm, roles["sim_random_phases"].setting) == ("random", TODAY)
    assert (roles["sim_optimised_phases"].arm, roles["sim_optimised_phases"].setting) == (
        "opt",
        TODAY,
    )
    assert roles["opt_budget"].setting == BUDGET
    assert {roles[n].setting for n in ("cf_kappa", "random_kappa", "opt_kappa")} == {KAPPA}
    assert roles["maxmin_opt"].power == "maxmin" and roles["maxmin_opt"].setting == TODAY
    assert setting_label(TODAY) == "today"
    assert setting_label(KAPPA) == "setup.rician_k_intercept_db = 5.0"


def test_each_setting_is_measured_against_the_baselines_of_its_own_setting():
    m = Measurements({"fig2": dataset(FIG2, np.ones((3, 2)), {"aps": [10, 15]})})
    assert m.settings() == [TODAY, BUDGET, KAPPA, ATOMS]
    assert m.variant("fig2", "cf", BUDGET) == "conventional_cf"  # a design changes no baseline
    assert m.variant("fig2", "random", BUDGET) == "sim_random_phases"
    assert m.variant("fig2", "cf", KAPPA) == "cf_kappa"
    assert m.variant("fig2", "cf", ATOMS) == "conventional_cf"  # atoms do not change CF
    assert m.variant("fig2", "random", ATOMS) == "random_atoms"
    with pytest.raises(KeyError, match="no random variant"):
        m.variant("fig2", "random", Setting({("setup.area_side_m", 500.0)}))


@settings(max_examples=10, deadline=None)
@given(
    drops=st.lists(st.floats(0.1, 10.0), min_size=3, max_size=3),
    opt=st.floats(0.5, 4.0),
)
def test_paired_gains_are_exact_in_every_resample(drops, opt):
    """Variants that differ by a constant factor on every drop give that gain with a zero-width
    interval: the drops of a sweep point are resampled together for all variants."""
    per_drop = np.array(drops)[:, None] * np.linspace(0.5, 1.5, 4)[None, :]
    factors = {"conventional_cf": 1.0, "sim_random_phases": 0.7, "sim_optimised_phases": opt}
    factors |= {"opt_budget": 1.0, "cf_kappa": 1.0, "random_kappa": 1.0, "opt_kappa": 1.0}
    factors |= {"random_atoms": 1.0, "opt_atoms": 1.0, "maxmin_opt": 1.0}
    m = Measurements({"fig2": fig2_dataset(factors, per_drop)}, draws=50)
    result = evaluate(m)
    for key, expected in (("opt_vs_cf", 100 * (opt - 1)), ("opt_vs_random", 100 * (opt / 0.7 - 1))):
        e = result[key]
        assert e.value == pytest.approx(expected)
        assert e.lower == pytest.approx(expected) and e.upper == pytest.approx(expected)
    assert result["lsfd_egcd_opt"].value == pytest.approx(2.0)
    assert result["random_vs_cf"].holds  # 0.7 < 1
    # the gain is the same at 10 and 15 APs (both scale by 1.5): no growth
    assert result["gain_growth"].value == pytest.approx(0.0, abs=1e-9)


def test_unpaired_points_resample_independently_and_the_interval_covers_the_value():
    rng = np.random.default_rng(3)
    per_drop = rng.uniform(0.5, 2.0, (3, 4))
    ds = fig2_dataset({str(v): 1.0 for v in fig2_dataset_names()}, per_drop)
    ds["se_lsfd_bps_hz"].loc[{"aps": 15}] = rng.uniform(0.5, 2.0, (len(ds.variant), 3, 4))
    e = evaluate(Measurements({"fig2": ds}, draws=400))["sim10_vs_cf15"]
    assert e.lower < e.value < e.upper


def test_score_needs_every_required_claim_then_counts_the_others():
    per_drop = np.ones((3, 4))
    factors = {name: 1.0 for name in fig2_dataset_names()}
    factors |= {"conventional_cf": 1.0, "sim_random_phases": 0.9, "sim_optimised_phases": 1.5}
    result = evaluate(Measurements({"fig2": fig2_dataset(factors, per_drop)}, draws=20))
    verdict = score(result)
    assert not verdict.feasible  # no growth from 10 to 15 APs
    assert verdict.held == sum(result[k].holds for k in result if k not in REQUIRED)
    table = claims_table({"ours": result})
    assert len(table.splitlines()) == 2 + len(CLAIMS)  # claims of absent figures show "-"
    assert "| optimised SIM vs CF, 10 APs (mean SE) | 33 % | +20 % to +80 % | +50" in table


def test_settings_table_has_a_row_per_setting():
    per_drop = np.ones((3, 4))
    factors = {name: 1.0 for name in fig2_dataset_names()}
    table = settings_table(Measurements({"fig2": fig2_dataset(factors, per_drop)}, draws=10))
    rows = [line for line in table.splitlines()[2:]]
    assert [row.split(" | ")[0] for row in rows] == [
        "| today",
        "| phases.max_sweeps = 4, phases.model = cellfree_step_search",
        "| setup.rician_k_intercept_db = 5.0",
        "| system.atoms_per_layer = 9",
    ]


def test_settings_read_as_words_and_one_choice_changes_one_table():
    two_sweeps = Setting({("phases.model", "cellfree_step_search"), ("phases.max_sweeps", 2)})
    fixed = Setting({("setup.rician_k_intercept_db", 10.0), ("setup.rician_k_slope_db_per_m", 0.0)})
    assert describe(TODAY) == "today"
    assert describe(two_sweeps | KAPPA) == "Algorithm 2, 2 sweeps, kappa intercept 5 dB"
    assert describe(fixed) == "kappa fixed at 10 dB"
    assert describe(ATOMS) == "M = 9"
    assert describe(Setting({("system.thickness_wavelengths", 3.0)})) == (
        "system.thickness_wavelengths = 3.0"
    )
    assert one_choice(TODAY) and one_choice(two_sweeps) and one_choice(fixed)
    assert not one_choice(two_sweeps | KAPPA)


def test_ranked_settings_table_puts_the_best_score_first(capsys):
    per_drop = np.ones((3, 4))
    factors = {name: 1.0 for name in fig2_dataset_names()}
    factors |= {"sim_optimised_phases": 0.5, "opt_kappa": 1.4}  # only the kappa setting helps
    measurements = Measurements({"fig2": fig2_dataset(factors, per_drop)}, draws=10)
    rows = settings_table(measurements, rank=True).splitlines()[2:]
    assert rows[0].startswith("| setup.rician_k_intercept_db = 5.0 |")
    assert rows[0].split(" | ")[-2].endswith(" of 4")  # held, of the other fig2 claims measured


def test_columns_come_from_directories_by_the_names_simframe_run_gives(tmp_path, capsys):
    factors = {name: 1.0 for name in fig2_dataset_names()} | {"sim_optimised_phases": 1.5}
    for folder, name in (("a", "cellfree_se_vs_aps"), ("b", "cellfree_se_vs_aps_calibrated")):
        (tmp_path / folder).mkdir()
        fig2_dataset(factors, np.ones((3, 4))).to_netcdf(tmp_path / folder / f"{name}.nc")
    main(["--column", f"today={tmp_path / 'a'}", "--column", f"cal={tmp_path / 'b'}"])
    table = capsys.readouterr().out
    assert "| claim | paper | holds if | today | cal |" in table
    assert "| optimised SIM vs CF, 10 APs (mean SE) | 33 % | +20 % to +80 % | +50" in table
    (tmp_path / "a" / "cellfree_se_vs_aps_calibrated.nc").write_bytes(b"")
    with pytest.raises(ValueError, match="several datasets of fig2"):
        load_directory(tmp_path / "a")
