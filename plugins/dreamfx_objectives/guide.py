"""Guided DeepDream: the dream raises, at each position, the match between the photo's
features and the guide image's best-matching feature.

This is the guide of the original DeepDream notebook: with ``x`` the photo's feature
vector at a position of ``layer`` and ``y_1 ... y_M`` the guide's at each of its positions,
the score is the mean over positions of ``max_m x . y_m``; its gradient at each position is
the guide feature that matches best, so the photo grows towards whatever of the guide it
already resembles. The guide's features are computed once, when the objective is built
(once per run, not per image), through ``ctx.model.activations``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
from keras import ops

from dreamfx.plugin import ModelInfo, Objective, SettingsError, load_picture


def guide_image(path: str, size: tuple[int, int], invert: bool) -> np.ndarray:
    """The guide as the network sees it: its brightness, resized to ``size`` (H, W), in
    [0, 1]; ``invert`` for dark ink on light paper (MNIST digits are white on black)."""
    from PIL import Image

    picture = load_picture(Path(path))  # the regular-file rule and the pixel limit of any image
    luma = picture.luma if picture.alpha is None else picture.luma * picture.alpha
    small = Image.fromarray(np.asarray(luma, np.float32), mode="F").resize((size[1], size[0]), Image.Resampling.BOX)
    pixels = np.clip(np.asarray(small, np.float32), 0.0, 1.0)
    return 1.0 - pixels if invert else pixels


class Guide(Objective):
    """The best-matching dot product with a guide image's features, per position."""

    def __init__(self, model_info: ModelInfo, layer: str, image: str, invert: bool) -> None:
        if not image:
            raise SettingsError('objective.image is required: the guide image, e.g. --set objective.image=digit.png')
        model_info.check_layer(layer, spatial=True)
        self.layer, self.image, self.invert = layer, image, invert
        self.layers = (layer,)
        pixels = guide_image(image, model_info.input_size, invert)
        batch = np.repeat(pixels[None, :, :, None], int(model_info.input_shape[2]), axis=-1)
        acts = model_info.activations(batch, [layer])[layer][0]
        features = acts.reshape(-1, acts.shape[-1]).astype(np.float32)  # (positions, maps)
        if not np.any(features > 0):
            raise SettingsError(f"the guide {image} does not excite layer {layer} at all (every activation is zero): "
                                "try objective.invert = true (the network knows white strokes on black) or "
                                "another layer")
        self.features = features

    def score(self, activations: Mapping[str, Any]) -> Any:
        acts = activations[self.layer]
        flat = ops.reshape(acts, (ops.shape(acts)[0], -1, int(acts.shape[-1])))
        guide = ops.convert_to_tensor(self.features, dtype=acts.dtype)
        dots = ops.einsum("bnc,mc->bnm", flat, guide)
        return ops.mean(ops.max(dots, axis=-1), axis=1)

    def describe(self) -> str:
        return f"{self.layer} guided by {Path(self.image).name}"
