"""The animated files of ``dreamfx zoom`` and ``dreamfx video``, written a frame at a time.

An animated GIF or WebP is assembled here from Pillow's encoding of each frame alone (Pillow's
own animated writers keep every frame until the end: a GIF of 400 frames of 1200x900 took
1.1 GB), an MP4 (H.264) is encoded by PyAV; each goes to a temporary file beside its target,
renamed into place when complete. Memory holds one frame, whatever the frame count.

GIF frame durations are in 1/100 s and browsers show a frame of 10 ms or less for 100 ms, so
a GIF or WebP frame lasts a whole number of 10 ms (GIF) or 1 ms (WebP), at least 20 ms
(:func:`frame_duration`); the fps stored is then what the summary's note says.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import numpy as np
from PIL import Image

from dreamfx.errors import DreamfxError, ImageError, SettingsError

VIDEO_EXTRA = 'pip install "dreamfx[video]"'

#: The shortest frame browsers show as given (10 ms or less is shown for 100 ms).
MIN_DURATION_MS = 20


def require_av() -> Any:
    """PyAV, or a one-line error that says what to install."""
    try:
        import av
    except ImportError:
        raise SettingsError(f"reading and writing video needs PyAV, which is not installed: {VIDEO_EXTRA}") from None
    return av


def frame_duration(fmt: str, fps: float) -> int:
    """How long a GIF or WebP frame lasts, in ms: ``1000 / fps`` to the format's unit (10 ms
    for GIF, 1 ms for WebP), at least :data:`MIN_DURATION_MS`."""
    unit = 10 if fmt == "GIF" else 1
    return max(MIN_DURATION_MS, unit * round(1000 / float(fps) / unit))


def duration_note(fmt: str, fps: float) -> str | None:
    """What a run's summary says when a GIF or WebP plays more than 5% off ``fps`` (None
    when it keeps it that closely)."""
    if fmt not in ("GIF", "WEBP"):
        return None
    ms = frame_duration(fmt, fps)
    stored = 1000 / ms
    if abs(stored - float(fps)) <= 0.05 * float(fps):
        return None
    why = ("GIF frame durations are in 1/100 s" if fmt == "GIF" else "WebP frame durations are in ms")
    return (f"{why} and browsers slow down frames of 10 ms or less: each frame lasts {ms} ms, so the "
            f"{fmt} plays at {stored:.4g} fps, not {float(fps):g} (an MP4 keeps {float(fps):g} fps)")


def write_animation(path: Path, fmt: str, frames: Iterable[Image.Image], fps: Fraction | float,
                    metadata: dict[str, Any], audio_from: Path | None = None) -> None:
    """Write frames as an animated GIF/WebP or an H.264 MP4 (with the audio of ``audio_from``
    copied), atomically, with a sidecar, holding one frame at a time. The sidecar says "being
    written" until the file is in place. A failed write (a full disk, a read-only folder) is
    an :class:`ImageError` naming the file."""
    from dreamfx.io.writing import sidecar_path, write_bytes_atomic

    sidecar = sidecar_path(path)
    blob = json.dumps(metadata, sort_keys=True, default=str)
    try:
        write_bytes_atomic(sidecar, json.dumps({**metadata, "complete": False}, sort_keys=True, default=str).encode())
        if fmt == "MP4":
            _write_mp4(path, frames, Fraction(fps).limit_denominator(1001), audio_from)
        else:
            with atomic_output(path) as fh:
                (_write_gif if fmt == "GIF" else _write_webp)(fh, frames, frame_duration(fmt, float(fps)), path)
        write_bytes_atomic(sidecar, blob.encode())
    except OSError as exc:
        raise ImageError(f"cannot write {path}: {exc.strerror or exc}") from None


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A file to write ``path`` through: a temporary file beside it (named so that a later
    run removes it if this one is killed), synced and renamed into place when the block
    ends, removed if it raises."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:120]}.dreamfx-{os.getpid()}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _same_size(image: Image.Image, size: tuple[int, int] | None, path: Path) -> tuple[int, int]:
    if size is not None and image.size != size:
        raise ImageError(f"cannot write {path}: a frame of {image.size[0]}x{image.size[1]} among frames of "
                         f"{size[0]}x{size[1]}")
    return image.size


# -- GIF -----------------------------------------------------------------------------------------

def _write_gif(fh: BinaryIO, frames: Iterable[Image.Image], duration_ms: int, path: Path) -> None:
    """A looping GIF89a: no global colour table; each frame is Pillow's GIF of that frame
    alone (its palette as the frame's local table), after a graphic control block with the
    frame's duration."""
    size: tuple[int, int] | None = None
    for image in frames:
        if size is None:
            size = _same_size(image, None, path)
            fh.write(b"GIF89a" + struct.pack("<HHBBB", *size, 0x70, 0, 0))
            fh.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop for ever
        _same_size(image, size, path)
        fh.write(_gif_frame(image, duration_ms))
    if size is None:
        raise ImageError(f"cannot write {path}: no frames")
    fh.write(b";")


def _gif_frame(image: Image.Image, duration_ms: int) -> bytes:
    """One frame's graphic control, image descriptor (with a local colour table) and data."""
    frame = image.copy()
    frame.info = {}
    buffer = io.BytesIO()
    frame.save(buffer, format="GIF", optimize=False)
    data = buffer.getvalue()
    packed = data[10]
    table = 3 << ((packed & 7) + 1) if packed & 0x80 else 0
    pos, transparency = 13 + table, None
    while data[pos] == 0x21:  # extensions Pillow wrote: keep a transparent index, drop the rest
        if data[pos + 1] == 0xF9 and data[pos + 3] & 1:
            transparency = data[pos + 6]
        pos = _skip_blocks(data, pos + 2)
    if data[pos] != 0x2C:
        raise ImageError("Pillow wrote a GIF frame dreamfx cannot read back")
    descriptor = bytearray(data[pos:pos + 10])
    local = data[pos + 9] & 0x80
    if not local and table:  # the global table becomes the frame's own
        descriptor[9] = (descriptor[9] & 0x40) | 0x80 | (packed & 7)
    colours = data[13:13 + table] if not local else b""
    start = pos + 10
    end = _skip_blocks(data, start + (3 << ((data[pos + 9] & 7) + 1) if local else 0) + 1)
    control = struct.pack("<BBBBHBB", 0x21, 0xF9, 4, 1 if transparency is not None else 0,
                          round(duration_ms / 10), transparency or 0, 0)
    return control + bytes(descriptor) + colours + data[start:end]


def _skip_blocks(data: bytes, pos: int) -> int:
    """The position after the data sub-blocks starting at ``pos`` (their 0 terminator included)."""
    while data[pos]:
        pos += data[pos] + 1
    return pos + 1


# -- WebP ----------------------------------------------------------------------------------------

def _write_webp(fh: BinaryIO, frames: Iterable[Image.Image], duration_ms: int, path: Path) -> None:
    """A looping animated WebP (RIFF: VP8X, ANIM, an ANMF per frame): each frame is Pillow's
    lossy WebP of that frame alone (quality 85, keyframes), not blended with the one before.
    The RIFF size is written when the last frame is."""
    size: tuple[int, int] | None = None
    for image in frames:
        if size is None:
            size = _same_size(image, None, path)
            w, h = size
            vp8x = struct.pack("<B3x", 0x02) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
            fh.write(b"RIFF\0\0\0\0WEBP" + _chunk(b"VP8X", vp8x) + _chunk(b"ANIM", struct.pack("<IH", 0, 0)))
        _same_size(image, size, path)
        fh.write(_webp_frame(image, duration_ms))
    if size is None:
        raise ImageError(f"cannot write {path}: no frames")
    end = fh.tell()
    fh.seek(4)
    fh.write(struct.pack("<I", end - 8))
    fh.seek(end)


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _webp_frame(image: Image.Image, duration_ms: int) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="WEBP", lossless=False, quality=85, method=0)
    data = buffer.getvalue()
    pos, kept = 12, []
    while pos + 8 <= len(data):
        tag, length = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if tag in (b"ALPH", b"VP8 ", b"VP8L"):
            kept.append(data[pos:pos + 8 + length + (length & 1)])
        pos += 8 + length + (length & 1)
    w, h = image.size
    header = (bytes(6) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
              + min(duration_ms, 0xFFFFFF).to_bytes(3, "little") + bytes([0x02]))  # do not blend
    return _chunk(b"ANMF", header + b"".join(kept))


# -- MP4 -----------------------------------------------------------------------------------------

def _write_mp4(path: Path, frames: Iterable[Image.Image], fps: Fraction, audio_from: Path | None) -> None:
    av = require_av()
    try:
        with atomic_output(path) as fh:
            _encode_mp4(av, fh, frames, fps, audio_from, path)
    except (DreamfxError, OSError):
        raise
    except Exception as exc:  # PyAV's and FFmpeg's own errors
        raise ImageError(f"cannot write {path}: {type(exc).__name__}: {exc}") from exc


def _encode_mp4(av: Any, fh: BinaryIO, frames: Iterable[Image.Image], fps: Fraction, audio_from: Path | None,
                path: Path) -> None:
    with av.open(fh, mode="w", format="mp4") as out:
        stream: Any = None
        audio_in, audio_out, source = None, None, None
        try:
            for image in frames:
                rgb = np.asarray(image.convert("RGB"))
                if stream is None:
                    h, w = rgb.shape[:2]
                    stream = out.add_stream("libx264", rate=fps)
                    stream.width, stream.height = w + w % 2, h + h % 2  # H.264 4:2:0 needs even sides
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": "18", "preset": "veryfast"}
                    if audio_from is not None:
                        source = av.open(str(audio_from))
                        audio_in = next((s for s in source.streams if s.type == "audio"), None)
                        if audio_in is not None:
                            audio_out = out.add_stream_from_template(audio_in)
                if rgb.shape[0] % 2 or rgb.shape[1] % 2:
                    rgb = np.pad(rgb, ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0)), mode="edge")
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                out.mux(stream.encode(frame))
            if stream is None:
                raise ImageError(f"cannot write {path}: no frames")
            out.mux(stream.encode(None))
            if audio_in is not None and source is not None:
                for packet in source.demux(audio_in):
                    if packet.dts is None:
                        continue
                    packet.stream = audio_out
                    out.mux(packet)
        finally:
            if source is not None:
                source.close()
