"""Gradient ascent on the input, with the whole step loop inside one ``tf.function``.

The optimizer works on a scaling level's *canvas* (see :mod:`dreamfx.scaling`). Each
step: shift the canvas by a random roll (up to one tile, so tile borders move) plus jitter;
cut it into model-sized views; take the gradient of the objective with respect to the
views, in chunks of at most ``chunk`` views so memory stays bounded; put the gradient back
together and undo the shift; normalise it per image by its standard deviation (so the step
size means "change per pixel per step" whatever the layer's scale); optionally blur it;
step; clip to the model's input range [0, 1].

Randomness is stateless and derived from (seed, round, step): the same seed gives the same
output. The compiled function is traced once per canvas shape, never per step or round.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.objectives import Objective
from dreamfx.optimize import BoundStep
from dreamfx.scaling import Geometry, merge_views, split_views


class OIPOptimizer:
    """Normalised-gradient ascent on the model input ("optimal input patterns")."""

    def __init__(self, steps: int = 20, step_size: float = 0.02, jitter: int = 1, blur: float = 0.0,
                 chunk: int = 128) -> None:
        if steps < 0:
            raise SettingsError(f"optimizer.steps must be 0 or more, got {steps}")
        if step_size <= 0:
            raise SettingsError(f"optimizer.step_size must be positive, got {step_size}")
        if jitter < 0:
            raise SettingsError(f"optimizer.jitter must be 0 or more pixels, got {jitter}")
        if blur < 0:
            raise SettingsError(f"optimizer.blur must be 0 (off) or a positive sigma, got {blur}")
        if chunk < 1:
            raise SettingsError(f"optimizer.chunk must be at least 1 view, got {chunk}")
        self.steps, self.step_size, self.jitter, self.blur, self.chunk = steps, step_size, jitter, blur, chunk

    def bind(self, feature_model: Any, objective: Objective, seed: int) -> BoundStep:
        run = _compile(feature_model, objective, self.jitter, self.blur, self.chunk)
        steps = tf.constant(self.steps, tf.int32)
        step_size = tf.constant(self.step_size, tf.float32)

        def step(canvas: tf.Tensor, round_index: int, geometry: Geometry) -> tf.Tensor:
            seeds = tf.constant([seed, round_index], tf.int64)
            view_size = None if geometry.view_size is None else tuple(int(v) for v in geometry.view_size)
            return run(tf.convert_to_tensor(canvas, tf.float32), steps, step_size, seeds, int(geometry.roll), view_size)

        step.compiled = run  # type: ignore[attr-defined]
        return step


def _gaussian_kernel(sigma: float) -> tf.Tensor:
    radius = max(1, int(round(3 * sigma)))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-0.5 * (x / sigma) ** 2)
    k = k / tf.reduce_sum(k)
    return tf.reshape(k[:, None] * k[None, :], [2 * radius + 1, 2 * radius + 1, 1, 1])


def _compile(feature_model: Any, objective: Objective, jitter: int, blur: float, chunk: int) -> Any:
    """Build the compiled step loop for one feature model and objective (traced per canvas
    shape and view size: ``view_size`` None means the whole canvas is one view)."""
    kernel = _gaussian_kernel(blur) if blur > 0 else None

    def view_gradient(views: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(views)
            score = tf.reduce_sum(objective(feature_model(views, training=False)))
        return tape.gradient(score, views)

    def looped_gradient(views: tf.Tensor) -> tf.Tensor:
        count = tf.shape(views)[0]
        chunks = (count + chunk - 1) // chunk
        parts = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)

        def body(i: tf.Tensor, parts: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
            part = views[i * chunk : tf.minimum((i + 1) * chunk, count)]
            return i + 1, parts.write(i, view_gradient(part))

        _, parts = tf.while_loop(lambda i, _: i < chunks, body, (tf.constant(0), parts))
        return tf.reshape(parts.concat(), tf.shape(views))

    def chunked_gradient(views: tf.Tensor) -> tf.Tensor:
        """The gradient for all views, at most ``chunk`` of them through the network at once.
        A batch that fits in one chunk skips the chunk loop (its per-step cost matters for
        small dreams); when the count is only known at run time, a cond picks the path."""
        count = views.shape[0]
        if count is not None:
            return view_gradient(views) if count <= chunk else looped_gradient(views)
        return tf.cond(tf.shape(views)[0] <= chunk, lambda: view_gradient(views), lambda: looped_gradient(views))

    @tf.function(reduce_retracing=True)
    def run(canvas: tf.Tensor, steps: tf.Tensor, step_size: tf.Tensor, seeds: tf.Tensor, roll: int,
            view_size: tuple[int, int] | None) -> tf.Tensor:
        single_view = view_size is not None and tuple(canvas.shape[1:3]) == view_size

        def body(i: tf.Tensor, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            shift = None
            if jitter or roll:
                rng = tf.stack([seeds[0], seeds[1] * 1_000_003 + tf.cast(i, tf.int64)])
                shift = tf.random.stateless_uniform([2], seed=rng, minval=-jitter, maxval=jitter + 1 + roll,
                                                    dtype=tf.int32)
                x_in = tf.roll(x, shift, axis=[1, 2])
            else:
                x_in = x
            if view_size is None or single_view:
                grad = chunked_gradient(x_in)
            else:
                grad = merge_views(chunked_gradient(split_views(x_in, view_size)), tf.shape(x), view_size)
            g = grad if shift is None else tf.roll(grad, -shift, axis=[1, 2])
            if kernel is not None:
                g = tf.nn.depthwise_conv2d(g, tf.tile(kernel, [1, 1, tf.shape(g)[-1], 1]), [1, 1, 1, 1], "SAME")
            g = g / (tf.math.reduce_std(g, axis=[1, 2, 3], keepdims=True) + 1e-8)
            return i + 1, tf.clip_by_value(x + step_size * g, 0.0, 1.0)

        _, out = tf.while_loop(lambda i, x: i < steps, body, (tf.constant(0), canvas))
        return out

    return run
