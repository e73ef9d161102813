"""Shared fixtures: the toy system plugin and helpers to run the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from simframe.cli import main

TOY_PLUGIN = Path(__file__).parent / "plugins" / "toy_system.py"

TOY_SCENARIO = """\
title = "toy sweep"
trials = 6
seed = 1234
store = ["channel"]

[system]
model = "toy_link"
streams = 3

[phases]
model = "toy_random_phases"

[sweep]
system.snr_db = [0.0, 10.0, 20.0]

[variants.one_watt]
system = { budget_w = 1.0 }

[variants.two_watts]
system = { budget_w = 2.0 }
"""


def invoke(*args: str) -> Result:
    """Run ``simframe ARGS --plugin toy_system.py`` in-process."""
    command = list(args)
    if command[0] in {"run", "validate", "plugins"}:
        command += ["--plugin", str(TOY_PLUGIN)]
    return CliRunner().invoke(main, command, catch_exceptions=False)


@pytest.fixture
def toy_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "toy.toml"
    path.write_text(TOY_SCENARIO)
    return path
