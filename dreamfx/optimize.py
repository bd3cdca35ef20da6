"""What an input optimizer is.

An optimizer changes a batch of model-sized views to raise an objective. ``bind`` happens
once per dream (it is where an implementation compiles its step loop); the bound function
is then called once per round with the whole batch of views.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .objectives import Objective

#: ``step(views, round_index) -> views``: an optimizer bound to a feature model and objective.
BoundStep = Callable[[Any, int], Any]


class Optimizer(Protocol):
    def bind(self, feature_model: Any, objective: Objective, seed: int) -> BoundStep:
        """Return the per-round step function for this feature model, objective and seed."""
