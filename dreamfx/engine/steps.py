"""One step of the host's gradient ascent, written once over ``keras.ops``, and the
compiled functions built from it on a backend's kernel (:mod:`.backends`).

A step: add the fixed tie-break pattern to the canvas and shift it (a tile-grid offset for
tiled levels, a jitter otherwise: :func:`.views.round_shifts`); cut it into model-sized
views; take the gradient of the objective with respect to the views, at most ``chunk``
views through the network at once; put the gradient back together, even it out per
position on tiled levels (:func:`even_out`) and undo the shift; hand it to the optimizer's
``update(canvas, gradient, state, step)``; clip the result to the model's input range [0, 1].

Well-defined steps. On a flat image region every 2x2 max-pooling window holds equal values,
and which one receives the gradient is decided by the last bit of the convolution, which
depends on the instruction set of the matrix-product kernels, on the batch size and on the
view's position. The gradient there is not small (its standard deviation on a flat gray
image is the same as on photos: 0.018 against 0.014-0.026, so no floor on the normaliser
can tell it from a real one); it is *arbitrary*, and the dream amplifies the choice (a flat
image came out up to 250/255 apart under SSE4.1 and AVX2). So the network sees the canvas
plus a fixed pattern (uniform in +-:data:`.views.TIE_BREAK`, tied to canvas coordinates so
it moves with the image): exact ties become differences about 10^5 times larger than
float32 rounding, decided the same way on every CPU and in every batch. The pattern is
never added to the canvas itself. What it cannot remove: gradient ascent through ReLUs and
max pooling is chaotic, so a *near* tie that rounding flips (rare on photos, a few per dream
on a large canvas) can still grow; ``tests/test_isa.py`` shows where results are
CPU-independent.

Evening out. The views' gradient is divided by the image's RMS gradient at each position
within a view: on photos that profile runs from 0.2x the mean near a view's last rows to
1.8x in its middle, and a step of uneven strength per position would print the tile grid
wherever the offsets are not perfectly balanced (40 steps per hybrid level over 28 offsets).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from dreamfx.engine.views import merge_views, split_views, view_count


def even_out(grad: Any, batch: Any, view_size: tuple[int, int]) -> Any:
    """Divide each view's gradient by its image's RMS gradient at that position in a view
    (relative to the mean; at most 2x): the network's VALID convolutions and pooling see
    some positions of a view more than others, and that profile would print the tile grid.
    Per image, so batches equal one-by-one dreams; positions with no gradient stay at 0."""
    from keras import ops

    h, w = view_size
    per_image = ops.reshape(grad, [batch, -1, h, w, ops.shape(grad)[-1]])
    profile = ops.sqrt(ops.mean(ops.square(per_image), axis=[1, 4], keepdims=True))
    scale = ops.mean(profile, axis=[2, 3], keepdims=True)
    return ops.reshape(per_image * ops.divide_no_nan(scale, profile + 0.5 * scale), ops.shape(grad))


def per_image(per_view: Any, batch: Any) -> Any:
    """The views' values (image-major: a score per view, or a row of values per view) as
    the mean per image."""
    from keras import ops

    return ops.mean(ops.reshape(per_view, [batch, -1, *per_view.shape[1:]]), axis=1)


class Steps:
    """The compiled functions of one ascent on one kernel:

    - ``run(x, state, steps, start, shifts, pattern, choices, pull, view_size)``: ``steps``
      steps from step ``start`` of the round (run-time values), ``shifts`` the round's table
      (None: no shift), ``choices`` the objective's choice per image (None: its own),
      ``pull`` a target canvas and a per-step rate (:mod:`.pull`; None: no pull); returns
      the canvas, the optimizer's state and the objective per image at the last step;
    - for a step split into several calls: ``prepare`` (the step's views), ``gradient`` (of
      a group of views) and ``finish`` (the update).

    Each is traced once per canvas shape and view size (``view_size`` None: the whole canvas
    is one view)."""

    def __init__(self, kernel: Any, feature_model: Any, objective: Any, update: Callable[..., Any],
                 chunk: int) -> None:
        from keras import ops

        self._traces = 0

        def score(views: Any, choices: Any) -> Any:
            acts = feature_model(views, training=False)
            return objective(acts) if choices is None else objective.score_each(acts, choices)

        def view_gradient(views: Any, choices: Any) -> tuple[Any, Any]:
            per_view, grad = kernel.value_and_grad(lambda v: score(v, choices), views)
            return grad, ops.reshape(ops.cast(per_view, "float32"), [-1])

        def views_of(x: Any, pattern: Any, shift: Any, view_size: tuple[int, int] | None) -> Any:
            """What the network sees: the canvas plus the tie-break pattern (fixed to the
            canvas, so it moves with the image), shifted, cut into views."""
            x_in = x + pattern
            x_in = x_in if shift is None else kernel.roll(x_in, shift)
            if view_size is None:  # the canvas is one view (decided by the host: Ascent.begin)
                return x_in
            return split_views(x_in, view_size)

        def finish_step(x: Any, grad: Any, shift: Any, state: Any, k: Any, pull: Any,
                        view_size: tuple[int, int] | None) -> tuple[Any, Any]:
            """The canvas's gradient from the views', the optimizer's update, the clip, the
            pull toward a target (the host's term: :mod:`.pull`)."""
            if view_size is not None:
                shape = ops.shape(x)
                grad = merge_views(even_out(grad, shape[0], view_size), shape, view_size)
            g = grad if shift is None else kernel.roll(grad, -shift)
            out, new_state = update(x, kernel.like(g, x), state, k)
            out = ops.clip(kernel.like(ops.convert_to_tensor(out, "float32"), x), 0.0, 1.0)
            if pull is not None:
                target, rate = pull
                out = out + rate * (target - out)
            return out, kernel.tree_map(kernel.like, new_state, state)

        def run(x: Any, state: Any, steps: Any, start: Any, shifts: Any, pattern: Any, choices: Any, pull: Any,
                view_size: tuple[int, int] | None) -> tuple[Any, Any, Any]:
            self._traces += 1  # runs only while tracing
            shape = ops.shape(x)
            views = view_count(shape, view_size)
            per_view_choices = None if choices is None else ops.repeat(choices, views // shape[0])

            def body(i: Any, carry: tuple[Any, ...]) -> tuple[Any, ...]:
                x, state, _ = carry
                k = start + i
                shift = None if shifts is None else shifts[k]
                grad, per_view = kernel.chunked(view_gradient, views_of(x, pattern, shift, view_size),
                                                per_view_choices, chunk)
                x, state = finish_step(x, grad, shift, state, k, pull, view_size)
                return x, state, per_view

            # the views' scores are reduced per image once, at the end
            no_score = ops.full([views], math.nan, "float32")
            x, state, scores = kernel.fori(steps, body, (x, state, no_score))
            return x, state, per_image(scores, shape[0])

        def prepare(x: Any, shift: Any, pattern: Any, view_size: tuple[int, int]) -> Any:
            self._traces += 1
            return views_of(x, pattern, shift, view_size)

        def gradient(views: Any, choices: Any) -> tuple[Any, Any]:
            self._traces += 1
            return kernel.chunked(view_gradient, views, choices, chunk)

        def finish(x: Any, grad: Any, shift: Any, state: Any, k: Any, pull: Any,
                   view_size: tuple[int, int]) -> tuple[Any, Any]:
            self._traces += 1
            return finish_step(x, grad, shift, state, k, pull, view_size)

        self.run = kernel.compile_step(run, ("view_size",))
        self.prepare = kernel.compile_step(prepare, ("view_size",))
        self.gradient = kernel.compile_step(gradient)
        self.finish = kernel.compile_step(finish, ("view_size",))

    def traces(self) -> int:
        """How many times the compiled functions were traced (once per canvas shape)."""
        return self._traces
