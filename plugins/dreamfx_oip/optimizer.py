"""Gradient ascent on the input, with the whole step loop inside one ``tf.function``.

Each step: roll the views by a random jitter, take the gradient of the objective with
respect to the input, roll it back, normalise it per example by its standard deviation (so
the step size means "pixels of change per step" whatever the layer's scale), optionally
blur it (smoother patterns), step, and clip to the model's input range [0, 1].

Randomness is stateless and derived from (seed, round, step): the same seed gives the same
output, and a compiled function is traced once per view shape, never per image or step.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.objectives import Objective
from dreamfx.optimize import BoundStep


class OIPOptimizer:
    """Normalised-gradient ascent on the model input ("optimal input patterns")."""

    def __init__(self, steps: int = 20, step_size: float = 0.02, jitter: int = 1, blur: float = 0.0) -> None:
        if steps < 0:
            raise SettingsError(f"optimizer.steps must be 0 or more, got {steps}")
        if step_size <= 0:
            raise SettingsError(f"optimizer.step_size must be positive, got {step_size}")
        if jitter < 0:
            raise SettingsError(f"optimizer.jitter must be 0 or more pixels, got {jitter}")
        if blur < 0:
            raise SettingsError(f"optimizer.blur must be 0 (off) or a positive sigma, got {blur}")
        self.steps, self.step_size, self.jitter, self.blur = steps, step_size, jitter, blur

    def bind(self, feature_model: Any, objective: Objective, seed: int) -> BoundStep:
        run = _compile(feature_model, objective, self.jitter, self.blur)
        steps = tf.constant(self.steps, tf.int32)
        step_size = tf.constant(self.step_size, tf.float32)

        def step(views: tf.Tensor, round_index: int) -> tf.Tensor:
            seeds = tf.constant([seed, round_index], tf.int64)
            return run(tf.convert_to_tensor(views, tf.float32), steps, step_size, seeds)

        step.compiled = run  # type: ignore[attr-defined]
        return step


def _gaussian_kernel(sigma: float) -> tf.Tensor:
    radius = max(1, int(round(3 * sigma)))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-0.5 * (x / sigma) ** 2)
    k = k / tf.reduce_sum(k)
    return tf.reshape(k[:, None] * k[None, :], [2 * radius + 1, 2 * radius + 1, 1, 1])


def _compile(feature_model: Any, objective: Objective, jitter: int, blur: float) -> Any:
    """Build the compiled step loop for one feature model and objective."""
    kernel = _gaussian_kernel(blur) if blur > 0 else None

    def gradient(x: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(objective(feature_model(x, training=False)))
        return tape.gradient(score, x)

    @tf.function(reduce_retracing=True)
    def run(views: tf.Tensor, steps: tf.Tensor, step_size: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
        def body(i: tf.Tensor, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            if jitter > 0:
                shift = tf.random.stateless_uniform(
                    [2], seed=tf.stack([seeds[0], seeds[1] * 1_000_003 + tf.cast(i, tf.int64)]),
                    minval=-jitter, maxval=jitter + 1, dtype=tf.int32,
                )
                g = tf.roll(gradient(tf.roll(x, shift, axis=[1, 2])), -shift, axis=[1, 2])
            else:
                g = gradient(x)
            if kernel is not None:
                channels = tf.shape(g)[-1]
                g = tf.nn.depthwise_conv2d(
                    g, tf.tile(kernel, [1, 1, channels, 1]), [1, 1, 1, 1], "SAME"
                )
            g = g / (tf.math.reduce_std(g, axis=[1, 2, 3], keepdims=True) + 1e-8)
            return i + 1, tf.clip_by_value(x + step_size * g, 0.0, 1.0)

        _, out = tf.while_loop(lambda i, x: i < steps, body, (tf.constant(0), views))
        return out

    return run
