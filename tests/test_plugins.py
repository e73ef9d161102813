"""Plugin loading: entry points of installed packages, local files, duplicates, the kill-switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simframe import ComponentKind, PluginError
from simframe.plugins import DISABLE_AUTOLOAD_ENV, PluginSettings, build_registry

from .conftest import TOY_PLUGIN, invoke

PLUGIN_MODULE = '''\
"""A third-party plugin, as a separately installed package would ship it."""
from simframe import Component, ComponentKind, Parameter, hookimpl


class GoldenPhases(Component):
    """Phases from the golden angle (a test component)."""

    kind = ComponentKind.PHASE_OPTIMISER
    name = "golden_phases"
    parameters = (Parameter("scale", float, 1.0, unit="1", help="angle scale"),)


@hookimpl
def simframe_phase_optimisers():
    return [GoldenPhases]
'''


def _write_package(root: Path, name: str, component_module: str) -> Path:
    package = root / name
    (package / name).mkdir(parents=True)
    (package / name / "__init__.py").write_text(component_module)
    (package / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=70.1"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{name.replace("_", "-")}"
            version = "1.2.3"

            [project.entry-points.simframe]
            {name} = "{name}"
            """
        )
    )
    return package


def _registry_in_subprocess(site: Path, env_extra: dict[str, str] | None = None) -> dict:
    script = textwrap.dedent(
        """\
        import json
        from simframe.plugins import build_registry
        from simframe import ComponentKind
        r = build_registry()
        phases = r.components[ComponentKind.PHASE_OPTIMISER]
        print(json.dumps({n: i.origin for n, i in phases.items()} | {"_v": r.versions}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(site), **(env_extra or {})}
    env.pop(DISABLE_AUTOLOAD_ENV, None) if env_extra is None else None
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> Path:
    """pip-install a small third-party plugin package into a separate directory."""
    root = tmp_path_factory.mktemp("thirdparty")
    package = _write_package(root, "golden_plugin", PLUGIN_MODULE)
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(package),
        ],
        check=True,
        capture_output=True,
    )
    return site


def test_entry_point_of_installed_package_is_found(installed_plugin):
    found = _registry_in_subprocess(installed_plugin)
    assert found["golden_phases"] == "golden_plugin (golden-plugin 1.2.3)"
    assert found["_v"]["golden_plugin"] == "golden-plugin 1.2.3"


def test_autoload_kill_switch_skips_third_party(installed_plugin):
    found = _registry_in_subprocess(installed_plugin, {DISABLE_AUTOLOAD_ENV: "1"})
    assert "golden_phases" not in found
    assert "golden_plugin" not in found["_v"]
    assert any(v.startswith("simframe ") for v in found["_v"].values())


def test_builtins_register_through_entry_points():
    registry = build_registry(PluginSettings(autoload=False))
    assert {"metasurface"} <= set(registry.versions)
    info = registry.get(ComponentKind.PROPAGATION_MODEL, "rayleigh_sommerfeld")
    assert info.origin.startswith("metasurface (simframe ")


def test_local_plugin_file_is_loaded():
    registry = build_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),)))
    info = registry.get(ComponentKind.SYSTEM_MODEL, "toy_link")
    assert info.origin == str(TOY_PLUGIN)
    assert "toy_quantisation" in registry.option_groups


def test_duplicate_component_names_fail_with_both_origins(tmp_path):
    clone = tmp_path / "toy_clone.py"
    clone.write_text(TOY_PLUGIN.read_text())
    with pytest.raises(PluginError) as info:
        build_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN), str(clone))))
    message = str(info.value)
    assert "'toy_link' is registered twice" in message
    assert str(TOY_PLUGIN) in message and str(clone) in message


def test_misspelt_hook_fails_loudly(tmp_path):
    plugin = tmp_path / "typo.py"
    plugin.write_text(
        "from simframe import hookimpl\n\n@hookimpl\ndef simframe_phase_optimizers():\n"
        "    return []\n"
    )
    with pytest.raises(PluginError, match="unknown hook"):
        build_registry(PluginSettings(local_plugins=(str(plugin),)))


def test_wrong_component_kind_is_rejected(tmp_path):
    plugin = tmp_path / "wrong.py"
    plugin.write_text(PLUGIN_MODULE.replace("simframe_phase_optimisers", "simframe_pilot_schemes"))
    with pytest.raises(PluginError, match=r"GoldenPhases\.kind"):
        build_registry(PluginSettings(local_plugins=(str(plugin),)))


def test_missing_plugin_file_is_a_clear_cli_error(tmp_path):
    result = invoke("plugins", "--plugin", str(tmp_path / "absent.py"))
    assert result.exit_code == 1
    assert "absent.py: no such file" in result.output and "Traceback" not in result.output


def test_plugins_command_lists_parameters_with_units_and_origin():
    result = invoke("plugins")
    assert result.exit_code == 0
    assert "rayleigh_sommerfeld" in result.output and "toy_link" in result.output
    assert "snr_db" in result.output and "dB" in result.output
    assert str(TOY_PLUGIN) in result.output
