"""The host's gradient ascent: one round of an optimizer's steps on a canvas (the steps
themselves are :mod:`.steps`), run in bounded pieces. Optimizers
(:mod:`dreamfx.kinds.optimizers`) supply only the update rule.

The ascent works on a scaling level's *canvas* (see :mod:`dreamfx.kinds.scalers`). The objective
per image (the mean over its views) of the round's last step comes back with the canvas,
so loops can stop early.

Bounded calls. Each call of the compiled loop returns to Python in about
:data:`PIECE_SECONDS` (pieces of steps sized from the measured time per canvas pixel), and
a canvas so large that one step would take longer has its step split into several calls
(groups of whole chunks of views), so Ctrl-C and SIGTERM take effect quickly
(:func:`dreamfx.interrupts.check_stop` runs between calls), and a progress display hears of
each call the host waits for anyway (``on_piece``: a bar moves within a long round, with no
wait added). Pieces and split steps compute the same operations on the same values as one
whole loop: the results do not depend on the split (bit for bit on TensorFlow; to float
rounding on JAX, whose compiler fuses a separate call's update differently). The
optimizer's state is carried from piece to piece.

Randomness is stateless and derived from (seed, round, step): the same seed gives the same
output. The compiled functions are traced once per canvas shape, never per step or round.

:class:`HostRun` is what a loop is handed (:class:`dreamfx.kinds.loops.LoopRun`): ``ascend`` and
``compile``, the host's compile service (:class:`FunctionCache`).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from dreamfx.cache import LRUCache
from dreamfx.interrupts import check_stop
from dreamfx.kinds.loops import Round
from dreamfx.kinds.optimizers import DEFAULT_CHUNK
from dreamfx.kinds.scalers import level_key
from dreamfx.engine.steps import Steps, per_image
from dreamfx.engine.views import round_shifts, tie_break_pattern, view_count

#: Aim for compiled calls of about this many seconds, so signals are handled quickly.
PIECE_SECONDS = 0.4
#: Seconds per canvas pixel per step assumed before anything was measured (a slow 2-core
#: CPU measures 6e-7 for tiled canvases).
PRIOR_SECONDS_PER_PIXEL = 1.5e-6
#: ``on_piece(steps_done, steps, views_done, views)``: where a round stands (see :meth:`Ascent.__call__`).
PieceFn = Callable[[int, int, int, int], None]


class RoundContext:
    """What every piece of a round shares: its shifts (``table`` on the host, ``shifts`` the
    same as a tensor; None: never shifted), the tie-break pattern, the choices, the view size
    (None: the canvas is one view), the pull (a target canvas and a per-step rate: :mod:`.pull`;
    None: none)."""

    __slots__ = ("shifts", "table", "pattern", "choices", "view_size", "pull")

    def __init__(self, shifts: Any, table: Any, pattern: Any, choices: Any, view_size: Any, pull: Any = None) -> None:
        self.shifts, self.table, self.pattern, self.choices = shifts, table, pattern, choices
        self.view_size, self.pull = view_size, pull


class Ascent:
    """Gradient ascent of one objective through one feature model, with one optimizer's
    update rule and one seed: ``ascent(canvas, round_index, level) -> Round``."""

    def __init__(self, kernel: Any, feature_model: Any, objective: Any, optimizer: Any, seed: int) -> None:
        self.kernel = kernel
        self.optimizer = optimizer
        self.steps = _count(optimizer, "steps", None)
        self.jitter = _count(optimizer, "jitter", 0)
        self.chunk = max(1, _count(optimizer, "chunk", DEFAULT_CHUNK))
        self.seed = int(seed)
        self._fns = Steps(kernel, feature_model, objective, optimizer.update, self.chunk)
        #: The compiled step loop (traced once per canvas shape and view size).
        self.compiled = self._fns.run
        #: Measured seconds per canvas pixel per step, which sizes the pieces.
        self.pace = Pace()

    def traces(self) -> int:
        """How many times the compiled pieces were traced (once per canvas shape)."""
        return self._fns.traces()

    def begin(self, canvas: Any, choices: Any, round_index: int, level: Any, total: int,
              pull: Any = None) -> tuple[Any, RoundContext]:
        """The canvas as a tensor and the round's context: its shifts, the tie-break
        pattern for the canvas's size, the choices, the view size, the pull."""
        kernel = self.kernel
        view_size, roll = _geometry(level)
        x = kernel.tensor(canvas, "float32")
        shape = tuple(x.shape[1:])
        if any(d is None for d in shape):
            raise ValueError(f"a canvas of unknown size {shape} cannot be dreamed: its tie-break pattern needs the size")
        if view_size is not None and tuple(int(d) for d in shape[:2]) == view_size:
            # one view: the canvas whole. Decided here, from the canvas's own size, never from
            # the shape a compiled function was traced for (a trace generalised over sizes
            # would cut it, and even out the one view's gradient)
            view_size = None
        table = round_shifts(self.seed, int(round_index), int(total), self.jitter, roll)
        shifts = None if table is None else kernel.tensor(table, "int32")
        pattern = kernel.tensor(tie_break_pattern(tuple(int(d) for d in shape)), "float32")
        chosen = None if choices is None else kernel.tensor(choices, "int32")
        return x, RoundContext(shifts, table, pattern, chosen, view_size, pull)

    def start_state(self, x: Any) -> Any:
        kernel = self.kernel
        return kernel.tree_map(lambda value: kernel.like(value, value), self.optimizer.start(x))

    def piece(self, ctx: RoundContext, x: Any, state: Any, done: int, count: int) -> tuple[Any, Any, Any]:
        """``count`` steps from step ``done`` of the round, as one compiled call."""
        kernel = self.kernel
        return self._fns.run(x, state, kernel.tensor(np.int32(count), "int32"), kernel.tensor(np.int32(done), "int32"),
                             ctx.shifts, ctx.pattern, ctx.choices, ctx.pull, view_size=ctx.view_size)

    def __call__(self, canvas: Any, round_index: int, level: Any, choices: Any = None,
                 on_piece: PieceFn | None = None, pull: Any = None) -> Round:
        """Run the round's ``steps`` steps on ``canvas``, cut and shifted as ``level`` (its
        ``view_size``, None for the whole canvas, and ``roll``) says. ``choices`` (int32,
        one per image, or None): the objective's ``selectable`` parameter per image, a
        run-time tensor (see :meth:`dreamfx.kinds.objectives.Objective.score_each`); each view
        of an image gets its image's choice. ``on_piece(steps_done, steps, views_done,
        views)`` (for progress displays) is called after each piece the host already waits
        for: every piece but the round's last, and every group of a split step (``views``
        0 outside split steps); never where it would add a wait, so a round of one piece
        (every small dream) calls it never. ``pull``: the level's target canvas and per-step
        rate (:meth:`dreamfx.engine.pull.Pull.at`), or None."""
        fns, total, pace, kernel = self._fns, self.steps, self.pace, self.kernel
        x, ctx = self.begin(canvas, choices, round_index, level, total, pull)
        state = self.start_state(x)
        batch = int(x.shape[0])
        pixels = batch * int(x.shape[1]) * int(x.shape[2])
        views = int(view_count(tuple(int(d) for d in x.shape), ctx.view_size))
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
                x, state, score = self.split_step(ctx, x, state, done, group, on_group)
                kernel.wait(x)
                pace.update(time.perf_counter() - started, pixels, traces != fns.traces())
                done += 1
                if on_piece is not None and done < total:
                    on_piece(done, total, 0, 0)
                continue
            count = min(total - done, max(1, int(PIECE_SECONDS / max(per_step, 1e-12))))
            started, traces = time.perf_counter(), fns.traces()
            x, state, score = self.piece(ctx, x, state, done, count)
            if done + count < total:  # a last piece need not wait for its result
                kernel.wait(x)
                pace.update(time.perf_counter() - started, pixels * count, traces != fns.traces())
                if on_piece is not None:
                    on_piece(done + count, total, 0, 0)
            done += count
        return Round(x, score)

    def split_step(self, ctx: RoundContext, x: Any, state: Any, done: int, group: int,
                   on_group: Callable[[int, int], None] | None = None) -> tuple[Any, Any, Any]:
        """One step as several calls: the views' gradient ``group`` views (whole chunks) at a
        time; ``on_group(views_done, views)`` after each group but the last."""
        from keras import ops

        kernel, fns = self.kernel, self._fns
        shift = None if ctx.table is None else kernel.tensor(ctx.table[done], "int32")
        views = fns.prepare(x, shift, ctx.pattern, view_size=ctx.view_size)
        count, batch = int(views.shape[0]), int(x.shape[0])
        per_view = None if ctx.choices is None else ops.repeat(ctx.choices, count // batch)
        # a kernel whose chunk loop pads the last chunk gets the same padding here, so both
        # run the same shapes through the network
        pad = -count % self.chunk if kernel.PADS_CHUNKS else 0
        if pad:
            views = ops.pad(views, [(0, pad)] + [(0, 0)] * (len(views.shape) - 1))
            per_view = None if per_view is None else ops.pad(per_view, [(0, pad)])
        parts, scores = [], []
        for first in range(0, count + pad, group):
            part, score = fns.gradient(views[first : first + group],
                                       None if per_view is None else per_view[first : first + group])
            kernel.wait(part)
            parts.append(part)
            scores.append(score)
            if on_group is not None and first + group < count:
                on_group(first + group, count)
        grad = ops.concatenate(parts, axis=0)[:count]
        x, state = fns.finish(x, grad, shift, state, kernel.tensor(np.int32(done), "int32"), ctx.pull,
                              view_size=ctx.view_size)
        return x, state, per_image(ops.concatenate(scores, axis=0)[:count], batch)


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


# -- the host's compile service, and what a loop is handed ----------------------------------------


def _freeze(part: Any) -> Any:
    """A cache-key part: plain values as they are, sequences part by part, levels and other
    objects by :func:`dreamfx.kinds.scalers.level_key` (equal attributes, equal key)."""
    if part is None or isinstance(part, (str, bytes, int, float, bool)):
        return part
    if isinstance(part, (tuple, list)):
        return tuple(_freeze(p) for p in part)
    return level_key(part)


class FunctionCache(LRUCache):
    """Compiled functions by (function code, key), least recently used dropped beyond
    ``size``. ``fn`` is keyed by its code, not its identity: a loop builds a new closure of
    the same function per level and image, and equal keys share the first one compiled."""

    def __init__(self, kernel: Any, size: int = 32) -> None:
        super().__init__(size)
        self.kernel = kernel

    def get(self, fn: Callable[..., Any], key: tuple[Any, ...]) -> Callable[..., Any]:
        # no autograph: a loop's functions are straight-line, and converting them costs time
        return self.get_or_build((getattr(fn, "__code__", fn), _freeze(key)), lambda: self.kernel.compile_function(fn))


class HostRun:
    """The :class:`dreamfx.kinds.loops.LoopRun` of one dream: ``ascend`` runs a round (through
    ``ascend``, the host's attribution and progress included) and ``compile`` compiles
    through ``cache`` when ``compiled`` (see :func:`dreamfx.kinds.scalers.worth_compiling`)."""

    def __init__(self, ascend: Callable[[Any, int, Any], Round], cache: FunctionCache, compiled: bool) -> None:
        self._ascend, self._cache, self.compiled = ascend, cache, compiled

    def ascend(self, canvas: Any, round_index: int, level: Any) -> Round:
        return self._ascend(canvas, round_index, level)

    def compile(self, fn: Callable[..., Any], *key: Any) -> Callable[..., Any]:
        return self._cache.get(fn, key) if self.compiled else fn
