"""Typed settings: a preset (TOML data) plus ``--set`` overrides, validated against the
parameters each registered component declares.

A preset has this shape (every section optional except what the preset means to fix)::

    description = "one line"
    seed = 0
    [model]      name = "mnist-cnn"
    [objective]  name = "single-map"   layer = "conv3"   map = 12
    [scaler]     name = "downscale"
    [optimizer]  name = "oip"          steps = 20        step_size = 0.05
    [loop]       name = "reinject"     rounds = 4
    [output]     contrast = 1.0        panel_contrast = 2.0

Each component section holds ``name`` plus that component's parameters; an unknown key is
an error that lists the valid ones.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import SettingsError
from .registry import Component, Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Preset section -> registry kind of the component it selects.
COMPONENT_SECTIONS: dict[str, str] = {
    "model": "models",
    "objective": "objectives",
    "scaler": "scalers",
    "optimizer": "optimizers",
    "loop": "loops",
}

#: Output options with their defaults (their types are the defaults' types).
OUTPUT_DEFAULTS: dict[str, Any] = {
    "contrast": 1.0,  # factor on the width of the value distribution of the main output
    "panel_contrast": 2.0,  # the same for the panel's "ghostly apparitions" view
}

DEFAULT_COMPONENTS: dict[str, str] = {
    "model": "mnist-cnn",
    "objective": "single-map",
    "scaler": "downscale",
    "optimizer": "oip",
    "loop": "reinject",
}

TOP_LEVEL_KEYS = ("description", "seed", *COMPONENT_SECTIONS, "output")


@dataclass(frozen=True)
class ComponentChoice:
    """Which component of a kind to use, and its validated parameters (defaults filled in)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Everything that determines a dream's output, validated."""

    preset: str
    description: str
    seed: int
    model: ComponentChoice
    objective: ComponentChoice
    scaler: ComponentChoice
    optimizer: ComponentChoice
    loop: ComponentChoice
    output: dict[str, Any]

    def component(self, section: str) -> ComponentChoice:
        return getattr(self, section)

    def to_dict(self) -> dict[str, Any]:
        """A preset-shaped mapping that :func:`resolve_settings` turns back into these settings."""
        data: dict[str, Any] = {"description": self.description, "seed": self.seed}
        for section in COMPONENT_SECTIONS:
            choice = self.component(section)
            data[section] = {"name": choice.name, **choice.params}
        data["output"] = dict(self.output)
        return data

    def digest(self) -> str:
        """A short hash of everything that changes the output (not the description)."""
        data = self.to_dict()
        data.pop("description")
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a preset TOML file; a syntax error names the file and line."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"cannot read preset file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"preset file {path} is not valid TOML: {exc}") from None


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--set key=value``; the value is read as TOML, else kept as a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SettingsError(f"--set expects key=value (for example objective.map=12), got {text!r}")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(preset: Mapping[str, Any], overrides: list[tuple[str, Any]]) -> dict[str, Any]:
    """Return a copy of ``preset`` with dotted-key overrides applied (``objective.map=3``)."""
    data = copy.deepcopy(dict(preset))
    for key, value in overrides:
        parts = key.split(".")
        if parts[0] not in TOP_LEVEL_KEYS:
            raise SettingsError(
                f"unknown setting {key!r}; valid top-level keys: {', '.join(TOP_LEVEL_KEYS)}"
            )
        if len(parts) == 1:
            if parts[0] in COMPONENT_SECTIONS and isinstance(value, str):
                parts = [parts[0], "name"]  # --set objective=whole-layer means its name
            else:
                data[parts[0]] = value
                continue
        if len(parts) != 2:
            raise SettingsError(f"setting {key!r} has too many parts; use section.key (for example optimizer.steps)")
        section, name = parts
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise SettingsError(f"setting {section!r} is not a table")
        if section in COMPONENT_SECTIONS and name == "name" and table.get("name", DEFAULT_COMPONENTS[section]) != value:
            # Switching component: the old component's parameters no longer apply.
            table = data[section] = {}
        table[name] = value
    return data


def coerce(value: Any, default: Any, where: str) -> Any:
    """Check ``value`` against the type of ``default`` (ints widen to floats)."""
    if default is None:
        return value
    expected = type(default)
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(value, expected):
        return value
    raise SettingsError(f"{where} must be {expected.__name__}, got {value!r} ({type(value).__name__})")


def validate_params(component: Component, table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``component``'s parameters: its defaults overlaid by ``table``, each checked by type."""
    params: dict[str, Any] = dict(component.params)
    for key, value in table.items():
        if key not in component.params:
            valid = ", ".join(f"{where}.{k}" for k in component.params) or "none"
            raise SettingsError(
                f"unknown key {where}.{key!r} for {component.kind[:-1]} {component.name!r} "
                f"(plugin {component.plugin}); valid keys: {valid}"
            )
        params[key] = coerce(value, component.params[key], f"{where}.{key}")
    return params


def resolve_settings(
    preset_name: str,
    data: Mapping[str, Any],
    registries: Mapping[str, Registry],
    *,
    seed: int | None = None,
) -> Settings:
    """Validate preset-shaped ``data`` into :class:`Settings` against the registries."""
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise SettingsError(
            f"unknown key {unknown[0]!r} in preset {preset_name!r}; valid keys: {', '.join(TOP_LEVEL_KEYS)}"
        )
    choices: dict[str, ComponentChoice] = {}
    for section, kind in COMPONENT_SECTIONS.items():
        table = dict(data.get(section) or {})
        if not isinstance(data.get(section, {}), Mapping):
            raise SettingsError(f"[{section}] in preset {preset_name!r} must be a table")
        name = table.pop("name", DEFAULT_COMPONENTS[section])
        if not isinstance(name, str):
            raise SettingsError(f"{section}.name must be a string, got {name!r}")
        component = registries[kind].get(name)
        choices[section] = ComponentChoice(name, validate_params(component, table, section))

    output = dict(OUTPUT_DEFAULTS)
    for key, value in dict(data.get("output") or {}).items():
        if key not in OUTPUT_DEFAULTS:
            raise SettingsError(
                f"unknown key output.{key!r}; valid keys: {', '.join('output.' + k for k in OUTPUT_DEFAULTS)}"
            )
        output[key] = coerce(value, OUTPUT_DEFAULTS[key], f"output.{key}")

    final_seed = coerce(data.get("seed", 0) if seed is None else seed, 0, "seed")
    description = str(data.get("description", ""))
    return Settings(preset_name, description, final_seed, output=output, **choices)
