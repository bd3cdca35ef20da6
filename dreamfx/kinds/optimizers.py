"""What an input optimizer is: an update rule, nothing else.

The host (:mod:`dreamfx.engine`) owns the plumbing of gradient ascent on a canvas: the
tie-break pattern, the per-step shifts (tile-grid offsets or jitter), cutting the canvas
into model-sized views, the gradient in chunks of views, putting it back together, evening
it out per position on tiled levels, undoing the shift, the compiled step loop run in
bounded pieces, clipping to [0, 1]. Per step it hands the optimizer the gradient of the
objective with respect to the canvas, per image, and the optimizer says how the canvas
moves:

    state = optimizer.start(canvas)                       # once per round
    canvas, state = optimizer.update(canvas, gradient, state, step)   # every step

``update`` is traced inside the host's compiled loop, so write it with ``keras.ops`` (never
``tf.*``): the same optimizer then runs under any Keras backend. ``state`` is anything
made of tensors (``()``, a tensor, a tuple or dict of them) whose structure and shapes stay
the same from step to step: Adam's moments, for example. ``step`` is the step's index in
the round, a scalar int32 tensor.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable
from dreamfx.kinds import short

#: Views per network call when an optimizer does not say (its ``chunk`` attribute).
DEFAULT_CHUNK = 128


@runtime_checkable
class Optimizer(Protocol):
    """An update rule the host runs for ``steps`` steps per round.

    Optional attributes the host reads: ``jitter`` (random shift in pixels per step on
    levels without a tile grid; 0 or absent: none) and ``chunk`` (views per network call,
    :data:`DEFAULT_CHUNK` if absent).
    """

    steps: int

    def start(self, canvas: Any) -> Any:
        """The state a round starts from (``canvas``: the round's first canvas)."""

    def update(self, canvas: Any, gradient: Any, state: Any, step: Any) -> tuple[Any, Any]:
        """One step: the next canvas (the host clips it to [0, 1]) and the next state.

        ``canvas`` and ``gradient`` are ``(B, H, W, C)`` float32; ``gradient`` is the
        gradient of the objective (summed over the views of each image) with respect to the
        canvas. Work per image (reduce over axes 1-3, never over the batch): the host
        promises that a batch dreams as its images dreamed one by one.
        """


class OptimizerBase:
    """A convenient base: ``steps``, ``jitter``, ``chunk``, a stateless :meth:`start` and a
    :meth:`describe` line. Subclasses set their parameters and write :meth:`update`."""

    steps: int = 20
    jitter: int = 0
    chunk: int = DEFAULT_CHUNK

    def start(self, canvas: Any) -> Any:
        return ()

    def update(self, canvas: Any, gradient: Any, state: Any, step: Any) -> tuple[Any, Any]:
        raise NotImplementedError  # abstract

    def describe(self) -> str:
        """What a run's summary shows beside its "rounds x steps" (which the host fills from
        ``steps`` and the loop's rounds): the optimizer's other settings, or "" for none."""
        return ""


# -- the contract, checked when a component is built ------------------------------------------


def problem(obj: Any) -> str | None:
    """Why a built optimizer does not meet this contract (checked when it is built), or None."""
    # dreamfx/kinds/optimizers.py: steps per round, and update(canvas, gradient, state, step)
    if not callable(getattr(obj, "update", None)):
        return "it has no update(canvas, gradient, state, step) method"
    steps = getattr(obj, "steps", None)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        return f"its steps (steps per round) must be a whole number, 0 or more, got {short(steps)}"
    if not callable(getattr(obj, "start", None)):
        return "it has no start(canvas) method (the state a round starts from; OptimizerBase gives ())"
    return None
