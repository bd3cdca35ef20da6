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

    All are tensors of shape ``(B, H, W, C)`` except ``pattern`` (the last optimised views,
    ``(N, h, w, C)``).
    """

    image: Any  # the result: dream with the lost detail re-added, clipped to [0, 1]
    pattern: Any  # the optimised model-sized views of the last round
    dream: Any  # the last round's views put back at full size (blurry, before re-adding detail)
    detail: Any  # what the scaler's round trip loses: original - from_views(to_views(original))


class DreamLoop(Protocol):
    def __call__(self, images: Any, scaler: Scaler, step: BoundStep) -> LoopResult:
        """Dream a batch of images ``(B, H, W, C)`` in [0, 1]."""
