"""``dreamfx video``: dream a clip so that the dream's strokes move with the scene.

Each frame's dream starts from the frame blended with the previous frame's dream, warped onto
it by dense optical flow, except where the forward-backward consistency check masks the
carried-over dream out (disocclusions, motion boundaries: those pixels start from the raw
frame), and its ascent is pulled toward that warped previous output on the same pixels, a
term the engine adds to the objective (``temporal``: :mod:`dreamfx.runs.flow`,
:mod:`dreamfx.engine.pull`). Hard cuts split the clip into shots
(:mod:`dreamfx.runs.shots`); a shot's first frame starts from itself, and the shots' chains
advance side by side as lanes of one batch (:mod:`dreamfx.runs.lanes`), or on Dask
workers with ``cluster`` (:mod:`dreamfx.runs.videowork`). Frames are outputs
with provenance (:class:`~dreamfx.runs.frames.FrameStore`); a rerun resumes each shot after its
last finished frame, reading it back. A report.json lists the shots (:func:`report_path`).

The input is an MP4 (any video PyAV reads: frame rate, size and audio are kept) or a folder
of same-sized images (:mod:`dreamfx.runs.clips`). It is planned first (every frame decoded
once, a bad frame or an unreadable video one error before any dream, the cuts found), then
decoded again as it is dreamed, in a window per lane that does not grow with the clip.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


from dreamfx.errors import ImageError, SettingsError
from dreamfx.io.metadata import provenance_of
from dreamfx.runs.clips import Clip, scan_clip, still_image  # noqa: F401 (still_image: the tests' and API's)
from dreamfx.runs.encoders import write_animation
from dreamfx.runs.frames import animation_hash, AnimationRun, FrameEvent, frames_of, output_kind, prepare_output
from dreamfx.runs.keys import AnimationOptions
from dreamfx.runs.lanes import dream_lanes
from dreamfx.runs.shots import as_json, shots_summary
from dreamfx.runs.writes import refuse_existing

#: What makes a report.json dreamfx's (a rerun may replace it).
REPORT_KEYS = ("dreamfx_version", "shots")

FLOWS = ("farneback", "none")
#: What ``dreamfx video`` writes besides a folder of frames.
VIDEO_FORMATS = ("MP4",)
#: The default weight of the temporal term (``--temporal``): it meets issue 27's target.
TEMPORAL = 0.5
#: Shots dreamed side by side by default (``--lanes``), and at most.
LANES, MAX_LANES = 16, 256


@dataclass(frozen=True)
class VideoRequest(AnimationOptions):
    """The options of ``dreamfx video``."""

    source: str
    output: str
    blend: float = 0.5
    flow: str = "farneback"
    fps: float | None = None  # a folder of frames: its frame rate (default 24); a video: overrides its own
    #: Each frame's dream pulled toward the previous output, warped, on consistent pixels (0: off).
    temporal: float = TEMPORAL
    #: Shots dreamed side by side, at most (one batch; on a cluster, per task).
    lanes: int = LANES
    #: Dream the shots on a Dask cluster: local:N or a scheduler's address (docs/cluster.md); None: here.
    cluster: str | None = None

    def check(self) -> None:
        self.check_animation()
        if not (math.isfinite(self.blend) and 0.0 <= self.blend <= 1.0):
            raise SettingsError(f"--blend must be between 0 (dream every frame afresh) and 1, got {self.blend}")
        if not (math.isfinite(self.temporal) and 0.0 <= self.temporal < 1.0):
            raise SettingsError(f"--temporal must be at least 0 (off) and below 1, got {self.temporal}")
        if not 1 <= self.lanes <= MAX_LANES:
            raise SettingsError(f"--lanes must be 1 to {MAX_LANES}, got {self.lanes}")
        if self.flow not in FLOWS:
            raise SettingsError(f"--flow must be one of {', '.join(FLOWS)}, got {self.flow!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and 0.1 <= self.fps <= 240):
            raise SettingsError(f"--fps must be between 0.1 and 240, got {self.fps}")


def run_video(request: VideoRequest, host: Any, make_dreamer: Callable[[Any], Any],
              event: FrameEvent | None = None) -> AnimationRun:
    """Plan everything (no TensorFlow), dream the frames not up to date, write the output,
    and measure the clip's coherence. Ctrl-C: finished frames stay, ``interrupted``."""
    from dreamfx.runs.flow import require_cv2

    event = event or (lambda done, total: None)
    request.check()
    require_cv2()  # the metrics need flow even with --flow none
    settings = request.settings(host)
    executor = _executor(request.cluster, host)  # a bad address is a usage error before the clip is read
    output_kind(request.output, VIDEO_FORMATS, "dreamfx video")  # a wrong format before the clip is read
    source = Path(request.source)
    if not source.exists():
        raise ImageError(f"input {source} does not exist")
    if not source.is_dir() and still_image(source):
        raise SettingsError(f"input {source} is a still image, not a video: dream it with 'dreamfx run {source}', "
                            f"or zoom into it with 'dreamfx zoom {source} --frames N -o OUT.mp4'")
    clip = scan_clip(source, request.fps, request.max_pixels)
    params = {"blend": request.blend, "flow": request.flow, "temporal": request.temporal}
    run_hash = animation_hash(settings, request.color, "video", params)
    inputs = [source] if not source.is_dir() else [source, *clip.files]
    clip_digest = hashlib.sha256("".join(clip.digests).encode()).hexdigest()
    path, fmt = output_kind(request.output, VIDEO_FORMATS, "dreamfx video")
    report = report_path(path, fmt)
    plan = prepare_output(request.output, clip.count, run_hash, request.force, inputs, clip_digest, VIDEO_FORMATS,
                          "dreamfx video", extra=[("the report", report)])
    shots = clip.shots()
    try:
        refuse_existing(report, "the report", request.force, json_keys=REPORT_KEYS)
        if executor is None:
            run, settings, metrics = dream_lanes(request, plan, clip, shots, settings, make_dreamer, event, params,
                                                 run_hash)
        else:
            from dreamfx.runs.videowork import dream_on_cluster

            run, settings, metrics = dream_on_cluster(executor, request, plan, clip, shots, settings, host, event,
                                                      params, run_hash)
    except BaseException:
        plan.discard_created()  # a run that ended before its first frame leaves no folder behind
        raise
    run.note = shots_summary(shots)
    if not run.interrupted and not run.up_to_date:
        if clip.count > 1:
            run.metrics = metrics.as_dict()
        else:  # a clip of one frame (a 1-frame MP4 or folder): no pair to measure, and nothing to flow
            run.note = (f"{clip.source} holds a single frame: it was dreamed as a 1-frame video; flicker and "
                         "warping error need two frames and were not measured")
        _write_report(report, settings, run, run_hash, shots, clip, request)
    if plan.fmt is not None and not run.interrupted:
        meta = provenance_of(settings, animation="video", animation_params=params, run_hash=run_hash,
                             frames=clip.count, fps=str(clip.fps), color=request.color, input=source.name,
                             input_sha256=clip_digest, coherence=run.metrics)
        audio = source if clip.has_audio and not source.is_dir() else None
        write_animation(plan.path, plan.fmt, frames_of(plan.store, clip.count), clip.fps, meta, audio_from=audio)
    return run


def _executor(cluster: str | None, host: Any) -> Any:
    """The ``dask`` executor for ``--cluster`` (checked as ``dreamfx run --cluster`` checks
    it), or None: the shots are dreamed in this process."""
    if not cluster:
        return None
    from dreamfx.runs.dreams import executor_for

    return executor_for("dask", cluster, host)


def report_path(path: Path, fmt: str | None) -> Path:
    """Where a video's report.json goes: in the output folder of frames, or beside the
    animated file (``OUT.mp4.report.json``)."""
    return path / "report.json" if fmt is None else path.with_name(path.name + ".report.json")


def _write_report(path: Path, settings: Any, run: AnimationRun, run_hash: str, shots: list[Any], clip: Clip,
                  request: VideoRequest) -> None:
    """The run's report.json, atomically: provenance, shots (0-based, inclusive), coherence."""
    import json

    from dreamfx.io.writing import write_bytes_atomic

    report = {**provenance_of(settings), "run_hash": run_hash, "input": str(clip.source), "frames": clip.count,
              "dreamed": run.dreamed, "reused": run.reused, "seconds": round(run.seconds, 3),
              "temporal": request.temporal, "blend": request.blend, "flow": request.flow,
              "lanes": min(request.lanes, len(shots)), "shots": as_json(shots), "coherence": run.metrics}
    try:
        write_bytes_atomic(path, json.dumps(report, indent=2).encode())
    except OSError as exc:
        raise ImageError(f"cannot write the report {path}: {exc.strerror or exc}") from None
