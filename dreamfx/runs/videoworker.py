"""A cluster worker's side of ``dreamfx video --cluster``: whole shots dreamed as lanes.

A task (:class:`VideoTask`, made by :mod:`dreamfx.runs.videowork`) carries some of a clip's
shots: each shot's input frames as PNG bytes from the frame before its first to dream, and
for a shot resumed part-way the previous frame's output as written. :func:`dream_shots`
dreams them as the local lanes do (:mod:`dreamfx.runs.lanes`): the shots shared among up to
``lanes`` lanes, every step the next frame of each lane in one batch, each frame started and
pulled by :mod:`dreamfx.runs.chain`, with one warm dreamer per settings
(:func:`dreamfx.runs.worker.warm_dreamer`). It returns each frame encoded as PNG with the
provenance a local run writes. Nothing here imports the backend at module level.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dreamfx.errors import DreamfxError
from dreamfx.kinds.executors import ImageResult, Requirements
from dreamfx.runs.shots import lane_ranges, Shot

#: Frames whose flow is computed ahead of the one being dreamed, per lane (as the local lanes).
AHEAD = 3


@dataclass(frozen=True)
class ChainOptions:
    """What a video's chain needs of its request (:class:`dreamfx.runs.video.VideoRequest`)."""

    blend: float
    flow: str
    temporal: float
    color: str


@dataclass
class ShotWork:
    """A shot (``first`` to ``last``, the clip's numbering) to dream from frame ``start`` on:
    ``frames``, the input frames from :attr:`base` to ``last`` as PNG bytes; ``previous``, the
    output of frame ``start - 1`` as written when the shot is resumed part-way."""

    first: int
    last: int
    start: int
    frames: list[bytes]
    previous: bytes | None = None

    @property
    def base(self) -> int:
        return max(self.first, self.start - 1)

    @property
    def nbytes(self) -> int:
        return sum(len(f) for f in self.frames) + len(self.previous or b"")


@dataclass
class VideoTask:
    """Shots of a clip and how to dream them; ``names`` and ``digests`` of the task's frames
    by index; ``first_frame``, the clip's first frame (an "auto" map is chosen from it)."""

    settings: Any
    options: ChainOptions
    shots: list[ShotWork]
    run_hash: str
    params: dict[str, Any]
    count: int
    source: str
    names: dict[int, str]
    digests: dict[int, str]
    first_frame: bytes
    lanes: int
    device: str
    requirements: Requirements | None = None
    #: The settings' mask for all, with its bytes (:func:`dreamfx.engine.masks.settings_mask`), or None.
    mask: Any = None

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.shots) + len(self.first_frame) + (len(self.mask.data) if self.mask else 0)


@dataclass
class VideoResult:
    """What a worker returns: each frame dreamed (:class:`ImageResult`, in order within each
    shot), the settings the frames were dreamed with (an "auto" map chosen), the seconds
    dreaming, and why it stopped early (the frames before are good)."""

    frames: list[ImageResult] = field(default_factory=list)
    settings: Any = None
    chosen: str | None = None
    dream_seconds: float = 0.0
    reason: str | None = None


def decoded(data: bytes, name: str) -> Any:
    """PNG bytes as a picture, as a written frame is read back."""
    from dreamfx.io.images import decode_picture

    return decode_picture(data, name, max_pixels=None)


class _Lane:
    """Consecutive shots of the task dreamed in order, the flow into each frame (none into a
    shot's first) computed ahead in ``pool``."""

    def __init__(self, shots: list[ShotWork], pool: ThreadPoolExecutor, source: str) -> None:
        self.steps = [(shot, i) for shot in shots for i in range(shot.start, shot.last + 1)]
        self.pool, self.source, self.at = pool, source, 0
        self.pictures: dict[int, Any] = {}
        self.motions: dict[int, Future[Any]] = {}
        self.previous: Any = None  # the previous frame's output, as written

    @property
    def active(self) -> bool:
        return self.at < len(self.steps)

    def picture(self, shot: ShotWork, index: int) -> Any:
        if index not in self.pictures:
            self.pictures[index] = decoded(shot.frames[index - shot.base], f"frame {index} of {self.source}")
        return self.pictures[index]

    def want(self, at: int) -> None:
        from dreamfx.runs.flow import Motion

        if at >= len(self.steps):
            return
        shot, index = self.steps[at]
        if index == shot.first or index in self.motions:
            return
        before, after = self.picture(shot, index - 1), self.picture(shot, index)
        self.motions[index] = self.pool.submit(lambda: Motion.between(before.luma, after.luma))

    def current(self) -> tuple[ShotWork, int, Any, Any, Any]:
        """The frame to dream now: its shot, index, picture, previous output and motion."""
        shot, index = self.steps[self.at]
        for ahead in range(self.at, self.at + 1 + AHEAD):
            self.want(ahead)
        motion = self.motions.pop(index).result() if index != shot.first else None
        if shot.previous is not None and index == shot.start:  # a shot resumed part-way
            self.previous = decoded(shot.previous, f"frame {index - 1}")
        previous = self.previous if index != shot.first else None
        return shot, index, self.picture(shot, index), previous, motion

    def advance(self, index: int, written: Any) -> None:
        self.previous = written
        for old in [i for i in self.pictures if i < index]:
            del self.pictures[old]
        self.at += 1


def dream_shots(task: VideoTask, dreams_done: Callable[[], Any] | None = None) -> VideoResult:
    """Dream a task's shots on this worker, as lanes; ``dreams_done`` is called when every
    dream is over and only encoding is left (see :func:`dreamfx.runs.worker.dream_task`)."""
    from dreamfx.io.images import to_picture
    from dreamfx.io.writing import encode_image
    from dreamfx.runs.chain import BatchWidth, chain_start, dream_step, frame_output, pulled
    from dreamfx.runs.frames import AnimationRun, frame_choices
    from dreamfx.runs.keys import keyframe_choices
    from dreamfx.runs.worker import warm_dreamer

    dreamer, lock = warm_dreamer(task.requirements, task.settings, task.device)
    run = AnimationRun(Path(task.source), task.count)
    out = VideoResult(settings=task.settings)
    encoded: list[tuple[int, Future[bytes], dict[str, Any], Any]] = []
    with ThreadPoolExecutor(2, thread_name_prefix="dreamfx-flow") as pool:
        try:
            with lock:
                choices = frame_choices(dreamer, decoded(task.first_frame, "frame 0").pixels(dreamer.channels), run)
            if choices is not None:
                out.settings, out.chosen = dreamer.settings_with(choices[0]), run.chosen
            by_first = {s.first: s for s in task.shots}
            groups = lane_ranges([Shot(s.first, s.last) for s in task.shots], task.lanes)
            lanes = [_Lane([by_first[s.first] for s in group], pool, task.source) for group in groups]
            width = BatchWidth(len(lanes))
            while any(lane.active for lane in lanes):
                batch = [(lane, *lane.current()) for lane in lanes if lane.active]
                starts, towards = [], []
                for lane, shot, index, picture, previous, motion in batch:
                    start, toward = chain_start(task.options, dreamer, picture, previous, motion)
                    starts.append(start)
                    towards.append(toward)
                keyed = [b[2] for b in batch] if keyframe_choices(dreamer, 0) is not None else None
                with lock:
                    results = dream_step(run, dreamer, starts, towards, keyed or choices,
                                         [f"frame {b[2]} of {task.source}" for b in batch],
                                         width(len(batch), max(len(b[0].steps) - b[0].at for b in batch)),
                                         pulled(task.options), task.mask)
                for (lane, shot, index, picture, _, _), result in zip(batch, results):
                    composed, meta = frame_output(task.options, out.settings, picture, result, run_hash=task.run_hash,
                                                  params=task.params, index=index, count=task.count,
                                                  input_name=task.names[index], input_digest=task.digests[index])
                    encoded.append((index, pool.submit(encode_image, composed, "PNG", meta), meta, result.silence))
                    lane.advance(index, to_picture(composed))  # as a rerun reads it back
        except DreamfxError as exc:  # the frames before it are good: they are written, the run says why it stopped
            out.reason = str(exc)
        out.dream_seconds = run.dream_seconds
        if dreams_done is not None:
            dreams_done()
        out.frames = [ImageResult(index, data.result(), meta, silence=silence) for index, data, meta, silence in encoded]
    return out
