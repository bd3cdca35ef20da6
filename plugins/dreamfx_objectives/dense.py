"""Objectives over units of dense layers."""

from __future__ import annotations

from typing import Any, Mapping

from dreamfx.plugin import ModelInfo, Objective


class ClassUnit(Objective):
    """One unit of a dense layer; on ``logits`` that is a digit's pre-softmax score.

    The pre-softmax value is used because the softmax output can be raised by lowering the
    other classes, which dreams "not the others" instead of the digit.
    """

    def __init__(self, model_info: ModelInfo, unit: int, layer: str) -> None:
        model_info.check_unit(layer, unit, what="unit", spatial=False)
        self.layer, self.unit = layer, unit
        self.layers = (layer,)
        self.selectable = "unit"

    def score(self, activations: Mapping[str, Any]) -> Any:
        return activations[self.layer][:, self.unit]

    def score_each(self, activations: Mapping[str, Any], choices: Any) -> Any:
        """Element ``i``'s unit ``choices[i]`` (a one-hot product: the same values as :meth:`score`)."""
        from keras import ops

        acts = activations[self.layer]
        return ops.sum(acts * ops.one_hot(choices, acts.shape[-1], dtype=acts.dtype), axis=-1)

    def describe(self) -> str:
        return f"{self.layer} unit {self.unit}"
