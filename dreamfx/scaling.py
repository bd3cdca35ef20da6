"""What a scaling strategy is: the levels at which a model-sized network sees an image.

A scaler knows geometry, not the model. For an image size it returns its *levels*, coarse
to fine. At each level the image becomes a *canvas*: a batch ``(B, Hc, Wc, C)`` whose
height and width are whole multiples of the model's input size, so the canvas is cut into
model-sized views by a pure reshape (:func:`split_views`) inside the optimizer's compiled
step. ``from_canvas`` puts a (changed) canvas back at the image size; whatever
``from_canvas(to_canvas(x))`` loses is the *detail* the reinjection loop adds back.

``roll`` is how far the optimizer may shift the canvas before cutting it, per step: a
random shift of up to one tile moves the tile borders every step, so no seams form.
``view_size`` is the size of the views the canvas is cut into; ``None`` means the whole
canvas is one view, for scalers whose model runs at any size (``fully_convolutional``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class Geometry:
    """How the optimizer cuts and shifts a canvas: what a bound step needs of a level."""

    view_size: tuple[int, int] | None
    roll: int = 0


class Level(Protocol):
    view_size: tuple[int, int] | None
    roll: int

    def to_canvas(self, images: Any) -> Any:
        """Images ``(B, H, W, C)`` in [0, 1] -> canvas ``(B, a*h, b*w, C)`` in [0, 1]."""

    def from_canvas(self, canvas: Any, image_size: tuple[int, int]) -> Any:
        """A canvas from :meth:`to_canvas` -> images ``(B, H, W, C)`` of ``image_size``."""


class Scaler(Protocol):
    view_size: tuple[int, int]
    #: True when levels hand the optimizer whole canvases of any size (view_size None);
    #: the host then builds a feature model that accepts any input size.
    fully_convolutional: bool

    def levels(self, image_size: tuple[int, int]) -> Sequence[Level]:
        """The levels for an image of ``image_size``, coarse to fine (at least one)."""


def resize(images: Any, size: Sequence[int], method: str = "bicubic") -> Any:
    """Resize a batch with TensorFlow, antialiased when shrinking (no host round trip)."""
    import tensorflow as tf

    size = (int(size[0]), int(size[1]))
    if (int(images.shape[1]), int(images.shape[2])) == size:
        return images
    shrinking = size[0] < images.shape[1] or size[1] < images.shape[2]
    return tf.image.resize(images, size, method=method, antialias=shrinking)


def tile_grid(size: Sequence[int], view_size: Sequence[int]) -> tuple[int, int]:
    """How many views down and across cover ``size`` (the last row and column included)."""
    return math.ceil(size[0] / view_size[0]), math.ceil(size[1] / view_size[1])


def split_views(canvas: Any, view_size: Sequence[int]) -> Any:
    """Cut a canvas ``(B, a*h, b*w, C)`` into views ``(B*a*b, h, w, C)``, image-major."""
    import tensorflow as tf

    h, w = view_size
    shape = tf.shape(canvas)
    a, b = shape[1] // h, shape[2] // w
    x = tf.reshape(canvas, [shape[0], a, h, b, w, shape[3]])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, h, w, shape[3]])


def merge_views(views: Any, canvas_shape: Any, view_size: Sequence[int]) -> Any:
    """The inverse of :func:`split_views` for a canvas of ``canvas_shape``."""
    import tensorflow as tf

    h, w = view_size
    bsz, a, b, c = canvas_shape[0], canvas_shape[1] // h, canvas_shape[2] // w, canvas_shape[3]
    x = tf.reshape(views, [bsz, a, b, h, w, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [bsz, a * h, b * w, c])
