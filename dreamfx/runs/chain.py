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
    toward = temporal_term(before, carried, options.temporal) if options.temporal > 0 else None
    return blend_start(frame, before, carried, options.blend), toward


def dream_step(run: AnimationRun, dreamer: Any, images: list[np.ndarray], towards: list[Any],
               choices: list[int] | None, where: list[str], lanes: int) -> list[Any]:
    """One step of every lane: the frames dreamed as one batch, interruptible, timed into
    ``run.dream_seconds``; a non-finite result refused, a silent one counted. As lanes end,
    the batch is padded (with copies of its first frame, dropped after) to a power of two or
    to the number of lanes, so that a clip compiles a few batch shapes, not one per width
    (a new shape's first dreams run eagerly and trace: seconds each)."""
    began = time.perf_counter()
    width = min(lanes, 1 << (len(images) - 1).bit_length())  # few batch shapes: each is compiled once
    padded = images + [images[0]] * (width - len(images))
    # one choice for all (an "auto" map chosen once), or one per image (map keyframes: its frame)
    each = None if choices is None else (choices * len(padded) if len(choices) == 1 and len(images) > 1
                                         else choices + [choices[0]] * (width - len(choices)))
    pulls = towards + [None] * (width - len(towards))
    results = interruptible(lambda: dreamer.dream_batch(padded, choices=each, toward=pulls))[:len(images)]
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
