"""A spatially weighted feature-map objective."""

from __future__ import annotations

from typing import Any, Mapping

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.objectives import ModelInfo, Objective


class SpotlightMap(Objective):
    """Mean of one map's activations weighted by ``w = g + outside * (1 - g)``, where ``g`` is
    a Gaussian of ``radius`` (fraction of the map's size) centred at (``x``, ``y``) in [0, 1]."""

    def __init__(self, model_info: ModelInfo, layer: str, map: int, x: float, y: float,
                 radius: float, outside: float) -> None:
        model_info.check_unit(layer, map, what="map", spatial=True)
        for name, value in (("x", x), ("y", y)):
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"objective.{name} must be in [0, 1] (a fraction of the width or height), got {value}")
        if radius <= 0:
            raise SettingsError(f"objective.radius must be positive, got {radius}")
        height, width = model_info.layers[layer][:2]
        rows = (tf.range(height, dtype=tf.float32) + 0.5) / height
        cols = (tf.range(width, dtype=tf.float32) + 0.5) / width
        dist2 = (rows[:, None] - y) ** 2 + (cols[None, :] - x) ** 2
        spot = tf.exp(-dist2 / (2.0 * radius**2))
        self.weights = spot + outside * (1.0 - spot)
        self.layer, self.map, self.x, self.y = layer, map, x, y
        self.layers = (layer,)

    def score(self, activations: Mapping[str, Any]) -> tf.Tensor:
        acts = activations[self.layer][..., self.map]
        return tf.reduce_mean(acts * self.weights, axis=[1, 2])

    def describe(self) -> str:
        return f"{self.layer} map {self.map} in a spotlight at ({self.x:g}, {self.y:g})"
