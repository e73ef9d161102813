"""Generated references are current, every hook is documented, docs' code snippets work."""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from simframe import ParameterError, docgen, hookspecs
from simframe.plugins import REGISTRATION_HOOKS
from simframe.results import open_result
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


def test_docs_link_to_existing_pages():
    for page in (ROOT / "docs").rglob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).resolve().exists(), f"{page}: broken link {target}"


def _tagged_block(page: Path, tag: str) -> str:
    """The code block following ``<!-- test: TAG -->`` in ``page``."""
    match = re.search(rf"<!-- test: {re.escape(tag)} -->\n```\w*\n(.*?)```", page.read_text(), re.S)
    assert match, f"{page.name} has no block tagged {tag!r}"
    return match.group(1)


PLUGIN_GUIDE = ROOT / "docs" / "plugin-guide.md"


def test_plugin_guide_single_file_plugin_works(tmp_path, toy_scenario):
    plugin = tmp_path / "phase_noise.py"
    plugin.write_text(_tagged_block(PLUGIN_GUIDE, "plugin-file phase_noise.py"))
    base = toy_scenario.read_text()
    channels = {}
    for std in (None, 0.0, 20.0):
        scenario = tmp_path / f"noise_{std}.toml"
        extra = "" if std is None else f"\n[plugins.phase_noise]\nstd_deg = {std}\n"
        scenario.write_text(base + extra)
        out = tmp_path / f"noise_{std}.nc"
        result = invoke(
            "run", str(scenario), "-o", str(out), "--workers", "1", "--quiet",
            "--plugin", str(plugin),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        dataset = open_result(out)
        channels[std] = dataset.channel.values  # the toy's stream gains, rotated by the phases
        if std is not None:
            assert (dataset.phase_noise_std_deg == std).all()
            assert dataset.phase_noise_std_deg.attrs["units"] == "degree"
    np.testing.assert_array_equal(channels[None], channels[0.0])
    np.testing.assert_allclose(np.abs(channels[20.0]), np.abs(channels[None]))
    error_deg = np.rad2deg(np.angle(channels[20.0] / channels[None]))
    assert 15.0 < error_deg.std() < 25.0  # 108 samples of 20 degree noise


def test_plugin_guide_component_validates_its_parameters():
    namespace: dict = {}
    exec(_tagged_block(PLUGIN_GUIDE, "component"), namespace)
    component = namespace["EveryOtherAtomOff"]()
    assert component.max_sweeps == 10 and component.params["tolerance"] == 1e-6
    with pytest.raises(ParameterError, match="tolerance"):
        namespace["EveryOtherAtomOff"](tolerance=2.0)
    with pytest.raises(ParameterError, match="max_sweeps"):
        namespace["EveryOtherAtomOff"](max_sweeps=0)


def test_plugin_guide_names_the_real_hmimo_interface():
    """The contract the guide prints must match simframe_hmimo.interfaces (it changed once)."""
    interfaces = pytest.importorskip("simframe_hmimo.interfaces")
    contract = _tagged_block(PLUGIN_GUIDE, "hmimo-contract")
    for name in re.findall(r"\b(Hmimo\w+|PhaseResult)\b", contract):
        assert hasattr(interfaces, name), f"plugin guide names {name}, which does not exist"
    link_members = re.search(r"link: HmimoLink(.*?)allocator:", contract, re.S).group(1)
    link_members = re.sub(r"\([^)]*\)", "", link_members)  # names only, not their arguments
    for member in re.findall(r"\b([a-z_]+)\b", link_members):
        field = member in interfaces.HmimoLink.__dataclass_fields__
        assert field or hasattr(interfaces.HmimoLink, member), f"HmimoLink has no {member}"
    assert list(inspect.signature(interfaces.HmimoPhaseOptimiser.optimise).parameters) == [
        "self", "link", "allocator", "rng",
    ]  # fmt: skip
    result_fields = list(interfaces.PhaseResult.__dataclass_fields__)
    assert result_fields[:5] == [
        "tx_phases", "rx_phases", "powers_w", "iterations", "objective_trace",
    ]  # fmt: skip


def test_plugin_guide_says_what_random_phases_returns():
    interfaces = pytest.importorskip("simframe_hmimo.interfaces")
    guide = PLUGIN_GUIDE.read_text()
    assert "`link.random_phases(rng)` returns such a pair `(tx, rx)`, of shapes `(L, N)` and" in (
        " ".join(guide.split())
    )
    hops = (np.ones((9, 2)), np.ones((9, 9))), (np.ones((2, 4)),)
    link = interfaces.HmimoLink(*hops, np.ones((4, 9), complex), 1.0, 1.0)
    tx, rx = link.random_phases(np.random.default_rng(0))
    assert tx.shape == (2, 9) and rx.shape == (1, 4)
    np.testing.assert_allclose(np.abs(np.concatenate([tx.ravel(), rx.ravel()])), 1.0)


def test_builtin_parameters_follow_the_unit_rule():
    """A float has a unit ("1" when dimensionless); a count, flag or name has none ("")."""
    registry = docgen.builtin_registry()
    groups = [group for group, _ in registry.option_groups.values()]
    owners = [*((info.name, info.cls.parameters) for info in registry.all_components())]
    owners += [(group.name, group.parameters) for group in groups]
    broken = [
        f"{owner}.{p.name}: {p.type.__name__} with unit {p.unit!r}"
        for owner, parameters in owners
        for p in parameters
        if (p.type is float) != (p.unit != "")
    ]
    assert not broken


def test_getting_started_lists_what_the_quickstart_writes(tmp_path):
    text = (ROOT / "docs" / "getting-started.md").read_text()
    listing = text[text.index("<xarray.Dataset>") :]
    listing = listing[: listing.index("```")]
    out = tmp_path / "quickstart.nc"
    quickstart = str(ROOT / "scenarios" / "quickstart.toml")
    result = invoke("run", quickstart, "-o", str(out), "--trials", "1", "--quiet")
    assert result.exit_code == 0, result.output
    dataset = open_result(out)
    coordinates, variables = listing.split("Data variables:")
    variables = variables.split("Attributes:")[0]
    assert re.findall(r"^    (?:\* )?(\w+) ", variables, re.M) == list(dataset.data_vars)
    listed_coordinates = re.findall(r"^  [ *] (\w+) ", coordinates, re.M)
    assert sorted(listed_coordinates) == sorted(dataset.coords)
    dims = re.search(r"Dimensions:\s+\((.*?)\)", listing, re.S).group(1)
    assert sorted(re.findall(r"(\w+):", dims)) == sorted(dataset.sizes)


def test_generated_figures_are_ignored_but_not_the_documentation_figures():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    names = ["fig1.png", "out/fig.png", "docs/reproductions/new_figure.png"]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True
    )
    assert done.stdout.split() == ["fig1.png", "out/fig.png"]
