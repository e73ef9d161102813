"""What the core asks of every system model holds for each installed one, the toy included."""

from __future__ import annotations

import pytest

from simframe.components import ComponentKind
from simframe.errors import ScenarioError
from simframe.plugins import PluginSettings, get_registry
from simframe.scenario import load_scenario

from .conftest import TOY_PLUGIN

REGISTRY = get_registry(PluginSettings(local_plugins=(str(TOY_PLUGIN),)))
SYSTEMS = sorted(REGISTRY.components[ComponentKind.SYSTEM_MODEL])


@pytest.mark.parametrize("system", SYSTEMS)
def test_an_unknown_optional_output_is_a_problem_named_by_key(tmp_path, system):
    """The system's metrics are declared for the outputs it knows; an unknown one is reported
    against ``store`` (it once reached ``declared_metrics`` and crashed the loader)."""
    outputs = list(REGISTRY.get(ComponentKind.SYSTEM_MODEL, system).cls.optional_outputs)
    path = tmp_path / "scenario.toml"
    stored = ", ".join(f'"{name}"' for name in [*outputs, "no_such_output"])
    path.write_text(
        f'title = "t"\ntrials = 1\nseed = 1\nstore = [{stored}]\n\n[system]\nmodel = "{system}"\n'
    )
    with pytest.raises(ScenarioError) as error:
        load_scenario(path, REGISTRY)
    message = str(error.value)
    assert "key 'store'" in message and "'no_such_output'" in message
