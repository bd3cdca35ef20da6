"""What an input optimizer is.

An optimizer changes a canvas (a batch of images whose sides are whole multiples of the
model's input size) to raise an objective over its model-sized views. ``bind`` happens once
per dream (it is where an implementation compiles its step loop); the bound function is
then called once per round with the whole canvas.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .objectives import Objective
from .scaling import Geometry

#: ``step(canvas, round_index, geometry) -> canvas``: an optimizer bound to a model and
#: objective; ``geometry`` (a scaling level, or a :class:`dreamfx.scaling.Geometry`) says
#: how to cut the canvas into views and how far to shift it per step.
BoundStep = Callable[[Any, int, Geometry], Any]


class Optimizer(Protocol):
    def bind(self, feature_model: Any, objective: Objective, seed: int) -> BoundStep:
        """Return the per-round step function for this feature model, objective and seed.

        The step cuts its canvas into views of ``geometry.view_size`` with
        :func:`dreamfx.scaling.split_views` (or takes it whole when that is None), shifts it
        by up to ``geometry.roll`` pixels per step, and runs all of a round's steps.
        """
