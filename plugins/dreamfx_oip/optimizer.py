"""Gradient ascent on the input, the step loop compiled and run in bounded pieces.

The optimizer works on a scaling level's *canvas* (see :mod:`dreamfx.scaling`). Each
step: shift the canvas (a tile-grid offset for tiled levels, a jitter otherwise); cut it
into model-sized views; take the gradient of the objective with respect to the views, in
chunks of at most ``chunk`` views so memory stays bounded; put the gradient back together
and undo the shift; normalise it per image by its standard deviation (so the step size
means "change per pixel per step" whatever the layer's scale); optionally blur it; step;
clip to the model's input range [0, 1].

Well-defined steps. On a flat image region every 2x2 max-pooling window holds equal values,
and which one receives the gradient is decided by the last bit of the convolution, which
depends on the instruction set of the matrix-product kernels, on the batch size and on the
view's position. The gradient there is not small (its standard deviation on a flat gray
image is the same as on photos: 0.018 against 0.014-0.026, so no floor on the normaliser
can tell it from a real one); it is *arbitrary*, and the dream amplifies the choice (a flat
image came out up to 250/255 apart under SSE4.1 and AVX2). So the network sees the canvas
plus a fixed pattern (uniform in +-:data:`TIE_BREAK`, tied to canvas coordinates so it
moves with the image): exact ties become differences about 10^5 times larger than float32
rounding, decided the same way on every CPU and in every batch. The pattern is never added
to the canvas itself. What it cannot remove: gradient ascent through ReLUs and max pooling
is chaotic, so a *near* tie that rounding flips (rare on photos, a few per dream on a large
canvas) can still grow; ``tests/test_isa.py`` shows where results are CPU-independent.

Shifts. A tiled level (``roll`` > 0) shifts its canvas by an offset modulo the tile that
follows a low-discrepancy sequence (:func:`step_shift`), so every pixel spends about as many
steps at each position within a tile and the parts of a tile the network sees less (its
VALID borders) do not imprint the tile grid on the dream. The views' gradient is also
evened out per position within a view (divided by the image's RMS gradient at that
position, :func:`_even_out`): on photos that profile runs from 0.2x the mean near a view's
last rows to 1.8x in its middle, and a step of uneven strength per position would print
the grid wherever the offsets are not perfectly balanced (40 steps per hybrid level over 28
offsets). Levels without a grid jitter by up to ``jitter`` pixels.

Bounded calls. Each call of the compiled loop returns to Python in about
:data:`PIECE_SECONDS` (pieces of steps sized from the measured time per canvas pixel), and
a canvas so large that one step would take longer has its step split into several calls
(groups of whole chunks of views), so Ctrl-C and SIGTERM take effect quickly. Pieces and
split steps compute the same operations on the same values as one whole loop: the results
do not depend on the split.

Randomness is stateless and derived from (seed, round, step): the same seed gives the same
output. The compiled functions are traced once per canvas shape, never per step or round.
"""

from __future__ import annotations

import time
from typing import Any

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.interrupts import check_stop
from dreamfx.objectives import Objective
from dreamfx.optimize import BoundStep
from dreamfx.scaling import Geometry, merge_views, split_views

#: Amplitude of the fixed pattern added to what the network sees (not to the image): breaks
#: exact ties of max pooling on flat regions the same way on every CPU. 2**-10 still let
#: synthetic images diverge across instruction sets within 10 steps; 2**-5 (8 levels of
#: 255) did not, and leaves the objective gains on photos as they were (within 3%).
TIE_BREAK = 2.0**-5
#: Aim for compiled calls of about this many seconds, so signals are handled quickly.
PIECE_SECONDS = 0.4
#: Seconds per canvas pixel per step assumed before anything was measured (a slow 2-core
#: CPU measures 6e-7 for tiled canvases).
PRIOR_SECONDS_PER_PIXEL = 1.5e-6

#: Upper bounds of the settings, and why.
LIMITS = {"steps": 100_000, "step_size": 1.0, "jitter": 64, "blur": 16.0, "chunk": 65_536}
WHY = {"steps": "per round", "step_size": "the whole pixel range", "jitter": "pixels",
       "blur": "sigma in pixels", "chunk": "views per network call"}


class OIPOptimizer:
    """Normalised-gradient ascent on the model input ("optimal input patterns")."""

    def __init__(self, steps: int = 20, step_size: float = 0.02, jitter: int = 1, blur: float = 0.0,
                 chunk: int = 128) -> None:
        if steps < 0:
            raise SettingsError(f"optimizer.steps must be 0 or more, got {steps}")
        if not 0 < step_size:  # also NaN
            raise SettingsError(f"optimizer.step_size must be positive, got {step_size}")
        if jitter < 0:
            raise SettingsError(f"optimizer.jitter must be 0 or more pixels, got {jitter}")
        if not 0 <= blur:
            raise SettingsError(f"optimizer.blur must be 0 (off) or a positive sigma, got {blur}")
        if chunk < 1:
            raise SettingsError(f"optimizer.chunk must be at least 1 view, got {chunk}")
        for key, value in (("steps", steps), ("step_size", step_size), ("jitter", jitter), ("blur", blur),
                           ("chunk", chunk)):
            if value > LIMITS[key]:
                raise SettingsError(f"optimizer.{key} must be at most {LIMITS[key]:,g} ({WHY[key]}), got {value}")
        self.steps, self.step_size, self.jitter, self.blur, self.chunk = steps, step_size, jitter, blur, chunk

    def describe(self) -> str:
        """The summary's detail beside "rounds x steps" (the host reads ``steps`` itself)."""
        return f"step size {self.step_size}"

    def bind(self, feature_model: Any, objective: Objective, seed: int) -> BoundStep:
        fns = _compile(feature_model, objective, self.jitter, self.blur, self.chunk)
        run = fns.run
        total = self.steps
        step_size = tf.constant(self.step_size, tf.float32)
        pace = _Pace()

        def step(canvas: tf.Tensor, round_index: int, geometry: Geometry) -> tf.Tensor:
            seeds = tf.constant([seed, round_index], tf.int64)
            view_size = None if geometry.view_size is None else tuple(int(v) for v in geometry.view_size)
            roll = int(geometry.roll)
            x = tf.convert_to_tensor(canvas, tf.float32)
            pixels = int(x.shape[0]) * int(x.shape[1]) * int(x.shape[2])
            views = _view_count(x.shape, view_size)
            done = 0
            while done < total:
                check_stop()  # an interrupted run's abandoned dream ends here
                per_step = pace.rate * pixels
                if per_step > PIECE_SECONDS and views > self.chunk:
                    # one step in several calls, groups of whole chunks of views
                    per_chunk = per_step * self.chunk / views
                    group = self.chunk * max(1, int(PIECE_SECONDS / per_chunk))
                    started, traces = time.perf_counter(), fns.traces()
                    x = fns.split_step(x, done, total, step_size, seeds, roll, view_size, group)
                    pace.update(time.perf_counter() - started, pixels, traces != fns.traces())
                    done += 1
                    continue
                count = min(total - done, max(1, int(PIECE_SECONDS / max(per_step, 1e-12))))
                started, traces = time.perf_counter(), fns.traces()
                position = tf.constant([done, total], tf.int32)
                x = run(x, tf.constant(count, tf.int32), step_size, seeds, roll, view_size, position)
                if done + count < total:  # a last piece need not wait for its result
                    _wait(x)
                    pace.update(time.perf_counter() - started, pixels * count, traces != fns.traces())
                done += count
            return x

        step.compiled = run  # type: ignore[attr-defined]
        step.pace = pace  # type: ignore[attr-defined]
        return step


def _wait(x: tf.Tensor) -> None:
    """Block until ``x`` is computed: eager ops on a CPU are synchronous, on a GPU they are not."""
    if "GPU" in x.device:
        x.numpy()


def _view_count(shape: Any, view_size: tuple[int, int] | None) -> int:
    if view_size is None:
        return int(shape[0])
    return int(shape[0]) * (int(shape[1]) // view_size[0]) * (int(shape[2]) // view_size[1])


class _Pace:
    """Measured seconds per canvas pixel per step (calls that traced are not counted)."""

    def __init__(self) -> None:
        self.rate = PRIOR_SECONDS_PER_PIXEL
        self.measured = False

    def update(self, seconds: float, pixel_steps: int, traced: bool) -> None:
        if traced or pixel_steps <= 0:
            return
        rate = seconds / pixel_steps
        self.rate = rate if not self.measured else max(rate, 0.5 * self.rate + 0.5 * rate)
        self.measured = True


def _gaussian_kernel(sigma: float) -> tf.Tensor:
    radius = max(1, int(round(3 * sigma)))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-0.5 * (x / sigma) ** 2)
    k = k / tf.reduce_sum(k)
    return tf.reshape(k[:, None] * k[None, :], [2 * radius + 1, 2 * radius + 1, 1, 1])


def tie_break_pattern(shape: Any) -> tf.Tensor:
    """The fixed pattern (``shape`` = view height, width, channels) added to what the network sees."""
    return tf.random.stateless_uniform(shape, seed=[20_251_125, 11], minval=-TIE_BREAK, maxval=TIE_BREAK)


#: Weyl-sequence steps per axis (2**32 times the golden ratio's and sqrt(2)'s fractional parts).
WEYL = (2_654_435_769, 1_779_033_703)


def step_shift(seeds: tf.Tensor, k: tf.Tensor, total: Any, jitter: int, roll: Any) -> tf.Tensor | None:
    """The (dy, dx) shift of step ``k`` (of ``total`` per round) in round ``seeds[1]``.

    With a tile grid (``roll`` > 0) the offset modulo the tile follows a Weyl sequence over
    the dream's steps counted one after the other: ``floor(roll * frac(a + n * alpha))``,
    ``a`` random per seed and axis. Any run of consecutive steps (a level's, a round's)
    spreads its offsets evenly over the tile, so every pixel spends about as many steps at
    each position within a tile, and the parts of a tile the network sees less (its VALID
    borders) do not imprint the grid. Exact integer arithmetic: the same on every CPU.
    Otherwise a jitter of up to ``jitter`` pixels (None when there is none)."""

    def grid() -> tf.Tensor:
        index = tf.cast(k, tf.int64) + seeds[1] * tf.cast(total, tf.int64)
        start = tf.random.stateless_uniform([2], seed=tf.stack([seeds[0], tf.constant(7_919, tf.int64)]),
                                            minval=0, maxval=2**32, dtype=tf.int64)
        phase = tf.math.floormod(start + index * tf.constant(WEYL, tf.int64), 2**32)
        return tf.cast(phase * tf.cast(roll, tf.int64) // 2**32, tf.int32)

    def jittered() -> tf.Tensor | None:
        if not jitter:
            return None
        rng = tf.stack([seeds[0], seeds[1] * 1_000_003 + tf.cast(k, tf.int64)])
        return tf.random.stateless_uniform([2], seed=rng, minval=-jitter, maxval=jitter + 1, dtype=tf.int32)

    if isinstance(roll, int):
        return grid() if roll else jittered()
    return tf.cond(roll > 0, grid, lambda: tf.zeros([2], tf.int32) if not jitter else jittered())


class _Compiled:
    """The compiled pieces of one optimizer bound to a model and objective."""

    def __init__(self, run: Any, prepare: Any, gradient: Any, finish: Any) -> None:
        self.run, self._prepare, self._gradient, self._finish = run, prepare, gradient, finish

    def traces(self) -> int:
        return sum(f.experimental_get_tracing_count() for f in (self.run, self._prepare, self._gradient, self._finish))

    def split_step(self, x: tf.Tensor, done: int, total: int, step_size: tf.Tensor, seeds: tf.Tensor, roll: int,
                   view_size: tuple[int, int], group: int) -> tf.Tensor:
        """One step as several calls: the views' gradient ``group`` views (whole chunks) at a time."""
        views, shift = self._prepare(x, seeds, tf.constant(done), tf.constant(total), roll, view_size)
        count = int(views.shape[0])
        parts = []
        for start in range(0, count, group):
            part = self._gradient(views[start : start + group])
            _wait(part)
            parts.append(part)
        grad = tf.concat(parts, axis=0)
        return self._finish(x, grad, shift, step_size, view_size)


def _even_out(grad: tf.Tensor, batch: Any, view_size: tuple[int, int]) -> tf.Tensor:
    """Divide each view's gradient by its image's RMS gradient at that position in a view
    (relative to the mean; at most 2x): the network's VALID convolutions and pooling see
    some positions of a view more than others, and that profile would print the tile grid.
    Per image, so batches equal one-by-one dreams; positions with no gradient stay at 0."""
    h, w = view_size
    per_image = tf.reshape(grad, [batch, -1, h, w, tf.shape(grad)[-1]])
    profile = tf.sqrt(tf.reduce_mean(tf.square(per_image), axis=[1, 4], keepdims=True))
    scale = tf.reduce_mean(profile, axis=[2, 3], keepdims=True)
    return tf.reshape(per_image * tf.math.divide_no_nan(scale, profile + 0.5 * scale), tf.shape(grad))


def _compile(feature_model: Any, objective: Objective, jitter: int, blur: float, chunk: int) -> _Compiled:
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

    def pattern_for(x: tf.Tensor) -> tf.Tensor:
        shape = x.shape[1:]
        return tie_break_pattern(shape if shape.is_fully_defined() else tf.shape(x)[1:])

    def shifted_views(x: tf.Tensor, pattern: tf.Tensor, seeds: tf.Tensor, k: tf.Tensor, total: tf.Tensor, roll: Any,
                      view_size: tuple[int, int] | None) -> tuple[tf.Tensor, tf.Tensor | None]:
        """What the network sees at step ``k``: the canvas plus the tie-break pattern (fixed
        to the canvas, so it moves with the image), shifted, cut into views."""
        shift = step_shift(seeds, k, total, jitter, roll)
        x_in = x + pattern
        x_in = x_in if shift is None else tf.roll(x_in, shift, axis=[1, 2])
        if view_size is None or tuple(x.shape[1:3]) == view_size:
            return x_in, shift
        return split_views(x_in, view_size), shift

    def finish_step(x: tf.Tensor, grad: tf.Tensor, shift: tf.Tensor | None, step_size: tf.Tensor,
                    view_size: tuple[int, int] | None) -> tf.Tensor:
        if not (view_size is None or tuple(x.shape[1:3]) == view_size):
            grad = merge_views(_even_out(grad, tf.shape(x)[0], view_size), tf.shape(x), view_size)
        g = grad if shift is None else tf.roll(grad, -shift, axis=[1, 2])
        if kernel is not None:
            g = tf.nn.depthwise_conv2d(g, tf.tile(kernel, [1, 1, tf.shape(g)[-1], 1]), [1, 1, 1, 1], "SAME")
        g = g / (tf.math.reduce_std(g, axis=[1, 2, 3], keepdims=True) + 1e-8)
        return tf.clip_by_value(x + step_size * g, 0.0, 1.0)

    @tf.function(reduce_retracing=True)
    def run(canvas: tf.Tensor, steps: tf.Tensor, step_size: tf.Tensor, seeds: tf.Tensor, roll: Any,
            view_size: tuple[int, int] | None, position: Any = None) -> tf.Tensor:
        """``steps`` steps; ``position`` (start, steps per round) places them in the round
        (None: the round's first ``steps`` steps)."""
        if position is None:
            start, total = tf.constant(0), tf.cast(steps, tf.int32)
        else:
            start, total = position[0], position[1]

        pattern = pattern_for(canvas)

        def body(i: tf.Tensor, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            views, shift = shifted_views(x, pattern, seeds, start + i, total, roll, view_size)
            return i + 1, finish_step(x, chunked_gradient(views), shift, step_size, view_size)

        _, out = tf.while_loop(lambda i, x: i < steps, body, (tf.constant(0), canvas))
        return out

    @tf.function(reduce_retracing=True)
    def prepare(x: tf.Tensor, seeds: tf.Tensor, k: tf.Tensor, total: tf.Tensor, roll: int,
                view_size: tuple[int, int]) -> Any:
        views, shift = shifted_views(x, pattern_for(x), seeds, k, total, roll, view_size)
        return views, (tf.zeros([2], tf.int32) if shift is None else shift)

    @tf.function(reduce_retracing=True)
    def gradient(views: tf.Tensor) -> tf.Tensor:
        return chunked_gradient(views)

    @tf.function(reduce_retracing=True)
    def finish(x: tf.Tensor, grad: tf.Tensor, shift: tf.Tensor, step_size: tf.Tensor,
               view_size: tuple[int, int]) -> tf.Tensor:
        return finish_step(x, grad, shift, step_size, view_size)

    return _Compiled(run, prepare, gradient, finish)
