"""``dreamfx video``: dream a clip so that the dream's strokes move with the scene.

Each frame's dream starts from the frame blended with the previous frame's dream, warped onto
it by dense optical flow, except where the forward-backward consistency check masks the
carried-over dream out (disocclusions, motion boundaries: those pixels start from the raw
frame): :mod:`dreamfx.runs.flow`. Frames are outputs with provenance (:class:`~dreamfx.runs.frames.FrameStore`);
a rerun resumes after the last finished frame, reading it back.

The frames are dreamed strictly in order, one at a time: each needs the previous one's dream.
Cutting the clip into segments dreamed side by side (one batch, warmed up on the frames
before each segment) was built and measured: no faster on 2 CPU cores and 11x the flicker at
the joins (docs/animation.md), so it is not offered. Flow is computed ahead in worker threads
and frames are written behind, while the next frame dreams.

The input is an MP4 (any video PyAV reads: frame rate, size and audio are kept) or a folder
of same-sized images. All frames are decoded first (a bad frame or an unreadable video is one
error before any dream), held as 8-bit RGB under :data:`MAX_CLIP_BYTES`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from dreamfx.runs.frames import (animation_hash, AnimationRun, dream_frame, frame_choices, frame_metadata, FrameEvent,
                                 frames_of, prepare_output, require_av, write_animation)
from dreamfx.errors import DreamfxError, ImageError, SettingsError
from dreamfx.config.request import CommonOptions
from dreamfx.io.images import INPUT_SUFFIXES, Picture, compose, decode_picture, digest, read_input_bytes, to_picture
from dreamfx.io.metadata import provenance_of

#: The decoded clip is held in memory (8-bit RGB); larger clips are refused with this limit.
MAX_CLIP_BYTES = 4 << 30
FLOWS = ("farneback", "none")


@dataclass
class Clip:
    """A decoded clip: RGB frames (uint8), their digests, the frame rate and where it came from."""

    frames: list[np.ndarray]
    digests: list[str]
    fps: Fraction
    source: Path
    names: list[str]
    has_audio: bool = False

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames[0].shape[0]), int(self.frames[0].shape[1])

    def picture(self, index: int) -> Picture:
        return to_picture(Image.fromarray(self.frames[index], "RGB"))

    def gray(self, index: int) -> np.ndarray:
        return self.picture(index).luma


def _natural(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_clip(path: Path, fps: float | None = None, max_pixels: int | None = None) -> Clip:
    """Decode a video file or a folder of frames; every problem is one :class:`ImageError`."""
    if path.is_dir():
        return _read_folder(path, Fraction(fps or 24).limit_denominator(1001), max_pixels)
    return _read_video(path, fps)


#: Image formats that hold a still photo unless they hold several frames (an animated GIF,
#: WebP or PNG is a clip; so is any format Pillow does not read as an image: MP4, MOV, ...).
STILL_FORMATS = frozenset({"PNG", "JPEG", "MPO", "TIFF", "BMP", "WEBP", "GIF"})


def still_image(path: Path) -> bool:
    """Whether ``path`` (a regular file, else False) is a photo of one frame, not a clip:
    ``dreamfx video`` refuses it instead of dreaming a 1-frame video. Only the header is
    read (and, for a GIF, its frames counted)."""
    from dreamfx.io.images import _open_image, open_regular

    try:
        fd = open_regular(path, "input video")
    except DreamfxError:
        return False  # the reader says why
    try:
        with os.fdopen(fd, "rb") as fh:
            os.set_blocking(fd, True)
            with _open_image(fh) as img:  # no pixel limit: only a header is read
                return img.format in STILL_FORMATS and int(getattr(img, "n_frames", 1)) <= 1
    except Exception:  # not an image Pillow knows (a video), or a broken one: left to the video reader
        return False


def _check_budget(count: int, shape: tuple[int, ...], where: Path) -> None:
    if count * int(np.prod(shape)) > MAX_CLIP_BYTES:
        raise ImageError(f"{where}: {count} frames of {shape[1]}x{shape[0]} do not fit the "
                         f"{MAX_CLIP_BYTES >> 30} GiB that dreamfx holds a clip in; cut it into shorter clips")


def _read_folder(folder: Path, fps: Fraction, max_pixels: int | None) -> Clip:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in INPUT_SUFFIXES and not p.name.startswith(".")),
                   key=lambda p: _natural(p.name))
    if not files:
        raise ImageError(f"{folder} holds no frames (image files: png, jpg, tif, bmp, webp, gif)")
    frames, digests = [], []
    for path in files:
        data = read_input_bytes(path)
        if not data:
            raise ImageError(f"frame {path} is empty (0 bytes)")
        picture = decode_picture(data, path, **({"max_pixels": max_pixels} if max_pixels else {}))
        rgb = picture.rgb if picture.rgb is not None else np.repeat(picture.luma[..., None], 3, axis=-1)
        array = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
        if frames and array.shape != frames[0].shape:
            raise ImageError(f"frame {path} is {array.shape[1]}x{array.shape[0]}, the frames before it "
                             f"{frames[0].shape[1]}x{frames[0].shape[0]}: a clip's frames must have one size")
        if not frames:
            _check_budget(len(files), array.shape, folder)
        frames.append(array)
        digests.append(digest(data))
    return Clip(frames, digests, fps, folder, [p.name for p in files])


def _read_video(path: Path, fps: float | None) -> Clip:
    av = require_av()
    from dreamfx.io.images import open_regular

    os.close(open_regular(path, "input video"))  # a regular file, or the one-line reason
    frames, digests = [], []
    try:
        with av.open(str(path)) as container:
            streams = [s for s in container.streams if s.type == "video"]
            if not streams:
                raise ImageError(f"input video {path} has no video stream")
            stream = streams[0]
            rate = stream.average_rate or stream.guessed_rate
            has_audio = any(s.type == "audio" for s in container.streams)
            expected = stream.frames or 0
            for frame in container.decode(stream):
                array = frame.to_ndarray(format="rgb24")
                if not frames:
                    _check_budget(max(expected, 1), array.shape, path)
                elif len(frames) * array.nbytes > MAX_CLIP_BYTES:
                    _check_budget(len(frames) + 1, array.shape, path)
                frames.append(array)
                digests.append(hashlib.sha256(array.tobytes()).hexdigest())
    except DreamfxError:
        raise
    except Exception as exc:  # PyAV's errors (InvalidDataError, ...) and decoders' surprises
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = re.sub(r"^\[Errno -?\d+\] ", "", text)  # PyAV's FFmpeg error numbers say nothing to a user
        raise ImageError(f"input video {path} cannot be read: {text}") from None
    if not frames:
        raise ImageError(f"input video {path} holds no frames")
    chosen = Fraction(fps).limit_denominator(1001) if fps else Fraction(rate) if rate else Fraction(24)
    return Clip(frames, digests, chosen, path, [f"{path.name}#{i}" for i in range(len(frames))], has_audio)


@dataclass(frozen=True)
class VideoRequest(CommonOptions):
    """The options of ``dreamfx video``."""

    source: str
    output: str
    blend: float = 0.5
    flow: str = "farneback"
    fps: float | None = None  # a folder of frames: its frame rate (default 24); a video: overrides its own

    def check(self) -> None:
        self.check_common()
        if not (math.isfinite(self.blend) and 0.0 <= self.blend <= 1.0):
            raise SettingsError(f"--blend must be between 0 (dream every frame afresh) and 1, got {self.blend}")
        if self.flow not in FLOWS:
            raise SettingsError(f"--flow must be one of {', '.join(FLOWS)}, got {self.flow!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and 0.1 <= self.fps <= 240):
            raise SettingsError(f"--fps must be between 0.1 and 240, got {self.fps}")


@dataclass
class _Motions:
    """Flow and consistency masks of frame pairs, computed ahead in worker threads."""

    clip: Clip
    pool: ThreadPoolExecutor
    futures: dict[int, Future[Any]] = field(default_factory=dict)

    def want(self, index: int) -> None:
        from dreamfx.runs.flow import Motion

        if index > 0 and index not in self.futures:
            self.futures[index] = self.pool.submit(
                lambda: Motion.between(self.clip.gray(index - 1), self.clip.gray(index)))

    def get(self, index: int) -> Any:
        self.want(index)
        return self.futures[index].result()

    def drop(self, index: int) -> None:
        self.futures.pop(index, None)


def run_video(request: VideoRequest, host: Any, make_dreamer: Callable[[Any], Any],
              event: FrameEvent | None = None) -> AnimationRun:
    """Decode and check everything (no TensorFlow), dream the frames not up to date, write the
    output, and measure the clip's coherence. Ctrl-C: finished frames stay, ``interrupted``."""
    from dreamfx.runs.flow import Coherence, blend_start, require_cv2

    event = event or (lambda done, total: None)
    request.check()
    require_cv2()  # the metrics need flow even with --flow none
    settings = request.settings(host)
    source = Path(request.source)
    if not source.exists():
        raise ImageError(f"input {source} does not exist")
    if not source.is_dir() and still_image(source):
        raise SettingsError(f"input {source} is a still image, not a video: dream it with 'dreamfx run {source}', "
                            f"or zoom into it with 'dreamfx zoom {source} --frames N -o OUT.mp4'")
    clip = read_clip(source, request.fps)
    count = len(clip.frames)
    params = {"blend": request.blend, "flow": request.flow}
    run_hash = animation_hash(settings, request.color, "video", params)
    inputs = [source] if not source.is_dir() else [source, *(source / n for n in clip.names)]
    clip_digest = hashlib.sha256("".join(clip.digests).encode()).hexdigest()
    path, fmt, store, up_to_date = prepare_output(request.output, count, run_hash, request.force, inputs, clip_digest)
    if fmt is not None and fmt != "MP4":
        raise SettingsError(f"dreamfx video writes .mp4 or a folder of frames, not {path.suffix}")
    run = AnimationRun(path, count, folder=store.folder)
    started = time.perf_counter()
    if up_to_date:
        run.up_to_date, run.reused = True, count
        return run
    first = 0
    while first < count and store.done(first, clip.digests[first]):
        first += 1
    for index in range(first + 1, count):
        store.done(index, clip.digests[index])  # a file there that dreamfx did not write: refused before any work
    run.reused = first
    outputs: dict[int, np.ndarray] = {i: store.read(i).luma for i in range(first)}  # for the metrics
    previous = store.read(first - 1) if 0 < first < count else None  # the next frame blends with it
    use_flow = request.flow == "farneback" and request.blend > 0
    with ThreadPoolExecutor(2, thread_name_prefix="dreamfx-flow") as pool, \
            ThreadPoolExecutor(1, thread_name_prefix="dreamfx-io") as writer:
        motions = _Motions(clip, pool)
        writes: list[Future[None]] = []
        if first < count:
            event(-1, count)
            if use_flow:  # the first frames' flow, computed while TensorFlow loads
                for ahead in range(first, min(first + 4, count)):
                    motions.want(ahead)
            dreamer = make_dreamer(settings)
            started = time.perf_counter()  # frames/s counts the dreaming, not TensorFlow's start
            event(first, count)
            colour = dreamer.channels == 3
            try:
                first_frame = clip.picture(0)
                choices = frame_choices(dreamer, first_frame.rgb if colour else first_frame.luma, run)
                if choices is not None:
                    settings = dreamer.settings_with(choices[0])  # the stored settings hold the map chosen
                for index in range(first, count):
                    picture = clip.picture(index)
                    frame = picture.rgb if colour else picture.luma
                    if previous is None or request.blend <= 0:
                        start = frame
                    else:
                        motion = motions.get(index) if use_flow else None
                        start = blend_start(frame, _state_of(previous, colour), motion, request.blend)
                    if use_flow:  # computed in the background while this frame dreams
                        for ahead in range(index + 1, min(index + 4, count)):
                            motions.want(ahead)
                    result = dream_frame(run, dreamer, start, choices, f"frame {index} of {source}")
                    composed = compose(picture, result.image, request.color)
                    previous = to_picture(composed)  # as a rerun reads it back
                    outputs[index] = previous.luma
                    meta = frame_metadata(settings, result, color=request.color, run_hash=run_hash, kind="video",
                                          params=params, index=index, count=count, input_name=clip.names[index],
                                          input_digest=clip.digests[index])
                    writes.append(writer.submit(store.write, index, composed, meta))
                    while writes and writes[0].done():
                        writes.pop(0).result()  # a write that failed ends the run with its reason
                        run.dreamed += 1
                        event(run.reused + run.dreamed, count)
            except KeyboardInterrupt:
                run.interrupted = True
            for future in writes:  # the writes under way land (each is atomic), whatever happens
                while True:
                    try:
                        future.result()
                        break
                    except KeyboardInterrupt:
                        run.interrupted = True
                run.dreamed += 1
                event(run.reused + run.dreamed, count)
        run.seconds = time.perf_counter() - started
        if not run.interrupted:
            metrics = Coherence()
            for index in range(1, count):
                metrics.add(clip.gray(index - 1), clip.gray(index), outputs[index - 1], outputs[index],
                            motions.get(index))
                motions.drop(index)
            if count > 1:
                run.metrics = metrics.as_dict()
            else:  # a clip of one frame (a 1-frame MP4 or folder): no pair to measure, and nothing to flow
                run.note = (f"{source} holds a single frame: it was dreamed as a 1-frame video; flicker and "
                            "warping error need two frames and were not measured")
    if fmt is not None and not run.interrupted:
        meta = provenance_of(settings, animation="video", animation_params=params, run_hash=run_hash, frames=count,
                             fps=str(clip.fps), color=request.color, input=source.name, input_sha256=clip_digest,
                             coherence=run.metrics)
        audio = source if clip.has_audio and not source.is_dir() else None
        write_animation(path, fmt, frames_of(store, count), clip.fps, meta, audio_from=audio)
    return run


def _state_of(picture: Picture, colour: bool = False) -> np.ndarray:
    """What the next frame of a chain blends with: the written frame's luma (its RGB for a colour model)."""
    if colour:
        return picture.rgb if picture.rgb is not None else np.repeat(picture.luma[..., None], 3, axis=-1)
    return picture.luma
