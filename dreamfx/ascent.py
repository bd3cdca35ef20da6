"""The host's gradient ascent: one round of an optimizer's steps on a canvas, compiled and
run in bounded pieces. Optimizers (:mod:`dreamfx.optimize`) supply only the update rule.

The ascent works on a scaling level's *canvas* (see :mod:`dreamfx.scaling`). Each step:
shift the canvas (a tile-grid offset for tiled levels, a jitter otherwise); cut it into
model-sized views; take the gradient of the objective with respect to the views, in chunks
of at most ``chunk`` views so memory stays bounded; put the gradient back together, even it
out per position on tiled levels and undo the shift; hand it to the optimizer's
``update(canvas, gradient, state, step)``; clip the result to the model's input range [0, 1].
The objective per image (the mean over its views) of the round's last step comes back with
the canvas, so loops can stop early.

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
position, :func:`even_out`): on photos that profile runs from 0.2x the mean near a view's
last rows to 1.8x in its middle, and a step of uneven strength per position would print
the grid wherever the offsets are not perfectly balanced (40 steps per hybrid level over 28
offsets). Levels without a grid jitter by up to the optimizer's ``jitter`` pixels.

Bounded calls. Each call of the compiled loop returns to Python in about
:data:`PIECE_SECONDS` (pieces of steps sized from the measured time per canvas pixel), and
a canvas so large that one step would take longer has its step split into several calls
(groups of whole chunks of views), so Ctrl-C and SIGTERM take effect quickly
(:func:`dreamfx.interrupts.check_stop` runs between calls), and a progress display hears of
each call the host waits for anyway (``on_piece``: a bar moves within a long round, with no
wait added). Pieces and split steps compute the same operations on the same values as one
whole loop: the results do not depend on the split. The optimizer's state is carried from
piece to piece.

Randomness is stateless and derived from (seed, round, step): the same seed gives the same
output. The compiled functions are traced once per canvas shape, never per step or round.

:class:`HostRun` is what a loop is handed (:class:`dreamfx.loop.LoopRun`): ``ascend`` and
``compile``, the host's compile service (:class:`FunctionCache`).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from . import backend
from .cache import LRUCache
from .interrupts import check_stop
from .loop import Round
from .optimize import DEFAULT_CHUNK
from .scaling import level_key, merge_views, split_views


class _TensorFlow:
    """``tensorflow``, imported when first used: the JAX backend never imports it."""

    def __getattr__(self, name: str) -> Any:
        import tensorflow

        return getattr(tensorflow, name)


tf: Any = _TensorFlow()

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
#: ``on_piece(steps_done, steps, views_done, views)``: where a round stands (see :meth:`Ascent.__call__`).
PieceFn = Callable[[int, int, int, int], None]
#: Weyl-sequence steps per axis (2**32 times the golden ratio's and sqrt(2)'s fractional parts).
WEYL = (2_654_435_769, 1_779_033_703)


class Ascent:
    """Gradient ascent of one objective through one feature model, with one optimizer's
    update rule and one seed: ``ascent(canvas, round_index, level) -> Round``."""

    def __init__(self, feature_model: Any, objective: Any, optimizer: Any, seed: int) -> None:
        self.optimizer = optimizer
        self.steps = _count(optimizer, "steps", None)
        self.jitter = _count(optimizer, "jitter", 0)
        self.chunk = max(1, _count(optimizer, "chunk", DEFAULT_CHUNK))
        self.seed = int(seed)
        if backend.is_jax():
            from .jax_ascent import JaxCompiled

            self._fns: Any = JaxCompiled(feature_model, objective, optimizer.update, self.jitter, self.chunk,
                                         TIE_BREAK, WEYL)
        else:
            self._fns = _compile(feature_model, objective, optimizer.update, self.jitter, self.chunk)
        #: The compiled step loop (traced once per canvas shape and view size).
        self.compiled = self._fns.run
        #: Measured seconds per canvas pixel per step, which sizes the pieces.
        self.pace = Pace()

    def traces(self) -> int:
        """How many times the compiled pieces were traced (once per canvas shape)."""
        return self._fns.traces()

    def __call__(self, canvas: Any, round_index: int, level: Any, choices: Any = None,
                 on_piece: PieceFn | None = None) -> Round:
        """Run the round's ``steps`` steps on ``canvas``, cut and shifted as ``level`` (its
        ``view_size``, None for the whole canvas, and ``roll``) says. ``choices`` (int32,
        one per image, or None): the objective's ``selectable`` parameter per image, a
        run-time tensor (see :meth:`dreamfx.objectives.Objective.score_each`); each view
        of an image gets its image's choice. ``on_piece(steps_done, steps, views_done,
        views)`` (for progress displays) is called after each piece the host already waits
        for: every piece but the round's last, and every group of a split step (``views``
        0 outside split steps); never where it would add a wait, so a round of one piece
        (every small dream) calls it never."""
        fns, total, pace = self._fns, self.steps, self.pace
        view_size, roll = _geometry(level)
        x, ctx = fns.begin(canvas, choices, self.seed, round_index, total, roll, view_size)
        batch = int(x.shape[0])
        state = fns.start_state(self.optimizer, x)
        pixels = batch * int(x.shape[1]) * int(x.shape[2])
        views = _view_count(x.shape, view_size)
        score: Any = np.full(batch, np.nan, np.float32)  # no steps, no score
        done = 0
        while done < total:
            check_stop()  # an interrupted run's abandoned dream ends here
            per_step = pace.rate * pixels
            if per_step > PIECE_SECONDS and views > self.chunk:
                # one step in several calls, groups of whole chunks of views
                per_chunk = per_step * self.chunk / views
                group = self.chunk * max(1, int(PIECE_SECONDS / per_chunk))
                started, traces = time.perf_counter(), fns.traces()
                on_group = None if on_piece is None else (
                    lambda finished, count, step=done: on_piece(step, total, finished, count))
                x, state, score = fns.split_step(ctx, x, state, done, group, on_group)
                fns.wait(x)
                pace.update(time.perf_counter() - started, pixels, traces != fns.traces())
                done += 1
                if on_piece is not None and done < total:
                    on_piece(done, total, 0, 0)
                continue
            count = min(total - done, max(1, int(PIECE_SECONDS / max(per_step, 1e-12))))
            started, traces = time.perf_counter(), fns.traces()
            x, state, score = fns.piece(ctx, x, state, done, count)
            if done + count < total:  # a last piece need not wait for its result
                fns.wait(x)
                pace.update(time.perf_counter() - started, pixels * count, traces != fns.traces())
                if on_piece is not None:
                    on_piece(done + count, total, 0, 0)
            done += count
        return Round(x, score)


def _geometry(level: Any) -> tuple[tuple[int, int] | None, int]:
    """A level's ``view_size`` (None: the whole canvas) and ``roll``, as plain ints."""
    view_size = None if level.view_size is None else tuple(int(v) for v in level.view_size)
    return view_size, int(getattr(level, "roll", 0) or 0)  # type: ignore[return-value]


def _count(optimizer: Any, name: str, default: int | None) -> int:
    """An optimizer's whole-number attribute (``steps``, ``jitter``, ``chunk``), checked."""
    value = getattr(optimizer, name, default) if default is not None else getattr(optimizer, name)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise TypeError(f"its {name} must be a whole number of 0 or more, got {value!r}")
    return int(value)


def _wait(x: tf.Tensor) -> None:
    """Block until ``x`` is computed: eager ops on a CPU are synchronous, on a GPU they are not."""
    if "GPU" in x.device:
        x.numpy()


def _view_count(shape: Any, view_size: tuple[int, int] | None) -> int:
    if view_size is None:
        return int(shape[0])
    return int(shape[0]) * (int(shape[1]) // view_size[0]) * (int(shape[2]) // view_size[1])


class Pace:
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


def tie_break_pattern(shape: Any) -> tf.Tensor:
    """The fixed pattern (``shape`` = view height, width, channels) added to what the network sees."""
    return tf.random.stateless_uniform(shape, seed=[20_251_125, 11], minval=-TIE_BREAK, maxval=TIE_BREAK)


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


def even_out(grad: tf.Tensor, batch: Any, view_size: tuple[int, int]) -> tf.Tensor:
    """Divide each view's gradient by its image's RMS gradient at that position in a view
    (relative to the mean; at most 2x): the network's VALID convolutions and pooling see
    some positions of a view more than others, and that profile would print the tile grid.
    Per image, so batches equal one-by-one dreams; positions with no gradient stay at 0."""
    h, w = view_size
    per_image = tf.reshape(grad, [batch, -1, h, w, tf.shape(grad)[-1]])
    profile = tf.sqrt(tf.reduce_mean(tf.square(per_image), axis=[1, 4], keepdims=True))
    scale = tf.reduce_mean(profile, axis=[2, 3], keepdims=True)
    return tf.reshape(per_image * tf.math.divide_no_nan(scale, profile + 0.5 * scale), tf.shape(grad))


#: Canvases of at most this many values are shifted by gathers rather than ``tf.roll``:
#: TensorFlow's roll costs about 60 us on a 28x28 canvas (its kernel is sharded over the
#: thread pool), two gathers about 25 us; from a batch of 16 such canvases on, roll wins.
SMALL_ROLL = 4096


def shift_canvas(x: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
    """``tf.roll(x, shift, axis=[1, 2])``, the same values, by the cheaper way for ``x``'s size."""
    if not x.shape.is_fully_defined() or x.shape.num_elements() > SMALL_ROLL:
        return tf.roll(x, shift, axis=[1, 2])
    for axis in (1, 2):
        n = int(x.shape[axis])
        x = tf.gather(x, tf.math.floormod(tf.range(n) - shift[axis - 1], n), axis=axis)
    return x


def _per_image(per_view: tf.Tensor, batch: Any) -> tf.Tensor:
    """The views' scores (image-major) as the mean per image."""
    return tf.reduce_mean(tf.reshape(per_view, tf.stack([batch, -1])), axis=1)


class _Compiled:
    """The compiled pieces of one ascent on TensorFlow."""

    def __init__(self, run: Any, prepare: Any, gradient: Any, finish: Any) -> None:
        self.run, self._prepare, self._gradient, self._finish = run, prepare, gradient, finish

    @staticmethod
    def begin(canvas: Any, choices: Any, seed: int, round_index: int, total: int, roll: int,
              view_size: tuple[int, int] | None) -> tuple[Any, Any]:
        """The canvas as a tensor and the round's context (seeds, roll, view size, choices, steps)."""
        x = tf.convert_to_tensor(canvas, tf.float32)
        if choices is not None:
            choices = tf.convert_to_tensor(choices, tf.int32)
        return x, (tf.constant([seed, round_index], tf.int64), roll, view_size, choices, total)

    @staticmethod
    def start_state(optimizer: Any, x: Any) -> Any:
        return tf.nest.map_structure(tf.convert_to_tensor, optimizer.start(x))

    def piece(self, ctx: Any, x: Any, state: Any, done: int, count: int) -> tuple[Any, Any, Any]:
        seeds, roll, view_size, choices, total = ctx
        position = tf.constant([done, total], tf.int32)
        return self.run(x, state, tf.constant(count, tf.int32), seeds, roll, view_size, position, choices)

    @staticmethod
    def wait(x: Any) -> None:
        _wait(x)

    def traces(self) -> int:
        return sum(f.experimental_get_tracing_count() for f in (self.run, self._prepare, self._gradient, self._finish))

    def split_step(self, ctx: Any, x: tf.Tensor, state: Any, done: int, group: int,
                   on_group: Callable[[int, int], None] | None = None) -> tuple[tf.Tensor, Any, tf.Tensor]:
        """One step as several calls: the views' gradient ``group`` views (whole chunks) at a
        time; ``on_group(views_done, views)`` after each group but the last."""
        seeds, roll, view_size, choices, total = ctx
        k = tf.constant(done, tf.int32)
        views, shift = self._prepare(x, seeds, k, tf.constant(total), roll, view_size)
        count = int(views.shape[0])
        per_view = None if choices is None else tf.repeat(choices, count // int(x.shape[0]))
        parts, scores = [], []
        for start in range(0, count, group):
            part, score = self._gradient(views[start : start + group],
                                         None if per_view is None else per_view[start : start + group])
            _wait(part)
            parts.append(part)
            scores.append(score)
            if on_group is not None and start + group < count:
                on_group(start + group, count)
        grad = tf.concat(parts, axis=0)
        x, state = self._finish(x, grad, shift, state, k, view_size)
        return x, state, _per_image(tf.concat(scores, axis=0), int(x.shape[0]))


def _compile(feature_model: Any, objective: Any, update: Callable[..., Any], jitter: int, chunk: int) -> _Compiled:
    """Build the compiled step loop for one feature model, objective and update rule (traced
    per canvas shape and view size: ``view_size`` None means the whole canvas is one view)."""

    def view_gradient(views: tf.Tensor, choices: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
        """The gradient for ``views`` and their scores (``choices``: the objective's choice per view, or None)."""
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(views)
            acts = feature_model(views, training=False)
            per_view = objective(acts) if choices is None else objective.score_each(acts, choices)
            score = tf.reduce_sum(per_view)
        return tape.gradient(score, views), tf.reshape(tf.cast(per_view, tf.float32), [-1])

    def looped_gradient(views: tf.Tensor, choices: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
        count = tf.shape(views)[0]
        chunks = (count + chunk - 1) // chunk
        parts = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)
        scores = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)

        def body(i: tf.Tensor, parts: tf.TensorArray, scores: tf.TensorArray) -> tuple[Any, ...]:
            part, score = view_gradient(views[i * chunk : tf.minimum((i + 1) * chunk, count)],
                                        None if choices is None else choices[i * chunk : tf.minimum((i + 1) * chunk, count)])
            return i + 1, parts.write(i, part), scores.write(i, score)

        _, parts, scores = tf.while_loop(lambda i, *_: i < chunks, body, (tf.constant(0), parts, scores))
        return tf.reshape(parts.concat(), tf.shape(views)), scores.concat()

    def chunked_gradient(views: tf.Tensor, choices: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """The gradient for all views, at most ``chunk`` of them through the network at once.
        A batch that fits in one chunk skips the chunk loop (its per-step cost matters for
        small dreams); when the count is only known at run time, a cond picks the path."""
        count = views.shape[0]
        if count is not None:
            return view_gradient(views, choices) if count <= chunk else looped_gradient(views, choices)
        return tf.cond(tf.shape(views)[0] <= chunk, lambda: view_gradient(views, choices),
                       lambda: looped_gradient(views, choices))

    def pattern_for(x: tf.Tensor) -> tf.Tensor:
        shape = x.shape[1:]
        return tie_break_pattern(shape if shape.is_fully_defined() else tf.shape(x)[1:])

    def shifted_views(x: tf.Tensor, pattern: tf.Tensor, seeds: tf.Tensor, k: tf.Tensor, total: tf.Tensor, roll: Any,
                      view_size: tuple[int, int] | None) -> tuple[tf.Tensor, tf.Tensor | None]:
        """What the network sees at step ``k``: the canvas plus the tie-break pattern (fixed
        to the canvas, so it moves with the image), shifted, cut into views."""
        shift = step_shift(seeds, k, total, jitter, roll)
        x_in = x + pattern
        x_in = x_in if shift is None else shift_canvas(x_in, shift)
        if view_size is None or tuple(x.shape[1:3]) == view_size:
            return x_in, shift
        return split_views(x_in, view_size), shift

    def finish_step(x: tf.Tensor, grad: tf.Tensor, shift: tf.Tensor | None, state: Any, k: tf.Tensor,
                    view_size: tuple[int, int] | None) -> tuple[tf.Tensor, Any]:
        """The canvas's gradient from the views', the optimizer's update, the clip."""
        if not (view_size is None or tuple(x.shape[1:3]) == view_size):
            grad = merge_views(even_out(grad, tf.shape(x)[0], view_size), tf.shape(x), view_size)
        g = grad if shift is None else shift_canvas(grad, -shift)
        g.set_shape(x.shape)  # what the reshapes lost: the canvas's own (static) shape
        out, new_state = update(x, g, state, k)
        out = tf.convert_to_tensor(out, tf.float32)
        out.set_shape(x.shape)
        new_state = tf.nest.map_structure(_keep_shape, new_state, state)
        return tf.clip_by_value(out, 0.0, 1.0), new_state

    @tf.function(reduce_retracing=True)
    def run(canvas: tf.Tensor, state: Any, steps: tf.Tensor, seeds: tf.Tensor, roll: Any,
            view_size: tuple[int, int] | None, position: Any = None,
            choices: Any = None) -> tuple[tf.Tensor, Any, tf.Tensor]:
        """``steps`` steps; ``position`` (start, steps per round) places them in the round
        (None: the round's first ``steps`` steps); ``choices`` the objective's choice per
        image (None: its own). Returns the canvas, the optimizer's state and the objective
        per image at the last step."""
        if position is None:
            start, total = tf.constant(0), tf.cast(steps, tf.int32)
        else:
            start, total = position[0], position[1]

        pattern = pattern_for(canvas)
        shape = tf.shape(canvas)
        views = shape[0] if view_size is None else shape[0] * (shape[1] // view_size[0]) * (shape[2] // view_size[1])
        no_score = tf.fill(tf.reshape(views, [1]), math.nan)  # the views' scores: reduced per image once, at the end
        per_view_choices = None if choices is None else tf.repeat(choices, views // shape[0])

        def body(i: tf.Tensor, x: tf.Tensor, state: Any, scores: tf.Tensor) -> tuple[Any, ...]:
            views, shift = shifted_views(x, pattern, seeds, start + i, total, roll, view_size)
            grad, per_view = chunked_gradient(views, per_view_choices)
            x, state = finish_step(x, grad, shift, state, start + i, view_size)
            return i + 1, x, state, tf.ensure_shape(per_view, no_score.shape)

        _, out, state, scores = tf.while_loop(lambda i, *_: i < steps, body, (tf.constant(0), canvas, state, no_score))
        return out, state, _per_image(scores, shape[0])

    @tf.function(reduce_retracing=True)
    def prepare(x: tf.Tensor, seeds: tf.Tensor, k: tf.Tensor, total: tf.Tensor, roll: int,
                view_size: tuple[int, int]) -> Any:
        views, shift = shifted_views(x, pattern_for(x), seeds, k, total, roll, view_size)
        return views, (tf.zeros([2], tf.int32) if shift is None else shift)

    @tf.function(reduce_retracing=True)
    def gradient(views: tf.Tensor, choices: Any = None) -> tuple[tf.Tensor, tf.Tensor]:
        return chunked_gradient(views, choices)

    @tf.function(reduce_retracing=True)
    def finish(x: tf.Tensor, grad: tf.Tensor, shift: tf.Tensor, state: Any, k: tf.Tensor,
               view_size: tuple[int, int]) -> tuple[tf.Tensor, Any]:
        return finish_step(x, grad, shift, state, k, view_size)

    return _Compiled(run, prepare, gradient, finish)


def _keep_shape(new: Any, old: Any) -> Any:
    """An optimizer's next state, dtype and static shape as the last one's (the compiled loop
    needs both to stay put from step to step)."""
    new = tf.convert_to_tensor(new, getattr(old, "dtype", None))
    if hasattr(old, "shape"):
        new.set_shape(old.shape)
    return new


# -- the host's compile service, and what a loop is handed ----------------------------------------


def _freeze(part: Any) -> Any:
    """A cache-key part: plain values as they are, sequences part by part, levels and other
    objects by :func:`dreamfx.scaling.level_key` (equal attributes, equal key)."""
    if part is None or isinstance(part, (str, bytes, int, float, bool)):
        return part
    if isinstance(part, (tuple, list)):
        return tuple(_freeze(p) for p in part)
    return level_key(part)


class FunctionCache(LRUCache):
    """Compiled functions by (function code, key), least recently used dropped beyond
    ``size``. ``fn`` is keyed by its code, not its identity: a loop builds a new closure of
    the same function per level and image, and equal keys share the first one compiled."""

    def __init__(self, size: int = 32) -> None:
        super().__init__(size)

    def get(self, fn: Callable[..., Any], key: tuple[Any, ...]) -> Callable[..., Any]:
        # no autograph: a loop's functions are straight-line, and converting them costs time
        return self.get_or_build((getattr(fn, "__code__", fn), _freeze(key)), lambda: backend.compile_function(fn))


class HostRun:
    """The :class:`dreamfx.loop.LoopRun` of one dream: ``ascend`` runs a round (through
    ``ascend``, the host's attribution and progress included) and ``compile`` compiles
    through ``cache`` when ``compiled`` (see :func:`dreamfx.scaling.worth_compiling`)."""

    def __init__(self, ascend: Callable[[Any, int, Any], Round], cache: FunctionCache, compiled: bool) -> None:
        self._ascend, self._cache, self.compiled = ascend, cache, compiled

    def ascend(self, canvas: Any, round_index: int, level: Any) -> Round:
        return self._ascend(canvas, round_index, level)

    def compile(self, fn: Callable[..., Any], *key: Any) -> Callable[..., Any]:
        return self._cache.get(fn, key) if self.compiled else fn


# -- small dreams as one compiled call ------------------------------------------------------------


class TracedRun:
    """The :class:`dreamfx.loop.LoopRun` of a dream traced as a whole (see
    :class:`WholeDreams`): ``ascend`` puts the round's whole step loop in the graph being
    traced, as one piece (pieces give the same values as one loop), and ``compile`` returns
    the function as it is (it is already being compiled)."""

    compiled = True

    def __init__(self, ascent: Ascent, choices: Any) -> None:
        self._ascent, self._choices = ascent, choices

    def ascend(self, canvas: Any, round_index: int, level: Any) -> Round:
        ascent, fns = self._ascent, self._ascent._fns
        view_size, roll = _geometry(level)
        if ascent.steps == 0:
            return Round(canvas, tf.fill(tf.shape(canvas)[:1], math.nan))
        x, ctx = fns.begin(canvas, self._choices, ascent.seed, round_index, ascent.steps, roll, view_size)
        state = fns.start_state(ascent.optimizer, x)
        x, _, score = fns.piece(ctx, x, state, 0, ascent.steps)
        x.set_shape(canvas.shape)  # what a step loop traced for any size does not say
        return Round(x, score)

    def compile(self, fn: Callable[..., Any], *key: Any) -> Callable[..., Any]:
        return fn


class WholeDreams:
    """Which dreams run as one compiled call: the scoring before, every round of the loop
    and the scoring after traced together, where round by round each round is two calls
    from Python (the step loop and the loop's between-round work) and each scoring one.
    For a small dream the calls' overhead is a large part: a warm single-map dream of a
    600x400 photo took 0.77x the time as one call, with the same bits.

    Only where that is sure to agree and to pay: on TensorFlow (JAX dispatches
    asynchronously and pays less per call); for a loop that declares itself ``traceable``
    (its ``__call__`` only calls ``run`` and ``keras.ops``, never reads a score on the
    host: the built-in reinjection loop without early stop); for an input shape whose last
    two round-by-round dreams each took under :data:`PIECE_SECONDS` (so the whole call is
    as short as the pieces that Ctrl-C waits for, and a shape seen once, as in a folder of
    many sizes, is not traced a third time). A shape whose trace or call fails goes back to
    round by round, which names the plugin at fault."""

    def __init__(self, loop: Any, ascent: Ascent, backend_name: str) -> None:
        self.enabled = backend_name == "tensorflow" and getattr(loop, "traceable", False) is True
        self._seconds: dict[Any, list[float]] = {}
        self._functions = LRUCache(8)
        self._refused: set[Any] = set()

    @staticmethod
    def _key(shape: Any, plain: bool) -> Any:
        return tuple(int(d) for d in shape), bool(plain)

    def timed(self, shape: Any, plain: bool, seconds: float) -> None:
        """A round-by-round compiled dream of this input shape took ``seconds``."""
        if not self.enabled:
            return
        if len(self._seconds) > 256:  # bounded, like the compiled functions
            self._seconds.clear()
        self._seconds.setdefault(self._key(shape, plain), []).append(seconds)
        del self._seconds[self._key(shape, plain)][:-2]

    def wanted(self, shape: Any, plain: bool) -> bool:
        key = self._key(shape, plain)
        seconds = self._seconds.get(key, [])
        return (self.enabled and key not in self._refused and len(seconds) == 2
                and max(seconds) < PIECE_SECONDS)

    def function(self, shape: Any, plain: bool, build: Callable[[], Any]) -> Any:
        return self._functions.get_or_build(self._key(shape, plain), build)

    def refuse(self, shape: Any, plain: bool) -> None:
        if len(self._refused) > 256:
            self._refused.clear()
        self._refused.add(self._key(shape, plain))

    def __len__(self) -> int:
        return len(self._functions)
