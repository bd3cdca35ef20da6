"""Objectives over feature maps of convolutional layers."""

from __future__ import annotations

from typing import Any, Mapping

import tensorflow as tf

from dreamfx.objectives import ModelInfo, Objective


class SingleMap(Objective):
    """The mean activation of one feature map: the article's "single map" objective."""

    def __init__(self, model_info: ModelInfo, layer: str, map: int) -> None:
        model_info.check_unit(layer, map, what="map", spatial=True)
        self.layer, self.map = layer, map
        self.layers = (layer,)

    def score(self, activations: Mapping[str, Any]) -> tf.Tensor:
        return tf.reduce_mean(activations[self.layer][..., self.map], axis=[1, 2])

    def describe(self) -> str:
        return f"{self.layer} map {self.map}"
