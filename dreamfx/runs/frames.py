"""The frames of any animation (``dreamfx zoom``, ``dreamfx video``) as outputs.

Frames are numbered PNG files with provenance (:class:`FrameStore`), written as they are
dreamed: a rerun with the same settings continues after the last finished frame, reading it
back. The animated GIF, WebP or MP4 is written from them a frame at a time by
:mod:`dreamfx.runs.encoders` (:func:`write_animation`), atomically, with a ``.dreamfx.json``
sidecar; their frames stay in ``OUT.frames/``. An animation's output is planned once
(:func:`prepare_output`): every check before any folder is made, and a folder the run made
is removed again if the run ends in an error before a frame is in it. A run's state
(:class:`AnimationRun`) and the choice of map per frame are shared by both commands.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from PIL import Image

from dreamfx.errors import DreamfxError, ImageError, SettingsError
from dreamfx.io.images import Picture, load_picture
from dreamfx.io.writing import write_image_atomic
from dreamfx.runs.encoders import require_av, VIDEO_EXTRA, write_animation  # noqa: F401 (re-exported)
from dreamfx.runs.outcomes import interruptible


#: Animated outputs by suffix; anything ending in / (or an existing folder) is a folder of frames.
ANIMATION_FORMATS = {".gif": "GIF", ".webp": "WEBP", ".mp4": "MP4"}


MAX_FRAMES = 100_000


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

    def first_to_dream(self, digest_of: Callable[[int], str | None]) -> int:
        """The first frame to dream: the frames before it are written by this run's settings
        from these inputs (``digest_of(i)``: frame ``i``'s input digest). The frames after it
        are dreamed again too (each starts from the one before), but a file among them that
        dreamfx did not write is refused now, before any work."""
        first = 0
        while first < self.count and self.done(first, digest_of(first)):
            first += 1
        for index in range(first + 1, self.count):
            self.done(index, digest_of(index))
        return first

    def read(self, index: int) -> Picture:
        """A written frame, read back (the next frame starts from it)."""
        return load_picture(self.path(index))

    def write(self, index: int, image: Image.Image, metadata: dict[str, Any]) -> None:
        """Write frame ``index`` atomically; a failed write (a full disk, a read-only folder)
        is an :class:`ImageError` that says the frames before it are complete."""
        self.write_encoded(index, None, metadata, image)

    def write_encoded(self, index: int, data: bytes | None, metadata: dict[str, Any],
                      image: Image.Image | None = None) -> None:
        """Write frame ``index`` atomically from its PNG bytes (``data``, as a cluster worker
        encodes it with ``metadata``), or from ``image``; a failed write as :meth:`write`."""
        from dreamfx.io.writing import write_encoded_atomic

        try:
            if data is None:
                write_image_atomic(self.path(index), image, metadata)
            else:
                write_encoded_atomic(self.path(index), data, metadata)
        except OSError as exc:
            done = "; the frames before it are complete, run again to resume" if index else ""
            raise ImageError(f"cannot write frame {self.path(index)}: {exc.strerror or exc}{done}") from None


def frame_metadata(settings: Any, result: Any, *, color: str, run_hash: str, kind: str, params: dict[str, Any],
                   index: int, count: int, input_name: str, input_digest: str | None) -> dict[str, Any]:
    """A frame's provenance: an output's (``dreamfx info``, ``--from``) plus the animation's."""
    from dreamfx.io.metadata import output_metadata

    meta = output_metadata(settings, result, color=color, keep_alpha=False, input_name=input_name,
                           input_digest=input_digest)
    meta.update(run_hash=run_hash, animation=kind, animation_params=params, frame=index, frames=count)
    return meta


def output_kind(output: str, formats: tuple[str, ...] = ("GIF", "WEBP", "MP4"),
                command: str = "dreamfx zoom") -> tuple[Path, str | None]:
    """The output path and its format (one of ``formats``), or None for a folder of frames:
    a path ending in / or naming an existing folder (``.`` included)."""
    path = Path(output)
    if not output or output.endswith(("/", os.sep)) or path.is_dir():
        return path, None
    fmt = ANIMATION_FORMATS.get(path.suffix.lower())
    suffixes = [f".{f.lower()}" for f in formats]
    named = " or ".join([", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else suffixes)
    if fmt is None:
        raise SettingsError(f"output {path}: unknown animation format {path.suffix or '(no suffix)'}; use "
                            f"{named}, or a folder ending in / for numbered PNG frames")
    if fmt not in formats:
        raise SettingsError(f"{command} writes {named} or a folder of frames, not {path.suffix}")
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


@dataclass
class OutputPlan:
    """An animation run's output, checked: the path, its format (None: a folder of frames),
    the frame store, whether the animated file is already up to date, and the folders this
    run made (removed again by :meth:`discard_created` if the run ends in an error before
    anything is in them)."""

    path: Path
    fmt: str | None
    store: FrameStore
    up_to_date: bool
    created: list[Path] = field(default_factory=list)

    def discard_created(self) -> None:
        """Remove the folders this run made that are still empty, deepest first (a folder
        with anything in it is left alone)."""
        for folder in sorted(self.created, key=lambda p: len(p.absolute().parts), reverse=True):
            try:
                folder.rmdir()
            except OSError:
                pass


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet."""
    missing = []
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def prepare_output(output: str, count: int, run_hash: str, force: bool, inputs: Iterable[Path],
                   input_digest: str, formats: tuple[str, ...] = ("GIF", "WEBP", "MP4"),
                   command: str = "dreamfx zoom", extra: Iterable[tuple[str, Path]] = ()) -> OutputPlan:
    """Check the output of an animation run before any work: its format, that it writes over
    no input and no file dreamfx did not write, that its folder is writable. Only when every
    check passed are the folders made (a refusal leaves nothing behind)."""
    from dreamfx.io.writing import check_writable_folder, remove_stale_temporaries
    from dreamfx.runs.writes import check_plan

    path, fmt = output_kind(output, formats, command)
    store = FrameStore(frames_folder(path, fmt is None), count, run_hash, force)
    if fmt == "MP4":
        require_av()  # before any dream, not when the frames are done
    written = [("frame", store.path(i)) for i in range(count)]
    check_plan([], [("output", path)] * (fmt is not None) + [("frames folder", store.folder), *written, *extra],
               inputs=inputs)
    up_to_date = fmt is not None and check_final(path, run_hash, count, force, input_digest)
    folders = [path.parent, store.folder] if store.folder != path.parent else [path.parent]
    plan = OutputPlan(path, fmt, store, up_to_date, [f for folder in folders for f in _missing_folders(folder)])
    try:
        for folder in folders:
            check_writable_folder(folder)
            remove_stale_temporaries(folder, recursive=False)
    except DreamfxError as exc:
        plan.discard_created()
        raise SettingsError(str(exc)) from None
    return plan


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
