"""The input of ``dreamfx video``: a clip (a video file PyAV reads, or a folder of same-sized
images), read twice and never held whole (a folder's first frames, up to
:data:`HELD_BYTES`, are kept from planning instead of read again).

:func:`scan_clip` plans: it decodes every frame once, one at a time, and keeps only what a run
needs before any dream (the frame count, the size, each frame's digest, the frame rate), so a
bad frame, a frame of another size or an unreadable video is one error before any work. Every
frame is held to the pixel limit (``--max-pixels``, by default Pillow's decompression-bomb
limit) before it is decoded in full: a video's size from its header, each frame's before it
becomes an RGB array, an image's from its header. :meth:`Clip.frames` then decodes the frames
again in order as the run dreams them, one at a time, and refuses a frame that is not the one
planned (the file changed in between).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from dreamfx.errors import DreamfxError, ImageError
from dreamfx.io import images
from dreamfx.io.images import INPUT_SUFFIXES, decode_picture, digest, read_input_bytes
from dreamfx.runs.encoders import require_av
from dreamfx.runs.frames import MAX_FRAMES
from dreamfx.runs.shots import ContentValues

#: Bytes of a folder's decoded frames that planning keeps for the run (the first frames, up
#: to this): a short clip's frames are decoded once. A video file's are decoded twice.
HELD_BYTES = 256 * 2**20

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


def _natural(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


@dataclass
class Clip:
    """What planning found in a clip (no pixels): each frame's name and digest, the size
    (height, width), the frame rate, the pixel limit it was read under, and where it came
    from (a folder's frame files, or a video file and whether it has audio)."""

    source: Path
    digests: list[str]
    names: list[str]
    size: tuple[int, int]
    fps: Fraction
    max_pixels: int
    files: list[Path] = field(default_factory=list)
    has_audio: bool = False
    #: Each frame's content value against the one before (:mod:`dreamfx.runs.shots`), 0 for the first.
    changes: list[float] = field(default_factory=list)
    #: A folder's first frames as planning decoded them (at most :data:`HELD_BYTES`), each
    #: handed out once by :meth:`frames` instead of being decoded again.
    held: dict[int, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def count(self) -> int:
        return len(self.digests)

    def shots(self) -> list[Any]:
        """The clip's shots (:func:`dreamfx.runs.shots.find_shots`): one when nothing was measured."""
        from dreamfx.runs.shots import find_shots

        return find_shots(self.changes if len(self.changes) == self.count else [0.0] * self.count)

    def frames(self, start: int = 0) -> Iterator[np.ndarray]:
        """The frames from ``start`` on, in order, as 8-bit RGB arrays, decoded one at a time
        (a video's frames before ``start`` are decoded and dropped); a frame that is not the one
        planned is an :class:`ImageError`."""
        if self.files:
            for index in range(start, len(self.files)):
                array = self.held.pop(index, None)  # the frame planned, from the bytes whose digest is kept
                if array is None:
                    data, array = _folder_frame(self.files[index], self.max_pixels)
                    self._same(index, digest(data))
                yield array
            return
        index = -1
        for index, array in enumerate(_video_frames(self.source, self.max_pixels)):
            if index >= self.count:
                break
            if index < start:
                continue
            self._same(index, hashlib.sha256(array.tobytes()).hexdigest())
            yield array
        if index + 1 < self.count:
            self._same(index + 1, "(no frame)")

    def _same(self, index: int, found: str) -> None:
        if found != self.digests[index]:
            raise ImageError(f"input {self.source} changed while it was dreamed: frame {index} ({self.names[index]}) "
                             "is not the frame read before; the frames dreamed are complete, run again")


def scan_clip(path: Path, fps: float | None = None, max_pixels: int | None = None) -> Clip:
    """Plan a clip (a video file or a folder of frames); every problem is one :class:`ImageError`."""
    limit = max_pixels or images.DEFAULT_MAX_PIXELS
    if path.is_dir():
        return _scan_folder(path, Fraction(fps or 24).limit_denominator(1001), limit)
    return _scan_video(path, fps, limit)


def _too_many(path: Path) -> ImageError:
    return ImageError(f"input {path} holds more than {MAX_FRAMES:,} frames; cut it into shorter clips")


def _too_large(what: str, width: int, height: int, limit: int) -> ImageError:
    return ImageError(f"{what} is {width}x{height}, {width * height:,} pixels, more than the limit of {limit:,} "
                      "(a possible decompression bomb; raise it with --max-pixels)")


def _one_size(path: Path, name: str, shape: tuple[int, ...], first: tuple[int, ...] | None) -> None:
    if first is not None and shape[:2] != first[:2]:
        raise ImageError(f"frame {name} of {path} is {shape[1]}x{shape[0]}, the frames before it "
                         f"{first[1]}x{first[0]}: a clip's frames must have one size")


# -- a folder of frames --------------------------------------------------------------------------

def _folder_frame(path: Path, limit: int) -> tuple[bytes, np.ndarray]:
    """A frame file's bytes and its pixels as 8-bit RGB (the pixel limit checked from the header)."""
    data = read_input_bytes(path)
    if not data:
        raise ImageError(f"frame {path} is empty (0 bytes)")
    picture = decode_picture(data, path, max_pixels=limit)
    rgb = picture.rgb if picture.rgb is not None else np.repeat(picture.luma[..., None], 3, axis=-1)
    return data, (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def _planned(path: Path, limit: int) -> tuple[str, np.ndarray, np.ndarray]:
    """A frame file planned: its digest, its pixels (8-bit RGB) and its thumbnail."""
    from dreamfx.runs.shots import thumbnail

    data, array = _folder_frame(path, limit)
    return digest(data), array, thumbnail(array)


def _in_order(work: Any, items: list[Path], threads: int = 2, ahead: int = 8) -> Iterator[Any]:
    """``work(item)`` of each item in order, computed in ``threads`` threads at most
    ``ahead`` items ahead (decoding releases the GIL); the first failure, in order, is raised."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="dreamfx-plan") as pool:
        pending: deque[Any] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _scan_folder(folder: Path, fps: Fraction, limit: int) -> Clip:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in INPUT_SUFFIXES and not p.name.startswith(".")),
                   key=lambda p: _natural(p.name))
    if not files:
        raise ImageError(f"{folder} holds no frames (image files: png, jpg, tif, bmp, webp, gif)")
    if len(files) > MAX_FRAMES:
        raise _too_many(folder)
    digests: list[str] = []
    shape: tuple[int, ...] | None = None
    changes = ContentValues()
    held: dict[int, np.ndarray] = {}
    budget = HELD_BYTES
    for index, (path, (found, array, thumb)) in enumerate(zip(files, _in_order(lambda p: _planned(p, limit), files))):
        if shape is not None and array.shape != shape:
            raise ImageError(f"frame {path} is {array.shape[1]}x{array.shape[0]}, the frames before it "
                             f"{shape[1]}x{shape[0]}: a clip's frames must have one size")
        changes.add_thumbnail(thumb)
        shape = array.shape
        digests.append(found)
        if array.nbytes <= budget:  # the first frames, up to the budget: not decoded again
            held[index] = array
            budget -= array.nbytes
    assert shape is not None
    return Clip(folder, digests, [p.name for p in files], (shape[0], shape[1]), fps, limit, files=files,
                changes=changes.values, held=held)


# -- a video file --------------------------------------------------------------------------------

def _video_frames(path: Path, limit: int, info: dict[str, Any] | None = None) -> Iterator[np.ndarray]:
    """A video's frames in order as 8-bit RGB arrays, each held to the pixel limit before it is
    converted (the stream's size from the header before any frame is decoded); ``info`` gets
    the stream's frame rate and whether the file has audio."""
    av = require_av()
    from dreamfx.io.images import open_regular

    os.close(open_regular(path, "input video"))  # a regular file, or the one-line reason
    try:
        with av.open(str(path)) as container:
            streams = [s for s in container.streams if s.type == "video"]
            if not streams:
                raise ImageError(f"input video {path} has no video stream")
            stream = streams[0]
            width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
            if width * height > limit:
                raise _too_large(f"input video {path}", width, height, limit)
            if info is not None:
                info["rate"] = stream.average_rate or stream.guessed_rate
                info["audio"] = any(s.type == "audio" for s in container.streams)
            for index, frame in enumerate(container.decode(stream)):
                if frame.width * frame.height > limit:
                    raise _too_large(f"frame {index} of input video {path}", frame.width, frame.height, limit)
                yield frame.to_ndarray(format="rgb24")
    except DreamfxError:
        raise
    except Exception as exc:  # PyAV's errors (InvalidDataError, ...) and decoders' surprises
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = re.sub(r"^\[Errno -?\d+\] ", "", text)  # PyAV's FFmpeg error numbers say nothing to a user
        raise ImageError(f"input video {path} cannot be read: {text}") from None


def _scan_video(path: Path, fps: float | None, limit: int) -> Clip:
    info: dict[str, Any] = {}
    digests: list[str] = []
    shape: tuple[int, ...] | None = None
    changes = ContentValues()
    for index, array in enumerate(_video_frames(path, limit, info)):
        _one_size(path, str(index), array.shape, shape)
        shape = array.shape
        if index >= MAX_FRAMES:
            raise _too_many(path)
        digests.append(hashlib.sha256(array.tobytes()).hexdigest())
        changes.add(array)
    if shape is None:
        raise ImageError(f"input video {path} holds no frames")
    rate = info.get("rate")
    chosen = Fraction(fps).limit_denominator(1001) if fps else Fraction(rate) if rate else Fraction(24)
    return Clip(path, digests, [f"{path.name}#{i}" for i in range(len(digests))], (shape[0], shape[1]), chosen,
                limit, has_audio=bool(info.get("audio")), changes=changes.values)
