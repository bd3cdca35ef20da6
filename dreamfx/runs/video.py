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
of same-sized images (:mod:`dreamfx.runs.clips`). It is planned first (every frame decoded
once, a bad frame or an unreadable video one error before any dream), then decoded again as
it is dreamed. Memory holds a window of frames that does not grow with the clip: the input
frames from the previous one to :data:`AHEAD` after the current one, their flows, the
previous dream and at most :data:`WRITES_BEHIND` frames being written; the coherence metrics
are summed as the frames go.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from dreamfx.config.request import CommonOptions
from dreamfx.errors import ImageError, SettingsError
from dreamfx.io.images import Picture, compose, to_picture
from dreamfx.io.metadata import provenance_of
from dreamfx.runs.clips import Clip, scan_clip, still_image  # noqa: F401 (still_image: the tests' and API's)
from dreamfx.runs.encoders import write_animation
from dreamfx.runs.frames import (animation_hash, AnimationRun, dream_frame, frame_choices, frame_metadata, FrameEvent,
                                 frames_of, output_kind, OutputPlan, prepare_output)

FLOWS = ("farneback", "none")
#: What ``dreamfx video`` writes besides a folder of frames.
VIDEO_FORMATS = ("MP4",)
#: Input frames decoded, and their flow computed, ahead of the frame being dreamed.
AHEAD = 3
#: Frames dreamed and handed to the writer thread but not yet written, at most.
WRITES_BEHIND = 2


@dataclass(frozen=True)
class VideoRequest(CommonOptions):
    """The options of ``dreamfx video``."""

    source: str
    output: str
    blend: float = 0.5
    flow: str = "farneback"
    fps: float | None = None  # a folder of frames: its frame rate (default 24); a video: overrides its own
    max_pixels: int | None = None  # every frame's pixel limit (default: Pillow's decompression-bomb limit)

    def check(self) -> None:
        self.check_common()
        if not (math.isfinite(self.blend) and 0.0 <= self.blend <= 1.0):
            raise SettingsError(f"--blend must be between 0 (dream every frame afresh) and 1, got {self.blend}")
        if self.flow not in FLOWS:
            raise SettingsError(f"--flow must be one of {', '.join(FLOWS)}, got {self.flow!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and 0.1 <= self.fps <= 240):
            raise SettingsError(f"--fps must be between 0.1 and 240, got {self.fps}")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise SettingsError(f"--max-pixels must be a positive number of pixels, got {self.max_pixels}")


def _picture(rgb: np.ndarray) -> Picture:
    return to_picture(Image.fromarray(rgb, "RGB"))


class _Window:
    """The input frames around the one being dreamed, decoded in order: from the previous
    frame to :data:`AHEAD` frames after the current one, with the flow between each and the
    one before it computed in worker threads. Nothing older is held."""

    def __init__(self, clip: Clip, pool: ThreadPoolExecutor) -> None:
        self.count, self.pool = clip.count, pool
        self.source: Iterator[np.ndarray] = clip.frames()
        self.decoded: dict[int, np.ndarray] = {}
        self.motions: dict[int, Future[Any]] = {}
        self.next = 0

    def rgb(self, index: int) -> np.ndarray:
        while self.next <= index:
            self.decoded[self.next] = next(self.source)
            self.next += 1
        return self.decoded[index]

    def want(self, index: int) -> None:
        """Start the flow from frame ``index - 1`` to frame ``index``."""
        from dreamfx.runs.flow import Motion

        if 0 < index < self.count and index not in self.motions:
            before, after = self.rgb(index - 1), self.rgb(index)
            self.motions[index] = self.pool.submit(
                lambda: Motion.between(_picture(before).luma, _picture(after).luma))

    def motion(self, index: int) -> Future[Any]:
        """The flow into frame ``index`` (a future), handed over: the window forgets it."""
        self.want(index)
        return self.motions.pop(index)

    def release(self, index: int) -> None:
        """Frame ``index`` is done: the frames before it are not needed any more."""
        for old in [i for i in self.decoded if i < index]:
            del self.decoded[old]

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


def run_video(request: VideoRequest, host: Any, make_dreamer: Callable[[Any], Any],
              event: FrameEvent | None = None) -> AnimationRun:
    """Plan everything (no TensorFlow), dream the frames not up to date, write the output,
    and measure the clip's coherence. Ctrl-C: finished frames stay, ``interrupted``."""
    from dreamfx.runs.flow import require_cv2

    event = event or (lambda done, total: None)
    request.check()
    require_cv2()  # the metrics need flow even with --flow none
    settings = request.settings(host)
    output_kind(request.output, VIDEO_FORMATS, "dreamfx video")  # a wrong format before the clip is read
    source = Path(request.source)
    if not source.exists():
        raise ImageError(f"input {source} does not exist")
    if not source.is_dir() and still_image(source):
        raise SettingsError(f"input {source} is a still image, not a video: dream it with 'dreamfx run {source}', "
                            f"or zoom into it with 'dreamfx zoom {source} --frames N -o OUT.mp4'")
    clip = scan_clip(source, request.fps, request.max_pixels)
    params = {"blend": request.blend, "flow": request.flow}
    run_hash = animation_hash(settings, request.color, "video", params)
    inputs = [source] if not source.is_dir() else [source, *clip.files]
    clip_digest = hashlib.sha256("".join(clip.digests).encode()).hexdigest()
    plan = prepare_output(request.output, clip.count, run_hash, request.force, inputs, clip_digest, VIDEO_FORMATS,
                          "dreamfx video")
    try:
        run, settings = _dream_clip(request, plan, clip, settings, make_dreamer, event, params, run_hash)
    except BaseException:
        plan.discard_created()  # a run that ended before its first frame leaves no folder behind
        raise
    if plan.fmt is not None and not run.interrupted:
        meta = provenance_of(settings, animation="video", animation_params=params, run_hash=run_hash,
                             frames=clip.count, fps=str(clip.fps), color=request.color, input=source.name,
                             input_sha256=clip_digest, coherence=run.metrics)
        audio = source if clip.has_audio and not source.is_dir() else None
        write_animation(plan.path, plan.fmt, frames_of(plan.store, clip.count), clip.fps, meta, audio_from=audio)
    return run


def _dream_clip(request: VideoRequest, plan: OutputPlan, clip: Clip, settings: Any,
                make_dreamer: Callable[[Any], Any], event: FrameEvent, params: dict[str, Any],
                run_hash: str) -> tuple[AnimationRun, Any]:
    """The frames in order: each decoded, dreamed (or, when up to date, read back) and measured
    against the one before, then let go. Returns the run and the settings the frames were
    dreamed with (an "auto" map chosen)."""
    from dreamfx.runs.flow import blend_start, Coherence

    store, count = plan.store, clip.count
    run = AnimationRun(plan.path, count, folder=store.folder)
    started = time.perf_counter()
    if plan.up_to_date:
        run.up_to_date, run.reused = True, count
        return run, settings
    first = store.first_to_dream(lambda index: clip.digests[index])
    run.reused = first
    use_flow = request.flow == "farneback" and request.blend > 0
    metrics = Coherence()
    dreamer: Any = None
    choices: list[int] | None = None
    first_frame: Picture | None = None
    if first < count:
        event(-1, count)
    with ThreadPoolExecutor(2, thread_name_prefix="dreamfx-flow") as pool, \
            ThreadPoolExecutor(1, thread_name_prefix="dreamfx-io") as writer:
        window = _Window(clip, pool)
        writes: deque[Future[None]] = deque()

        def landed(wait_for: int) -> None:
            """Count the writes that are done, waiting until at most ``wait_for`` are under way
            (a write that failed ends the run with its reason)."""
            while writes and (writes[0].done() or len(writes) > wait_for):
                writes[0].result()  # Ctrl-C while it waits: the write is still under way, waited for again
                writes.popleft()
                run.dreamed += 1
                event(run.reused + run.dreamed, count)

        previous: Picture | None = None  # the previous frame's dream, as written
        previous_input: np.ndarray | None = None
        try:
            for index in range(count):
                picture = _picture(window.rgb(index))
                if index == 0 and first < count:
                    first_frame = picture  # an "auto" map is chosen from it
                for ahead in range(index + 1, min(index + 1 + AHEAD, count)):
                    window.want(ahead)  # while this frame dreams (and, first, while TensorFlow loads)
                motion = window.motion(index) if index > 0 else None
                if index < first:
                    written = store.read(index)
                else:
                    if dreamer is None:
                        dreamer = make_dreamer(settings)
                        started = time.perf_counter()  # frames/s counts the dreaming, not TensorFlow's start
                        event(first, count)
                        assert first_frame is not None
                        choices = frame_choices(dreamer, _pixels(first_frame, dreamer), run)
                        first_frame = None
                        if choices is not None:
                            settings = dreamer.settings_with(choices[0])  # the stored settings hold the map chosen
                    frame = _pixels(picture, dreamer)
                    if previous is None or request.blend <= 0:
                        start = frame
                    else:
                        carried = motion.result() if use_flow and motion is not None else None
                        start = blend_start(frame, _pixels(previous, dreamer), carried, request.blend)
                    result = dream_frame(run, dreamer, start, choices, f"frame {index} of {clip.source}")
                    composed = compose(picture, result.image, request.color)
                    written = to_picture(composed)  # as a rerun reads it back
                    meta = frame_metadata(settings, result, color=request.color, run_hash=run_hash, kind="video",
                                          params=params, index=index, count=count, input_name=clip.names[index],
                                          input_digest=clip.digests[index])
                    writes.append(writer.submit(store.write, index, composed, meta))
                    landed(WRITES_BEHIND)
                if motion is not None and previous is not None and previous_input is not None:
                    metrics.add(previous_input, picture.luma, previous.luma, written.luma, motion.result())
                previous, previous_input = written, picture.luma
                window.release(index)
        except KeyboardInterrupt:
            run.interrupted = True
        finally:
            window.close()
        while writes:  # the writes under way land (each is atomic), whatever happens
            try:
                landed(0)
            except KeyboardInterrupt:
                run.interrupted = True
    run.seconds = time.perf_counter() - started
    if not run.interrupted:
        if count > 1:
            run.metrics = metrics.as_dict()
        else:  # a clip of one frame (a 1-frame MP4 or folder): no pair to measure, and nothing to flow
            run.note = (f"{clip.source} holds a single frame: it was dreamed as a 1-frame video; flicker and "
                        "warping error need two frames and were not measured")
    return run, settings


def _pixels(picture: Picture, dreamer: Any) -> np.ndarray:
    """What a frame's dream starts from, or blends with: the luma, or the RGB for a colour model."""
    if dreamer.channels != 3:
        return picture.luma
    return picture.rgb if picture.rgb is not None else np.repeat(picture.luma[..., None], 3, axis=-1)
