"""Optimal input patterns: what an objective "wants to see", grown from random noise.

This is the article's OIP experiment ("four patterns to which map 56 reacts strongly"):
no photo, only the optimizer, starting from different noise images in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pipeline import Dreamer
from .scaling import Geometry


@dataclass
class PatternResult:
    patterns: np.ndarray  # (n, h, w) in [0, 1]
    start: np.ndarray  # (n, h, w): the noise each pattern grew from
    before: np.ndarray  # (n,): objective on the noise
    after: np.ndarray  # (n,): objective on the pattern


def grow_patterns(dreamer: Dreamer, count: int, rounds: int, noise: float = 0.2) -> PatternResult:
    """Run ``rounds`` optimizer calls on ``count`` noise images (grey 0.5 +- ``noise``)."""
    import tensorflow as tf

    h, w = dreamer.model_info.input_size
    with tf.device(dreamer.device):
        start = tf.random.stateless_uniform(
            [count, h, w, dreamer.channels], seed=[dreamer.settings.seed, 7919],
            minval=0.5 - noise, maxval=0.5 + noise,
        )
        views = start
        for round_index in range(rounds):
            views = dreamer.ascend(views, round_index, Geometry((h, w))).canvas
        score = lambda v: dreamer.objective(dreamer.features(v, training=False)).numpy()  # noqa: E731
        return PatternResult(views.numpy()[..., 0], start.numpy()[..., 0], score(start), score(views))
