"""sim_hmimo_link: the spec's reference values, passivity reporting, metrics and conventions."""

from __future__ import annotations

import numpy as np
import pytest
from simframe_hmimo.channel import CorrelatedRayleighChannel, path_gain_db
from simframe_hmimo.imin import InterferenceMinimisation
from simframe_hmimo.interfaces import HmimoLink
from simframe_hmimo.power import EqualPower, WaterFilling
from simframe_hmimo.random_phases import RandomPhases
from simframe_hmimo.system import SimHmimoLink, digital_rate_bps_hz
from simframe_metasurface.propagation import RayleighSommerfeldPropagation

from simframe import ParameterError
from simframe.plugins import HookImplementation
from simframe.trial import TrialContext


def make_system(phases=None, passive=False, **params) -> SimHmimoLink:
    components = {
        "channel": CorrelatedRayleighChannel(),
        "propagation": RayleighSommerfeldPropagation(passive=passive),
        "phases": phases or RandomPhases(),
        "power": EqualPower(),
    }
    return SimHmimoLink(components, **params)


def test_path_gain_reference_value():
    """Spec: xi = -131.31 dB for a1 = 2, a2 = 3.5, d0 = 1 m, d = 240 m at 6 GHz."""
    assert path_gain_db(0.05, 240.0, 1.0, 2.0, 3.5) == pytest.approx(-131.31, abs=5e-3)


def test_channel_has_the_path_gain_and_the_correlation():
    system = make_system(tx_atoms=16, rx_atoms=16, tx_layers=1, rx_layers=1)
    draws = np.stack([system.draw(np.random.default_rng(seed)) for seed in range(400)])
    xi = 10 ** (-131.31 / 10)
    # E|H~_mn|^2 = xi [R_R]_mm [R_T]_nn = xi (sinc(0) = 1).
    assert np.mean(np.abs(draws) ** 2) == pytest.approx(xi, rel=0.05)
    assert np.iscomplexobj(draws)


def test_passivity_warning_and_metric_match_the_spec():
    """Spectral norm of an inter-layer hop at 6 GHz, D = 0.1 m, L = 7, 10x10: 1.5720."""
    system = make_system(tx_layers=7, rx_layers=7)
    (warning,) = system.warnings()
    assert "1.5720" in warning and "passive" in warning
    assert (
        "0.01429 m = 0.29 lambda apart" in warning and "one wavelength apart or closer" in warning
    )
    metrics = system.simulate(
        system.draw(np.random.default_rng(0)), TrialContext(0, 0, "v", {}, np.random.default_rng(1))
    )
    assert float(metrics["max_hop_spectral_norm"].values) == pytest.approx(1.5720, abs=1e-4)
    passive = make_system(passive=True, tx_layers=7, rx_layers=7)
    assert passive.warnings() == []
    assert passive.hop_spectral_norms.max() <= 1.0 + 1e-9


def test_rx_hops_mirror_the_tx_hops():
    system = make_system(tx_layers=3, rx_layers=3)
    for tx_hop, rx_hop in zip(system.tx_hops, system.rx_hops, strict=True):
        np.testing.assert_allclose(rx_hop, tx_hop.T)
    assert system.rx_hops[0].shape == (4, 100)


def test_non_square_layers_are_refused():
    with pytest.raises(ParameterError, match="tx_atoms"):
        make_system(tx_atoms=50)


def test_metrics_units_and_optional_outputs():
    system = make_system(phases=InterferenceMinimisation(max_sweeps=2), tx_atoms=16, rx_atoms=9)
    trial = TrialContext(
        0, 0, "v", {}, np.random.default_rng(1), store=frozenset({"channel", "phases", "powers"})
    )
    metrics = system.simulate(system.draw(np.random.default_rng(0)), trial)
    assert metrics["rate_bps_hz"].units == "bit/s/Hz"
    assert metrics["sinr"].dims == ("stream",) and metrics["interference_w"].units == "W"
    assert metrics["off_diagonal_power_trace"].dims == ("off_diagonal_power_iteration",)
    assert set(metrics) == set(system.declared_metrics(trial.store))
    assert "runtime_s" not in metrics  # the core measures it
    assert metrics["channel"].values.shape == (9, 16) and np.iscomplexobj(metrics["channel"].values)
    assert metrics["tx_phases"].values.shape == (7, 16)
    assert metrics["powers_w"].values.sum() == pytest.approx(0.1)
    signal = metrics["sinr"].values * (metrics["interference_w"].values + 1e-14)
    link = HmimoLink(system.tx_hops, system.rx_hops, metrics["channel"].values, 1e-14, 0.1)
    h = link.effective_channel(metrics["tx_phases"].values, metrics["rx_phases"].values)
    np.testing.assert_allclose(signal, np.abs(np.diag(h)) ** 2 * metrics["powers_w"].values)


def test_stored_phases_come_with_atom_coordinates_that_rebuild_the_hops():
    """The stored coordinates alone give back the hops the phases were optimised for."""
    system = make_system(tx_atoms=16, rx_atoms=9, tx_layers=3, rx_layers=2)
    trial = TrialContext(0, 0, "v", {}, np.random.default_rng(1), store=frozenset({"phases"}))
    metrics = system.simulate(system.draw(np.random.default_rng(0)), trial)
    tx_positions = metrics["tx_atom_position_m"]
    assert tx_positions.units == "m" and tx_positions.dims == ("tx_layer", "tx_atom", "xyz")
    assert tx_positions.values.shape == (3, 16, 3)
    assert metrics["rx_atom_position_m"].values.shape == (2, 9, 3)
    wavelength = system.geometry.wavelength_m
    rebuilt = RayleighSommerfeldPropagation().hop(
        tx_positions.values[0], tx_positions.values[1], wavelength, wavelength**2 / 4
    )
    np.testing.assert_allclose(rebuilt, system.tx_hops[1])


def test_blocks_give_each_trial_what_it_gets_alone():
    """simulate_block on three trials equals simulate per trial (Hybrid, a few iterations)."""
    from simframe_hmimo.rmax import HybridOptimisation

    system = make_system(
        phases=HybridOptimisation(max_outer_iterations=2, inner_iterations=3, imin_max_sweeps=1),
        tx_atoms=9,
        rx_atoms=9,
        tx_layers=2,
        rx_layers=2,
    )
    channels = [system.draw(np.random.default_rng(seed)) for seed in range(3)]

    def trial(index):
        return TrialContext(0, index, "v", {}, np.random.default_rng([5, index]))

    together = system.simulate_block(channels, [trial(i) for i in range(3)])
    for index, channel in enumerate(channels):
        alone = system.simulate(channel, trial(index))
        assert together[index]["rate_bps_hz"].values == pytest.approx(
            alone["rate_bps_hz"].values, rel=1e-9
        )


def test_digital_benchmark_is_water_filling_over_singular_values():
    rng = np.random.default_rng(4)
    channel = rng.standard_normal((6, 5)) + 1j * rng.standard_normal((6, 5))
    singular = np.linalg.svd(channel, compute_uv=False)[:2]
    gains = singular**2 / 0.1
    expected = np.sum(np.log2(1 + gains * WaterFilling().allocate(np.diag(singular), 0.1, 1.0)))
    assert digital_rate_bps_hz(channel, 2, 0.1, 1.0) == pytest.approx(expected)


def test_phase_hooks_see_and_can_change_the_phases():
    def quantise(trial, phases):
        for values in phases.values():
            values[...] = np.sign(values.real) + 0j

    class OnePlugin:  # what the trial needs of a registry
        def implementations(self, hook_name):
            return (HookImplementation(hook_name, "test", quantise, ("trial", "phases"), ()),)

    system = make_system(tx_atoms=9, rx_atoms=9, tx_layers=2, rx_layers=2)
    trial = TrialContext(
        0, 0, "v", {}, np.random.default_rng(1), store=frozenset({"phases"}), registry=OnePlugin()
    )
    metrics = system.simulate(system.draw(np.random.default_rng(0)), trial)
    assert set(np.unique(metrics["tx_phases"].values)) <= {1 + 0j, -1 + 0j}


def test_torch_backend_gives_the_numpy_rates():
    """``backend = "torch"`` (where installed) optimises to the same rates within 1e-6."""
    pytest.importorskip("torch")
    from simframe_hmimo.rmax import RateMaximisation

    rates = {}
    for backend in ("numpy", "torch"):
        system = make_system(
            phases=RateMaximisation(max_outer_iterations=2, inner_iterations=3),
            tx_atoms=9,
            rx_atoms=9,
            tx_layers=2,
            rx_layers=2,
            backend=backend,
        )
        channel = system.draw(np.random.default_rng(0))
        trial = TrialContext(0, 0, "v", {}, np.random.default_rng(1))
        rates[backend] = float(system.simulate(channel, trial)["rate_bps_hz"].values)
    assert rates["torch"] == pytest.approx(rates["numpy"], rel=1e-6)


def test_unknown_backend_is_refused_at_load():
    with pytest.raises(ParameterError):
        make_system(backend="jax")
