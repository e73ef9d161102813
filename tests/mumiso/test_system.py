"""sim_mumiso_downlink: An et al.'s geometry and channel, the dataset, the contract with hooks."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from simframe_metasurface.propagation import FreeSpacePropagation, RayleighSommerfeldPropagation
from simframe_mumiso.channel import CorrelatedRayleighUsers
from simframe_mumiso.downlink import sinr
from simframe_mumiso.power import DampedWaterFilling
from simframe_mumiso.random_phases import RandomPhases
from simframe_mumiso.system import SimMumisoDownlink

from simframe import ParameterError, TrialContext
from simframe.results import deterministic_part, open_result
from simframe.runner import parts_directory
from tests.conftest import invoke

WAVELENGTH_M = 3e8 / 28e9


def make_system(passive=False, propagation=None, **params) -> SimMumisoDownlink:
    components = {
        "channel": CorrelatedRayleighUsers(),
        "propagation": propagation or RayleighSommerfeldPropagation(passive=passive),
        "phases": RandomPhases(),
        "power": DampedWaterFilling(),
    }
    return SimMumisoDownlink(components, **params)


def an_coefficient(distance_m: float, gap_m: float) -> complex:
    """The hop coefficient of An et al.'s code between elements ``distance_m`` apart across a
    layer gap ``gap_m``."""
    lam = WAVELENGTH_M
    return (
        lam**2 / 4 * gap_m / distance_m**2 * (1 / (2 * np.pi * distance_m) - 1j / lam)
    ) * np.exp(2j * np.pi * distance_m / lam)


@pytest.mark.parametrize("layers", [1, 2, 10])
def test_hops_are_ans_with_the_atoms_numbered_x_fastest(layers):
    system = make_system(layers=layers)
    gap = 5 * WAVELENGTH_M / layers
    spacing = WAVELENGTH_M / 2
    for atom, antenna in [(0, 0), (37, 2), (99, 3)]:  # atom m -> (m mod 10, m // 10)
        x = (atom % 10 - 4.5) * spacing - (antenna - 1.5) * spacing
        y = (atom // 10 - 4.5) * spacing
        expected = an_coefficient(np.sqrt(gap**2 + x**2 + y**2), gap)
        assert system.hops[0][atom, antenna] == pytest.approx(expected, rel=1e-12)
    if layers > 1:
        rho = np.hypot(3 - 7, 5 - 1) * spacing  # atoms 53 -> 17: x 3 -> 7, y 5 -> 1
        expected = an_coefficient(np.sqrt(gap**2 + rho**2), gap)
        assert system.hops[1][17, 53] == pytest.approx(expected, rel=1e-12)


def test_users_channels_have_ans_path_loss_and_sinc_correlation():
    system = make_system(atoms=16, layers=2)
    distances = np.sqrt((10 - 5 * WAVELENGTH_M) ** 2 + 2 * (10.0 * np.arange(1, 5)) ** 2)
    np.testing.assert_allclose(system.geometry.user_distances_m(), distances, rtol=1e-12)
    loss = (WAVELENGTH_M / (4 * np.pi)) ** 2 / distances**3.5
    draws = np.stack([system.draw(np.random.default_rng(seed)) for seed in range(2000)])
    assert draws.shape == (2000, 4, 16) and np.iscomplexobj(draws)
    np.testing.assert_allclose(np.mean(np.abs(draws) ** 2, axis=(0, 2)), loss, rtol=0.05)
    # E[G_kn conj(G_kn')] = beta_k sinc(2 d_nn' / lambda): atoms 0 and 1 are lambda/2 apart
    neighbours = np.mean(draws[:, :, 0] * draws[:, :, 1].conj(), axis=0) / loss
    np.testing.assert_allclose(neighbours.real, np.sinc(1.0), atol=0.08)
    far = np.mean(draws[:, :, 0] * draws[:, :, 5].conj(), axis=0) / loss  # sqrt(2) lambda/2
    np.testing.assert_allclose(far.real, np.sinc(np.sqrt(2.0)), atol=0.08)


def test_passivity_is_reported_and_can_be_enforced():
    (warning,) = make_system(layers=10).warnings()
    assert "1.1497" in warning and "0.50 lambda" in warning and "passive = true" in warning
    assert make_system(layers=2).warnings() == []
    passive = make_system(layers=10, passive=True)
    assert passive.warnings() == [] and passive.hop_spectral_norms.max() <= 1 + 1e-9
    free = make_system(layers=3, propagation=FreeSpacePropagation())
    assert free.hops[1].shape == (100, 100)
    for system in (passive, free):  # both propagation models run a trial end to end
        context = TrialContext(0, 0, "v", {}, np.random.default_rng(1))
        metrics = system.simulate(system.draw(np.random.default_rng(2)), context)
        assert (
            np.isfinite(metrics["sum_rate_bps_hz"].values) and metrics["sum_rate_bps_hz"].values > 0
        )


def test_bs_height_must_lie_above_the_sim():
    with pytest.raises(ParameterError, match="bs_height_m"):
        make_system(bs_height_m=0.05)


SCENARIO = """\
title = "a small SIM downlink"
trials = 3
seed = 8
store = ["effective_channel", "powers_w", "phases"]

[system]
model = "sim_mumiso_downlink"
atoms = 9
users = 3

[phases]
model = "sum_rate_lbfgs"
max_outer_iterations = 3
inner_iterations = 20

[sweep]
system.layers = [1, 2]

[variants.random]
phases = { model = "mumiso_random_phases" }

[variants.an_ga]
phases = { model = "an_ga", max_iterations = 10 }

[variants.ours]
power = { model = "mumiso_wmmse" }
"""


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> xr.Dataset:
    path = tmp_path_factory.mktemp("mumiso") / "small.toml"
    path.write_text(SCENARIO)
    result = invoke("run", str(path), "-o", str(path.with_suffix(".nc")), "--quiet")
    assert result.exit_code == 0, result.output
    return open_result(path.with_suffix(".nc"))


def test_dataset_holds_every_variable_with_units_and_dims(small_run):
    expected = {
        "sum_rate_bps_hz": ("bit/s/Hz", ()),
        "rate_bps_hz": ("bit/s/Hz", ("ue",)),
        "sinr": ("1", ("ue",)),
        "interference_w": ("W", ("ue",)),
        "noise_power_w": ("W", ()),
        "powers_w": ("W", ("ue",)),
        "effective_channel": ("1", ("ue", "antenna")),
        "phases": ("1", ("layer", "atom")),
        "atom_position_m": ("m", ("layer", "atom", "xyz")),
        "objective_trace": ("bit/s/Hz", ("iteration",)),
    }
    for name, (units, dims) in expected.items():
        variable = small_run[name]
        assert variable.attrs["units"] == units, name
        assert variable.dims == ("layers", "variant", "trial", *dims), name
    assert np.iscomplexobj(small_run.effective_channel) and np.iscomplexobj(small_run.phases)
    np.testing.assert_allclose(small_run.noise_power_w, 10 ** (-104 / 10) / 1000)
    assert small_run.attrs["system_model"] == "sim_mumiso_downlink"


def test_stored_quantities_reproduce_the_rates(small_run):
    """SINR and rates recomputed from the stored H and powers; powers spend the budget; the
    phases are unit modulus (NaN beyond a point's layers)."""
    channel = small_run.effective_channel.values
    powers = small_run.powers_w.values
    recomputed = sinr(channel.reshape(-1, 3, 3), powers.reshape(-1, 3), 10 ** (-13.4))
    np.testing.assert_allclose(recomputed.reshape(powers.shape), small_run.sinr, rtol=1e-10)
    np.testing.assert_allclose(
        small_run.rate_bps_hz.sum("ue"), small_run.sum_rate_bps_hz, rtol=1e-12
    )
    np.testing.assert_allclose(powers.sum(axis=-1), 10**1.5 / 1000, rtol=1e-12)
    phases = small_run.phases.values
    np.testing.assert_allclose(np.abs(phases[np.isfinite(phases)]), 1.0, atol=1e-12)
    assert np.isnan(phases[0, :, :, 1]).all()  # one layer at layers = 1


def test_optimisers_design_on_the_true_channel_without_an_estimate(small_run):
    """The optimiser's last traced sum rate is the dataset's (no estimation error)."""
    trace = small_run.objective_trace.isel(iteration=small_run.iterations)
    np.testing.assert_allclose(trace, small_run.sum_rate_bps_hz, rtol=1e-9)
    assert (small_run.sum_rate_bps_hz.sel(variant="an_ga") > 0).all()


def test_a_trials_numbers_do_not_depend_on_its_block(small_run, tmp_path):
    path = tmp_path / "blocks.toml"
    path.write_text(SCENARIO + "\n[run]\ntrial_block = 2\n")
    result = invoke("run", str(path), "-o", str(tmp_path / "blocks.nc"), "--quiet")
    assert result.exit_code == 0, result.output
    xr.testing.assert_identical(
        deterministic_part(open_result(tmp_path / "blocks.nc")), deterministic_part(small_run)
    )


HOOKS = """
import numpy as np
from simframe import hookimpl

@hookimpl
def simframe_phases_configured(trial, phases):
    for values in phases.values():
        values[:] = np.where(values.real >= 0, 1.0, -1.0)  # 1-bit phases

@hookimpl
def simframe_channel_estimate(trial, channel):
    return channel * (1 + 0.3 * trial.rng.standard_normal(channel.shape))
"""


def test_hooks_see_the_sim_and_the_metrics_follow_them(tmp_path):
    plugin = tmp_path / "hooks.py"
    plugin.write_text(HOOKS)
    path = tmp_path / "hooks.toml"
    path.write_text(SCENARIO)
    out = tmp_path / "hooks.nc"
    result = invoke("run", str(path), "-o", str(out), "--quiet", "--plugin", str(plugin))
    assert result.exit_code == 0, result.output
    dataset = open_result(out)
    phases = dataset.phases.values
    assert set(np.unique(phases[np.isfinite(phases)])) <= {1.0 + 0j, -1.0 + 0j}
    trace = dataset.objective_trace.isel(iteration=dataset.iterations)
    assert not np.allclose(trace, dataset.sum_rate_bps_hz)  # designed on the estimate
    np.testing.assert_allclose(dataset.powers_w.sum("ue"), 10**1.5 / 1000, rtol=1e-12)


def test_plugins_documents_every_parameter_with_unit_and_default():
    result = invoke("plugins", "sim_mumiso_downlink")
    assert result.exit_code == 0
    for parameter in SimMumisoDownlink.parameters:
        default = (
            f'"{parameter.default}"' if isinstance(parameter.default, str) else parameter.default
        )
        unit = "1 (dimensionless)" if parameter.unit == "1" else parameter.unit
        row = f"| `{parameter.name}` | {parameter.type.__name__} | `{default}` | {unit} |"
        assert row in result.output, row
    for name in ("sum_rate_bps_hz", "effective_channel", "powers_w", "an_ga", "sum_rate_lbfgs"):
        assert name in result.output


PRECISION_ON_H = '[precision]\nmetric = "effective_channel"\nrelative = 0.1\nmin_trials = 2\n'


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        ("atoms = 9", "atoms = 50", "key 'system.atoms'"),
        ("users = 3", "users = 3\nbs_height_m = 0.01", "key 'system.bs_height_m'"),
        ('"powers_w", "phases"]', '"powers_w", "channel"]', "key 'store'"),
        ('model = "sum_rate_lbfgs"', 'model = "rmax"', "key 'phases.model'"),
        ("max_outer_iterations = 3", "max_outer_iterations = 0", "key 'phases.max_outer"),
        ("[sweep]", PRECISION_ON_H + "\n[sweep]", "key 'precision.metric'"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_file_and_key_and_writes_nothing(tmp_path, change, key, expected):
    path = tmp_path / "bad.toml"
    path.write_text(SCENARIO.replace(change, key))
    out = tmp_path / "bad.nc"
    for command in ("validate", "run"):
        args = [command, str(path)] + (["-o", str(out)] if command == "run" else [])
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert str(path) in result.output and expected in result.output
        assert "Traceback" not in result.output
    assert not out.exists() and not parts_directory(out).exists()
