"""What a scaling strategy is: a map from images to model-sized views and back.

A scaler knows geometry, not the model. The dream loop calls ``to_views`` on a batch of
images ``(B, H, W, C)`` and gets a batch of views ``(N, h, w, C)`` sized for the model,
then ``from_views`` to put (changed) views back at ``image_size``. Whatever
``from_views(to_views(x))`` loses is the *detail* the reinjection loop adds back.
"""

from __future__ import annotations

from typing import Any, Protocol


class Scaler(Protocol):
    view_size: tuple[int, int]

    def to_views(self, images: Any) -> Any:
        """Images ``(B, H, W, C)`` in [0, 1] -> model-sized views ``(N, h, w, C)`` in [0, 1]."""

    def from_views(self, views: Any, image_size: tuple[int, int]) -> Any:
        """Views from :meth:`to_views` -> images ``(B, H, W, C)`` of ``image_size``."""


def resize(images: Any, size: tuple[int, int], method: str = "bicubic") -> Any:
    """Resize a batch with TensorFlow, antialiased when shrinking (no host round trip)."""
    import tensorflow as tf

    shrinking = size[0] < images.shape[1] or size[1] < images.shape[2]
    return tf.image.resize(images, size, method=method, antialias=shrinking)
