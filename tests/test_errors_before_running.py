"""What only building a component can tell is reported by validate and run before any trial:
exit 2, the file and the key of the component's table, no traceback, nothing written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import TOY_SCENARIO, invoke

ROOT = Path(__file__).resolve().parents[1]

# A third-party power allocator that needs an optional package for one of its settings, and
# refuses a combination of two parameters, as components do in __init__.
NEEDY_PLUGIN = '''
from simframe import Component, ComponentKind, Parameter, ParameterError, hookimpl


class AcceleratedEqualPower(Component):
    """Equal power per stream, optionally computed by a package that is not installed."""

    kind = ComponentKind.POWER_ALLOCATOR
    name = "accelerated_equal_power"
    systems = ("toy_link",)
    parameters = (
        Parameter("accelerated", bool, False, help="use the optional package"),
        Parameter("share", float, 1.0, unit="1", help="share of the budget used", minimum=0.0),
    )

    def __init__(self, **params):
        super().__init__(**params)
        if self.accelerated:
            import simframe_test_package_that_is_not_installed  # noqa: F401
        if self.share > 1:
            raise ParameterError("share", "cannot exceed the whole budget")

    def allocate(self, gains, budget):
        return gains.real * 0 + self.share * budget / gains.size


@hookimpl
def simframe_power_allocators():
    return [AcceleratedEqualPower]
'''


def _scenario(tmp_path: Path, power: str) -> tuple[Path, Path]:
    (tmp_path / "needy.py").write_text(NEEDY_PLUGIN)
    path = tmp_path / "needy.toml"
    path.write_text(TOY_SCENARIO + f"\n[power]\nmodel = 'accelerated_equal_power'\n{power}\n")
    return path, tmp_path / "needy.py"


def _refused_before_running(path: Path, *extra: str) -> str:
    """validate and run both exit 2 naming ``path``; run writes nothing. Their message."""
    validated = invoke("validate", str(path), *extra)
    out = path.with_suffix(".nc")
    ran = invoke("run", str(path), "-o", str(out), "--workers", "1", "--quiet", *extra)
    for result in (validated, ran):
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: {path}: ")
        assert "Traceback" not in result.output
    assert not out.exists() and not out.with_name(out.name + ".parts").exists()
    assert validated.output == ran.output
    return validated.output


def test_a_missing_optional_package_is_a_scenario_error_naming_the_table(tmp_path):
    path, plugin = _scenario(tmp_path, "accelerated = true")
    output = _refused_before_running(path, "--plugin", str(plugin))
    assert (
        "key 'power': power allocator 'accelerated_equal_power' needs a package that is not "
        "installed: No module named 'simframe_test_package_that_is_not_installed'"
    ) in output
    assert output.count("needs a package") == 1  # once, not once per sweep point and variant


def test_a_slot_components_parameter_error_names_its_own_key(tmp_path):
    path, plugin = _scenario(tmp_path, "share = 2.0")
    output = _refused_before_running(path, "--plugin", str(plugin))
    assert "key 'power.share': cannot exceed the whole budget" in output


def test_a_variants_setting_is_named_with_its_path(tmp_path):
    path, plugin = _scenario(tmp_path, "")
    path.write_text(
        path.read_text().replace("budget_w = 2.0 }", "budget_w = 2.0 }\npower = { share = 3.0 }")
    )
    output = _refused_before_running(path, "--plugin", str(plugin))
    assert "key 'variants.two_watts.power.share': cannot exceed the whole budget" in output


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is not None, reason="PyTorch is installed here"
)
def test_the_torch_backend_without_pytorch_is_refused_before_running(tmp_path):
    quickstart = tmp_path / "quickstart.toml"
    quickstart.write_text((ROOT / "scenarios" / "quickstart.toml").read_text())
    output = _refused_before_running(quickstart, "--set", "system.backend=torch")
    assert "key 'system': system model 'sim_hmimo_link' needs a package" in output
    assert "pip install 'simframe[torch]'" in output
