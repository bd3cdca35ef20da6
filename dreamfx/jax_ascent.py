"""The host's gradient ascent on the JAX backend: the same steps as :mod:`dreamfx.ascent`
(read its docstring for what a step does and why), compiled with ``jax.jit``.

What differs from TensorFlow is only what Keras leaves to the host:

- the gradient of the objective with respect to the views is ``jax.value_and_grad``;
- the step loop is one ``jax.jit`` call per piece, a ``lax.fori_loop`` over the piece's
  steps; more views than a chunk go through the network ``chunk`` at a time by
  ``lax.map`` (the last chunk padded, its padding's gradient dropped);
- the random parts (the tie-break pattern, the tile offsets and the jitter) are the very
  numbers TensorFlow draws, computed on the host by :mod:`dreamfx.stateless` (JAX's own
  generator, threefry, would give another dream for the same seed), and fed to the
  compiled loop as a table of shifts per step of the round;
- JAX dispatches asynchronously, so the host waits for a piece before it measures it.

A step split into several calls (canvases too large for one call) equals the unsplit step
to float rounding, not bit for bit as on TensorFlow: XLA fuses the update of a separate
call differently from the loop's body (measured: 6e-8 on the tests' Adam dream).

JAX compiles per shape, not per value: the number of steps in a piece and the step's
position in the round are run-time values, so a dream compiles once per canvas shape.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from . import stateless
from .scaling import jax_merge_views, jax_split_views


@functools.lru_cache(maxsize=32)
def tie_break_pattern(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """TensorFlow's tie-break pattern (:func:`dreamfx.ascent.tie_break_pattern`), bit for bit."""
    return stateless.uniform_float32(shape, (20_251_125, 11), -amplitude, amplitude)


@functools.lru_cache(maxsize=64)
def round_shifts(seed: int, round_index: int, total: int, jitter: int, roll: int, weyl: tuple[int, int]) -> np.ndarray:
    """The ``(dy, dx)`` shift of each of a round's ``total`` steps, as
    :func:`dreamfx.ascent.step_shift` computes them in TensorFlow: ``(total, 2)`` int32."""
    if roll:
        start = stateless.uniform_int([2], (seed, 7_919), 0, 2**32, "int64").astype(object)
        rows = []
        for k in range(total):
            index = k + round_index * total
            phase = [(int(start[a]) + index * weyl[a]) % 2**32 for a in range(2)]
            rows.append([p * roll // 2**32 for p in phase])
        return np.array(rows, np.int32).reshape(total, 2)
    if not jitter or not total:
        return np.zeros((total, 2), np.int32)
    return np.stack([stateless.uniform_int([2], (seed, round_index * 1_000_003 + k), -jitter, jitter + 1)
                     for k in range(total)]).astype(np.int32).reshape(total, 2)


class JaxCompiled:
    """The compiled pieces of one ascent on JAX (the interface of ``ascent._Compiled``)."""

    def __init__(self, feature_model: Any, objective: Any, update: Callable[..., Any], jitter: int, chunk: int,
                 tie_break: float, weyl: tuple[int, int]) -> None:
        import jax
        import jax.numpy as jnp

        self.jitter, self.chunk, self.tie_break, self.weyl = jitter, chunk, tie_break, weyl
        self._compiles = 0

        def view_gradient(views: Any, choices: Any) -> tuple[Any, Any]:
            def score(v: Any) -> tuple[Any, Any]:
                acts = feature_model(v, training=False)
                per_view = objective(acts) if choices is None else objective.score_each(acts, choices)
                return jnp.sum(per_view), per_view

            (_, per_view), grad = jax.value_and_grad(score, has_aux=True)(views)
            return grad, jnp.reshape(per_view.astype(jnp.float32), [-1])

        def chunked_gradient(views: Any, choices: Any) -> tuple[Any, Any]:
            count = views.shape[0]
            if count <= chunk:
                return view_gradient(views, choices)
            pieces = -(-count // chunk)
            pad = pieces * chunk - count
            padded = jnp.pad(views, [(0, pad)] + [(0, 0)] * (views.ndim - 1))
            padded = jnp.reshape(padded, (pieces, chunk) + views.shape[1:])
            if choices is None:
                grads, scores = jax.lax.map(lambda v: view_gradient(v, None), padded)
            else:
                per = jnp.reshape(jnp.pad(choices, [(0, pad)]), (pieces, chunk))
                grads, scores = jax.lax.map(lambda a: view_gradient(a[0], a[1]), (padded, per))
            return jnp.reshape(grads, (pieces * chunk,) + views.shape[1:])[:count], jnp.reshape(scores, [-1])[:count]

        def views_of(x: Any, pattern: Any, shift: Any, view_size: tuple[int, int] | None) -> Any:
            x_in = jnp.roll(x + pattern, (shift[0], shift[1]), axis=(1, 2))
            if view_size is None or tuple(x.shape[1:3]) == view_size:
                return x_in
            return jax_split_views(x_in, view_size)

        def finish_step(x: Any, grad: Any, shift: Any, state: Any, k: Any, view_size: tuple[int, int] | None) -> Any:
            if not (view_size is None or tuple(x.shape[1:3]) == view_size):
                grad = jax_merge_views(even_out(grad, x.shape[0], view_size), x.shape, view_size)
            g = jnp.roll(grad, (-shift[0], -shift[1]), axis=(1, 2))
            out, new_state = update(x, g, state, k)
            new_state = jax.tree_util.tree_map(lambda n, o: jnp.asarray(n, getattr(o, "dtype", None)), new_state, state)
            return jnp.clip(jnp.asarray(out, jnp.float32), 0.0, 1.0), new_state

        def even_out(grad: Any, batch: int, view_size: tuple[int, int]) -> Any:
            """:func:`dreamfx.ascent.even_out` in ``jax.numpy``."""
            h, w = view_size
            per_image = jnp.reshape(grad, (batch, -1, h, w, grad.shape[-1]))
            profile = jnp.sqrt(jnp.mean(jnp.square(per_image), axis=(1, 4), keepdims=True))
            scale = jnp.mean(profile, axis=(2, 3), keepdims=True)
            denominator = profile + 0.5 * scale
            safe = jnp.where(denominator == 0, 1.0, denominator)
            return jnp.reshape(per_image * jnp.where(denominator == 0, 0.0, scale / safe), grad.shape)

        def per_image(per_view: Any, batch: int) -> Any:
            return jnp.mean(jnp.reshape(per_view, (batch, -1)), axis=1)

        @functools.partial(jax.jit, static_argnames=("view_size",))
        def run(x: Any, state: Any, steps: Any, start: Any, shifts: Any, pattern: Any, choices: Any,
                view_size: tuple[int, int] | None) -> Any:
            self._compiles += 1  # runs only while tracing
            batch = x.shape[0]
            views = batch if view_size is None else batch * (x.shape[1] // view_size[0]) * (x.shape[2] // view_size[1])
            per_view_choices = None if choices is None else jnp.repeat(choices, views // batch)

            def body(i: Any, carry: Any) -> Any:
                x, state, _ = carry
                k = start + i
                shift = shifts[k]
                grad, per_view = chunked_gradient(views_of(x, pattern, shift, view_size), per_view_choices)
                x, state = finish_step(x, grad, shift, state, k, view_size)
                return x, state, per_view

            x, state, scores = jax.lax.fori_loop(0, steps, body, (x, state, jnp.full((views,), jnp.nan, jnp.float32)))
            return x, state, per_image(scores, batch)

        @functools.partial(jax.jit, static_argnames=("view_size",))
        def prepare(x: Any, shift: Any, pattern: Any, view_size: tuple[int, int]) -> Any:
            self._compiles += 1
            return views_of(x, pattern, shift, view_size)

        @jax.jit
        def gradient(views: Any, choices: Any) -> Any:
            self._compiles += 1
            return chunked_gradient(views, choices)

        @functools.partial(jax.jit, static_argnames=("view_size",))
        def finish(x: Any, grad: Any, shift: Any, state: Any, k: Any, view_size: tuple[int, int]) -> Any:
            self._compiles += 1
            return finish_step(x, grad, shift, state, k, view_size)

        self.run, self._prepare, self._gradient, self._finish, self._per_image = run, prepare, gradient, finish, per_image

    def traces(self) -> int:
        return self._compiles

    def begin(self, canvas: Any, choices: Any, seed: int, round_index: int, total: int, roll: int,
              view_size: tuple[int, int] | None) -> tuple[Any, Any]:
        """The canvas as a JAX array and the round's context (shifts, pattern, choices)."""
        import jax.numpy as jnp

        x = jnp.asarray(canvas, jnp.float32)
        shifts = jnp.asarray(round_shifts(int(seed), int(round_index), int(total), self.jitter, roll, self.weyl))
        pattern = jnp.asarray(tie_break_pattern(tuple(int(d) for d in x.shape[1:]), self.tie_break))
        return x, (shifts, pattern, None if choices is None else jnp.asarray(choices, jnp.int32), view_size)

    def start_state(self, optimizer: Any, x: Any) -> Any:
        import jax
        import jax.numpy as jnp

        return jax.tree_util.tree_map(jnp.asarray, optimizer.start(x))

    def piece(self, ctx: Any, x: Any, state: Any, done: int, count: int) -> tuple[Any, Any, Any]:
        shifts, pattern, choices, view_size = ctx
        return self.run(x, state, np.int32(count), np.int32(done), shifts, pattern, choices, view_size=view_size)

    def split_step(self, ctx: Any, x: Any, state: Any, done: int, group: int,
                   on_group: Callable[[int, int], None] | None = None) -> tuple[Any, Any, Any]:
        """One step as several calls: the views' gradient ``group`` views at a time;
        ``on_group(views_done, views)`` after each group but the last."""
        import jax.numpy as jnp

        shifts, pattern, choices, view_size = ctx
        shift = shifts[done]
        views = self._prepare(x, shift, pattern, view_size=view_size)
        count = int(views.shape[0])
        per_view = None if choices is None else jnp.repeat(choices, count // int(x.shape[0]))
        # padded to whole chunks as the unsplit step pads them, so both run the same
        # shapes through the network and give the same bits
        pad = -count % self.chunk
        if pad:
            views = jnp.pad(views, [(0, pad)] + [(0, 0)] * (views.ndim - 1))
            per_view = None if per_view is None else jnp.pad(per_view, [(0, pad)])
        parts, scores = [], []
        for start in range(0, count + pad, group):
            part, score = self._gradient(views[start : start + group],
                                         None if per_view is None else per_view[start : start + group])
            part.block_until_ready()
            parts.append(part)
            scores.append(score)
            if on_group is not None and start + group < count:
                on_group(start + group, count)
        grad = jnp.concatenate(parts, axis=0)[:count]
        x, state = self._finish(x, grad, shift, state, np.int32(done), view_size=view_size)
        return x, state, self._per_image(jnp.concatenate(scores, axis=0)[:count], int(x.shape[0]))

    @staticmethod
    def wait(x: Any) -> None:
        x.block_until_ready()


__all__ = ["JaxCompiled", "round_shifts", "tie_break_pattern"]
