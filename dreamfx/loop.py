"""What a dream loop is: rounds of optimisation combined with rescaling.

The loop owns the recipe (how many rounds, what happens between them); the scaler owns
geometry, the bound optimizer step owns the gradient ascent. All tensors stay on the
device TensorFlow placed them on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .optimize import BoundStep
from .scaling import Scaler


@dataclass
class LoopResult:
    """The result of a loop, with the intermediates the article's figure shows.

    All are tensors of shape ``(B, H, W, C)`` except ``pattern``: the finest level's
    optimised canvas (for the downscale strategy, the 28x28 pattern).
    """

    image: Any  # the result: dream with the lost detail re-added, clipped to [0, 1]
    pattern: Any  # the last round's optimised canvas
    dream: Any  # that canvas put back at full size (blurry, before re-adding detail)
    detail: Any  # what the last level's round trip loses: x - from_canvas(to_canvas(x))


class DreamLoop(Protocol):
    def __call__(self, images: Any, scaler: Scaler, step: BoundStep) -> LoopResult:
        """Dream a batch of images ``(B, H, W, C)`` in [0, 1]."""
