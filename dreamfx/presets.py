"""Finding a preset by name (registered by a plugin) or by path (a user's TOML file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .plugins import PluginHost
from .settings import Settings, apply_overrides, load_toml, resolve_settings


def load_preset(host: PluginHost, preset: str) -> tuple[str, dict[str, Any]]:
    """Return ``(name, data)`` for a registered preset name or a ``.toml`` file path."""
    if preset.endswith(".toml") or Path(preset).is_file():
        return Path(preset).stem, load_toml(preset)
    return preset, dict(host.get("presets", preset).build())


def settings_for(
    host: PluginHost,
    preset: str,
    overrides: list[tuple[str, Any]] | None = None,
    *,
    seed: int | None = None,
) -> Settings:
    """Validated settings for a preset with ``--set``-style overrides and an optional seed."""
    name, data = load_preset(host, preset)
    return resolve_settings(name, apply_overrides(data, overrides or []), host.registries, seed=seed)
