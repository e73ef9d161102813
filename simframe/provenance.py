"""Which code computes a run: the core and every plugin that takes part, by version and by a
hash of its source, so that a resumed run never mixes results of different code.

A plugin takes part when the scenario uses one of its components or when it implements a hook
that runs during trials (every hook but the registration hooks). Its code is identified by the
installed distribution that provides the module (name, version and a SHA-256 of the files of
the distribution's top-level packages, so that an editable install, or a reinstall of changed
code under the same version, is told apart) or, for a ``--plugin`` file or another module that
no distribution provides, by the SHA-256 of its file (as ``sha256sum`` gives it). The core,
``simframe`` itself with its built-in plugins, always takes part.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from simframe.components import ComponentKind
from simframe.plugins import BUILTIN_DISTRIBUTION, REGISTRATION_HOOKS, Registry

if TYPE_CHECKING:
    from simframe.scenario import Scenario

CodeIdentity = dict[str, dict[str, str]]
"""Distribution name or file path -> ``{"version": ..., "sha256": ...}`` (version for
distributions only)."""

NOT_NUMERICAL_HOOKS = frozenset([*REGISTRATION_HOOKS.values(), "simframe_option_groups"])
"""Hooks that only declare what a plugin offers; every other hook runs during trials."""


def _hash_files(paths: Iterable[Path], root: Path) -> str:
    """SHA-256 of the files' names (relative to ``root``) and contents, in name order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _source_files(location: Path) -> list[Path]:
    """The files of a package directory (no caches, no hidden files), or the module file."""
    if location.is_file():
        return [location]
    return [
        path
        for path in location.rglob("*")
        if path.is_file()
        and path.suffix != ".pyc"
        and not any(part.startswith(".") or part == "__pycache__" for part in path.parts)
    ]


def _locations(top_level: str) -> list[Path]:
    """Where the top-level package or module ``top_level`` lives."""
    spec = importlib.util.find_spec(top_level)
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    return [Path(spec.origin)] if spec.origin else []


@functools.cache
def _packages() -> Mapping[str, list[str]]:
    """Top-level module -> the distributions that provide it."""
    return metadata.packages_distributions()


@functools.cache
def _distribution_identity(name: str) -> dict[str, str]:
    packages = [top for top, dists in _packages().items() if name in dists]
    digest = hashlib.sha256()
    for top in sorted(packages):
        for location in _locations(top):
            files = _source_files(location)
            digest.update(top.encode() + b"\0" + _hash_files(files, location.parent).encode())
    return {"version": metadata.version(name), "sha256": digest.hexdigest()}


def _module_identity(module: str) -> tuple[str, dict[str, str]]:
    top = module.split(".")[0]
    distributions = _packages().get(top)
    if distributions:
        name = sorted(set(distributions))[0]
        return name, _distribution_identity(name)
    loaded = sys.modules.get(module)
    location = Path(getattr(loaded, "__file__", "") or "")
    if location.name == "__init__.py":
        location = location.parent
    if not location.name or not location.exists():
        return module, {"sha256": "unknown: the module has no source file"}
    if location.is_file():  # what sha256sum says of it
        return str(location.resolve()), {
            "sha256": hashlib.sha256(location.read_bytes()).hexdigest()
        }
    return str(location.resolve()), {"sha256": _hash_files(_source_files(location), location)}


def taking_part(registry: Registry, scenario: Scenario) -> set[str]:
    """Modules whose code the run executes: the core, the scenario's components and every
    implementation of a hook that runs during trials."""
    modules = {BUILTIN_DISTRIBUTION}
    chosen = set()
    for configuration in scenario.configurations.values():
        chosen.add((ComponentKind.SYSTEM_MODEL, configuration.system_model))
        for slot, choice in configuration.slots.items():
            chosen.add((scenario.system_cls.slots[slot].kind, choice.model))
    modules.update(registry.get(kind, name).cls.__module__ for kind, name in chosen)
    for name, caller in vars(registry.hook).items():
        if name.startswith("simframe_") and name not in NOT_NUMERICAL_HOOKS:
            modules.update(impl.function.__module__ for impl in caller.get_hookimpls())
    return modules


def code_identity(registry: Registry, scenario: Scenario) -> CodeIdentity:
    """The identity of every distribution or file whose code takes part in running
    ``scenario``; equal identities mean that the same code computes the numbers."""
    return dict(sorted(_module_identity(module) for module in taking_part(registry, scenario)))


def _describe(identity: Mapping[str, str]) -> str:
    version = f"{identity['version']}, " if "version" in identity else ""
    return f"{version}sha256 {identity['sha256'][:12]}"


def code_changes(recorded: Mapping[str, Mapping[str, str]], now: CodeIdentity) -> list[str]:
    """What differs between the ``recorded`` identity and ``now``, one phrase per item."""
    changes = []
    for key in sorted(set(recorded) | set(now)):
        before, after = recorded.get(key), now.get(key)
        if before == after:
            continue
        if before is None:
            changes.append(f"{key} ({_describe(after)}) now takes part")
        elif after is None:
            changes.append(f"{key} ({_describe(before)}) no longer takes part")
        else:
            changes.append(f"{key} changed from {_describe(before)} to {_describe(after)}")
    return changes
