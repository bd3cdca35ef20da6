"""``dreamfx zoom``, the zoom-feedback dream: frame 0 is the photo's dream; frame k+1 is the
dream of frame k (as written) zoomed and rotated about the centre (:func:`zoom_about_centre`).
The frames and the animation are written as :mod:`dreamfx.runs.frames` writes every
animation's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from dreamfx.errors import ImageError, SettingsError
from dreamfx.io.images import Picture, compose, digest, read_input_bytes, to_picture
from dreamfx.runs.encoders import duration_note, write_animation
from dreamfx.runs.frames import (animation_hash, AnimationRun, dream_frame, frame_choices, frame_metadata, FrameEvent,
                                 frames_of, MAX_FRAMES, output_kind, OutputPlan, prepare_output)
from dreamfx.io.metadata import provenance_of
from dreamfx.runs.keys import AnimationOptions, keyframe_choices


# -- the zoom ------------------------------------------------------------------------------------

def zoom_about_centre(image: np.ndarray, zoom: float, rotate: float = 0.0) -> np.ndarray:
    """``image`` (H, W) or (H, W, C) float32 enlarged by ``zoom`` and turned ``rotate`` degrees
    counter-clockwise about its centre, same size (bicubic; edges repeated)."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3:
        return np.stack([zoom_about_centre(image[..., c], zoom, rotate) for c in range(image.shape[2])], axis=-1)
    h, w = image.shape
    theta = math.radians(rotate)
    cos, sin = math.cos(theta) / zoom, math.sin(theta) / zoom
    cx, cy = w / 2.0, h / 2.0
    # output pixel p samples the input at c + (1/zoom) R(theta)^-1 (p - c), in Pillow's coordinates
    data = (cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy)
    padded = np.pad(image, 2, mode="edge")  # edges repeated, not black, where rotation exposes them
    pad = Image.fromarray(padded, "F")
    shift = (data[0], data[1], data[2] + 2, data[3], data[4], data[5] + 2)
    out = pad.transform((w, h), Image.Transform.AFFINE, shift, resample=Image.Resampling.BICUBIC)
    return np.clip(np.asarray(out, np.float32), 0.0, 1.0)


def zoom_picture(picture: Picture, zoom: float, rotate: float) -> Picture:
    """A frame zoomed and rotated: its luma and colours alike."""
    rgb = None if picture.rgb is None else zoom_about_centre(picture.rgb, zoom, rotate)
    return Picture(zoom_about_centre(picture.luma, zoom, rotate), rgb)


# -- a seamless loop ----------------------------------------------------------------------------

#: The fewest frames ``--loop`` joins.
MIN_LOOP_FRAMES = 8


def _frame(store: Any, index: int) -> Image.Image:
    with Image.open(store.path(index)) as image:
        image.load()
        return image.copy()


def _step(a: Image.Image, b: Image.Image) -> float:
    return float(np.mean(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32))))


def fade_length(count: int) -> int:
    """How many frames a looping zoom fades over: a quarter of them, at least 3."""
    return max(3, round(count / 4))


def loop_point(store: Any, count: int) -> int:
    """Where a looping zoom starts: the frame ``L`` (from :func:`fade_length` ``F`` to half
    way) whose step from the frame before it is the smallest there. The file plays frames
    ``L`` to ``count - F - 1``, then fades over ``F`` frames from the zoom's last frames
    into frames ``L - F ... L - 1``: it ends on frame ``L - 1`` exactly, so starting again
    at ``L`` is one of the zoom's own (and smallest) steps."""
    fade = fade_length(count)
    low, high = fade, max(fade, min(count // 2, count - fade - 1))
    best, smallest = low, math.inf
    before = _frame(store, low - 1)
    for start in range(low, high + 1):
        frame = _frame(store, start)
        step = _step(before, frame)
        if step < smallest:
            best, smallest = start, step
        before = frame
    return best


def looped(store: Any, count: int, start: int) -> Iterator[Image.Image]:
    """The frames of a looping file (see :func:`loop_point`), read from ``store`` one or
    two at a time: ``count - start`` frames."""
    fade = fade_length(count)
    for index in range(start, count - fade):
        yield _frame(store, index)
    for j in range(fade):
        weight = j / (fade - 1)
        yield Image.blend(_frame(store, count - fade + j), _frame(store, start - fade + j), weight)


def _looped_as(path: Path) -> bool:
    """Whether the animated file at ``path`` was written as a loop (its provenance says)."""
    from dreamfx.io.provenance import provenance

    meta, _ = provenance(path)
    return bool(meta and meta.get("loop"))


# -- one animation run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoomRequest(AnimationOptions):
    """The options of ``dreamfx zoom``."""

    source: str
    output: str
    frames: int
    zoom: float = 1.05
    rotate: float = 0.0
    fps: float = 12.0
    loop: bool = False  # the animated file loops without a jump (:func:`looped`)

    def check(self) -> None:
        self.check_animation()
        if not 1 <= self.frames <= MAX_FRAMES:
            raise SettingsError(f"--frames must be 1 to {MAX_FRAMES:,}, got {self.frames}")
        if not (math.isfinite(self.zoom) and 0.5 <= self.zoom <= 2.0):
            raise SettingsError(f"--zoom must be between 0.5 and 2 (1.05: 5% closer per frame), got {self.zoom}")
        if not math.isfinite(self.rotate) or abs(self.rotate) > 180:
            raise SettingsError(f"--rotate must be between -180 and 180 degrees, got {self.rotate}")
        if not (math.isfinite(self.fps) and 0.1 <= self.fps <= 240):
            raise SettingsError(f"--fps must be between 0.1 and 240, got {self.fps}")
        if self.loop and self.frames < MIN_LOOP_FRAMES:
            raise SettingsError(f"--loop needs at least {MIN_LOOP_FRAMES} frames (its last frames fade into its "
                                f"first), got --frames {self.frames}")


def run_zoom(request: ZoomRequest, host: Any, make_dreamer: Callable[[Any], Any],
             event: FrameEvent | None = None) -> AnimationRun:
    """Plan (no TensorFlow), then dream the zoom's frames that are not up to date, then write
    the animated file. Ctrl-C: the finished frames stay, ``interrupted`` is set."""

    event = event or (lambda done, total: None)
    request.check()
    settings = request.settings(host)
    if output_kind(request.output)[1] is None and request.loop:  # a wrong format is refused before the photo is read
        raise SettingsError("--loop makes a GIF, WebP or MP4 that loops; a folder of frames has no end to join "
                            "(give -o OUT.gif, OUT.webp or OUT.mp4)")
    source = Path(request.source)
    data = read_input_bytes(source)
    if not data:
        raise ImageError(f"input image {source} is empty (0 bytes)")
    from dreamfx.io.images import decode_picture

    photo = decode_picture(data, source, **({"max_pixels": request.max_pixels} if request.max_pixels else {}))
    photo_digest = digest(data)
    params = {"zoom": request.zoom, "rotate": request.rotate}
    run_hash = animation_hash(settings, request.color, "zoom", params)
    plan = prepare_output(request.output, request.frames, run_hash, request.force, [source], photo_digest)
    try:
        return _zoom(request, plan, settings, photo, photo_digest, params, run_hash, make_dreamer, event)
    except BaseException:
        plan.discard_created()  # a run that ended before its first frame leaves no folder behind
        raise


def _zoom(request: ZoomRequest, plan: OutputPlan, settings: Any, photo: Picture, photo_digest: str,
          params: dict[str, Any], run_hash: str, make_dreamer: Callable[[Any], Any], event: FrameEvent) -> AnimationRun:
    source, store = Path(request.source), plan.store
    run = AnimationRun(plan.path, request.frames, folder=store.folder)
    started = time.perf_counter()
    if plan.up_to_date and _looped_as(plan.path) == request.loop:
        run.up_to_date, run.reused = True, request.frames
        return run
    first = store.first_to_dream(lambda index: photo_digest)
    run.reused = first
    if first < request.frames:
        event(-1, request.frames)
        dreamer = make_dreamer(settings)
        started = time.perf_counter()  # frames/s counts the dreaming, not TensorFlow's start
        event(first, request.frames)
        current = photo if first == 0 else zoom_picture(store.read(first - 1), request.zoom, request.rotate)

        def pixels(picture: Picture) -> np.ndarray:
            return picture.pixels(dreamer.channels)

        try:
            choices = frame_choices(dreamer, pixels(photo), run)
            if choices is not None:
                settings = dreamer.settings_with(choices[0])  # the animation's stored settings hold the map
            for index in range(first, request.frames):
                keyed = keyframe_choices(dreamer, index)  # map keyframes: this frame's crossfade
                result = dream_frame(run, dreamer, pixels(current), keyed or choices, f"frame {index}")
                composed = compose(current, result.image, request.color)
                meta = frame_metadata(settings, result, color=request.color, run_hash=run_hash, kind="zoom",
                                      params=params, index=index, count=request.frames, input_name=source.name,
                                      input_digest=photo_digest)
                store.write(index, composed, meta)
                run.dreamed += 1
                event(index + 1, request.frames)
                # the next frame starts from this one as written (so a resumed run is the same)
                current = zoom_picture(to_picture(composed), request.zoom, request.rotate)
        except KeyboardInterrupt:
            run.interrupted = True
    run.seconds = time.perf_counter() - started
    if plan.fmt is not None and not run.interrupted:
        run.note = duration_note(plan.fmt, request.fps)
        frames = frames_of(store, request.frames)
        loop: dict[str, Any] = {}
        if request.loop:
            start = loop_point(store, request.frames)
            frames, loop = looped(store, request.frames, start), {"loop": True, "loop_start": start}
        meta = provenance_of(settings, animation="zoom", animation_params=params, run_hash=run_hash,
                             frames=request.frames, fps=request.fps, color=request.color, input=source.name,
                             input_sha256=photo_digest, **loop)
        write_animation(plan.path, plan.fmt, frames, request.fps, meta)
    return run
