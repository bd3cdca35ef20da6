"""The frames of any animation (``dreamfx zoom``, ``dreamfx video``) as outputs.

Frames are numbered PNG files with provenance (:class:`FrameStore`), written as they are
dreamed: a rerun with the same settings continues after the last finished frame, reading it
back. An animated GIF or WebP is written with Pillow and an MP4 (H.264) with PyAV
(:func:`write_animation`), atomically, with a ``.dreamfx.json`` sidecar; their frames stay in
``OUT.frames/``. A run's state (:class:`AnimationRun`) and the choice of map per frame are
shared by both commands. PyAV is imported only to read or write video
(``pip install "dreamfx[video]"``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from PIL import Image

from dreamfx.errors import DreamfxError, ImageError, SettingsError
from dreamfx.io.images import Picture, load_picture
from dreamfx.io.writing import sidecar_path, write_bytes_atomic, write_image_atomic
from dreamfx.runs.outcomes import interruptible


#: Animated outputs by suffix; anything ending in / (or an existing folder) is a folder of frames.
ANIMATION_FORMATS = {".gif": "GIF", ".webp": "WEBP", ".mp4": "MP4"}


VIDEO_EXTRA = 'pip install "dreamfx[video]"'


MAX_FRAMES = 100_000


def require_av() -> Any:
    """PyAV, or a one-line error that says what to install."""
    try:
        import av
    except ImportError:
        raise SettingsError(f"reading and writing video needs PyAV, which is not installed: {VIDEO_EXTRA}") from None
    return av


def animation_hash(settings: Any, color: str, kind: str, params: dict[str, Any]) -> str:
    """What besides the input determines a frame's pixels: the settings, the colour mode, the
    kind of animation and its parameters."""
    blob = json.dumps([settings.digest(), color, kind, sorted(params.items())], default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def frames_folder(output: Path, is_folder: bool) -> Path:
    """Where the frames go: the output folder itself, or ``OUT.frames/`` beside an animated file."""
    return output if is_folder else output.with_name(output.name + ".frames")


@dataclass
class FrameStore:
    """Numbered PNG frames with provenance in one folder; which are up to date (same run hash,
    same frame number, same input) and which are to dream."""

    folder: Path
    count: int
    run_hash: str
    force: bool = False

    @property
    def digits(self) -> int:
        return max(5, len(str(self.count - 1)))

    def path(self, index: int) -> Path:
        return self.folder / f"frame_{index:0{self.digits}d}.png"

    def done(self, index: int, input_digest: str | None) -> bool:
        """Whether frame ``index`` is written, by this run's settings, from this input. A file
        in its place that dreamfx did not write is refused (an :class:`ImageError`) unless ``force``."""
        from dreamfx.runs.writes import existing

        found = existing(self.path(index), "frame", self.force)
        if found.refused is not None:
            raise ImageError(found.refused)
        meta = found.meta
        if meta is None or self.force:
            return False
        return (meta.get("run_hash") == self.run_hash and meta.get("frame") == index
                and meta.get("input_sha256") == input_digest)

    def read(self, index: int) -> Picture:
        """A written frame, read back (the next frame starts from it)."""
        return load_picture(self.path(index))

    def write(self, index: int, image: Image.Image, metadata: dict[str, Any]) -> None:
        write_image_atomic(self.path(index), image, metadata)


def frame_metadata(settings: Any, result: Any, *, color: str, run_hash: str, kind: str, params: dict[str, Any],
                   index: int, count: int, input_name: str, input_digest: str | None) -> dict[str, Any]:
    """A frame's provenance: an output's (``dreamfx info``, ``--from``) plus the animation's."""
    from dreamfx.io.metadata import output_metadata

    meta = output_metadata(settings, result, color=color, keep_alpha=False, input_name=input_name,
                           input_digest=input_digest)
    meta.update(run_hash=run_hash, animation=kind, animation_params=params, frame=index, frames=count)
    return meta


def output_kind(output: str) -> tuple[Path, str | None]:
    """The output path and its format (GIF, WEBP, MP4), or None for a folder of frames."""
    path = Path(output)
    if output.endswith(("/", os.sep)) or path.is_dir():
        return path, None
    fmt = ANIMATION_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SettingsError(f"output {path}: unknown animation format {path.suffix or '(no suffix)'}; use .gif, "
                            ".webp or .mp4, or a folder ending in / for numbered PNG frames")
    return path, fmt


def check_final(path: Path, run_hash: str, count: int, force: bool, input_digest: str) -> bool:
    """Whether an animated output at ``path`` is already up to date; a file there (or at its
    sidecar) that dreamfx did not write is refused (a :class:`SettingsError`) unless ``force``."""
    from dreamfx.runs.writes import refuse_existing

    if path.is_dir() and not path.is_symlink():
        raise SettingsError(f"output {path} is a folder; end the path with / to write frames into it")
    meta = refuse_existing(path, "output", force)
    return (meta is not None and not force and meta.get("run_hash") == run_hash and meta.get("frames") == count
            and meta.get("input_sha256") == input_digest and meta.get("complete") is not False)


def write_animation(path: Path, fmt: str, frames: Iterable[Image.Image], fps: Fraction | float,
                    metadata: dict[str, Any], audio_from: Path | None = None) -> None:
    """Write frames as an animated GIF/WebP (Pillow) or an H.264 MP4 (PyAV, with the audio of
    ``audio_from`` copied), atomically, with a sidecar. The sidecar says "being written" until
    the file is in place."""
    sidecar = sidecar_path(path)
    blob = json.dumps(metadata, sort_keys=True, default=str)
    write_bytes_atomic(sidecar, json.dumps({**metadata, "complete": False}, sort_keys=True, default=str).encode())
    if fmt == "MP4":
        _write_mp4(path, frames, Fraction(fps).limit_denominator(1001), audio_from)
    else:
        images = list(frames)
        buffer = io.BytesIO()
        duration = max(1, round(1000 / float(fps)))
        options: dict[str, Any] = {"lossless": False, "quality": 85} if fmt == "WEBP" else {"optimize": False}
        images[0].save(buffer, format=fmt, save_all=True, append_images=images[1:], duration=duration, loop=0,
                       **options)
        write_bytes_atomic(path, buffer.getvalue())
    write_bytes_atomic(sidecar, blob.encode())


def _write_mp4(path: Path, frames: Iterable[Image.Image], fps: Fraction, audio_from: Path | None) -> None:
    av = require_av()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:120]}.dreamfx-{os.getpid()}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with av.open(tmp, mode="w", format="mp4") as out:
            stream: Any = None
            audio_in, audio_out, source = None, None, None
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
            if source is not None:
                source.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, (DreamfxError, KeyboardInterrupt)) or not isinstance(exc, Exception):
            raise
        raise ImageError(f"cannot write {path}: {type(exc).__name__}: {exc}") from exc


def frames_of(store: FrameStore, upto: int) -> Iterator[Image.Image]:
    """The first ``upto`` written frames as images, read one at a time."""
    for index in range(upto):
        with Image.open(store.path(index)) as img:
            img.load()
            yield img.copy()


@dataclass
class AnimationRun:
    """What an animation run did: frames dreamed now, frames found up to date, whether it
    was interrupted, the output and, for video, the coherence metrics."""

    output: Path
    frames: int
    dreamed: int = 0
    reused: int = 0
    interrupted: bool = False
    up_to_date: bool = False
    seconds: float = 0.0
    dream_seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    folder: Path | None = None
    note: str | None = None  # what the summary should add (a video of one frame: no metrics)
    #: With ``objective.map = "auto"``: the objective every frame dreamed (``conv3 map 50``),
    #: chosen once from the first input frame.
    chosen: str | None = None
    #: The frames dreamed now whose dream was silent (each a :class:`dreamfx.engine.responses.Silence`).
    silences: list[Any] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.dreamed / self.seconds if self.seconds > 0 else 0.0


def frame_choices(dreamer: Any, first: np.ndarray, run: AnimationRun) -> list[int] | None:
    """With ``objective.map = "auto"``: the map that responds most to ``first`` (the
    animation's first input frame) as the ``choices`` of every frame's dream, so the whole
    animation keeps one map (a resumed run chooses the same); noted on ``run``. None when
    the map is not ``"auto"``."""
    if getattr(dreamer, "auto", None) is None:
        return None
    responses = dreamer.responses(dreamer.model_input([first]))
    choice = int(np.argmax(responses[0]))
    run.chosen = f"{dreamer.auto_layer} {dreamer.auto} {choice}"
    return [choice]


def note_silence(run: AnimationRun, result: Any) -> None:
    """Count a frame whose dream was silent (the summary says so, and what to try)."""
    if getattr(result, "silence", None) is not None:
        run.silences.append(result.silence)


#: Progress callback of animation runs: ``event(done, total)`` after each frame (counting
#: frames found up to date), and ``event(-1, total)`` once before the dreaming starts.
FrameEvent = Callable[[int, int], None]


def prepare_output(output: str, count: int, run_hash: str, force: bool, inputs: Iterable[Path],
                   input_digest: str) -> tuple[Path, str | None, FrameStore, bool]:
    """Check the output of an animation run before any work: its format, that it writes over
    no input and no file dreamfx did not write, that its folder is writable. Returns the path,
    its format, the frame store and whether the animated file is already up to date."""
    from dreamfx.io.writing import check_writable_folder, remove_stale_temporaries
    from dreamfx.runs.writes import check_plan

    path, fmt = output_kind(output)
    store = FrameStore(frames_folder(path, fmt is None), count, run_hash, force)
    if fmt == "MP4":
        require_av()  # before any dream, not when the frames are done
    written = [("frame", store.path(i)) for i in range(count)]
    check_plan([], [("output", path)] * (fmt is not None) + [("frames folder", store.folder), *written],
               inputs=inputs)
    up_to_date = fmt is not None and check_final(path, run_hash, count, force, input_digest)
    for folder in {store.folder, path.parent}:
        try:
            check_writable_folder(folder)
        except DreamfxError as exc:
            raise SettingsError(str(exc)) from None
        remove_stale_temporaries(folder, recursive=False)
    return path, fmt, store, up_to_date


def dream_frame(run: AnimationRun, dreamer: Any, image: Any, choices: list[int] | None, where: str) -> Any:
    """One frame's dream, as zoom and video dream each: interruptible (Ctrl-C stops the run),
    timed into ``run.dream_seconds``, a non-finite result refused (``where`` names the frame),
    a silent one counted."""
    began = time.perf_counter()
    result = interruptible(lambda: dreamer.dream_batch([image], choices=choices)[0])
    run.dream_seconds += time.perf_counter() - began
    if result.problem is not None:
        raise ImageError(f"{where}: {result.problem}")
    note_silence(run, result)
    return result
