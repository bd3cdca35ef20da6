"""A spatially weighted feature-map objective, written with ``keras.ops`` only."""

from __future__ import annotations

from typing import Any, Mapping

from keras import ops

from dreamfx.plugin import ModelInfo, Objective, SettingsError


class SpotlightMap(Objective):
    """Mean of one map's activations weighted by ``w = g + outside * (1 - g)``, where ``g`` is
    a Gaussian of ``radius`` (fraction of the map's size) centred at (``x``, ``y``) in [0, 1].

    The weights are built from the activations' own height and width at each call, because
    a map can have any size: 11x11 for conv2 on a 28x28 view, but the whole photo's size
    with the ``octaves`` scaler (the network runs fully convolutionally there)."""

    def __init__(self, model_info: ModelInfo, layer: str, map: int, x: float, y: float,
                 radius: float, outside: float) -> None:
        model_info.check_unit(layer, map, what="map", spatial=True)
        for name, value in (("x", x), ("y", y)):
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"objective.{name} must be in [0, 1] (a fraction of the width or height), got {value}")
        if radius <= 0:
            raise SettingsError(f"objective.radius must be positive, got {radius}")
        self.layer, self.map, self.x, self.y = layer, map, x, y
        self.radius, self.outside = radius, outside
        self.layers = (layer,)

    def weights(self, height: Any, width: Any) -> Any:
        """The (height, width) spotlight weights for a map of that size."""
        rows = (ops.cast(ops.arange(height), "float32") + 0.5) / ops.cast(height, "float32")
        cols = (ops.cast(ops.arange(width), "float32") + 0.5) / ops.cast(width, "float32")
        dist2 = (rows[:, None] - self.y) ** 2 + (cols[None, :] - self.x) ** 2
        spot = ops.exp(-dist2 / (2.0 * self.radius**2))
        return spot + self.outside * (1.0 - spot)

    def score(self, activations: Mapping[str, Any]) -> Any:
        acts = activations[self.layer][..., self.map]  # (batch, height, width), any height and width
        shape = ops.shape(acts)
        return ops.mean(acts * self.weights(shape[1], shape[2]), axis=(1, 2))

    def describe(self) -> str:
        return f"{self.layer} map {self.map} in a spotlight at ({self.x:g}, {self.y:g})"
