"""Map keyframes for animations: ``--maps 56,33,28 --every 24`` or ``--maps 56@0,33@24,28@48``
as the settings of the ``keyframes`` objective, and the frame each dream is fed.

The objective (``plugins/dreamfx_objectives/keyframes.py``) crossfades between single maps;
its ``frame`` is fed per frame at run time, so one compiled dreamer dreams every frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dreamfx.config.request import CommonOptions
from dreamfx.errors import SettingsError

_KEY = re.compile(r"^(\d{1,6})(?:@(\d{1,9}))?$")


def keyframe_settings(maps: str | None, every: int | None) -> list[tuple[str, Any]]:
    """The settings ``--maps`` and ``--every`` stand for (none without ``--maps``)."""
    if maps is None:
        if every is not None:
            raise SettingsError("--every needs --maps: the maps to move through, e.g. --maps 56,33,28 --every 24")
        return []
    parts = [part.strip() for part in maps.split(",") if part.strip()]
    matches = [_KEY.match(part) for part in parts]
    if not parts or any(m is None for m in matches):
        raise SettingsError(f"--maps {maps!r}: give map numbers (with --every N) or MAP@FRAME keys, "
                            "e.g. 56,33,28 or 56@0,33@24,28@48")
    timed = [m[2] is not None for m in matches]
    if any(timed) and not all(timed):
        raise SettingsError(f"--maps {maps!r}: give every map a frame (56@0,33@24) or none (with --every N)")
    if all(timed):
        if every is not None:
            raise SettingsError("--maps with MAP@FRAME keys says when each map comes: leave out --every")
        keys = [[int(m[1]), int(m[2])] for m in matches]
    else:
        if every is None or every < 1:
            raise SettingsError("--maps 56,33,28 needs --every N (frames from one map to the next), or keys as "
                                "MAP@FRAME")
        keys = [[int(m[1]), i * every] for i, m in enumerate(matches)]
    return [("objective", "keyframes"), ("objective.keys", keys)]


@dataclass(frozen=True, kw_only=True)
class AnimationOptions(CommonOptions):
    """What ``dreamfx zoom`` and ``dreamfx video`` take alike beyond :class:`CommonOptions`:
    the pixel limit of the photo or frames, and map keyframes (chosen before ``--set``)."""

    max_pixels: int | None = None  # default: Pillow's decompression-bomb limit
    maps: str | None = None  # map keyframes: "56,33,28" (with every) or "56@0,33@24"
    every: int | None = None  # frames from one key map to the next

    def leading(self) -> list[tuple[str, Any]]:
        return keyframe_settings(self.maps, self.every)

    def check_animation(self) -> None:
        """The shared options' mistakes (with :meth:`check_common`)."""
        self.check_common()
        if self.max_pixels is not None and self.max_pixels < 1:
            raise SettingsError(f"--max-pixels must be a positive number of pixels, got {self.max_pixels}")


def keyframe_choices(dreamer: Any, index: int) -> list[int] | None:
    """The frame to feed the dream of frame ``index``: ``[index]`` when the objective is
    keyed to frames, else None."""
    return [index] if getattr(dreamer.objective, "selectable", None) == "frame" else None
