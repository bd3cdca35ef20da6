"""Finding a preset by name (registered by a plugin) or by path (a user's TOML file), and
repeating the settings stored in an output (``--from``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from dreamfx.errors import DreamfxError, PluginError, SettingsError
from dreamfx.host.manager import PluginHost
from dreamfx.config.settings import MAX_STRING, Settings, _short, apply_overrides, load_toml, resolve_settings
from dreamfx.host.values import COLORS

#: The most metadata ``--from`` reads from an output (its PNG text chunk or sidecar).
MAX_METADATA_BYTES = 64 * 1024


def load_preset(host: PluginHost, preset: str) -> tuple[str, dict[str, Any]]:
    """Return ``(name, data)`` for a registered preset name or a ``.toml`` file path."""
    if preset.endswith(".toml") or Path(preset).is_file():
        return Path(preset).stem, load_toml(preset)
    component = host.get("presets", preset)
    try:
        data = component.build()
    except DreamfxError:
        raise
    except Exception as exc:
        raise PluginError(f"preset {preset!r} (plugin {component.plugin!r}) failed while building: "
                          f"{type(exc).__name__}: {_first_line(exc)}") from exc
    if not isinstance(data, Mapping):
        raise PluginError(f"preset {preset!r} (plugin {component.plugin!r}) is not a table of settings: {_short(data)}")
    return preset, dict(data)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def settings_for(
    host: PluginHost,
    preset: str,
    overrides: list[tuple[str, Any]] | None = None,
    *,
    seed: int | None = None,
) -> Settings:
    """Validated settings for a preset with ``--set``-style overrides and an optional seed."""
    name, data = load_preset(host, preset)
    try:
        return resolve_settings(name, apply_overrides(data, overrides or []), host.registries, seed=seed)
    except SettingsError as exc:
        if preset.endswith(".toml") or Path(preset).is_file():
            raise  # the user's own file: its errors already say where
        try:  # a plugin's preset: its own mistake (name the plugin), or the overrides'?
            resolve_settings(name, data, host.registries)
        except SettingsError:
            raise SettingsError(f"preset {name!r} (plugin {host.get('presets', name).plugin!r}): {exc}") from exc
        raise


def read_output_metadata(path: str | Path) -> dict[str, Any]:
    """The dreamfx metadata of an output (its sidecar ``<name>.dreamfx.json`` or PNG text
    chunk), read with a bound of :data:`MAX_METADATA_BYTES`; every way it can be missing or
    bad is a one-line :class:`SettingsError`."""
    from dreamfx.errors import ImageError
    from dreamfx.io.provenance import metadata_bytes

    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"--from {path}: no such file")
    try:
        raw = metadata_bytes(path, MAX_METADATA_BYTES)
    except ImageError as exc:
        raise SettingsError(f"--from {path}: cannot read its metadata: {exc}") from None
    except (OSError, ValueError) as exc:
        raise SettingsError(f"--from {path}: cannot read its metadata: {_first_line(exc) or type(exc).__name__}") from None
    if raw is None:
        raise SettingsError(f"--from {path}: no dreamfx settings found in that file")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsError(f"--from {path}: its metadata is not UTF-8 text") from None
    except RecursionError:
        raise SettingsError(f"--from {path}: its metadata nests arrays or tables too deeply") from None
    except ValueError as exc:
        raise SettingsError(f"--from {path}: its metadata is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or "settings" not in meta:
        raise SettingsError(f"--from {path}: no dreamfx settings found in that file")
    return meta


def settings_from_output(
    host: PluginHost,
    path: str | Path,
    overrides: list[tuple[str, Any]] | None = None,
    *,
    seed: int | None = None,
    color: str = "gray",
    keep_alpha: bool = False,
    notes: list[str] | None = None,
) -> tuple[Settings, str, bool]:
    """``(settings, color, keep_alpha)`` stored in a dreamfx output, with ``--set``-style
    overrides and an optional seed applied, validated by the same code as presets.
    ``color`` and ``keep_alpha`` are the values to use when the output does not store them.

    An output that names ``mnist-cnn`` without the network's digest was dreamed before
    ``mnist-cnn`` had the article's 128 maps: it gets ``mnist-cnn-64``, the network that
    made it. What a user should know (that change; a model file whose digest is no longer
    the stored one) is appended to ``notes``."""
    notes = [] if notes is None else notes
    meta = read_output_metadata(path)
    stored = meta["settings"]
    if isinstance(stored, dict) and not isinstance(meta.get("model"), dict):
        model = stored.get("model", {})
        if isinstance(model, dict) and model.get("name", "mnist-cnn") == "mnist-cnn":
            stored = {**stored, "model": {**model, "name": "mnist-cnn-64"}}
            notes.append(f"--from {path}: it was dreamed with mnist-cnn before that network had 128 maps; "
                         "using mnist-cnn-64, the 64-map network that made it")
    color = meta.get("color", color)
    if color not in COLORS:
        raise SettingsError(f"--from {path}: color must be one of {', '.join(COLORS)}, got {_short(color)}")
    keep_alpha = meta.get("keep_alpha", keep_alpha)
    if not isinstance(keep_alpha, bool):
        raise SettingsError(f"--from {path}: keep_alpha must be true or false, got {_short(keep_alpha)}")
    preset = meta.get("preset", "from-output")
    if not isinstance(preset, str) or len(preset) > MAX_STRING:
        raise SettingsError(f"--from {path}: preset must be a name of at most {MAX_STRING} characters, got {_short(preset)}")
    try:
        settings = resolve_settings(preset, apply_overrides(stored, overrides or []), host.registries,
                                    seed=seed)
    except SettingsError as exc:
        raise SettingsError(f"--from {path}: {exc}") from None
    recorded = meta.get("model")
    if (isinstance(recorded, dict) and isinstance(recorded.get("sha256"), str)
            and recorded.get("name") == settings.model.name and settings.model_sha256 not in (None, recorded["sha256"])):
        notes.append(f"--from {path}: it was dreamed with model {settings.model.name} of SHA-256 "
                     f"{recorded['sha256'][:12]}..., which is now {settings.model_sha256[:12]}...: "
                     "the dream will differ")
    return settings, color, keep_alpha
