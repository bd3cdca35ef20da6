"""A term the host adds to any dream's objective: a pull toward a target image.

``dream_batch(images, toward=[Toward(target, weight), ...])`` (one per image, None for none):
beside the objective, each step of the ascent also descends the penalty
``1/2 sum_p k_p (x_p - t_p)^2``, the temporal loss of Ruder et al. ("Artistic style transfer
for videos", 2016) when ``target`` is the previous frame's output warped onto this frame and
``weight`` its consistency mask times the term's weight. It is the host's, so every objective,
scaler, optimizer and loop keeps working, and it acts at every scale:

- on the canvas the network sees (a level's canvas: the photo shrunk to 28x28 for the
  article's downscale, the whole padded photo for tiling), after every optimizer step:
  ``x += r * (to_canvas(t) - x)`` with ``r = 1 - (1 - to_canvas(w))^(1/N)``, N the dream's
  steps, so the pull alone would close the fraction ``w`` of the gap over the whole dream,
  while the objective pushes back at every step;
- at full resolution, after the loop re-added the detail the canvas cannot hold: that detail
  (the image less its round trip through the finest level's canvas) is pulled by ``w``
  toward the target's own detail, once.

A weight of 0 changes nothing: an image without a target, in a batch with others, gets the
same bits as dreamed alone. Zero steps return the input (the term acts through steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from dreamfx.kinds.scalers import level_key


@dataclass(frozen=True)
class Toward:
    """Pull one image's dream toward ``target`` (its shape, in [0, 1], the model's space: gray
    (H, W) or RGB (H, W, 3)) by ``weight`` per pixel ((H, W), each in [0, 1): the fraction of
    the gap the pull alone closes over the dream)."""

    target: np.ndarray
    weight: np.ndarray


def pull_arrays(towards: Sequence[Toward | None] | None, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The batch's targets (B, H, W, C) and weights (B, H, W, C) as float32, or None when no
    image has a target (the dream is then exactly the plain one). An image without one gets
    its own pixels at weight 0. Shapes are checked: a mismatch names the image."""
    if towards is None or all(t is None for t in towards):
        return None
    b, h, w, c = batch.shape
    if len(towards) != b:
        raise ValueError(f"dream_batch got {len(towards)} pull targets for {b} images")
    targets = np.array(batch, np.float32, copy=True)
    weights = np.zeros((b, h, w, 1), np.float32)
    for i, toward in enumerate(towards):
        if toward is None:
            continue
        target = np.asarray(toward.target, np.float32)
        target = target[..., None] if target.ndim == 2 else target
        weight = np.asarray(toward.weight, np.float32)
        if target.shape[:2] != (h, w) or weight.shape != (h, w):
            raise ValueError(f"image {i}: a pull target of {target.shape[:2]} and weight of {weight.shape} for an "
                             f"image of {(h, w)}")
        if target.shape[2] not in (1, c):
            raise ValueError(f"image {i}: a pull target of {target.shape[2]} channels for a model of {c}")
        if not (np.isfinite(weight).all() and np.isfinite(target).all()):
            raise ValueError(f"image {i}: a pull target or weight that is not finite")
        targets[i] = np.clip(target, 0.0, 1.0)  # broadcasts a gray target over the channels
        weights[i, ..., 0] = np.clip(weight, 0.0, 0.999)
    return targets, np.repeat(weights, c, axis=-1)


class Pull:
    """The pull of one dream: its targets and weights as tensors, the canvas of each level
    (computed once per level), and the per-step rate for a dream of ``steps`` steps."""

    def __init__(self, targets: Any, weights: Any, steps: int) -> None:
        self.targets, self.weights, self.steps = targets, weights, int(steps)
        self._levels: dict[Any, tuple[Any, Any]] = {}

    def at(self, level: Any) -> tuple[Any, Any] | None:
        """``(target canvas, per-step rate canvas)`` for ``level``; None for a dream of no steps."""
        from keras import ops

        if self.steps <= 0:
            return None
        key = level_key(level)
        if key not in self._levels:
            target, weight = level.to_canvas(self.targets), level.to_canvas(self.weights)
            rate = 1.0 - ops.power(1.0 - ops.clip(weight, 0.0, 0.999), 1.0 / self.steps)
            self._levels[key] = (ops.convert_to_tensor(target, "float32"), ops.convert_to_tensor(rate, "float32"))
        return self._levels[key]

    def finish(self, image: Any, level: Any) -> Any:
        """``image`` (the loop's full-size result) with the detail ``level``'s canvas cannot
        hold pulled by the weight toward the target's detail."""
        from keras import ops

        if self.steps <= 0:
            return image
        size = (int(image.shape[1]), int(image.shape[2]))
        known = self._levels.get(level_key(level))  # the target's canvas, made for the steps

        def detail(x: Any, canvas: Any = None) -> Any:
            return x - level.from_canvas(level.to_canvas(x) if canvas is None else canvas, size)

        target_detail = detail(self.targets, None if known is None else known[0])
        return ops.clip(image + self.weights * (target_detail - detail(image)), 0.0, 1.0)
