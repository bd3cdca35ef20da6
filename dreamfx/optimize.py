"""What an input optimizer is.

An optimizer changes a canvas (a batch of images whose sides are whole multiples of the
model's input size) to raise an objective over its model-sized views. ``bind`` happens once
per dream (it is where an implementation compiles its step loop); the bound function is
then called once per round with the whole canvas.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .objectives import Objective

#: ``step(canvas, round_index, roll) -> canvas``: an optimizer bound to a model and objective.
#: ``roll`` is the scaling level's largest random shift (see :mod:`dreamfx.scaling`).
BoundStep = Callable[[Any, int, int], Any]


class Optimizer(Protocol):
    def bind(self, feature_model: Any, objective: Objective, seed: int, view_size: tuple[int, int]) -> BoundStep:
        """Return the per-round step function for this feature model, objective, seed and view size.

        The step cuts its canvas into views of ``view_size`` with
        :func:`dreamfx.scaling.split_views` and runs all of a round's steps on them.
        """
