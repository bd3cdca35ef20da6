"""One request: the options every dreaming command and the API take, checked and turned
into settings once.

:class:`CommonOptions` (preset, ``--set`` overrides, seed, device, colour, ``--force``) is the
base of every command's request: ``run``, ``demo`` and the API's :func:`dreamfx.dream`
(:class:`DreamRequest`), ``zoom``, ``video``, ``atlas`` and ``oip`` (their requests in
:mod:`dreamfx.runs`). :func:`parse_overrides` is the one parser of ``--set``. Planning and
running a :class:`DreamRequest` is :mod:`dreamfx.runs.dreams`' job.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from dreamfx.errors import SettingsError
from dreamfx.io.images import FORMATS
from dreamfx.host.values import COLORS

#: Output formats that can keep an alpha channel.
ALPHA_FORMATS = ("PNG", "TIFF", "WEBP")


def parse_overrides(overrides: Sequence[str | tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``--set`` texts (``"key=value"``) or (dotted key, value) pairs, as pairs: the one
    parser of overrides for every command and the API."""
    from dreamfx.config.settings import parse_override

    return [parse_override(o) if isinstance(o, str) else tuple(o) for o in overrides]


@dataclass(frozen=True, kw_only=True)
class CommonOptions:
    """What every dreaming command (``run``, ``demo``, ``zoom``, ``video``, ``atlas``, ``oip``)
    and the API take alike, and check and turn into settings the same way."""

    preset: str = "single-map"
    overrides: Sequence[str | tuple[str, Any]] = ()  # "key=value" texts or (dotted key, value) pairs
    seed: int | None = None
    device: str = "auto"
    color: str = "gray"
    force: bool = False  # replace files dreamfx did not write

    def check_common(self) -> None:
        """The shared options' mistakes, found before any file is read."""
        from dreamfx.config.device import parse_device

        parse_device(self.device)
        if self.color not in COLORS:
            raise SettingsError(f"color must be one of {', '.join(COLORS)}, got {self.color!r}")

    def shortcuts(self) -> list[tuple[str, Any]]:
        """A command's own options that stand for settings (``--layer``: ``objective.layer``),
        applied after ``overrides``; none here."""
        return []

    def leading(self) -> list[tuple[str, Any]]:
        """Settings a command's options choose before ``overrides`` (an objective that ``--set``
        may then tune, as ``--maps`` chooses ``keyframes``); none here."""
        return []

    def settings(self, host: Any) -> Any:
        """The validated settings of ``preset`` with the command's leading choices,
        ``overrides``, its shortcuts and ``seed``."""
        from dreamfx.config.presets import settings_for

        pairs = self.leading() + parse_overrides(self.overrides) + self.shortcuts()
        settings = settings_for(host, self.preset, pairs, seed=self.seed)
        self.check_mask(settings)
        return settings

    def check_mask(self, settings: Any) -> None:
        """A folder of masks (``--mask MASKS/``) is for a folder run, which finds each photo's
        own; this command takes one mask image."""
        if settings.mask_folder:
            raise SettingsError(mask_folder_refused(settings))


@dataclass(frozen=True)
class DreamRequest(CommonOptions):
    """What to dream, with what, and where to write it: the options of ``dreamfx run``."""

    inputs: Sequence[str | os.PathLike[str]]
    output: str | None = None  # one input: the output image (default ./<name>-dream.png); else a folder
    panel: str | None = None  # one input: also write the article's figure here
    keep_alpha: bool = False
    recursive: bool = False
    glob: str | None = None
    format: str | None = None  # output format for folders (default png)
    max_pixels: int | None = None  # default: Pillow's decompression-bomb limit
    min_size: int | None = None
    png_level: int | None = None  # default: PNG_LEVEL
    batch_size: int = 16
    from_output: str | None = None  # repeat the settings stored in this output (overrides apply on top)
    cluster: str | None = None  # folders: the executor's address, e.g. local:2 or tcp://host:8786 (docs/cluster.md)
    executor: str | None = None  # folders: a registered executor (default: dask with a cluster, else local)
    debug: bool = False  # show an engine's own log (Dask's)

    def check(self) -> None:
        """Every option mistake, found before any file is read."""
        self.check_common()
        if self.png_level is not None and not 0 <= self.png_level <= 9:
            raise SettingsError(f"--png-level must be 0-9, got {self.png_level}")
        if self.batch_size < 1:
            raise SettingsError("--batch-size must be at least 1")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise SettingsError(f"--max-pixels must be a positive number of pixels, got {self.max_pixels}")
        if self.min_size is not None and self.min_size < 1:
            raise SettingsError(f"--min-size must be at least 1 pixel, got {self.min_size}")
        if self.format is not None and "." + self.format.lower().lstrip(".") not in FORMATS:
            raise SettingsError(f"unknown output format {self.format!r}; use one of {', '.join(sorted(FORMATS))}")

    def resolve(self, host: Any) -> tuple[Any, "DreamRequest"]:
        """The validated settings, and this request with ``color``/``keep_alpha`` as an
        output named by ``from_output`` stored them."""
        from dreamfx.config.presets import settings_from_output

        if self.from_output:
            overrides = parse_overrides(self.overrides)
            notes: list[str] = []
            settings, color, keep_alpha = settings_from_output(host, self.from_output, overrides, seed=self.seed,
                                                               color=self.color, keep_alpha=self.keep_alpha,
                                                               notes=notes)
            for note in notes:
                print(f"dreamfx: note: {note}", file=sys.stderr)
            self.check_mask(settings)
            return settings, replace(self, color=color, keep_alpha=keep_alpha)
        return self.settings(host), self

    def check_mask(self, settings: Any) -> None:
        """A folder of masks needs a folder run (several inputs, a folder, or ``-o`` a folder)."""
        if settings.mask_folder and (not self.inputs or self.single):
            raise SettingsError(mask_folder_refused(settings))

    @property
    def single(self) -> bool:
        """One input file and an output naming an image (not a folder)."""
        if len(self.inputs) != 1 or Path(self.inputs[0]).is_dir():
            return False
        out = self.output
        return out is None or not (str(out).endswith(("/", os.sep)) or Path(out).is_dir())


def mask_folder_refused(settings: Any) -> str:
    """Why a command that is not a folder run refuses a folder of masks, and what to do."""
    return (f"--mask {settings.output['mask']} is a folder: a folder of masks, one per photo by name, is for a "
            "folder run (dreamfx run PHOTOS/ --mask MASKS/ -o OUT/); one photo, zoom and video take one mask "
            "image: --mask MASK.png")


def check_output_format(path: Path, what: str, keep_alpha: bool) -> None:
    """An output path's format must be known, and able to hold alpha if ``keep_alpha``."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SettingsError(f"{what} {path}: unknown image format {path.suffix or '(no suffix)'}; use one of "
                            f"{', '.join(sorted(FORMATS))} (to write into a folder, end the path with /)")
    if keep_alpha and fmt not in ALPHA_FORMATS:
        raise SettingsError(f"{what} {path}: {fmt} cannot hold transparency, which --keep-alpha asks for; "
                            "use .png, .tif or .webp")
