"""The frames of ``dreamfx video`` dreamed in lanes: the chains of different shots side by side.

A shot's frames must be dreamed in order (each starts from the previous frame's dream), but
different shots do not depend on each other. The clip's shots (:mod:`dreamfx.runs.shots`) are
shared among up to ``lanes`` lanes, each a run of consecutive whole shots
(:func:`~dreamfx.runs.shots.lane_ranges`), and every step dreams the next frame of each lane
together in one batch (``dream_batch``: each image's dream equals its dream alone, so a
frame's pixels do not depend on which lanes it shared a batch with, and a resumed run gives
the same frames). A shot's first frame starts from itself.

Each lane reads its frames in order with its own decoder (a video's frames before the lane's
first are decoded and dropped) and holds a window of them: from the previous frame to
:data:`AHEAD` after the current one, with the flow into each computed ahead in worker threads.
Memory grows with the lanes, not with the clip.

Each frame's dream carries the temporal term of Ruder et al. (``temporal``): its ascent also
pulls toward the previous frame's output, warped onto it, where the feathered consistency
mask keeps it (:func:`dreamfx.runs.flow.temporal_term`, a term the engine adds to any
objective: :mod:`dreamfx.engine.pull`). Each step's logic is :mod:`dreamfx.runs.chain`'s, which a
cluster worker shares (:mod:`dreamfx.runs.videoworker`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator

import numpy as np

from dreamfx.io.images import Picture, to_picture
from dreamfx.runs.chain import as_picture, BatchWidth, chain_start, dream_step, frame_output, pulled
from dreamfx.runs.keys import keyframe_choices
from dreamfx.runs.frames import AnimationRun, frame_choices, FrameEvent, OutputPlan
from dreamfx.runs.shots import lane_ranges, Shot

#: Input frames decoded, and their flow computed, ahead of the frame being dreamed, per lane.
AHEAD = 3
#: Frames dreamed and handed to the writer thread but not yet written, at most, per lane.
WRITES_BEHIND = 2


class Lane:
    """Consecutive whole shots dreamed in order: their frames decoded from the lane's first,
    ahead of the one being dreamed, in ``pool`` (with the flow into each, none into a shot's
    first frame), so the dreaming thread waits for neither."""

    def __init__(self, clip: Any, shots: list[Shot], pool: ThreadPoolExecutor) -> None:
        self.shots, self.pool = shots, pool
        self.index, self.last = shots[0].first, shots[-1].last
        self.starts = {shot.first for shot in shots}
        self.source: Iterator[np.ndarray] = clip.frames(self.index)
        self.decoded: dict[int, np.ndarray] = {}
        self.lumas: dict[int, np.ndarray] = {}  # the frames' gray, for the flow into the next
        self.ahead: dict[int, Future[Any]] = {}
        self.next = self.index
        self.previous: Picture | None = None  # the previous frame's output, as written
        self.previous_input: np.ndarray | None = None
        self._reading = threading.Lock()  # the decoder and the decoded frames, shared with the pool
        self._failed: BaseException | None = None

    @property
    def active(self) -> bool:
        return self.index <= self.last

    def rgb(self, index: int) -> np.ndarray:
        with self._reading:
            if self._failed is not None:  # the decoder failed in another thread: the same error here
                raise self._failed
            try:
                while self.next <= index:
                    self.decoded[self.next] = next(self.source)
                    self.next += 1
            except BaseException as exc:
                self._failed = exc
                raise
            return self.decoded[index]

    def want(self, index: int) -> None:
        """Start decoding frame ``index`` and the flow into it from frame ``index - 1`` (within a shot)."""
        if index <= self.last and index not in self.ahead:
            self.ahead[index] = self.pool.submit(self._ahead, index)

    def want_window(self) -> None:
        """Start the frames from the current one to :data:`AHEAD` after it."""
        for index in range(self.index, self.index + 1 + AHEAD):
            self.want(index)

    def _ahead(self, index: int) -> tuple[Picture, Any]:
        from dreamfx.runs.flow import Motion

        after = as_picture(self.rgb(index))
        with self._reading:
            self.lumas[index] = after.luma
            before = self.lumas.get(index - 1)  # made by the frame before's task, when it is done
        if index in self.starts:
            return after, None
        if before is None:
            before = as_picture(self.rgb(index - 1)).luma
        return after, Motion.between(before, after.luma)

    def frame(self, index: int) -> tuple[Picture, Any]:
        """Frame ``index`` as a picture and the flow into it (None at a shot's start), made in
        the pool (waited for here; the lane forgets them)."""
        self.want(index)
        return self.ahead.pop(index).result()

    def advance(self, written: Picture, picture: Picture) -> None:
        """Frame ``self.index`` is done: its output becomes the previous one, older frames go."""
        self.previous, self.previous_input = written, picture.luma
        with self._reading:
            for old in [i for i in self.decoded if i < self.index]:
                del self.decoded[old]
            for old in [i for i in self.lumas if i < self.index]:
                del self.lumas[old]
        self.index += 1

    def close(self) -> None:
        for future in self.ahead.values():
            future.cancel()
        with self._reading:  # a decode under way in the pool ends first
            close = getattr(self.source, "close", None)
            if close is not None:
                close()


def first_to_dream(plan: OutputPlan, clip: Any, shots: list[Shot]) -> dict[int, int]:
    """Per shot (by its first frame), the first frame to dream: the frames before it are
    written by this run's settings from these inputs. A file among the frames that dreamfx did
    not write is refused now, before any work."""
    done = [plan.store.done(i, clip.digests[i]) for i in range(clip.count)]
    firsts = {}
    for shot in shots:
        f = shot.first
        while f <= shot.last and done[f]:
            f += 1
        firsts[shot.first] = f
    return firsts


def dream_lanes(request: Any, plan: OutputPlan, clip: Any, shots: list[Shot], settings: Any,
                make_dreamer: Callable[[Any], Any], event: FrameEvent, params: dict[str, Any],
                run_hash: str) -> tuple[AnimationRun, Any, Any]:
    """Dream the frames not up to date, lane by lane in batches; measure each pair of
    consecutive frames within a shot. Returns the run, the settings the frames were dreamed
    with (an "auto" map chosen) and the coherence sums."""
    from dreamfx.runs.flow import Coherence

    store, count = plan.store, clip.count
    run = AnimationRun(plan.path, count, folder=store.folder)
    metrics = Coherence()
    if plan.up_to_date:
        run.up_to_date, run.reused = True, count
        return run, settings, metrics
    firsts = first_to_dream(plan, clip, shots)
    shot_of = {}
    for shot in shots:
        shot_of.update({i: shot.first for i in range(shot.first, shot.last + 1)})
    run.reused = sum(firsts[s.first] - s.first for s in shots)
    dreamer: Any = None
    choices: list[int] | None = None
    started = time.perf_counter()
    if run.reused < count:
        event(-1, count)
    groups = lane_ranges(shots, request.lanes)
    with ThreadPoolExecutor(2, thread_name_prefix="dreamfx-flow") as pool, \
            ThreadPoolExecutor(1, thread_name_prefix="dreamfx-io") as writer:
        lanes = [Lane(clip, group, pool) for group in groups]
        width = BatchWidth(len(lanes))
        writes: deque[Future[None]] = deque()
        sums: list[Future[None]] = []  # the coherence metrics' additions

        def landed(wait_for: int) -> None:
            while writes and (writes[0].done() or len(writes) > wait_for):
                writes[0].result()  # Ctrl-C while it waits: the write is still under way, waited for again
                writes.popleft()
                run.dreamed += 1
                event(run.reused + run.dreamed, count)

        def measure(lane: Lane, motion: Any, picture: Picture, written: Picture) -> None:
            if motion is not None and lane.previous is not None and lane.previous_input is not None:
                # off the chain's path: in the writer's thread, in order (the same sums)
                sums.append(writer.submit(metrics.add, lane.previous_input, picture.luma, lane.previous.luma,
                                          written.luma, motion))
            lane.advance(written, picture)

        try:
            while True:
                batch: list[tuple[Lane, int, Picture, Any]] = []
                for ahead in range(AHEAD + 1):  # every lane's next frame first, then the ones after
                    for lane in lanes:
                        lane.want(lane.index + ahead)
                for lane in lanes:
                    while lane.active:
                        index = lane.index
                        lane.want_window()
                        picture, motion = lane.frame(index)
                        if index < firsts[shot_of[index]]:
                            measure(lane, motion, picture, store.read(index))
                            continue
                        batch.append((lane, index, picture, motion))
                        break
                if not batch:
                    break
                if dreamer is None:
                    dreamer = make_dreamer(settings)
                    started = time.perf_counter()  # frames/s counts the dreaming, not TensorFlow's start
                    event(run.reused, count)
                    first = as_picture(lanes[0].decoded[0]) if 0 in lanes[0].decoded else _first(clip)
                    choices = frame_choices(dreamer, first.pixels(dreamer.channels), run)
                    if choices is not None:
                        settings = dreamer.settings_with(choices[0])  # the stored settings hold the map chosen
                starts, towards = [], []
                for lane, index, picture, motion in batch:
                    start, toward = chain_start(request, dreamer, picture, lane.previous, motion)
                    starts.append(start)
                    towards.append(toward)
                keyed = [i for _, i, _, _ in batch] if keyframe_choices(dreamer, 0) is not None else None
                results = dream_step(run, dreamer, starts, towards, keyed or choices,
                                     [f"frame {i} of {clip.source}" for _, i, _, _ in batch],
                                     width(len(batch), max(lane.last - i + 1 for lane, i, _, _ in batch)),
                                     pulled(request))
                for (lane, index, picture, motion), result in zip(batch, results):
                    composed, meta = frame_output(request, settings, picture, result, run_hash=run_hash,
                                                  params=params, index=index, count=count,
                                                  input_name=clip.names[index], input_digest=clip.digests[index])
                    writes.append(writer.submit(store.write, index, composed, meta))
                    measure(lane, motion, picture, to_picture(composed))  # as a rerun reads it back
                landed(WRITES_BEHIND * len(batch))
        except KeyboardInterrupt:
            run.interrupted = True
        finally:
            for lane in lanes:
                lane.close()
        while writes:  # the writes under way land (each is atomic), whatever happens
            try:
                landed(0)
            except KeyboardInterrupt:
                run.interrupted = True
    for added in sums:
        added.result()
    run.seconds = time.perf_counter() - started
    return run, settings, metrics


def _first(clip: Any) -> Picture:
    """The clip's first frame (an "auto" map is chosen from it), decoded on its own."""
    source = clip.frames(0)
    try:
        return as_picture(next(source))
    finally:
        getattr(source, "close", lambda: None)()
