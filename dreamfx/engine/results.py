"""What a dream takes and gives back: images as the model's batch (:func:`model_batch`),
:class:`DreamResult` (the result and the article's intermediates), :class:`Piece` (where a
dream stands, for progress displays), :func:`widen` (the output's contrast) and why a
result must not be written (:func:`problem_of`, naming the plugin to blame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from dreamfx.config.settings import Settings
from dreamfx.errors import ImageError
from dreamfx.host.calls import describe_component
from dreamfx.io.images import LUMA


@dataclass
class DreamResult:
    """A dream's result and the intermediates of the article's figure, as float arrays in [0, 1]."""

    image: np.ndarray  # (H, W), or (H, W, 3) for a 3-channel model: the result, detail re-added (output.contrast applied)
    pattern: np.ndarray  # (h, w) or (h, w, 3): the first optimised model-sized view of the last round
    dream: np.ndarray  # (H, W) or (H, W, 3): the blurry upscaled dream, before the detail is re-added
    detail: np.ndarray  # (H, W) or (H, W, 3): the detail the scaling lost, centred on 0
    score_before: float  # objective on the scaler's views of the input
    score_after: float  # objective on the scaler's views of the output
    settings: Settings
    objective: str
    device: str
    seconds: float
    #: Why this image must not be written (a non-finite score or image, naming the plugin), or None.
    problem: str | None = None
    #: The Keras backend that dreamed it.
    backend: str = "tensorflow"
    #: Why nothing changed, when the objective was zero on the input and on the result (a
    #: :class:`dreamfx.engine.responses.Silence`: what was silent and a map that responds), or None.
    silence: Any = None

    @property
    def contrast(self) -> np.ndarray:
        """The result with ``output.panel_contrast`` applied (the panel's last view), shaped as ``image``."""
        image = self.image if self.image.ndim == 3 else self.image[..., None]
        widened = np.asarray(widen(image[None], self.settings.output["panel_contrast"]))[0]
        return widened if self.image.ndim == 3 else widened[..., 0]

    @property
    def gain(self) -> float:
        """score_after / score_before (inf when the feature was silent before)."""
        return self.score_after / self.score_before if self.score_before > 0 else float("inf")


@dataclass(frozen=True)
class Piece:
    """Where a dream stands, for progress displays (``dream_batch(..., on_piece=...)``):
    reported after each bounded call of a round's step loop that the host already waits for
    (pieces of steps, groups of views of a split step: see :mod:`dreamfx.engine.ascent`) and at
    each round's end."""

    round_index: int  # the round under way (from 0)
    rounds: int  # rounds the dream makes (at most: a loop may stop early)
    steps_done: int  # whole steps of this round done
    steps: int  # steps per round
    views_done: int = 0  # of a split step under way (a huge canvas): views whose gradient is done
    views: int = 0  # that step's views (0: no split step under way)
    #: The share of the whole dream done, 0 to 1: rounds weighted by their level's pixels
    #: (see :meth:`Dreamer.round_weights`), steps and views within a round counted evenly.
    fraction: float = 0.0

    @property
    def round_end(self) -> bool:
        return self.steps_done >= self.steps and not self.views


def widen(images: Any, factor: float) -> Any:
    """Scale the width of each image's value distribution around its mean by ``factor``."""
    from keras import ops

    images = ops.convert_to_tensor(images, "float32")
    if factor == 1.0:
        return images
    mean = ops.mean(images, axis=[1, 2, 3], keepdims=True)
    return ops.clip(mean + (images - mean) * factor, 0.0, 1.0)


def model_batch(images: Sequence[np.ndarray], channels: int, model_name: str) -> np.ndarray:
    """Same-sized (H, W) or (H, W, C) images as one (B, H, W, ``channels``) float32 batch:
    gray repeated for a colour model, RGB(A) reduced to luma for a gray one."""
    arrays = [_channels_of(np.asarray(image, np.float32), channels, model_name) for image in images]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"dream_batch needs images of one size, got {sorted(shapes)}")
    batch = np.stack(arrays)
    if not np.isfinite(batch).all():
        raise ImageError("an input image holds non-finite values (NaN or infinity)")
    return batch


def _channels_of(image: np.ndarray, want: int, model_name: str) -> np.ndarray:
    """One (H, W) or (H, W, C) image as (H, W, ``want``) for a model of that many channels."""
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"dream_batch needs (height, width) or (height, width, channels) arrays, got {image.shape}")
    have = image.shape[-1]
    if have == want:
        return image
    if have == 4 and want == 3:
        return image[..., :3]
    if have in (3, 4):
        image = (image[..., :3] @ LUMA)[..., None]
    elif have != 1:
        raise ValueError(f"cannot feed {have}-channel images to model {model_name!r}, which takes {want} channels")
    return image if want == 1 else np.repeat(image, want, axis=-1)


def problem_of(components: dict[str, Any], before: float, after: float, image: np.ndarray) -> str | None:
    """Why one image's dream must not be written, naming the plugin to blame, or None."""
    objective = describe_component(components["objective"])
    if not math.isfinite(before):
        return f"{objective} returned a non-finite score ({before}) on the input"
    finite = np.isfinite(image)
    if not finite.all():
        bad = image[~finite].flat[0]
        return (f"the dream produced a non-finite image ({bad}): {describe_component(components['optimizer'])} "
                f"with {describe_component(components['loop'])} on the gradient of {objective}")
    if not math.isfinite(after):
        return f"{objective} returned a non-finite score ({after}) on the dreamed image"
    return None
