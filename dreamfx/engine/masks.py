"""Masks: where a dream shows (``--mask MASK.png``, ``output.mask``).

White dreams, black keeps the photo, grey blends. The mask is read once per file (the
regular-file rule and the pixel limit of every image), resized to each photo's size and
feathered (a Gaussian blur of ``output.mask_feather`` times the photo's short side), so its
edges leave no seam; the dreamer blends each result with its input through it, in the
model's space, before anything is written, so every command and the API apply it alike.
The dream itself is computed on the whole photo: the network still sees the context
around a masked region, and the scores are the dream's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dreamfx.cache import process_cache

_FEATHERED = process_cache("masks.feathered", 8, "masks resized and feathered, by file digest, size and feather")


def mask_for(path: str, digest: str, size: tuple[int, int], feather: float) -> np.ndarray:
    """The mask at ``path`` as (H, W) floats in [0, 1] for a photo of ``size`` (H, W):
    its brightness (transparency counts as black), resized, feathered."""

    def build() -> np.ndarray:
        from PIL import Image
        from scipy.ndimage import gaussian_filter

        from dreamfx.io.images import load_picture

        picture = load_picture(Path(path))
        luma = picture.luma if picture.alpha is None else picture.luma * picture.alpha
        image = Image.fromarray(np.asarray(luma, np.float32), mode="F")
        weight = np.asarray(image.resize((size[1], size[0]), Image.Resampling.BILINEAR), np.float32)
        sigma = float(feather) * min(size)
        if sigma > 0:
            weight = gaussian_filter(weight, sigma, mode="nearest")
        # pure black and white stay exact (the photo kept bit for bit, the dream whole)
        return np.clip(weight, 0.0, 1.0)

    return _FEATHERED.get_or_build((digest, tuple(size), float(feather)), build)


def apply_mask(settings: Any, dreamed: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """``dreamed`` (B, H, W[, 3]) where ``settings``' mask is white, ``inputs`` (the same
    shape) where it is black; unchanged without a mask."""
    path = settings.output.get("mask") or ""
    if not path:
        return dreamed
    weight = mask_for(path, settings.mask_sha256, tuple(dreamed.shape[1:3]), settings.output["mask_feather"])
    if dreamed.ndim == 4:
        weight = weight[..., None]
    return (weight * dreamed + (1.0 - weight) * inputs).astype(dreamed.dtype)
