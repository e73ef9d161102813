"""The documentation site builds with ``mkdocs build --strict``: every page is in the navigation,
every link and anchor between pages resolves, and the API reference renders from the docstrings
without a warning.

mkdocs comes with the ``docs`` extra (part of ``all``). Without it the tests skip, except in CI
(``CI=true``), where a missing mkdocs is a failure: CI installs the README's ``.[all]``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDED = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
API_OBJECTS = (
    "simframe.Component",
    "simframe.Parameter",
    "simframe.Slot",
    "simframe.SystemModel",
    "simframe.OptionGroup",
    "simframe.Metric",
    "simframe.MetricSpec",
    "simframe.TrialContext",
    "simframe.SystemModel.declared_metrics",
    "simframe.hookspecs.simframe_trial_metrics",
    "simframe.accessor.SimframeAccessor.mean_ci",
    "simframe.results.open_result",
    "simframe.scenario.load_scenario",
    "simframe.runner.run_scenario",
)


@pytest.fixture(scope="module")
def mkdocs() -> list[str]:
    """The mkdocs command of this environment (skips, or fails in CI, when it is missing)."""
    missing = [name for name in NEEDED if importlib.util.find_spec(name.split(".")[0]) is None]
    if missing:
        message = f"{', '.join(missing)} not installed: pip install -e '.[docs]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [sys.executable, "-m", "mkdocs"]


def build(mkdocs: list[str], project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mkdocs, "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_site_builds_strictly_with_the_api_reference(mkdocs, tmp_path):
    done = build(mkdocs, ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    for name in API_OBJECTS:
        assert f'id="{name}"' in api, f"the API reference lacks {name}"
    assert ":class:`" not in api and ":meth:`" not in api  # Sphinx roles rendered as code
    for page in ("getting-started", "clusters", "reproductions/paper000", "reference/hooks"):
        assert (tmp_path / "site" / page / "index.html").exists()


def test_a_broken_link_or_a_page_left_out_fails_the_build(mkdocs, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project)
    index = project / "docs" / "index.md"
    index.write_text(index.read_text() + "\nSee [the missing page](missing.md).\n")
    (project / "docs" / "orphan.md").write_text("# A page in no navigation\n")
    done = build(mkdocs, project, tmp_path / "site")
    assert done.returncode != 0
    assert "missing.md" in done.stderr and "orphan.md" in done.stderr, done.stderr
