"""Small dreams as one compiled call: the scoring before, every round of the loop and the
scoring after traced together.

Round by round, each round is two calls from Python (the step loop and the loop's
between-round work) and each scoring one. For a small dream the calls' overhead is a large
part: a warm single-map dream of a 600x400 photo took 0.77x the time as one call, with the
same bits.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable

import numpy as np

from dreamfx.cache import LRUCache
from dreamfx.engine import ascent as _ascent
from dreamfx.engine.ascent import Ascent
from dreamfx.host.calls import CAUGHT, CallbackError
from dreamfx.kinds.loops import LoopResult, Round

#: Where the host says which faster route it left, and why (``--debug`` shows it).
log = logging.getLogger("dreamfx")


class TracedRun:
    """The :class:`dreamfx.kinds.loops.LoopRun` of a dream traced as a whole (see
    :class:`WholeDreams`): ``ascend`` puts the round's whole step loop in the graph being
    traced, as one piece (pieces give the same values as one loop), and ``compile`` returns
    the function as it is (it is already being compiled). ``pull``: the dream's
    :class:`~dreamfx.engine.pull.Pull`, or None."""

    compiled = True

    def __init__(self, ascent: Ascent, choices: Any, pull: Any = None) -> None:
        self._ascent, self._choices, self._pull = ascent, choices, pull

    def ascend(self, canvas: Any, round_index: int, level: Any) -> Round:
        from keras import ops

        ascent = self._ascent
        if ascent.steps == 0:
            return Round(canvas, ops.full(ops.shape(canvas)[:1], math.nan, "float32"))
        pull = None if self._pull is None else self._pull.at(level)
        x, ctx = ascent.begin(canvas, self._choices, round_index, level, ascent.steps, pull)
        x, _, score = ascent.piece(ctx, x, ascent.start_state(x), 0, ascent.steps)
        return Round(ascent.kernel.like(x, canvas), score)  # the canvas's static shape, which the loop lost

    def compile(self, fn: Callable[..., Any], *key: Any) -> Callable[..., Any]:
        return fn


class WholeDreams:
    """Which dreams run as one compiled call.

    Only where that is sure to agree and to pay: on a kernel that says tracing a whole
    dream pays (TensorFlow; JAX dispatches asynchronously and pays less per call); for a
    loop that declares itself ``traceable`` (its ``__call__`` only calls ``run`` and
    ``keras.ops``, never reads a score on the host: the built-in reinjection loop without
    early stop); for an input shape whose last two round-by-round dreams each took under
    :data:`~.ascent.PIECE_SECONDS` (so the whole call is as short as the pieces that Ctrl-C
    waits for, and a shape seen once, as in a folder of many sizes, is not traced a third
    time). A shape whose trace or call fails goes back to round by round, which names the
    plugin at fault."""

    def __init__(self, loop: Any, kernel: Any) -> None:
        self.enabled = bool(kernel.WHOLE_DREAMS) and getattr(loop, "traceable", False) is True
        self._seconds: dict[Any, list[float]] = {}
        self._functions = LRUCache(8)
        self._refused: set[Any] = set()

    @staticmethod
    def _key(shape: Any, plain: Any) -> Any:
        # plain: no choices; a pulled dream is its own function (its trace takes the pull's tensors)
        return tuple(int(d) for d in shape), plain

    def timed(self, shape: Any, plain: Any, seconds: float) -> None:
        """A round-by-round compiled dream of this input shape took ``seconds``."""
        if not self.enabled:
            return
        if len(self._seconds) > 256:  # bounded, like the compiled functions
            self._seconds.clear()
        self._seconds.setdefault(self._key(shape, plain), []).append(seconds)
        del self._seconds[self._key(shape, plain)][:-2]

    def wanted(self, shape: Any, plain: Any) -> bool:
        key = self._key(shape, plain)
        seconds = self._seconds.get(key, [])
        return (self.enabled and key not in self._refused and len(seconds) == 2
                and max(seconds) < _ascent.PIECE_SECONDS)

    def function(self, shape: Any, plain: Any, build: Callable[[], Any]) -> Any:
        return self._functions.get_or_build(self._key(shape, plain), build)

    def refuse(self, shape: Any, plain: Any) -> None:
        if len(self._refused) > 256:
            self._refused.clear()
        self._refused.add(self._key(shape, plain))

    def __len__(self) -> int:
        return len(self._functions)

    def dream(self, dreamer: Any, batch: Any, choices: Any, on_round: Callable[[int], None] | None,
              stream: bool = False, pull: Any = None) -> Any:
        """``dreamer``'s dream of ``batch`` as one compiled call, when that is sure to pay and
        to agree (:meth:`wanted`) and the caller does not watch it round by round
        (``stream``): ``(LoopResult, before, after)``, or None for the round-by-round way
        (also when the call fails: a debug line says why). ``pull``: a
        :class:`~dreamfx.engine.pull.Pull` (its tensors are the call's inputs), or None; the
        result's image is then already finished (:meth:`~dreamfx.engine.pull.Pull.finish`)."""
        from dreamfx.engine.pull import Pull

        plain = (choices is None, pull is None)
        if stream or not self.wanted(batch.shape, plain):
            return None
        steps = None if pull is None else pull.steps

        def dream(images: Any, choices: Any, targets: Any, weights: Any) -> Any:
            level = dreamer.scaler.levels((int(images.shape[1]), int(images.shape[2])))[-1]

            def scores(images: Any) -> Any:
                return dreamer.scoring.in_one(level, images, choices, dreamer.ascent.chunk)

            before = scores(images)
            traced = None if targets is None else Pull(targets, weights, steps)
            out = dreamer.loop(images, dreamer.scaler, TracedRun(dreamer.ascent, choices, traced))
            after = scores(out.image)
            image = out.image if traced is None else traced.finish(out.image, level)  # in the call: no eager ops
            return image, out.pattern, out.dream, out.detail, before, after

        try:
            fn = self.function(batch.shape, plain, lambda: dreamer.kernel.compile_function(dream))
            image, pattern, dream_, detail, before, after = fn(batch, choices, *(
                (None, None) if pull is None else (pull.targets, pull.weights)))
            before, after = np.asarray(before), np.asarray(after)
        except CAUGHT as exc:  # noqa: BLE001 - the round-by-round way runs, and names the plugin at fault
            log.debug("the dream of a batch of shape %s as one compiled call failed (%s: %s); this shape is "
                      "dreamed round by round from now on", tuple(batch.shape), type(exc).__name__, exc)
            self.refuse(batch.shape, plain)
            return None
        if on_round is not None:
            for index in range(dreamer.rounds_for((int(batch.shape[1]), int(batch.shape[2])))):
                try:
                    on_round(index)
                except CAUGHT as exc:
                    raise CallbackError(exc) from exc
        return LoopResult(image=image, pattern=pattern, dream=dream_, detail=detail), before, after
