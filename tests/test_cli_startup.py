"""The command line answers at once: ``--help`` and ``validate`` import no heavy module they do
not need (what they import is checked, not how long it takes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TOY_PLUGIN, TOY_SCENARIO

HEAVY = ("xarray", "pandas", "scipy", "matplotlib", "dask", "distributed", "netCDF4")

PROBE = """
import json, sys
from simframe.cli import main
try:
    main(sys.argv[1:])
except SystemExit as end:
    status = end.code
print(json.dumps({"status": status, "loaded": sorted(m for m in HEAVY if m in sys.modules)}))
"""


def imported_by(*arguments: str) -> tuple[int, list[str]]:
    """Run ``simframe ARGUMENTS`` in a fresh Python; its exit status and the heavy modules it
    imported."""
    probe = f"HEAVY = {HEAVY!r}\n{PROBE}"
    done = subprocess.run(
        [sys.executable, "-c", probe, *arguments], capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["status"], report["loaded"]


@pytest.mark.parametrize("arguments", [["--help"], ["run", "--help"], ["--version"]])
def test_help_imports_no_heavy_module(arguments):
    status, loaded = imported_by(*arguments)
    assert status == 0 and loaded == []


def test_validate_imports_no_heavy_module(tmp_path: Path):
    scenario = tmp_path / "toy.toml"
    scenario.write_text(TOY_SCENARIO)
    status, loaded = imported_by("validate", str(scenario), "--plugin", str(TOY_PLUGIN))
    assert status == 0 and loaded == []


@pytest.mark.parametrize(
    "first",
    [
        "import simframe; assert 'xarray' not in sys.modules; import xarray",
        "import xarray; import simframe",
        "from simframe.results import open_result",  # simframe imports xarray itself
        "from simframe.plotting import plot_result",
    ],
)
def test_the_accessor_is_registered_whatever_is_imported_first(first):
    probe = f"import sys\n{first}\nimport xarray as xr\nprint(type(xr.Dataset().simframe).__name__)"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", probe], capture_output=True, text=True
    )
    assert done.stdout.strip() == "SimframeAccessor", done.stderr
