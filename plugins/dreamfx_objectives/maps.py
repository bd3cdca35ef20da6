"""Objectives over feature maps and whole layers."""

from __future__ import annotations

from typing import Any, Mapping

from keras import ops

from dreamfx.plugin import ModelInfo, Objective, SettingsError


class SingleMap(Objective):
    """The mean activation of one feature map: the article's "single map" objective."""

    def __init__(self, model_info: ModelInfo, layer: str, map: int) -> None:
        model_info.check_unit(layer, map, what="map", spatial=True)
        self.layer, self.map = layer, map
        self.layers = (layer,)
        self.selectable = "map"

    def score(self, activations: Mapping[str, Any]) -> Any:
        return ops.mean(activations[self.layer][..., self.map], axis=(1, 2))

    def score_each(self, activations: Mapping[str, Any], choices: Any) -> Any:
        """Element ``i``'s map ``choices[i]``: a one-hot product picks it (``x * 1 + 0`` is
        exactly ``x``, and the gradient is the one-hot, as the slice's), so the values are
        the same bits as :meth:`score`'s."""
        acts = activations[self.layer]
        pick = ops.one_hot(choices, acts.shape[-1], dtype=acts.dtype)[:, None, None, :]
        return ops.mean(ops.sum(acts * pick, axis=-1), axis=(1, 2))

    def describe(self) -> str:
        return f"{self.layer} map {self.map}"


class WholeLayer(Objective):
    """The total response of a layer: the mean of squared activations over all maps and
    positions (DeepDream's choice: it rewards strong responses wherever they are), or with
    ``mode="mean"`` the plain mean (rewards broad, weak responses as much as strong ones)."""

    def __init__(self, model_info: ModelInfo, layer: str, mode: str) -> None:
        from . import WHOLE_LAYER_MODES

        model_info.check_layer(layer)
        if mode not in WHOLE_LAYER_MODES:
            raise SettingsError(f"objective.mode {mode!r} is not one of {', '.join(WHOLE_LAYER_MODES)}")
        self.layer, self.mode = layer, mode
        self.layers = (layer,)

    def score(self, activations: Mapping[str, Any]) -> Any:
        acts = activations[self.layer]
        axes = tuple(range(1, len(acts.shape)))
        return ops.mean(ops.square(acts) if self.mode == "mean-square" else acts, axis=axes)

    def describe(self) -> str:
        return f"{self.layer} ({self.mode})"
