"""Optimal input patterns: what an objective "wants to see", grown from random noise.

This is the article's OIP experiment ("four patterns to which map 56 reacts strongly"):
no photo, only the optimizer, starting from different noise images in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .pipeline import Dreamer
from .scaling import Geometry


@dataclass
class PatternResult:
    patterns: np.ndarray  # (n, h, w) in [0, 1]
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
        return PatternResult(views.numpy()[..., 0], score(start), score(views))


def write_grid(dreamer: Dreamer, result: PatternResult, rounds: int, path: Path) -> tuple[str, list[str]]:
    """Write the patterns as one labelled grid image with its provenance (``dreamfx oip``);
    return its title and the label of each pattern."""
    from . import __version__
    from .imageio import write_image_atomic
    from .panel import render_grid

    settings = dreamer.settings
    labels = [f"#{i + 1}: {after:.3g} (noise {before:.2g})" for i, (before, after) in enumerate(zip(result.before, result.after))]
    title = (f"{dreamer.objective.describe()}: {rounds} x {getattr(dreamer.optimizer, 'steps', '?')} steps from noise, "
             f"seed {settings.seed}")
    metadata = {"dreamfx_version": __version__, "command": "oip", "settings": settings.to_dict(),
                "settings_hash": settings.digest(), "scores": [float(a) for a in result.after]}
    write_image_atomic(path, render_grid(result.patterns, labels, title), metadata)
    return title, labels
