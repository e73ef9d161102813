"""Physical parameters far outside sensible ranges are warned about, not refused."""

from __future__ import annotations

import pytest

from simframe import Parameter
from simframe.components import ComponentKind
from simframe.plugins import PluginSettings, build_registry
from tests.conftest import invoke


def test_a_value_outside_the_plausible_range_gets_a_text_naming_range_and_unit():
    carrier = Parameter("carrier_frequency_hz", float, 6e9, "Hz", "carrier", plausible=(1e8, 3e12))
    assert carrier.implausibility(6e9) is None
    assert carrier.implausibility(1e8) is None  # the ends are plausible
    text = carrier.implausibility(6.0)
    assert text.startswith("6 Hz is far outside the plausible range 1e+08 to 3e+12 Hz")
    assert carrier.validate(6.0) == 6.0  # a warning, never an error
    with pytest.raises(TypeError, match="low < high"):
        Parameter("x", float, 1.0, plausible=(2.0, 1.0))
    with pytest.raises(TypeError, match="for a number"):
        Parameter("name", str, "a", plausible=(0.0, 1.0))


def _hmimo_registered() -> bool:
    systems = build_registry(PluginSettings()).components[ComponentKind.SYSTEM_MODEL]
    return "sim_hmimo_link" in systems


@pytest.mark.skipif(not _hmimo_registered(), reason="needs the built-in sim_hmimo_link")
def test_validate_and_run_warn_about_a_6_hz_carrier_and_a_10_m_thick_sim(tmp_path):
    scenario = tmp_path / "typo.toml"
    scenario.write_text(
        'title = "typo"\ntrials = 1\nseed = 1\n[system]\nmodel = "sim_hmimo_link"\n'
        "carrier_frequency_hz = 6\nthickness_m = 10.0\ntx_atoms = 4\nrx_atoms = 4\n"
        'tx_layers = 1\nrx_layers = 1\n[phases]\nmodel = "random_phases"\n'
    )
    for command in (["validate"], ["run", "-o", str(tmp_path / "out.nc"), "--quiet"]):
        result = invoke(command[0], str(scenario), *command[1:])
        assert result.exit_code == 0, result.output
        assert "warning: system.carrier_frequency_hz = 6 Hz is far outside" in result.output
        assert "warning: system.thickness_m = 10 m is far outside" in result.output
    sensible = tmp_path / "sensible.toml"
    sensible.write_text(scenario.read_text().replace("carrier_frequency_hz = 6\n", ""))
    sensible.write_text(sensible.read_text().replace("thickness_m = 10.0", "thickness_m = 0.1"))
    assert "plausible" not in invoke("validate", str(sensible)).output
