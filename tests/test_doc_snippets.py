"""Every ```sh and ```python block of README.md and docs/**/*.md runs as written.

Each page runs in its own copy of the repository (the files git tracks, staged new ones
included, as they are in the working tree; untracked files are left out, so that a scratch file
of yours is neither linted by the README's ``ruff check .`` nor run; ``.venv`` links to the
environment running the tests), from the copy's root, block after block, so a block may use
what an earlier one wrote (``fig1.nc``). ``sh`` blocks run through ``bash -euo pipefail`` with the
venv's ``bin`` first on ``PATH``; ``python`` blocks run in one namespace per page, as doctests
when they hold ``>>>`` prompts. Commands that build the environment itself (``python3 -m venv``,
``pip install``) or run this test suite (``-m pytest``) are left out of a command chain: CI runs
them (``.ci/run``) and the tests run inside their result.

The HTML comments directly before a block steer it:

* ``<!-- docs-test: slow -->``: the block takes more than about 30 s; it runs only under
  ``pytest -m slow`` (a block that uses its output must be marked too);
* ``<!-- docs-test: skip -->``: never run (needs a dask scheduler, a GPU, ...);
* ``<!-- docs-test: file NAME -->``: the block (any language) is written to ``NAME`` in the
  page's copy before its first block runs.

``text`` blocks are output examples and ``toml`` blocks fragments; neither is executed.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_example_plugin import example_plugin  # noqa: F401  (a fixture pages use)

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
EXECUTED = ("sh", "python")
ENVIRONMENT_COMMANDS = re.compile(
    r"(^|\s)(python3? -m venv|\S*pip3? install|\S*python3? -m pytest)"
)
FENCE = re.compile(r"((?:<!--[^\n]*-->\n)*)```(\w*)\n(.*?)```", re.S)
BLOCK_SECONDS = 240


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    tags: tuple[str, ...]
    line: int

    @property
    def file(self) -> str | None:
        names = [t.split(None, 1)[1] for t in self.tags if t.startswith("file ")]
        return names[0] if names else None


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` with the ``docs-test`` comments directly before each."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        tags = tuple(re.findall(r"<!-- docs-test: (.*?) -->", match.group(1)))
        line = text.count("\n", 0, match.start(2)) + 1
        found.append(Block(match.group(2), match.group(3), tags, line))
    return found


def without_environment_commands(script: str) -> str:
    """``script`` without the commands that (re)build the environment or run the test suite."""
    kept = []
    for line in script.replace("\\\n", " ").splitlines():
        parts = [p for p in line.split("&&") if not ENVIRONMENT_COMMANDS.search(p.strip())]
        if parts and any(p.strip() for p in parts):
            kept.append("&&".join(parts).strip())
    return "\n".join(kept)


def _copy_repository(target: Path, root: Path = ROOT) -> None:
    """Copy the files git tracks in ``root`` to ``target``, and link the environment."""
    target.mkdir(parents=True, exist_ok=True)
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    return env


def _run_shell(block: Block, cwd: Path, where: str) -> None:
    script = without_environment_commands(block.code)
    if not script:
        return
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=BLOCK_SECONDS,
    )
    assert done.returncode == 0, f"{where}: `{script}` failed:\n{done.stdout}\n{done.stderr}"


def _run_python(block: Block, namespace: dict, where: str) -> None:
    if ">>>" not in block.code:
        exec(compile(block.code, where, "exec"), namespace)
        return
    test = doctest.DocTestParser().get_doctest(block.code, namespace, where, where, block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    runner.run(test, clear_globs=False)
    namespace.update(test.globs)  # a doctest works on a copy; later blocks see its names
    assert runner.summarize(verbose=False).failed == 0, f"{where}: doctest failed (see above)"


def run_page(page: Path, copy: Path, slow: bool) -> int:
    """Run the executable blocks of ``page`` in ``copy``; returns how many ran."""
    _copy_repository(copy)
    found = blocks(page)
    for block in found:
        if block.file:
            (copy / block.file).parent.mkdir(parents=True, exist_ok=True)
            (copy / block.file).write_text(block.code)
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    previous = Path.cwd()
    os.chdir(copy)
    try:
        for block in found:
            runs = block.language in EXECUTED and "skip" not in block.tags
            if not runs or ("slow" in block.tags and not slow):
                continue
            where = f"{_page_id(page)}:{block.line}"
            if block.language == "sh":
                _run_shell(block, copy, where)
            else:
                _run_python(block, namespace, where)
            ran += 1
    finally:
        os.chdir(previous)
    return ran


def _needs_example_plugin(page: Path) -> bool:
    return "examples" in Path(_page_id(page)).parts


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else page.name


WITH_CODE = [p for p in PAGES if any(b.language in EXECUTED for b in blocks(p))]
WITH_SLOW = [p for p in WITH_CODE if any("slow" in b.tags for b in blocks(p))]


@pytest.mark.parametrize("page", WITH_CODE, ids=_page_id)
def test_page_runs_as_written(page, tmp_path, request):
    if _needs_example_plugin(page):
        request.getfixturevalue("example_plugin")
    run_page(page, tmp_path, slow=False)


@pytest.mark.slow
@pytest.mark.parametrize("page", WITH_SLOW, ids=_page_id)
def test_page_runs_as_written_with_its_slow_blocks(page, tmp_path, request):
    if _needs_example_plugin(page):
        request.getfixturevalue("example_plugin")
    run_page(page, tmp_path, slow=True)


def test_the_conventions_are_applied(tmp_path):
    """A failing block fails the page; skip, slow and file tags do what they say."""
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: file data.txt -->\n```text\n42\n```\n"
        '```sh\npython3 -m venv .venv && test "$(cat data.txt)" = 42 && echo ok > ran.txt\n```\n'
        "<!-- docs-test: skip -->\n```sh\nexit 1\n```\n"
        "<!-- docs-test: slow -->\n```sh\ntouch slow.txt\n```\n"
        "```python\nvalue = 6 * 7\n```\n```python\n>>> value\n42\n\n```\n"
    )
    copy = tmp_path / "copy"
    assert run_page(page, copy, slow=False) == 3  # sh, python, doctest
    assert (copy / "ran.txt").read_text() == "ok\n"
    assert not (copy / "slow.txt").exists()
    failing = tmp_path / "failing.md"
    failing.write_text("```sh\nfalse\n```\n")
    with pytest.raises(AssertionError, match="failed"):
        run_page(failing, tmp_path / "copy2", slow=False)
    assert (
        without_environment_commands(
            "python3 -m venv .venv && .venv/bin/pip install -e '.[all]' && simframe run x.toml"
        )
        == "simframe run x.toml"
    )
    assert without_environment_commands(".venv/bin/python -m pytest -m slow") == ""


def test_the_copy_leaves_untracked_files_out(tmp_path):
    """A scratch file in the checkout is not copied, so the README's lint never sees it."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
    (checkout / "tracked.py").write_text("x = 1\n")
    (checkout / "staged.py").write_text("y = 2\n")
    (checkout / "scratch.py").write_text("import os  # unused: ruff would fail on it\n")
    subprocess.run(["git", "add", "tracked.py", "staged.py"], cwd=checkout, check=True)
    copy = tmp_path / "copy"
    _copy_repository(copy, checkout)
    assert sorted(p.name for p in copy.iterdir()) == [".venv", "staged.py", "tracked.py"]
