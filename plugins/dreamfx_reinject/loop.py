"""The article's loop: optimise, upscale, re-add lost detail, downscale again, repeat."""

from __future__ import annotations

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.loop import LoopResult
from dreamfx.optimize import BoundStep
from dreamfx.scaling import Scaler


class ReinjectLoop:
    """``rounds`` rounds of: optimise views; back to full size; add detail; back to views.

    The detail (what one scaling round trip loses) is computed once from the original, so
    with zero optimizer steps the result is the input (up to float rounding).
    """

    def __init__(self, rounds: int = 4) -> None:
        if rounds < 1:
            raise SettingsError(f"loop.rounds must be at least 1, got {rounds}")
        self.rounds = rounds

    def __call__(self, images: tf.Tensor, scaler: Scaler, step: BoundStep) -> LoopResult:
        size = (int(images.shape[1]), int(images.shape[2]))
        views = scaler.to_views(images)
        detail = images - scaler.from_views(views, size)
        result = dream = images
        for round_index in range(self.rounds):
            if round_index:
                views = scaler.to_views(result)
            views = step(views, round_index)
            dream = scaler.from_views(views, size)
            result = tf.clip_by_value(dream + detail, 0.0, 1.0)
        return LoopResult(image=result, pattern=views, dream=dream, detail=detail)
