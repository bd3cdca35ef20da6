"""Registries: the named components plugins provide, with the plugin that provided each."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from .errors import PluginError, SettingsError

#: The kinds of component, each filled by one registration hook ``dreamfx_register_<kind>``.
KINDS: tuple[str, ...] = ("models", "objectives", "scalers", "optimizers", "loops", "presets")

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Component:
    """One registered thing: how to build it, what it accepts, and who provided it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    params: Mapping[str, Any]
    description: str
    plugin: str

    def build(self, *args: Any, **params: Any) -> Any:
        """Call the factory with defaults overlaid by ``params`` (already validated)."""
        merged = {**self.params, **params}
        return self.factory(*args, **merged)


@dataclass
class Registry:
    """The components of one kind, keyed by kebab-case name."""

    kind: str
    _items: dict[str, Component] = field(default_factory=dict)

    def add(self, component: Component) -> None:
        """Add ``component``; a bad or duplicate name is a :class:`PluginError` naming both plugins."""
        if not _NAME.match(component.name):
            raise PluginError(
                f"plugin {component.plugin!r} registered {self.kind[:-1]} {component.name!r}: "
                "names must be kebab-case (lowercase letters, digits and '-')"
            )
        if not callable(component.factory):
            raise PluginError(
                f"plugin {component.plugin!r} registered {self.kind[:-1]} {component.name!r} "
                f"with a factory that is not callable ({type(component.factory).__name__})"
            )
        existing = self._items.get(component.name)
        if existing is not None:
            raise PluginError(
                f"{self.kind[:-1]} {component.name!r} is registered twice: by plugin "
                f"{existing.plugin!r} and by plugin {component.plugin!r}; disable one of them "
                "with DREAMFX_DISABLE_PLUGINS or rename the registration"
            )
        self._items[component.name] = component

    def get(self, name: str) -> Component:
        """The component called ``name``, or a :class:`SettingsError` listing the valid names."""
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(sorted(self._items)) or "(none registered)"
            raise SettingsError(f"unknown {self.kind[:-1]} {name!r}; valid: {valid}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Component]:
        return iter(sorted(self._items.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._items)
