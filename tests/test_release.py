"""The version is defined once, in pyproject.toml: the CLI, the datasets, the citation file and
the changelog all say the same."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import simframe
from simframe.results import open_result
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_package_and_the_cli_report_the_version():
    assert simframe.__version__ == VERSION
    result = invoke("--version")
    assert result.exit_code == 0 and result.output == f"simframe, version {VERSION}\n"


def test_a_dataset_records_the_version_of_simframe_and_of_its_plugins(toy_scenario, tmp_path):
    out = tmp_path / "toy.nc"
    result = invoke("run", str(toy_scenario), "-o", str(out), "--trials", "2", "--quiet")
    assert result.exit_code == 0, result.output
    dataset = open_result(out)
    assert dataset.attrs["source"] == f"simframe {VERSION}"
    assert dataset.simframe.plugin_versions["hmimo"] == f"simframe {VERSION}"


def test_the_citation_file_cites_this_version():
    citation = (ROOT / "CITATION.cff").read_text()
    assert citation.startswith("cff-version: 1.2.0\n")
    assert re.search(r"^version: (\S+)$", citation, re.M).group(1) == VERSION
    for title in ("Scaling Achievable Rates", "Cell-Free Massive MIMO", "Holographic MIMO"):
        assert title in citation


def test_the_changelog_has_an_entry_for_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(rf"^## \[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)
