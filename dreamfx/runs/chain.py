"""One step of a video's chains, shared by the local lanes (:mod:`dreamfx.runs.lanes`) and a
cluster worker (:mod:`dreamfx.runs.videoworker`): where each frame's dream starts and what it
is pulled toward (:func:`chain_start`), the frames of every lane dreamed as one batch
(:func:`dream_step`) and a dream turned into the frame as written, with its provenance
(:func:`frame_output`). Both paths call these, so a frame's pixels do not depend on where it
was dreamed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PIL import Image

from dreamfx.errors import ImageError
from dreamfx.io.images import compose, Picture, to_picture
from dreamfx.runs.frames import AnimationRun, frame_metadata, note_silence
from dreamfx.runs.outcomes import interruptible

#: Frames the lanes still running must have left before a video's batch narrows as lanes end
#: (:class:`BatchWidth`).
NARROW_AFTER = 32


def pulled(options: Any) -> bool:
    """Whether a video with these options pulls frames toward the previous output (its
    ``blend`` and ``temporal`` both on): :func:`chain_start` gives a term for every frame
    but a shot's first."""
    return options.blend > 0 and options.temporal > 0


def as_picture(rgb: np.ndarray) -> Picture:
    """A decoded RGB frame (uint8, H x W x 3) as a picture."""
    return to_picture(Image.fromarray(rgb, "RGB"))


def chain_start(options: Any, dreamer: Any, picture: Picture, previous: Picture | None,
                motion: Any) -> tuple[np.ndarray, Any]:
    """Where frame ``picture``'s dream starts and what its ascent is pulled toward (None: no
    pull). ``previous``: the previous frame's output as written (None at a shot's start);
    ``motion``: the flow into this frame (a :class:`dreamfx.runs.flow.Motion`, None at a
    shot's start). ``options``: the video's ``blend``, ``flow`` and ``temporal``."""
    from dreamfx.runs.flow import blend_start, temporal_term

    frame = picture.pixels(dreamer.channels)
    if motion is None or previous is None or options.blend <= 0:
        return frame, None
    carried = motion if options.flow == "farneback" else None
    before = previous.pixels(dreamer.channels)
    warped = None if carried is None else carried.carry(before)  # once, for both
    toward = temporal_term(before, carried, options.temporal, warped) if options.temporal > 0 else None
    return blend_start(frame, before, carried, options.blend, warped), toward


class BatchWidth:
    """The width of each step's batch: the frames of the lanes still running, padded with
    copies of the first (dropped after). A width is a batch shape, and a new shape costs about
    ten steps' time (its first two dreams run round by round, the third traces the whole
    dream: :class:`~dreamfx.engine.whole.WholeDreams`). So as lanes end the batch keeps its
    width, and narrows (to a power of two) only when the lanes still running have at least
    :data:`NARROW_AFTER` frames left: a long last shot is not dreamed eight times over."""

    def __init__(self, lanes: int) -> None:
        self.width = lanes

    def __call__(self, running: int, left: int) -> int:
        """The width for a step of ``running`` lanes, the longest with ``left`` frames to go (this one included)."""
        narrower = 1 << (running - 1).bit_length()
        if narrower < self.width and left >= NARROW_AFTER:
            self.width = narrower
        return max(self.width, running)


def dream_step(run: AnimationRun, dreamer: Any, images: list[np.ndarray], towards: list[Any],
               choices: list[int] | None, where: list[str], width: int, pulls: bool,
               mask: Any = None) -> list[Any]:
    """One step of every lane: the frames dreamed as one batch of ``width`` (see
    :class:`BatchWidth`), interruptible, timed into ``run.dream_seconds``; a non-finite result
    refused, a silent one counted. ``pulls`` (:func:`pulled`): the video pulls frames, so a
    step of shots' first frames only is dreamed with a pull of weight 0 (which adds exactly
    0): one compiled dream serves every step. ``mask``: the settings' mask with its bytes (a
    cluster worker's: :class:`~dreamfx.engine.masks.MaskFile`), applied to every frame
    instead of reading its path."""
    from dreamfx.engine.pull import Toward

    began = time.perf_counter()
    padded = images + [images[0]] * (width - len(images))
    # one choice for all (an "auto" map chosen once), or one per image (map keyframes: its frame)
    each = None if choices is None else (choices * len(padded) if len(choices) == 1 and len(images) > 1
                                         else choices + [choices[0]] * (width - len(choices)))
    pulls_each = towards + [None] * (width - len(towards))
    if pulls and all(toward is None for toward in pulls_each):
        pulls_each[0] = Toward(images[0], np.zeros(images[0].shape[:2], np.float32))
    masks = {} if mask is None else {"masks": [mask] * width}
    results = interruptible(lambda: dreamer.dream_batch(padded, choices=each, toward=pulls_each,
                                                        **masks))[:len(images)]
    run.dream_seconds += time.perf_counter() - began
    for result, name in zip(results, where):
        if result.problem is not None:
            raise ImageError(f"{name}: {result.problem}")
        note_silence(run, result)
    return results


def frame_output(options: Any, settings: Any, picture: Picture, result: Any, *, run_hash: str,
                 params: dict[str, Any], index: int, count: int, input_name: str,
                 input_digest: str | None) -> tuple[Image.Image, dict[str, Any]]:
    """Frame ``index`` as written (the dream composed with the frame by ``options.color``) and
    its provenance."""
    composed = compose(picture, result.image, options.color)
    meta = frame_metadata(settings, result, color=options.color, run_hash=run_hash, kind="video", params=params,
                          index=index, count=count, input_name=input_name, input_digest=input_digest)
    return composed, meta
