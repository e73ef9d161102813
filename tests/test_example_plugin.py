"""The example third-party plugin in docs/examples/: installed as a user would, then used.

If the package is not installed, the test pip-installs it (editable, into the running
environment). Where that is impossible the tests skip, except in CI (``CI=true``), where
``.ci/run`` installs it first and a missing plugin is a failure.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simframe import TrialContext

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "docs" / "examples" / "simframe-example-plugin"
DISTRIBUTION = "simframe-example-plugin"
INSTALL = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]


def _installed_version() -> str | None:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


@pytest.fixture(scope="module")
def example_plugin() -> str:
    """The installed version of the example plugin, installing it first if needed."""
    if _installed_version() is None:
        done = subprocess.run([*INSTALL, "-e", str(PACKAGE)], capture_output=True, text=True)
        importlib.invalidate_caches()
        if done.returncode != 0 or _installed_version() is None:
            message = f"could not install {PACKAGE}: {done.stderr.strip()[-2000:]}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
    # an editable install is on sys.path only for processes started after it
    if importlib.util.find_spec("simframe_example") is None:
        sys.path.append(str(PACKAGE / "src"))
    return _installed_version()


@settings(max_examples=50, deadline=None)
@given(
    bits=st.integers(1, 8),
    angles=st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=40),
)
def test_quantisation_moves_each_phase_to_the_nearest_grid_point(example_plugin, bits, angles):
    from simframe_example.quantisation import quantise_phases

    original = np.exp(1j * np.asarray(angles))
    quantised = original.copy()
    quantise_phases(quantised, bits)
    levels = np.angle(quantised) / (2 * np.pi / 2**bits)
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)
    np.testing.assert_allclose(np.abs(quantised), 1.0)
    distance = np.abs(np.angle(quantised / original))
    assert np.all(distance <= np.pi / 2**bits + 1e-12)


def test_hook_acts_only_when_its_option_group_is_present(example_plugin):
    from simframe_example import plugin

    rng = np.random.default_rng(3)
    phases = {"tx": np.exp(2j * np.pi * rng.random((2, 9))), "rx": np.exp(1j * rng.random((3, 4)))}
    untouched = {k: v.copy() for k, v in phases.items()}
    plugin.simframe_phases_configured(trial=TrialContext(0, 0, "v", {}, rng), phases=phases)
    for stack in phases:
        np.testing.assert_array_equal(phases[stack], untouched[stack])
    options = {"example_phase_quantisation": {"bits": 1}}
    plugin.simframe_phases_configured(TrialContext(0, 0, "v", {}, rng, options), phases)
    for values in phases.values():
        np.testing.assert_allclose(np.abs(values.real), 1.0, atol=1e-12)  # 1 bit: +1 or -1


def _simframe(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a fresh process, as a user runs it (sees the freshly installed plugin)."""
    return subprocess.run(
        [sys.executable, "-m", "simframe", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "SIMFRAME_DISABLE_PLUGIN_AUTOLOAD"},
    )


def test_plugin_is_listed_with_its_version(example_plugin, tmp_path):
    listed = _simframe("plugins", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"simframe_example ({DISTRIBUTION} {example_plugin})" in listed.stdout
    documented = _simframe("plugins", "example_phase_quantisation", cwd=tmp_path)
    assert "| `bits` | int | `2` |" in documented.stdout

