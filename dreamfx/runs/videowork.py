"""``dreamfx video --cluster``: the client's side. The shots still to dream, handed to an
executor (the ``dask`` one, :mod:`dreamfx.kinds.executors`) as tasks of whole shots.

The client plans as a local run does (:mod:`dreamfx.runs.video`: the clip, its shots, the
output, the frames already written). :class:`VideoWork` groups the shots still to dream into
about :data:`TASKS_PER_THREAD` tasks per worker thread (:func:`~dreamfx.runs.shots.lane_ranges`),
each carrying its input frames as PNG bytes and, for a shot resumed part-way, the previous
frame's output as written, so no shared filesystem is needed. A worker dreams each task's
shots as lanes (:func:`dreamfx.runs.videoworker.dream_shots`) and returns the frames encoded;
the client writes each atomically (:meth:`FrameStore.write_encoded`). The coherence metrics
are measured by the client once every frame is written (:func:`measure_shots`). Ctrl-C:
the frames written stay, a rerun resumes each shot after its last. A lost scheduler, no
worker left, or a task that failed again and again: one line (the folder runs' words), the
frames written kept.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import numpy as np
from PIL import Image

from dreamfx.errors import ImageError
from dreamfx.runs.frames import AnimationRun, FrameEvent, OutputPlan
from dreamfx.runs.shots import lane_ranges, Shot
from dreamfx.runs.videoworker import ChainOptions, dream_shots, ShotWork, VideoTask

#: Tasks per worker thread: whole shots, so a few per thread balance shots of unequal length.
TASKS_PER_THREAD = 2
#: Frames a task holds, about, at most (a shot longer than this is still one task): a long
#: clip is cut into many tasks, so the client and a worker hold a few tasks' frames at a time,
#: not the clip's.
TASK_FRAMES = 120
#: The input frames' PNG compression: lossless at every level, level 1 is the quickest.
INPUT_PNG_LEVEL = 1


def _png(rgb: np.ndarray) -> bytes:
    from dreamfx.io.writing import encode_image

    return encode_image(Image.fromarray(rgb, "RGB"), "PNG", None, INPUT_PNG_LEVEL)


class VideoWork:
    """A video's shots to dream, handed to an executor: the work protocol of
    :class:`dreamfx.runs.folderwork.FolderWork` (``tasks``, ``finish``, ``fail``, ...)."""

    def __init__(self, request: Any, plan: OutputPlan, clip: Any, shots: list[Shot], firsts: dict[int, int],
                 settings: Any, host: Any, run: AnimationRun, event: FrameEvent, params: dict[str, Any],
                 run_hash: str) -> None:
        self.request, self.plan, self.clip, self.host, self.run, self.event = request, plan, clip, host, run, event
        self.settings, self.params, self.run_hash = settings, params, run_hash
        self.todo = [Shot(firsts[s.first], s.last) for s in shots if firsts[s.first] <= s.last]
        self.shot_of = {firsts[s.first]: s for s in shots}
        self.debug = False
        self.threads = 1  # set by the executor before the first task is made
        self.stopped: str | None = None
        self.problem: str | None = None
        self.chosen_settings: Any = None
        self.started: float | None = None

    @property
    def worker_function(self) -> Any:
        return dream_shots

    @property
    def check_function(self) -> Any:
        from dreamfx.runs.worker import check_worker

        return check_worker

    @property
    def requirements(self) -> Any:
        from dreamfx.runs.folderwork import requirements_for

        return requirements_for(self.host, self.settings)

    def run_here(self) -> None:
        raise ImageError("dreamfx video dreams in this process without --cluster")

    def tasks(self) -> Iterator[VideoTask]:
        """The shots to dream as tasks, in the clip's order (one pass over its frames)."""
        from dreamfx.engine.masks import settings_mask, with_bytes
        from dreamfx.io.images import read_input_bytes

        clip, request = self.clip, self.request
        self.started = time.perf_counter()
        self.event(self.run.reused, clip.count)
        source = clip.frames(0)
        try:
            first_rgb = next(source)
            first = _png(first_rgb)
            frames: dict[int, np.ndarray] = {0: first_rgb}
            at = 1  # the next frame the source gives
            options = ChainOptions(request.blend, request.flow, request.temporal, request.color)
            requirements = self.requirements
            mask = with_bytes(settings_mask(self.settings))  # sent, never read by path on a worker
            frames_to_do = sum(s.last - s.first + 1 for s in self.todo)
            groups = max(1, self.threads * TASKS_PER_THREAD, -(-frames_to_do // TASK_FRAMES))
            for group in lane_ranges(self.todo, groups):
                works = []
                for part in group:
                    shot = self.shot_of[part.first]
                    base = max(shot.first, part.first - 1)
                    while at <= part.last:
                        rgb = next(source)
                        if at >= base:
                            frames[at] = rgb
                        at += 1
                    previous = (read_input_bytes(self.plan.store.path(part.first - 1))
                                if part.first > shot.first else None)  # the frame a rerun resumes from
                    works.append(ShotWork(shot.first, shot.last, part.first,
                                          [_png(frames[i]) for i in range(base, part.last + 1)], previous))
                    frames = {i: f for i, f in frames.items() if i > part.last}
                indices = [i for w in works for i in range(w.start, w.last + 1)]
                yield VideoTask(self.settings, options, works, self.run_hash, self.params, clip.count,
                                str(clip.source), {i: clip.names[i] for i in indices},
                                {i: clip.digests[i] for i in indices}, first, request.lanes, request.device,
                                requirements, mask)
        finally:
            getattr(source, "close", lambda: None)()

    def finish(self, task: VideoTask, result: Any) -> None:
        """Write the frames a worker returned for ``task``, atomically, in order."""
        run, store = self.run, self.plan.store
        if result.chosen is not None:
            self.chosen_settings, run.chosen = result.settings, result.chosen
        run.dream_seconds += result.dream_seconds
        for frame in result.frames:
            store.write_encoded(frame.index, frame.data, frame.metadata)
            if frame.silence is not None:
                run.silences.append(frame.silence)
            run.dreamed += 1
            self.event(run.reused + run.dreamed, run.frames)
        if result.reason is not None:
            self.fail(task, result.reason)

    def fail(self, task: VideoTask, reason: str) -> None:
        if self.problem is None:
            spans = ", ".join(f"{s.first}-{s.last}" for s in task.shots)
            self.problem = f"shots {spans} of {self.clip.source}: {reason}"

    def fail_rest(self, reason: str) -> None:
        if self.problem is None:
            self.problem = reason

    def status(self, text: str) -> None:
        """Where the dreams happen (the workers and threads the cluster has): said by the
        frame event's ``status``, when it has one (the command line's progress prints it)."""
        say = getattr(self.event, "status", None)
        if say is not None:
            say(text)

    def stop(self, message: str) -> None:
        self.stopped = message


def dream_on_cluster(executor: Any, request: Any, plan: OutputPlan, clip: Any, shots: list[Shot], settings: Any,
                     host: Any, event: FrameEvent, params: dict[str, Any],
                     run_hash: str) -> tuple[AnimationRun, Any, Any]:
    """What :func:`dreamfx.runs.lanes.dream_lanes` does, on ``executor``'s workers: the run,
    the settings the frames were dreamed with and the coherence sums."""
    from dreamfx.runs.flow import Coherence
    from dreamfx.runs.lanes import first_to_dream

    run = AnimationRun(plan.path, clip.count, folder=plan.store.folder)
    if plan.up_to_date:
        run.up_to_date, run.reused = True, clip.count
        return run, settings, Coherence()
    firsts = first_to_dream(plan, clip, shots)
    run.reused = sum(firsts[s.first] - s.first for s in shots)
    work = VideoWork(request, plan, clip, shots, firsts, settings, host, run, event, params, run_hash)
    if work.todo:
        event(-1, clip.count)
        try:
            executor.run(work)
        except KeyboardInterrupt:
            run.interrupted = True
        run.seconds = time.perf_counter() - (work.started or time.perf_counter())
        if run.interrupted:
            return run, work.chosen_settings or settings, Coherence()
        why = work.stopped or (f"{work.problem}; finished frames are complete, run again to resume"
                               if work.problem else None)
        if why is not None:
            raise ImageError(why)
    return run, work.chosen_settings or settings, measure_shots(clip, plan, shots)


def measure_shots(clip: Any, plan: OutputPlan, shots: list[Shot]) -> Any:
    """The coherence of every pair of consecutive frames within a shot, from the inputs and
    the frames as written (:class:`dreamfx.runs.flow.Coherence`)."""
    from dreamfx.runs.chain import as_picture
    from dreamfx.runs.flow import Coherence, Motion

    metrics = Coherence()
    starts = {s.first for s in shots}
    source = clip.frames(0)
    before: Any = None
    try:
        for index, rgb in enumerate(source):
            now = (as_picture(rgb).luma, plan.store.read(index).luma)
            if before is not None and index not in starts:
                metrics.add(before[0], now[0], before[1], now[1], Motion.between(before[0], now[0]))
            before = now
    finally:
        getattr(source, "close", lambda: None)()
    return metrics
