"""Shots of a clip: hard cuts found by a content-difference detector on downscaled frames.

The detector is PySceneDetect's ``ContentDetector`` (its wheel pulls the non-headless OpenCV,
so it is not a dependency): each frame is shrunk to at most :data:`SIDE` pixels a side (box
filter) and turned to HSV; the *content value* between two consecutive frames is the mean
absolute difference of hue (taken round the circle), saturation and value, averaged over the
three, on a 0-255 scale. A frame whose content value against the one before exceeds
:data:`THRESHOLD` (PySceneDetect's default, 27) starts a shot. Gray frames (no saturation in
either) have no hue or saturation to compare: their value difference alone is the content
value. One departure from ContentDetector, for pans and zooms with strong motion: the
thumbnails are compared at every shift of up to :data:`SHIFT` pixels each way and the
smallest difference counts (a pan of 20 pixels a frame at 320 pixels wide moves the 48-pixel
thumbnail by 3 pixels; a cut changes every pixel's colour, whatever the shift).

Only a float per frame is kept (:func:`content_values` on the frames as planning decodes
them), so finding the shots of a clip of 100,000 frames holds two thumbnails at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

#: The thumbnails' longer side, in pixels.
SIDE = 48
#: The content value (0-255) above which a frame starts a new shot: PySceneDetect's default.
THRESHOLD = 27.0
#: Motion allowed for, in thumbnail pixels each way (3 of 48: 20 pixels a frame at 320 wide).
SHIFT = 3
#: Below this mean saturation (0-255) in both frames, they are compared by value alone.
GRAY_SATURATION = 8.0


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """An 8-bit RGB frame (H, W, 3) as its HSV thumbnail, float32 (h, w, 3), 0-255."""
    image = Image.fromarray(np.ascontiguousarray(rgb, np.uint8), "RGB")
    w, h = image.size
    scale = min(1.0, SIDE / max(w, h))
    if scale < 1.0:
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    return np.asarray(image.convert("HSV"), np.float32)


def content_value(before: np.ndarray, after: np.ndarray) -> float:
    """The content value between two thumbnails (:func:`thumbnail`), 0-255: the smallest over
    shifts of up to :data:`SHIFT` thumbnail pixels each way (on the pixels both cover). Every
    shift at once: ``after`` padded with NaN, its windows against ``before``."""
    gray = before[..., 1].mean() < GRAY_SATURATION and after[..., 1].mean() < GRAY_SATURATION
    h, w = before.shape[:2]
    r = min(SHIFT, h // 4, w // 4)
    padded = np.full((h + 2 * r, w + 2 * r, 3), np.nan, np.float32)
    padded[r:r + h, r:r + w] = after
    windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(0, 1))  # (shifts, shifts, 3, h, w)
    d = np.abs(windows - np.moveaxis(before, -1, 0))
    with np.errstate(invalid="ignore"):
        if gray:
            per_shift = np.nanmean(d[:, :, 2], axis=(2, 3))
        else:
            hue = np.minimum(d[:, :, 0], 256.0 - d[:, :, 0])
            per_shift = (np.nanmean(hue, axis=(2, 3)) + np.nanmean(d[:, :, 1], axis=(2, 3))
                         + np.nanmean(d[:, :, 2], axis=(2, 3))) / 3.0
    return float(per_shift.min())


class ContentValues:
    """The content value of each frame against the one before (0 for the first), fed the
    frames in order: ``add(rgb)``; ``values`` holds one float per frame."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self._last: np.ndarray | None = None

    def add(self, rgb: np.ndarray) -> None:
        self.add_thumbnail(thumbnail(rgb))

    def add_thumbnail(self, thumb: np.ndarray) -> None:
        """The next frame, as its :func:`thumbnail` (made elsewhere: a planning thread)."""
        self.values.append(0.0 if self._last is None or self._last.shape != thumb.shape
                           else content_value(self._last, thumb))
        self._last = thumb


@dataclass(frozen=True)
class Shot:
    """Frames ``first`` to ``last`` of a clip, 0-based and inclusive."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def as_dict(self) -> dict[str, int]:
        return {"first": self.first, "last": self.last}


def find_shots(values: list[float], threshold: float = THRESHOLD) -> list[Shot]:
    """The shots of a clip from its frames' content values (:class:`ContentValues`)."""
    starts = [0] + [i for i in range(1, len(values)) if values[i] > threshold]
    ends = [s - 1 for s in starts[1:]] + [len(values) - 1]
    return [Shot(a, b) for a, b in zip(starts, ends)]


def lane_ranges(shots: list[Shot], lanes: int) -> list[list[Shot]]:
    """Whole shots shared among at most ``lanes`` lanes, each lane a run of consecutive shots,
    so that the longest lane is as short as it can be (binary search on its length, the
    shots taken greedily in order). Each lane reads its frames in order with one decoder."""
    if not shots:
        return []
    lanes = max(1, min(lanes, len(shots)))

    def split(limit: int) -> list[list[Shot]]:
        groups: list[list[Shot]] = [[]]
        for shot in shots:
            if groups[-1] and sum(s.count for s in groups[-1]) + shot.count > limit:
                groups.append([])
            groups[-1].append(shot)
        return groups

    low, high = max(s.count for s in shots), sum(s.count for s in shots)
    while low < high:
        middle = (low + high) // 2
        if len(split(middle)) <= lanes:
            high = middle
        else:
            low = middle + 1
    groups = split(low)
    while len(groups) < lanes and any(len(g) > 1 for g in groups):  # more lanes, no longer: a wider batch
        k = max((i for i, g in enumerate(groups) if len(g) > 1), key=lambda i: sum(s.count for s in groups[i]))
        half = len(groups[k]) // 2
        groups[k:k + 1] = [groups[k][:half], groups[k][half:]]
    return groups


def shots_summary(shots: list[Shot]) -> str:
    """One line for a run's summary: ``3 shots: 0-11, 12-19, 20-31``."""
    spans = ", ".join(f"{s.first}-{s.last}" for s in shots[:12]) + (", ..." if len(shots) > 12 else "")
    return f"{len(shots)} shot{'s' * (len(shots) != 1)}: {spans} (frames, 0-based, inclusive)"


def as_json(shots: list[Shot]) -> list[dict[str, Any]]:
    return [s.as_dict() for s in shots]
