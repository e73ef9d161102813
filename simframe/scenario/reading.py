"""Reading a scenario file into TOML tables and applying ``--set KEY=VALUE`` overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from simframe.errors import ScenarioError
from simframe.scenario.problems import Problems
from simframe.scenario.sweeps import flatten_sweep


def read_scenario_file(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The file's text and its TOML tables; :class:`ScenarioError` when it cannot be read."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark is accepted
    except OSError as exc:
        raise ScenarioError(source, [f"cannot read the file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, [f"not UTF-8 text: {exc.reason} at byte {exc.start}"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ScenarioError(source, ["not valid TOML: nested too deeply"]) from None
    return text, raw


def parse_override(text: str) -> tuple[str, Any]:
    """``--set key.path=value``; the value is read as TOML, or taken as a bare string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError("--set", [f"{text!r}: expected KEY=VALUE, e.g. system.tx_layers=3"])
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def apply_overrides(raw: dict[str, Any], overrides: tuple[str, ...], problems: Problems) -> None:
    """Apply ``--set`` overrides to ``raw`` in order, refusing one of a swept key."""
    for override in overrides:
        key, value = parse_override(override)
        _apply_override(raw, key, value, problems)
        _refuse_override_of_swept_key(raw, key, problems)


def _apply_override(raw: dict[str, Any], key: str, value: Any, problems: Problems) -> None:
    parts = key.split(".")
    table = raw
    for part in parts[:-1]:
        existing = table.setdefault(part, {})
        if not isinstance(existing, dict):
            problems.add(key, f"--set cannot descend into {part!r}, which is not a table")
            return
        table = existing
    table[parts[-1]] = value


def _refuse_override_of_swept_key(raw: dict[str, Any], key: str, problems: Problems) -> None:
    """``--set system.x=3`` while ``system.x`` is swept would be silently ignored: refuse it."""
    sweep = raw.get("sweep")
    if not isinstance(sweep, dict) or key.startswith("sweep."):
        return
    places = {"sweep": {k: v for k, v in sweep.items() if k != "linked"}}
    linked = sweep.get("linked")
    if isinstance(linked, dict):
        places |= {f"sweep.linked.{n}": b for n, b in linked.items() if isinstance(b, dict)}
    for label, body in places.items():
        if key in flatten_sweep(body):
            problems.add(
                f"--set {key}",
                f"{key} is swept in [{label}], which overrides this value; set "
                f"{label}.{key}=[...] to change the swept values",
            )
