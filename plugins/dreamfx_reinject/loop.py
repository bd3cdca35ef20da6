"""The article's loop: optimise, upscale, re-add lost detail, downscale again, repeat."""

from __future__ import annotations

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.loop import LoopResult
from dreamfx.optimize import BoundStep
from dreamfx.scaling import Scaler


class ReinjectLoop:
    """For each scaling level, coarse to fine, ``rounds`` rounds of: optimise the canvas;
    back to full size; add the detail this level loses; back to the canvas.

    The detail of a level is computed once, from the image as it enters the level, so with
    zero optimizer steps every level returns its input exactly (up to float rounding).
    """

    def __init__(self, rounds: int = 4) -> None:
        if rounds < 1:
            raise SettingsError(f"loop.rounds must be at least 1, got {rounds}")
        self.rounds = rounds

    def __call__(self, images: tf.Tensor, scaler: Scaler, step: BoundStep) -> LoopResult:
        size = (int(images.shape[1]), int(images.shape[2]))
        result = dream = images
        round_index = 0
        for level in scaler.levels(size):
            canvas = level.to_canvas(result)
            detail = result - level.from_canvas(canvas, size)
            for r in range(self.rounds):
                if r:
                    canvas = level.to_canvas(result)
                canvas = step(canvas, round_index, level)
                round_index += 1
                dream = level.from_canvas(canvas, size)
                result = tf.clip_by_value(dream + detail, 0.0, 1.0)
        return LoopResult(image=result, pattern=canvas, dream=dream, detail=detail)
