"""Generated references are current, every hook is documented, docs' code snippets work."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from simframe import docgen, hookspecs
from simframe.plugins import REGISTRATION_HOOKS
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return docgen.generate()


@pytest.mark.parametrize("name", ["scenario.md", "hooks.md"])
def test_committed_reference_is_current(generated, name):
    path = REFERENCE / name
    committed = path.read_text() if path.exists() else ""
    assert committed == generated[name], (
        f"docs/reference/{name} is stale; regenerate it from the repository root with: "
        f"{docgen.REGENERATE}"
    )


def test_every_hook_is_documented_in_the_reference(generated):
    hooks = docgen.hook_functions()
    declared = {n for n in vars(hookspecs) if n.startswith("simframe_")}
    assert {h.__name__ for h in hooks} == declared
    assert set(REGISTRATION_HOOKS.values()) <= declared
    for hook in hooks:
        doc = inspect.getdoc(hook)
        assert doc and len(doc.split()) >= 8, f"hook {hook.__name__} lacks a real docstring"
        assert f"### `{hook.__name__}`" in generated["hooks.md"]
        assert doc.splitlines()[0] in generated["hooks.md"]


def test_scenario_reference_lists_every_builtin_parameter_with_unit(generated):
    registry = docgen.builtin_registry()
    text = generated["scenario.md"]
    assert registry.all_components(), "no built-in component registered"
    for info in registry.all_components():
        section = text.split(f"### `{info.name}` — ", 1)[1].split("\n### ", 1)[0]
        for parameter in info.cls.parameters:
            row = next(r for r in section.splitlines() if r.startswith(f"| `{parameter.name}` |"))
            assert parameter.type.__name__ in row
            if parameter.unit not in ("", "1"):
                assert f"| {parameter.unit} |" in row
    assert "toy_link" not in text  # only built-ins: stable whatever else is installed


def test_check_mode_reports_stale_files(tmp_path, capsys):
    assert docgen.main(["--output-dir", str(tmp_path)]) == 0
    assert docgen.main(["--output-dir", str(tmp_path), "--check"]) == 0
    (tmp_path / "hooks.md").write_text("old")
    assert docgen.main(["--output-dir", str(tmp_path), "--check"]) == 1
    assert docgen.REGENERATE in capsys.readouterr().out


def test_plugins_name_prints_the_full_documentation():
    result = invoke("plugins", "toy_link")
    assert result.exit_code == 0
    assert "Parallel Rayleigh streams" in result.output
    assert "| `snr_db` | float | `10.0` | dB |" in result.output
    assert "`[phases]` | phase optimiser | `toy_random_phases`" in result.output
    assert "- `channel`: the complex stream gains" in result.output
    assert 'model = "toy_link"' in result.output
    group = invoke("plugins", "toy_quantisation")
    assert "[plugins.toy_quantisation]" in group.output and "| `bits` | int | `1` |" in group.output
    unknown = invoke("plugins", "toy_lnk")
    assert unknown.exit_code == 2 and "did you mean 'toy_link'" in unknown.output


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def test_docs_link_to_existing_pages():
    for page in (ROOT / "docs").rglob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).resolve().exists(), f"{page}: broken link {target}"
