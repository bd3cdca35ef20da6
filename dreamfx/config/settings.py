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

Everything a preset, ``--set``, the Python API or ``--from`` supplies passes the same checks
here: sections are tables, values are TOML-like (strings, numbers, booleans, arrays, tables)
of bounded depth, count and length, numbers are finite and fit 64 bits, the seed fits
TensorFlow's int64 random seeds. Settings are copied into every output's metadata, so the
whole of them is bounded in size too.
"""

from __future__ import annotations

import os

import copy
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from dreamfx.errors import SettingsError
from dreamfx.kinds.models import model_sha256
from dreamfx.host.registry import Registry
from dreamfx.host.values import (  # noqa: F401 - re-exported: the settings' bounds and checks
    AUTO, MAX_DEPTH, MAX_PRESET_BYTES, MAX_SETTINGS_BYTES, MAX_STRING, MAX_VALUES, SEED_MAX, _short, check_seed,
    check_value, coerce, coerce_to, validate_params,
)
from dreamfx.kinds import KINDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Preset section -> registry kind of the component it selects.
COMPONENT_SECTIONS: dict[str, str] = {kind.section: kind.name for kind in KINDS if kind.section is not None}

#: Output options with their defaults (their types are the defaults' types).
OUTPUT_DEFAULTS: dict[str, Any] = {
    "contrast": 1.0,  # factor on the width of the value distribution of the main output
    "panel_contrast": 2.0,  # the same for the panel's "ghostly apparitions" view
    "mask": "",  # an image: where the dream shows (white), where the photo stays (black); "" for none
    "mask_feather": 0.01,  # the mask's edge blur, as a fraction of the photo's short side
}

#: Output options recorded only when a mask is given (settings without one hash as before).
MASK_KEYS = ("mask", "mask_feather")

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
    model_sha256: str | None = None
    """The SHA-256 of the model's file when its component declares one (the shipped
    networks, ``keras-file``): part of :meth:`digest`, so outputs of another network are
    not taken for up to date; recorded in every output, not part of :meth:`to_dict`."""
    mask_sha256: str | None = None
    """The SHA-256 of ``output.mask``'s file, when there is one: part of :meth:`digest`, so
    an output dreamed through another mask is not taken for up to date."""

    def component(self, section: str) -> ComponentChoice:
        return getattr(self, section)

    @property
    def mask_folder(self) -> bool:
        """``output.mask`` names a folder of masks (``dreamfx run PHOTOS/ --mask MASKS/``):
        each photo of a folder run is dreamed through its own, found by name when the run is
        planned (:mod:`dreamfx.runs.maskfolder`); nothing else takes one."""
        return bool(self.output.get("mask")) and self.mask_sha256 is None

    def to_dict(self) -> dict[str, Any]:
        """A preset-shaped mapping that :func:`resolve_settings` turns back into these settings."""
        data: dict[str, Any] = {"description": self.description, "seed": self.seed}
        for section in COMPONENT_SECTIONS:
            choice = self.component(section)
            data[section] = {"name": choice.name, **choice.params}
        data["output"] = dict(self.output)
        if not self.output.get("mask"):
            for key in MASK_KEYS:
                data["output"].pop(key, None)
        return data

    def model_record(self) -> dict[str, Any]:
        """Which network dreamed: ``{"name": ..., "sha256": ...}``, as every output records it."""
        return {"name": self.model.name, "sha256": self.model_sha256}

    def digest(self) -> str:
        """A short hash of everything that changes the output (not the description)."""
        data = self.to_dict()
        data.pop("description")
        if self.model_sha256 is not None:
            data["model_sha256"] = self.model_sha256
        if self.mask_sha256 is not None:
            data["mask_sha256"] = self.mask_sha256
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a preset TOML file; a syntax error names the file and line. Files larger than
    :data:`MAX_PRESET_BYTES`, not UTF-8 or nested too deeply for the parser are refused."""
    from dreamfx.errors import ImageError
    from dreamfx.io.images import open_regular

    try:  # only a regular file is opened for reading: a FIFO would block for ever
        fd = open_regular(path, "preset file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(MAX_PRESET_BYTES + 1)
    except ImageError as exc:
        message = str(exc).replace("not an image file", "not a preset file").replace(str(Path(path)), str(path))
        raise SettingsError(message) from None
    except OSError as exc:
        raise SettingsError(f"cannot read preset file {path}: {exc.strerror}") from None
    if len(raw) > MAX_PRESET_BYTES:
        raise SettingsError(f"preset file {path} is larger than {MAX_PRESET_BYTES // 1024} KiB; "
                            "presets are small text files")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"preset file {path} is not UTF-8 text "
                            f"(byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"preset file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise SettingsError(f"preset file {path} nests arrays or tables too deeply (at most {MAX_DEPTH} levels)") from None


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
    except RecursionError:
        raise SettingsError(f"--set {key}: the value nests arrays or tables too deeply "
                            f"(at most {MAX_DEPTH} levels)") from None
    return key, value


def apply_overrides(preset: Mapping[str, Any], overrides: list[tuple[str, Any]]) -> dict[str, Any]:
    """Return a copy of ``preset`` with dotted-key overrides applied (``objective.map=3``)."""
    if not isinstance(preset, Mapping):
        raise SettingsError(f"settings must be a table of sections, got {_short(preset)} ({type(preset).__name__})")
    check_value(preset, "")  # bounded depth before copying
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


def resolve_settings(
    preset_name: str,
    data: Mapping[str, Any],
    registries: Mapping[str, Registry],
    *,
    seed: int | None = None,
) -> Settings:
    """Validate preset-shaped ``data`` into :class:`Settings` against the registries.

    This is the one place every source of settings (preset names and files, ``--set``, the
    Python API, ``--from``) is checked: types of every section and key, finite numbers,
    bounded strings, nesting and size, the seed's range.
    """
    if not isinstance(data, Mapping):
        raise SettingsError(f"preset {preset_name!r} must be a table of settings, got {_short(data)}")
    final_seed = check_seed(data.get("seed", 0) if seed is None else seed)
    check_value(dict(data), "")
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise SettingsError(
            f"unknown key {unknown[0]!r} in preset {preset_name!r}; valid keys: {', '.join(TOP_LEVEL_KEYS)}"
        )
    choices: dict[str, ComponentChoice] = {}
    for section, kind in COMPONENT_SECTIONS.items():
        raw = data.get(section, {})
        if not isinstance(raw, Mapping):
            raise SettingsError(f"[{section}] in preset {preset_name!r} must be a table (for example "
                                f"{section}.name = \"...\"), got {_short(raw)} ({type(raw).__name__})")
        table = dict(raw)
        name = table.pop("name", DEFAULT_COMPONENTS[section])
        if not isinstance(name, str):
            raise SettingsError(f"{section}.name must be a string, got {_short(name)} ({type(name).__name__})")
        component = registries[kind].get(name)
        choices[section] = ComponentChoice(name, validate_params(component, table, section))

    raw_output = data.get("output", {})
    if not isinstance(raw_output, Mapping):
        raise SettingsError(f"[output] in preset {preset_name!r} must be a table (for example output.contrast = 1.5), "
                            f"got {_short(raw_output)} ({type(raw_output).__name__})")
    output = dict(OUTPUT_DEFAULTS)
    for key, value in raw_output.items():
        if key not in OUTPUT_DEFAULTS:
            raise SettingsError(
                f"unknown key output.{key!r}; valid keys: {', '.join('output.' + k for k in OUTPUT_DEFAULTS)}"
            )
        output[key] = coerce(value, OUTPUT_DEFAULTS[key], f"output.{key}")

    description = data.get("description", "")
    if not isinstance(description, str):
        raise SettingsError(f"description must be a string, got {_short(description)} ({type(description).__name__})")
    if not isinstance(preset_name, str) or len(preset_name) > MAX_STRING:
        raise SettingsError(f"preset name must be a string of at most {MAX_STRING} characters, got {_short(preset_name)}")
    network = model_sha256(registries["models"].get(choices["model"].name), choices["model"].params)
    mask = _mask(output)
    settings = Settings(preset_name, description, final_seed, output=output, model_sha256=network,
                        mask_sha256=mask, **choices)
    size = len(json.dumps(settings.to_dict(), default=str))
    if size > MAX_SETTINGS_BYTES:
        raise SettingsError(f"the settings take {size:,} bytes as JSON; at most {MAX_SETTINGS_BYTES // 1024} KiB are "
                            "allowed (they are copied into every output)")
    return settings


def _mask(output: dict[str, Any]) -> str | None:
    """Check ``output.mask`` (an image file, read under the regular-file rule and the pixel
    limit) and its feather; store its absolute path (``--from`` finds it from any folder)
    and return its SHA-256, or None without a mask. A folder (a folder run's masks, one per
    photo: :attr:`Settings.mask_folder`) is stored as its absolute path, with no digest."""
    if not 0.0 <= output["mask_feather"] <= 0.5:
        raise SettingsError(f"output.mask_feather must be 0-0.5 (a fraction of the photo's short side), "
                            f"got {output['mask_feather']}")
    if not output["mask"]:
        return None
    path = Path(output["mask"]).expanduser()
    if path.is_dir():
        output["mask"] = str(path.resolve())
        return None
    output["mask"], digest = read_mask(path)
    return digest


def read_mask(path: Path) -> tuple[str, str]:
    """A mask image's absolute path and SHA-256, read as every input image is (a regular
    file, within the pixel limit, decoded once); a :class:`SettingsError` saying why not."""
    from dreamfx.errors import ImageError
    from dreamfx.io.images import load_picture

    try:
        picture = load_picture(path)
    except ImageError as exc:
        raise SettingsError(f"mask: {exc}".replace("input image ", "")) from None
    return str(path.resolve()), str(picture.digest)
