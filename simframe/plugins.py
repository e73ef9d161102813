"""The plugin manager and the registry of components it collects.

Built-in physics and third-party plugins load the same way: through the ``simframe``
entry-point group. Set ``SIMFRAME_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-ins
(those that the ``simframe`` distribution itself declares); local plugin files given with
``--plugin`` are loaded in any case.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from simframe import hookspecs
from simframe.components import (
    ComponentInfo,
    ComponentKind,
    OptionGroup,
    check_component_class,
    suggest,
)
from simframe.errors import PluginError

ENTRY_POINT_GROUP = "simframe"
DISABLE_AUTOLOAD_ENV = "SIMFRAME_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_DISTRIBUTION = "simframe"

REGISTRATION_HOOKS: dict[ComponentKind, str] = {
    ComponentKind.SYSTEM_MODEL: "simframe_system_models",
    ComponentKind.CHANNEL_MODEL: "simframe_channel_models",
    ComponentKind.PROPAGATION_MODEL: "simframe_propagation_models",
    ComponentKind.PHASE_OPTIMISER: "simframe_phase_optimisers",
    ComponentKind.POWER_ALLOCATOR: "simframe_power_allocators",
    ComponentKind.PILOT_SCHEME: "simframe_pilot_schemes",
}


@dataclass(frozen=True)
class PluginSettings:
    """How to build a plugin manager; picklable, so worker processes build the same one."""

    local_plugins: tuple[str, ...] = ()
    autoload: bool = field(default_factory=lambda: not os.environ.get(DISABLE_AUTOLOAD_ENV))


@dataclass(frozen=True)
class HookImplementation:
    """One plugin's implementation of a hook, callable on its own, knowing who wrote it.

    The core calls the physical-layer hooks one implementation at a time through these, so that
    what each returns or leaves behind is checked and any problem named after its author.
    """

    hook: str
    origin: str
    """The plugin, as :func:`plugin_origin` names it."""
    function: Callable[..., Any]
    argnames: tuple[str, ...]
    kwargnames: tuple[str, ...]

    def __call__(self, **arguments: Any) -> Any:
        """Call the implementation with the arguments it declares (the hook passes them all)."""
        keywords = {name: arguments[name] for name in self.kwargnames if name in arguments}
        return self.function(*(arguments[name] for name in self.argnames), **keywords)

    @property
    def defined_at(self) -> str:
        code = getattr(self.function, "__code__", None)
        return "" if code is None else f"{code.co_filename}:{code.co_firstlineno}"

    def __str__(self) -> str:
        return f"hook {self.hook} of plugin {self.origin}"


@dataclass
class Registry:
    """Every component and option group the loaded plugins registered, with their origins."""

    plugin_manager: pluggy.PluginManager
    components: dict[ComponentKind, dict[str, ComponentInfo]]
    option_groups: dict[str, tuple[OptionGroup, str]]
    versions: dict[str, str]
    """Plugin origin -> version string, recorded in every dataset."""
    _implementations: dict[str, tuple[HookImplementation, ...]] = field(
        default_factory=dict, repr=False
    )

    def implementations(self, hook_name: str) -> tuple[HookImplementation, ...]:
        """The implementations of ``hook_name`` in the order pluggy calls them (the plugin
        registered last first, ``tryfirst``/``trylast`` respected)."""
        found = self._implementations.get(hook_name)
        if found is None:
            pm = self.plugin_manager
            dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
            found = tuple(
                HookImplementation(
                    hook_name,
                    plugin_origin(pm, impl.plugin, dists),
                    impl.function,
                    tuple(impl.argnames),
                    tuple(impl.kwargnames),
                )
                for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls())
            )
            self._implementations[hook_name] = found
        return found

    def get(self, kind: ComponentKind, name: str) -> ComponentInfo:
        try:
            return self.components[kind][name]
        except KeyError:
            names = list(self.components[kind])
            raise KeyError(f"unknown {kind.value} {name!r}{suggest(name, names)}") from None

    def all_components(self) -> list[ComponentInfo]:
        return [info for kind in ComponentKind for info in self.components[kind].values()]

    @property
    def hook(self) -> Any:
        return self.plugin_manager.hook


def _check_entry_point_names(entry_points: metadata.EntryPoints) -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for ep in entry_points:
        dist = ep.dist.name if ep.dist else "unknown distribution"
        by_name[ep.name].append(f"{dist} ({ep.value})")
    clashes = {name: dists for name, dists in by_name.items() if len(set(dists)) > 1}
    if clashes:
        text = "; ".join(
            f"{name!r} is declared by {' and by '.join(d)}" for name, d in clashes.items()
        )
        raise PluginError(f"two plugins share an entry-point name in group 'simframe': {text}")


def _argument_problems(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """``hook NAME(ARGS) takes ...`` for every hook implementation of ``plugin`` whose argument
    names its hook does not pass (pluggy refuses them when the plugin is registered)."""
    problems = []
    for attribute in dir(plugin):
        function = getattr(plugin, attribute, None)
        if pm.parse_hookimpl_opts(plugin, attribute) is None or not callable(function):
            continue
        caller = getattr(pm.hook, attribute, None)
        spec = getattr(caller, "spec", None)
        if spec is None:
            continue  # an unknown hook: reported by check_pending
        try:
            taken = list(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            continue
        unknown = [name for name in taken if name not in spec.argnames]
        if unknown:
            problems.append(
                f"hook {attribute}({', '.join(taken)}) takes "
                f"{', '.join(repr(n) for n in unknown)}, which the hook does not pass; it passes "
                f"{', '.join(spec.argnames) or 'nothing'} (an implementation takes any of "
                "them, by name)"
            )
    return problems


def _refused(pm: pluggy.PluginManager, name: str, exc: pluggy.PluginValidationError) -> PluginError:
    """One readable line for a plugin that pluggy refused to register."""
    problems = _argument_problems(pm, exc.plugin) or [" ".join(str(exc).split())]
    return PluginError(f"plugin {name}: " + "; ".join(problems))


def _load_local_plugin(pm: pluggy.PluginManager, path_text: str) -> None:
    path = Path(path_text).resolve()
    if not path.is_file():
        raise PluginError(f"--plugin {path_text}: no such file")
    module_name = f"simframe_local_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"--plugin {path_text}: not a Python module")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PluginError(f"--plugin {path_text}: importing it failed: {exc!r}") from exc
    try:
        pm.register(module, name=str(path))
    except pluggy.PluginValidationError as exc:
        raise _refused(pm, str(path), exc) from None


def plugin_origin(pm: pluggy.PluginManager, plugin: object, dists: dict[int, Any]) -> str:
    """``NAME (DISTRIBUTION VERSION)`` of a registered plugin, or its name alone when no
    distribution installed it (a ``--plugin`` file); ``dists`` maps ``id(plugin)`` to it."""
    name = pm.get_name(plugin) or repr(plugin)
    dist = dists.get(id(plugin))
    if dist is None:
        return name
    return f"{name} ({dist.metadata['name']} {dist.version})"


def build_plugin_manager(settings: PluginSettings) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("simframe")
    pm.add_hookspecs(hookspecs)
    entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    _check_entry_point_names(entry_points)
    builtin = [ep for ep in entry_points if ep.dist and ep.dist.name == BUILTIN_DISTRIBUTION]
    if not builtin:
        raise PluginError(
            "simframe's built-in plugins are not registered: install the package "
            "(pip install -e .) instead of running it from a source tree"
        )
    for ep in entry_points if settings.autoload else builtin:
        where = f"{ep.name} ({ep.dist.name if ep.dist else 'unknown distribution'})"
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
        except pluggy.PluginValidationError as exc:
            raise _refused(pm, where, exc) from None
        except Exception as exc:
            raise PluginError(f"loading plugin {where} failed: {exc!r}") from exc
    for path in settings.local_plugins:
        _load_local_plugin(pm, path)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc
    return pm


def _collect(pm: pluggy.PluginManager, hook_name: str) -> list[tuple[list[Any], str]]:
    """Call a registration hook once per implementation, keeping track of which plugin said what."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    collected = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        origin = plugin_origin(pm, impl.plugin, dists)
        try:
            result = impl.function()
        except Exception as exc:
            raise PluginError(f"{origin}: {hook_name}() raised {exc!r}") from exc
        collected.append((list(result or ()), origin))
    return collected


def build_registry(settings: PluginSettings | None = None) -> Registry:
    """Load every plugin and collect their components; duplicate names fail with both origins."""
    pm = build_plugin_manager(settings or PluginSettings())
    components: dict[ComponentKind, dict[str, ComponentInfo]] = {k: {} for k in ComponentKind}
    problems: list[str] = []
    for kind, hook_name in REGISTRATION_HOOKS.items():
        for classes, origin in _collect(pm, hook_name):
            for cls in classes:
                if (why := check_component_class(cls, kind)) is not None:
                    problems.append(f"{origin}: {hook_name}: {why}")
                    continue
                if (previous := components[kind].get(cls.name)) is not None:
                    problems.append(
                        f"{kind.value} {cls.name!r} is registered twice: by {previous.origin} "
                        f"({previous.cls.__module__}.{previous.cls.__qualname__}) and by {origin} "
                        f"({cls.__module__}.{cls.__qualname__})"
                    )
                    continue
                components[kind][cls.name] = ComponentInfo(cls, origin)
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    for hook_name in hookspecs.PHYSICAL_LAYER_HOOKS:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.wrapper or impl.hookwrapper:
                problems.append(
                    f"{plugin_origin(pm, impl.plugin, dists)}: {hook_name} is declared as a hook "
                    "wrapper; the core calls physical-layer hooks one implementation at a time, "
                    "so implement it as a plain hook"
                )
    option_groups: dict[str, tuple[OptionGroup, str]] = {}
    for groups, origin in _collect(pm, "simframe_option_groups"):
        for group in groups:
            systems = getattr(group, "systems", None)
            if not isinstance(group, OptionGroup) or isinstance(systems, str):
                problems.append(
                    f"{origin}: simframe_option_groups returned {group!r}; expected "
                    "OptionGroup objects (systems: a tuple of system model names, or None)"
                )
                continue
            if group.name in option_groups:
                problems.append(
                    f"plugin option group {group.name!r} is declared twice: by "
                    f"{option_groups[group.name][1]} and by {origin}"
                )
                continue
            option_groups[group.name] = (group, origin)
    if problems:
        raise PluginError("inconsistent plugins:\n" + "\n".join(f"  - {p}" for p in problems))
    versions = {
        pm.get_name(plugin) or repr(plugin): (
            f"{dists[id(plugin)].metadata['name']} {dists[id(plugin)].version}"
            if id(plugin) in dists
            else "local file"
        )
        for plugin in pm.get_plugins()
    }
    return Registry(pm, components, option_groups, versions)


_REGISTRIES: dict[PluginSettings, Registry] = {}


def get_registry(settings: PluginSettings | None = None) -> Registry:
    """A registry per settings, built once per process (workers reuse theirs across trials)."""
    settings = settings or PluginSettings()
    if settings not in _REGISTRIES:
        _REGISTRIES[settings] = build_registry(settings)
    return _REGISTRIES[settings]
