"""What one explore request asks for (photo, preset, ``--set`` overrides, seed, colour),
checked as the command line checks it (:class:`dreamfx.config.request.DreamRequest`,
:func:`dreamfx.config.request.parse_overrides`: the same messages), and the ``dreamfx run``
line that repeats a dream exactly ("copy as command").

No request may name a file on the server: the preset is a registered name (never a
``.toml`` path) and settings that take a file (``model.path``, ``output.mask``, any
parameter named like a path) are refused. A mask is uploaded instead
(:mod:`dreamfx.explore.masks`) and named by its id (``mask``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from dreamfx.config.request import DreamRequest, parse_overrides
from dreamfx.errors import SettingsError
from dreamfx.host.values import COLORS

#: ``--set`` overrides one request may carry.
MAX_SETS = 64
#: Parameter names that take a file on the server: refused over HTTP.
FILE_PARAMS = re.compile(r"(^|_)(path|file|mask|dir|folder)s?($|_)")
#: Parameters named like a file that take none (the mask's edge blur, a number).
NOT_FILES = ("output.mask_feather",)


@dataclass(frozen=True)
class Options:
    """One request's dream options: the photo by id, preset name, ``--set`` texts, seed, colour,
    and the uploaded mask's id (None: no mask)."""

    photo: str | None = None
    preset: str = "single-map"
    sets: tuple[str, ...] = ()
    seed: int | None = None
    color: str = "gray"
    extra: tuple[tuple[str, Any], ...] = field(default=())  # pairs the app adds (an atlas's layer)
    mask: str | None = None

    def request(self) -> DreamRequest:
        return DreamRequest((), preset=self.preset, overrides=[*self.sets, *self.extra], seed=self.seed,
                            color=self.color)

    def settings(self, host: Any) -> Any:
        """The validated settings, as ``dreamfx run`` would use them (its checks, its messages)."""
        request = self.request()
        request.check()
        if self.preset not in host.registry("presets"):
            names = ", ".join(c.name for c in host.registry("presets"))
            raise SettingsError(f"unknown preset {self.preset!r}; dreamfx explore takes a registered preset: {names}")
        for key, _ in parse_overrides(list(self.sets)) + list(self.extra):
            param = str(key).rpartition(".")[2]
            if FILE_PARAMS.search(param) and key not in NOT_FILES:
                hint = "upload a mask beside the photo instead" if param == "mask" else "run `dreamfx run` for that"
                raise SettingsError(f"--set {key}: dreamfx explore takes no setting that names a file on the server; "
                                    f"{hint}")
        return request.settings(host)

    def command(self, photo_name: str, output: str | None = None, mask_name: str | None = None) -> str:
        """The ``dreamfx run`` line that dreams the same pixels (and writes them with the same
        provenance); ``mask_name``: the mask's file, which the user keeps beside the photo."""
        stem = re.sub(r"\.[A-Za-z0-9]+$", "", photo_name.replace("\\", "/").rpartition("/")[2]) or "photo"
        words = ["dreamfx", "run", photo_name, "-o", output or f"{stem}-dream.png"]
        if mask_name is not None:
            words += ["--mask", mask_name]
        if self.preset != "single-map":
            words += ["--preset", self.preset]
        for text in (*self.sets, *(f"{k}={_toml(v)}" for k, v in self.extra)):
            words += ["--set", text]
        if self.seed is not None:
            words += ["--seed", str(self.seed)]
        if self.color != "gray":
            words += ["--color", self.color]
        return shlex.join(words)


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return value if re.fullmatch(r"[\w.-]+", value) else '"' + value.replace('"', '\\"') + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def _one(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) > 1:
            raise SettingsError(f"{what} was given {len(value)} times; give it once")
        value = value[0] if value else None
    if value is not None and not isinstance(value, (str, int, float)):
        raise SettingsError(f"{what} must be a single value")
    return None if value is None else str(value)


def parse_options(fields: Mapping[str, Any], sets: Sequence[Any]) -> Options:
    """Options from a form, a query string or a JSON message: ``photo``, ``preset``, ``set``
    (repeatable ``KEY=VALUE``, as ``--set``), ``seed``, ``color``, ``mask`` (an uploaded
    mask's id; empty: none)."""
    texts = []
    if len(sets) > MAX_SETS:
        raise SettingsError(f"at most {MAX_SETS} --set overrides in one request, got {len(sets)}")
    for text in sets:
        if not isinstance(text, str) or len(text) > 1000:
            raise SettingsError("each set is one KEY=VALUE text, as after --set (for example objective.map=12)")
        texts.append(text)
    parse_overrides(texts)  # the CLI's own parser and messages, before anything else
    seed_text = _one(fields.get("seed"), "seed")
    seed = None
    if seed_text not in (None, ""):
        if not re.fullmatch(r"-?\d{1,19}", seed_text.strip()):
            raise SettingsError(f"argument --seed: invalid int value: {seed_text!r}")
        seed = int(seed_text)
    color = _one(fields.get("color"), "color") or "gray"
    if color not in COLORS:
        raise SettingsError(f"argument --color: invalid choice: {color!r} (choose from {', '.join(COLORS)})")
    preset = _one(fields.get("preset"), "preset") or "single-map"
    return Options(_one(fields.get("photo"), "photo"), preset, tuple(texts), seed, color,
                   mask=_one(fields.get("mask"), "mask") or None)
