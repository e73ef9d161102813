"""Scenario files: loading, validation and expansion into sweep points and variants.

A scenario is declarative TOML; nothing in it is ever executed. Validation collects every
problem, each naming the key path in the file, what was expected and, for unknown names, the
closest valid ones. See ``docs/scenarios.md`` for the format.

The modules, one idea each:

- :mod:`~simframe.scenario.reading`: the file's text and TOML tables, ``--set`` overrides;
- :mod:`~simframe.scenario.settings`: the general keys, the ``[run]`` and ``[precision]`` tables;
- :mod:`~simframe.scenario.composition`: the system model, its slots and their parameters,
  variants, resolved with the key path of every value;
- :mod:`~simframe.scenario.sweeps`: the ``[sweep]`` axes;
- :mod:`~simframe.scenario.model`: the validated :class:`Scenario` and its configurations;
- :mod:`~simframe.scenario.loading`: :func:`load_scenario`, which runs them in order.
"""

from simframe.scenario.loading import load_scenario
from simframe.scenario.model import ComponentChoice, Configuration, Scenario, SweepAxis
from simframe.scenario.reading import parse_override

__all__ = [
    "ComponentChoice",
    "Configuration",
    "Scenario",
    "SweepAxis",
    "load_scenario",
    "parse_override",
]
