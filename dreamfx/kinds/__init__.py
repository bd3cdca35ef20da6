"""The contracts of the plugin kinds: what a model, an objective, a scaler, an optimizer, a
dream loop, a preset and an executor are. Each kind is declared once, in :data:`KINDS`: its
registry name, its settings section, the module holding its contract (the protocol plugins
build on and ``problem(built)``, why a built component does not meet it). The host's
registries, the settings' sections, the check of every built component and the list of
hooks (``dreamfx_register_<name>``) are derived from this table; the public names are
re-exported by :mod:`dreamfx.plugin`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    """One kind of plugin component."""

    name: str  # the registry and hook name: "objectives" -> dreamfx_register_objectives
    section: str | None  # the settings section that chooses one ("objective"), None when none does
    module: str  # the module of its contract: the protocol and problem(built)
    protocol: str | None  # the protocol class plugins implement (None: a Keras model, a table of settings)

    @property
    def hook(self) -> str:
        return f"dreamfx_register_{self.name}"

    def problem(self, built: Any) -> str | None:
        """Why ``built`` does not meet this kind's contract, or None."""
        return importlib.import_module(self.module).problem(built)

    def contract(self) -> Any:
        """The protocol class, or None."""
        return None if self.protocol is None else getattr(importlib.import_module(self.module), self.protocol)


#: Every kind, in the order the host calls their hooks and the reference documents them.
KINDS: tuple[Kind, ...] = (
    Kind("models", "model", "dreamfx.kinds.models", None),
    Kind("objectives", "objective", "dreamfx.kinds.objectives", "Objective"),
    Kind("scalers", "scaler", "dreamfx.kinds.scalers", "Scaler"),
    Kind("optimizers", "optimizer", "dreamfx.kinds.optimizers", "Optimizer"),
    Kind("loops", "loop", "dreamfx.kinds.loops", "DreamLoop"),
    Kind("presets", None, "dreamfx.kinds.presets", None),
    Kind("executors", None, "dreamfx.kinds.executors", "Executor"),
)


def kind_of(name: str) -> Kind:
    """The kind registered under ``name`` (``"objectives"``)."""
    return next(kind for kind in KINDS if kind.name == name)


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for one-line messages about a component."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
