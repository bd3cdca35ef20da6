"""The plugin host: loads built-in and third-party plugins and fills the registries.

Loading order: the built-ins (an explicit tuple; a failure there is a bug and is raised),
then the ``dreamfx`` entry-point group's third-party plugins, each load guarded: a plugin
that fails to import, implements an unknown hook or raises in a registration hook is
recorded as *failed* with its distribution and error, and the rest go on. That holds for any
exception, ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` included: a plugin
that calls ``sys.exit()`` while it is imported must not end the host. ``strict=True`` turns
such a failure into an exception (a :class:`~dreamfx.errors.PluginError`). ``DREAMFX_DISABLE_PLUGINS=name,other`` (plugin or
distribution names) skips plugins.

Nothing here is a module global: :func:`create_host` builds a fresh host, so every test
and every CLI call gets its own plugin manager.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterator

import pluggy

from dreamfx import interrupts
from dreamfx.host import hookspecs
from dreamfx.errors import PluginError
from dreamfx.host.registry import KINDS, Component, Registry, signature_params

ENTRY_POINT_GROUP = "dreamfx"
DISABLE_ENV = "DREAMFX_DISABLE_PLUGINS"

def builtin_plugins() -> tuple[tuple[str, str], ...]:
    """The built-in plugins as (plugin name, module), in load order: the ``dreamfx`` entry
    points of dreamfx's own distribution. ``pyproject.toml`` is the one list of built-ins;
    they register through the same entry-point group a third party uses, and are loaded
    first, before any third party, with a failure raised (it is a bug)."""
    try:
        dist = metadata.distribution("dreamfx")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree nobody installed
        raise PluginError("dreamfx is not installed, so its built-in plugins cannot be found: "
                          "pip install -e . (or make test)") from None
    return tuple((ep.name, ep.value) for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP)


@dataclass
class PluginInfo:
    """What the host knows about one plugin, as shown by ``dreamfx plugins``."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    status: str = "ok"  # ok | failed | disabled
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)  # "kind/name" -> description
    parameters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "kind/name" -> its parameters

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "status": self.status,
            "error": self.error,
            "hooks": list(self.hooks),
            "registered": {k: list(v) for k, v in self.registered.items()},
            "descriptions": dict(self.descriptions),
            "parameters": {k: [dict(p) for p in v] for k, v in self.parameters.items()},
        }


#: After this many seconds on one plugin's import or registration hooks, a line on stderr
#: says which plugin is being loaded (a hung plugin is named, not silent).
SLOW_LOAD_SECONDS = 5.0


@contextmanager
def slow_notice(what: str) -> Iterator[None]:
    """Print ``dreamfx: still <what> after N s`` on stderr once, if the block takes longer
    than :data:`SLOW_LOAD_SECONDS`; the block itself is not interrupted."""
    done = threading.Event()

    def notice() -> None:
        if not done.wait(SLOW_LOAD_SECONDS):
            print(f"dreamfx: still {what} after {SLOW_LOAD_SECONDS:g} s (Ctrl-C stops; "
                  "DREAMFX_DISABLE_PLUGINS=name skips a plugin)", file=sys.stderr, flush=True)

    watcher = threading.Thread(target=notice, name="dreamfx-slow-plugin", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def disabled_from_env(environ: dict[str, str] | None = None) -> set[str]:
    """The plugin or distribution names listed in ``DREAMFX_DISABLE_PLUGINS``."""
    raw = (environ if environ is not None else os.environ).get(DISABLE_ENV, "")
    return {_canonical(part.strip()) for part in raw.split(",") if part.strip()}


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class PluginHost:
    """A pluggy manager plus the registries its plugins fill.

    Use :func:`create_host` for the normal set-up. Tests may build a bare host, add
    in-process plugins with :meth:`register` (or ``host.pm.register(obj, name=...)``) and
    then read :meth:`registry`.
    """

    def __init__(self, *, strict: bool = False, disabled: set[str] | None = None) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict
        self.disabled = disabled_from_env() if disabled is None else {_canonical(d) for d in disabled}
        self._plugins: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry] | None = None

    @property
    def plugins(self) -> dict[str, PluginInfo]:
        """Every plugin the host knows, by name, after its registration hooks have run."""
        self.registries
        return self._plugins

    # -- loading ---------------------------------------------------------------------------
    def _is_disabled(self, *names: str | None) -> bool:
        return any(n is not None and _canonical(n) in self.disabled for n in names)

    def load_builtins(self) -> None:
        """Import and register the built-in plugins; a failure is raised (it is a bug)."""
        version = _dist_version("dreamfx")
        for name, module in builtin_plugins():
            info = PluginInfo(name, module, "dreamfx", version, builtin=True)
            self._plugins[name] = info
            if self._is_disabled(name, module):
                info.status = "disabled"
                continue
            self.pm.register(importlib.import_module(module), name=name)

    def load_entry_points(self) -> None:
        """Load third-party plugins from the ``dreamfx`` entry-point group, each guarded."""
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else None
            if dist is not None and _canonical(dist) == "dreamfx":
                continue  # the built-ins, already loaded by load_builtins
            version = ep.dist.version if ep.dist is not None else None
            info = PluginInfo(ep.name, ep.value, dist, version)
            if ep.name in self._plugins:
                info.name = f"{ep.name} ({dist})"
                info.status = "failed"
                info.error = f"plugin name {ep.name!r} is already taken by {self._plugins[ep.name].distribution}"
                self._plugins[info.name] = info
                continue
            self._plugins[ep.name] = info
            if self._is_disabled(ep.name, dist):
                info.status = "disabled"
                continue
            try:
                with interrupts.watched() as stopped, slow_notice(f"loading plugin {ep.name!r} ({dist or ep.value})"):
                    obj = ep.load()
                    self.pm.register(obj, name=ep.name)
                    self.pm.check_pending()
            except BaseException as exc:  # noqa: B036 - even sys.exit() in a plugin must not end the host
                if isinstance(exc, KeyboardInterrupt) and stopped:
                    raise  # the user's Ctrl-C (or a stop signal) while it loaded: stop, do not skip it
                self.fail(info, exc, f"loading entry point {ep.name} = {ep.value}")

    def register(self, plugin: object, name: str, *, distribution: str | None = None) -> None:
        """Register an in-process plugin object (a module, class or instance with hookimpls)."""
        self._plugins[name] = PluginInfo(name, getattr(plugin, "__name__", type(plugin).__name__), distribution)
        self.pm.register(plugin, name=name)
        self._registries = None

    def fail(self, info: PluginInfo, exc: BaseException, where: str) -> None:
        info.status = "failed"
        info.error = _describe(exc)
        plugin = self.pm.get_plugin(info.name)
        if plugin is not None:
            self.pm.unregister(plugin)
        if self.strict or info.builtin:
            raise PluginError(
                f"plugin {info.name!r} ({info.distribution or 'no distribution'}) failed while {where}: {info.error}"
            ) from exc

    # -- registries --------------------------------------------------------------------------
    def _collect(self) -> dict[str, Registry]:
        registries = {kind: Registry(kind) for kind in KINDS}
        for name, plugin in list(self.pm.list_name_plugin()):
            info = self._plugins.setdefault(name, PluginInfo(name, getattr(plugin, "__name__", repr(plugin))))
            info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            staged: list[Component] = []
            try:
                with interrupts.watched() as stopped, slow_notice(f"running the registration hooks of plugin {name!r}"):
                    for kind in KINDS:
                        caller = self.hook_caller(f"dreamfx_register_{kind}", plugin)
                        if caller is not None:
                            caller(register=_collector(kind, name, staged))
                trial = {kind: Registry(kind, dict(reg._items)) for kind, reg in registries.items()}
                for component in staged:
                    trial[component.kind].add(component)
            except BaseException as exc:  # noqa: B036 - as for imports: isolate whatever a hook raises
                if isinstance(exc, KeyboardInterrupt) and stopped:
                    raise  # the user's Ctrl-C: stop
                self.fail(info, exc, "running its registration hooks")
                continue
            registries = trial
            info.registered, info.descriptions, info.parameters = {}, {}, {}
            for component in staged:
                info.registered.setdefault(component.kind, []).append(component.name)
                info.descriptions[f"{component.kind}/{component.name}"] = component.description
                info.parameters[f"{component.kind}/{component.name}"] = [p.as_dict() for p in component.parameters]
        return registries

    def forget_registries(self) -> None:
        """Collect the registries again on next use (after a plugin failed outside them)."""
        self._registries = None

    def hook_caller(self, hook: str, plugin: object) -> Any:
        """The hook ``hook`` of ``plugin`` alone, called through pluggy (so its
        ``wrapper=True``/``hookwrapper=True`` implementations run around its plain ones), or
        None if the plugin does not implement it. Each plugin's hooks run apart from the
        others', so what a hook registers or raises is attributed to its own plugin."""
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        if not any(impl.plugin is plugin for impl in impls):
            return None
        others = {impl.plugin for impl in impls if impl.plugin is not plugin}
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    @property
    def registries(self) -> dict[str, Registry]:
        if self._registries is None:
            self._registries = self._collect()
        return self._registries

    def registry(self, kind: str) -> Registry:
        """The registry of one kind (``models``, ``objectives``, ``scalers``, ...)."""
        return self.registries[kind]

    def get(self, kind: str, name: str) -> Component:
        return self.registry(kind).get(name)

    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status == "failed"]


def _collector(kind: str, plugin: str, staged: list[Component]) -> Callable[..., None]:
    def register(name: str, factory: Callable[..., Any], *, description: str = "") -> None:
        where = f"plugin {plugin!r} registered {kind[:-1]} {name!r}"
        if not isinstance(name, str):
            raise PluginError(f"plugin {plugin!r} registered a {kind[:-1]} whose name is not a string: {name!r}")
        if not isinstance(description, str):
            raise PluginError(f"{where} with a description that is not a string")
        if not callable(factory):
            raise PluginError(f"{where} with a factory that is not callable ({type(factory).__name__})")
        parameters = signature_params(factory, where)
        staged.append(Component(kind, name, factory, parameters, " ".join(description.split()), plugin))

    return register


def describe_parameters(component: Component) -> str:
    """The component's description, then one line per parameter:
    ``name (type, default 1.0): description``; what ``dreamfx plugins`` shows."""
    lines = [component.description] if component.description else []
    for p in component.parameters:
        default = json.dumps(p.default) if isinstance(p.default, (str, list, dict)) else repr(p.default)
        lines.append(f"{p.name} ({p.type_name}, default {default})" + (f": {p.description}" if p.description else ""))
    return "\n".join(lines)


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def create_host(*, strict: bool = False, entry_points: bool = True, disabled: set[str] | None = None) -> PluginHost:
    """Build a fresh plugin host: built-ins, then (optionally) third-party entry points."""
    host = PluginHost(strict=strict, disabled=disabled)
    host.load_builtins()
    if entry_points:
        host.load_entry_points()
    return host
