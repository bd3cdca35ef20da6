"""Masks: where a dream shows (``--mask MASK.png``, ``output.mask``).

White dreams, black keeps the photo, grey blends. The mask is read once per file (the
regular-file rule and the pixel limit of every image), resized to each photo's size and
feathered (a Gaussian blur of ``output.mask_feather`` times the photo's short side), so its
edges leave no seam; the dreamer blends each result with its input through it, in the
model's space, before anything is written, so every command and the API apply it alike.
The dream itself is computed on the whole photo: the network still sees the context
around a masked region, and the scores are the dream's own.

A batch may also give each image a mask of its own (:class:`MaskFile`, ``dream_batch(...,
masks=...)``: a folder run's mask folder, the explorer's uploaded mask): each result is
blended through its own mask exactly as one mask for all would blend it, and its settings
name that mask (``output.mask``, ``mask_sha256``), so its provenance repeats it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dreamfx.cache import process_cache

_FEATHERED = process_cache("masks.feathered", 8, "masks resized and feathered, by file digest, size and feather")


@dataclass(frozen=True)
class MaskFile:
    """One image's own mask: the file's absolute path and the SHA-256 of its bytes (checked
    when the run was planned), and, where the file is not at hand (a cluster worker, the
    explorer's upload), its bytes; ``feather``: its edge blur (None: the settings'
    ``output.mask_feather``)."""

    path: str
    sha256: str
    data: bytes | None = field(default=None, repr=False, compare=False)
    feather: float | None = None


def settings_mask(settings: Any) -> MaskFile | None:
    """The settings' one mask for all (``--mask FILE``) as a :class:`MaskFile` (its path and
    the digest planning read), or None: what a cluster worker is sent with the file's bytes,
    so it never reads the path (it may not exist there, or hold another file)."""
    path = settings.output.get("mask") or ""
    return MaskFile(path, settings.mask_sha256) if path else None


def with_bytes(mask: MaskFile | None) -> MaskFile | None:
    """``mask`` with its file's bytes, which a cluster worker needs (no shared filesystem);
    they must be what the plan read (else an :class:`~dreamfx.errors.ImageError`)."""
    if mask is None:
        return None
    from dreamfx.errors import ImageError
    from dreamfx.io.images import digest, read_input_bytes

    data = read_input_bytes(mask.path)
    if digest(data) != mask.sha256:
        raise ImageError(f"mask {mask.path} changed since the run was planned; run it again")
    return replace(mask, data=data)


def mask_for(path: str, digest: str, size: tuple[int, int], feather: float, data: bytes | None = None) -> np.ndarray:
    """The mask at ``path`` (or its bytes ``data``) as (H, W) floats in [0, 1] for a photo of
    ``size`` (H, W): its brightness (transparency counts as black), resized, feathered."""

    def build() -> np.ndarray:
        from PIL import Image
        from scipy.ndimage import gaussian_filter

        from dreamfx.io.images import load_picture, picture_of_bytes

        picture = load_picture(Path(path)) if data is None else picture_of_bytes(data, path, known_digest=digest)
        luma = picture.luma if picture.alpha is None else picture.luma * picture.alpha
        image = Image.fromarray(np.asarray(luma, np.float32), mode="F")
        weight = np.asarray(image.resize((size[1], size[0]), Image.Resampling.BILINEAR), np.float32)
        sigma = float(feather) * min(size)
        if sigma > 0:
            weight = gaussian_filter(weight, sigma, mode="nearest")
        # pure black and white stay exact (the photo kept bit for bit, the dream whole)
        return np.clip(weight, 0.0, 1.0)

    return _FEATHERED.get_or_build((digest, tuple(size), float(feather)), build)


def apply_mask(settings: Any, dreamed: np.ndarray, inputs: np.ndarray,
               masks: Sequence[MaskFile | None] | None = None) -> np.ndarray:
    """``dreamed`` (B, H, W[, 3]) where ``settings``' mask is white, ``inputs`` (the same
    shape) where it is black; unchanged without a mask. ``masks``: one per image, each
    image's own (None: the settings' mask, if any), each blended as that mask alone for the
    whole batch would blend it (the same bits)."""
    if masks is None:
        return _blend(settings, dreamed, inputs)
    if len(masks) != len(dreamed):
        raise ValueError(f"dream_batch got {len(masks)} masks for {len(dreamed)} images")
    return np.stack([_blend(settings if mask is None else with_mask(settings, mask), dreamed[i:i + 1],
                            inputs[i:i + 1], None if mask is None else mask.data)[0]
                     for i, mask in enumerate(masks)])


def _blend(settings: Any, dreamed: np.ndarray, inputs: np.ndarray, data: bytes | None = None) -> np.ndarray:
    path = settings.output.get("mask") or ""
    if not path:
        return dreamed
    weight = mask_for(path, settings.mask_sha256, tuple(dreamed.shape[1:3]), settings.output["mask_feather"], data)
    if dreamed.ndim == 4:
        weight = weight[..., None]
    return (weight * dreamed + (1.0 - weight) * inputs).astype(dreamed.dtype)


def with_mask(settings: Any, mask: MaskFile) -> Any:
    """``settings`` with ``mask`` as its mask (``output.mask``, ``mask_sha256``): the settings
    of one image dreamed through its own mask, as ``--mask`` with that file resolves them."""
    feather = {} if mask.feather is None else {"mask_feather": float(mask.feather)}
    return replace(settings, output={**settings.output, "mask": mask.path, **feather}, mask_sha256=mask.sha256)


def with_masks(masks: Sequence[MaskFile | None] | None, results: list[Any]) -> list[Any]:
    """``results`` (a batch's :class:`~dreamfx.engine.results.DreamResult`, in order), each
    whose image had a mask of its own carrying settings that name it."""
    for result, mask in zip(results, masks or ()):
        if mask is not None:
            result.settings = with_mask(result.settings, mask)
    return results
