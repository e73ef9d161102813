"""Systems declare their metrics before any trial runs; the core holds them to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from simframe import MetricSpec
from simframe.errors import ScenarioError
from simframe.execution import RunSpec, run_block
from simframe.plugins import PluginSettings, get_registry
from simframe.scenario import load_scenario

from .conftest import TOY_PLUGIN, TOY_SCENARIO, invoke

BROKEN_SYSTEM = '''
import numpy as np
from simframe import Metric, MetricSpec, SystemModel, hookimpl
from simframe import Parameter


class Broken(SystemModel):
    """A system that does not keep its declaration when ``lie`` is set."""

    name = "broken_link"
    parameters = (
        Parameter("lie", str, "none", help="how to break the contract"),
        Parameter("unit", str, "W", help="the unit declared for power_w"),
    )

    def declared_metrics(self, store):
        if self.lie == "undeclared":
            raise NotImplementedError("broken_link declares nothing")
        return {"power_w": MetricSpec(self.unit, "power"), "runtime_s": MetricSpec("s", "t")}\\
            if self.lie == "reserved" else {"power_w": MetricSpec(self.unit, "power")}

    def draw(self, rng):
        return rng.standard_normal()

    def simulate(self, realisation, trial):
        if self.lie == "extra":
            return {"power_w": Metric(1.0, "W", "power"), "gain": Metric(2.0, "1", "gain")}
        if self.lie == "units":
            return {"power_w": Metric(1.0, "mW", "power")}
        return {"power_w": Metric(1.0, self.unit, "power")}


@hookimpl
def simframe_system_models():
    return [Broken]
'''


def scenario_text(system: str) -> str:
    return f'title = "broken"\ntrials = 2\nseed = 1\n\n[system]\nmodel = "broken_link"\n{system}\n'


@pytest.fixture
def broken(tmp_path: Path) -> tuple[Path, PluginSettings]:
    plugin = tmp_path / "broken_system.py"
    plugin.write_text(BROKEN_SYSTEM)
    return plugin, PluginSettings(local_plugins=(str(TOY_PLUGIN), str(plugin)))


def load(text: str, tmp_path: Path, settings: PluginSettings):
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return load_scenario(path, get_registry(settings))


def run_first_trial(scenario, settings):
    spec = RunSpec(
        token=scenario.fingerprint,
        settings=settings,
        entropy=scenario.seed,
        store=scenario.store,
        variants=tuple(scenario.variants),
        configurations=scenario.configurations,
        coordinates={p: scenario.point_coordinates(p) for p in range(scenario.n_points)},
        record_errors=True,
        seed_points=scenario.seed_points,
    )
    return run_block(spec, get_registry(settings), 0, (0,))


@pytest.mark.parametrize(
    ("lie", "message"),
    [
        ("extra", "returned undeclared metric(s) gain"),
        ("units", "returned 'power_w' with units 'mW' instead of 'W'"),
    ],
)
def test_a_trial_that_breaks_the_declaration_fails_naming_the_system(
    tmp_path, broken, lie, message
):
    _, settings = broken
    scenario = load(scenario_text(f'lie = "{lie}"'), tmp_path, settings)
    (outcome,) = run_first_trial(scenario, settings)
    assert "system model 'broken_link'" in outcome.error
    assert "broke its declared_metrics()" in outcome.error and message in outcome.error


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ('lie = "undeclared"', "broken_link declares nothing (a plugin bug)"),
        ('lie = "reserved"', "declares 'runtime_s', a name the core writes itself"),
    ],
)
def test_a_bad_declaration_is_refused_before_running(tmp_path, broken, system, message):
    _, settings = broken
    with pytest.raises(ScenarioError) as error:
        load(scenario_text(system), tmp_path, settings)
    assert "key 'system.model'" in str(error.value) and message in str(error.value)


def test_one_metric_declared_two_ways_is_refused(tmp_path, broken):
    _, settings = broken
    text = scenario_text("") + '\n[variants.w]\n\n[variants.mw]\nsystem = { unit = "mW" }\n'
    with pytest.raises(ScenarioError) as error:
        load(text, tmp_path, settings)
    assert "metric 'power_w' is declared differently by variant 'w'" in str(error.value)
    assert "and by variant 'mw'" in str(error.value)


@pytest.mark.parametrize(
    ("metric", "store", "message"),
    [
        ("nope", [], "'nope' is not a metric of this scenario's system; valid names: 'iterations'"),
        ("channel", ["channel"], "'channel' is complex: its mean over trials is not a quantity"),
    ],
)
def test_precision_metric_must_be_a_declared_real_quantity(tmp_path, metric, store, message):
    text = TOY_SCENARIO.replace('store = ["channel"]', f"store = {store!r}".replace("'", '"'))
    text += f'\n[precision]\nmetric = "{metric}"\nrelative = 0.1\nmin_trials = 2\n'
    path = tmp_path / "p.toml"
    path.write_text(text)
    result = invoke("validate", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"key 'precision.metric': {message}" in result.output


def test_precision_metric_must_come_from_every_variant(tmp_path):
    text = (
        'title = "t"\ntrials = 4\nseed = 1\n\n[system]\nmodel = "sim_hmimo_link"\n'
        "tx_atoms = 4\nrx_atoms = 4\ntx_layers = 1\nrx_layers = 1\nantennas = 2\n\n"
        '[variants.rmax]\nphases = { model = "rmax" }\n\n'
        '[variants.imin]\nphases = { model = "imin" }\n\n'
        '[precision]\nmetric = "objective_trace"\nrelative = 0.1\nmin_trials = 2\n'
    )
    path = tmp_path / "p.toml"
    path.write_text(text)
    result = invoke("validate", str(path))
    assert result.exit_code == 2, result.output
    assert "'objective_trace' is not returned by variant(s) imin" in result.output


def test_metric_spec_builds_metrics_that_match_it():
    spec = MetricSpec("W", "power per stream", ("stream",))
    assert spec.mismatch(spec.metric([1.0, 2.0])) is None
    assert spec.estimable and not MetricSpec("1", "x", complex=True).estimable
    with pytest.raises(ValueError, match="categorical"):
        MetricSpec("1", "label", categorical=True, complex=True)


CELLFREE = """\
title = "small uplink"
trials = 1
seed = 3
store = {store}

[system]
model = "sim_cellfree_uplink"
aps = 3
ues = 3
antennas = 2
layers = 1
atoms_per_layer = 4
tau_p = 2
"""

HMIMO = """\
title = "small link"
trials = 1
seed = 3
store = {store}

[system]
model = "sim_hmimo_link"
tx_atoms = 4
rx_atoms = 4
tx_layers = 1
rx_layers = 1
antennas = 2

[variants.rmax]
phases = {{ model = "rmax", max_outer_iterations = 2, inner_iterations = 5 }}

[variants.imin]
phases = {{ model = "imin" }}

[variants.pg]
phases = {{ model = "pg_an", restarts_per_layer = 1 }}
"""


@pytest.mark.parametrize("template", [HMIMO, CELLFREE], ids=["hmimo", "cellfree"])
@pytest.mark.parametrize("store_all", [False, True], ids=["plain", "every-output"])
def test_built_in_systems_return_what_they_declare(tmp_path, template, store_all):
    settings = PluginSettings()
    registry = get_registry(settings)
    system = "sim_hmimo_link" if template is HMIMO else "sim_cellfree_uplink"
    outputs = list(
        registry.components[next(iter(registry.components))][system].cls.optional_outputs
    )
    store = outputs if store_all else []
    text = template.format(store=str(store).replace("'", '"'))
    scenario = load(text, tmp_path, settings)
    outcomes = run_first_trial(scenario, settings)
    assert [o.error for o in outcomes] == [""] * len(scenario.variants)
    for outcome in outcomes:
        declared = (
            scenario.configurations[(0, outcome.variant)]
            .build(registry)
            .declared_metrics(scenario.store)
        )
        assert set(outcome.metrics) == {*declared, "runtime_s"}
