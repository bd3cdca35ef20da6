"""What a dream loop is: rounds of optimisation combined with rescaling.

The loop owns the recipe (how many rounds, what happens between them, when to stop); the
scaler owns geometry; the host owns the gradient ascent. A loop is handed a
:class:`LoopRun`: ``run.ascend(canvas, round_index, level)`` runs one round of the
optimizer's steps on a level's canvas and returns a :class:`Round` (the new canvas and the
objective per image, so a loop can stop early), and ``run.compile(fn, *key)`` hands a
function of tensors to the host, which compiles it once per ``key`` when that pays (a batch,
or a dreamer's second dream) and otherwise returns it as it is. Write the loop's own
arithmetic with ``keras.ops``. All tensors stay on the device the host placed them on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np


class Round:
    """One round's result: ``canvas`` (the optimised canvas, a tensor) and ``score`` (the
    objective per image at the round's last step, mean over the views: numpy ``(B,)``; NaN
    for a round of zero steps). Unpacks as ``canvas, score = round``.

    The score is fetched from the device only when read, so a loop that never looks at it
    does not wait for the round to finish."""

    __slots__ = ("canvas", "_score")

    def __init__(self, canvas: Any, score: Any) -> None:
        self.canvas = canvas
        self._score = score

    @property
    def score(self) -> np.ndarray:
        if not isinstance(self._score, np.ndarray):
            self._score = np.asarray(self._score, np.float32).reshape(-1)
        return self._score

    def __iter__(self) -> Iterator[Any]:
        yield self.canvas
        yield self.score

    def __repr__(self) -> str:
        return f"Round(canvas={tuple(getattr(self.canvas, 'shape', ()))}, score={self.score!r})"


@dataclass
class LoopResult:
    """The result of a loop, with the intermediates the article's figure shows.

    All are tensors of shape ``(B, H, W, C)`` except ``pattern``: the finest level's
    optimised canvas (for the downscale strategy, the 28x28 pattern).
    """

    image: Any  # the result: dream with the lost detail re-added, clipped to [0, 1]
    pattern: Any  # the last round's optimised canvas
    dream: Any  # that canvas put back at full size (blurry, before re-adding detail)
    detail: Any  # what the last level's round trip loses: x - from_canvas(to_canvas(x))


@runtime_checkable
class LoopRun(Protocol):
    """What the host hands a loop for one dream."""

    def ascend(self, canvas: Any, round_index: int, level: Any) -> Round:
        """One round of optimizer steps on ``canvas`` (a level's canvas ``(B, H, W, C)``),
        cut and shifted as ``level`` (its ``view_size`` and ``roll``) says. ``round_index``
        counts the dream's rounds from 0; with the seed it fixes the round's random shifts."""

    def compile(self, fn: Callable[..., Any], *key: Any) -> Callable[..., Any]:
        """``fn`` compiled (once per ``key``, e.g. the level and image size it closes over),
        or ``fn`` itself when compiling would cost more than it saves. ``fn`` takes and
        returns tensors and runs straight through (no Python ``if``/``for`` on tensor values)."""


@runtime_checkable
class DreamLoop(Protocol):
    """``loop(images, scaler, run) -> LoopResult``; optionally ``units(levels) -> int``, the
    number of ``run.ascend`` calls a dream makes (progress displays count them),
    ``describe() -> str``, a line for summaries, and ``traceable = True``: a promise that
    ``__call__`` only calls ``run`` and ``keras.ops`` and never reads a round's score on the
    host, so the host may trace a whole small dream as one compiled call
    (:class:`dreamfx.engine.whole.WholeDreams`)."""

    def __call__(self, images: Any, scaler: Any, run: LoopRun) -> LoopResult:
        """Dream a batch of images ``(B, H, W, C)`` in [0, 1]."""


def units_of(loop: Any, levels: Sequence[Any]) -> int:
    """How many rounds (``run.ascend`` calls) ``loop`` makes over ``levels``: its ``units``
    if it has one, else its ``rounds`` (1 if absent) per level."""
    units = getattr(loop, "units", None)
    if callable(units):
        return int(units(levels))
    return int(getattr(loop, "rounds", 1)) * len(levels)


# -- the contract, checked when a component is built ------------------------------------------


def problem(obj: Any) -> str | None:
    """Why a built loop does not meet this contract (checked when it is built), or None."""
    return None if callable(obj) else "it is not callable as loop(images, scaler, run)"
