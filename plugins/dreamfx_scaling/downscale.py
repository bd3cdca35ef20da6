"""The article's scaling strategy: the whole image as one model-sized view."""

from __future__ import annotations

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.scaling import resize

from . import RESIZE_METHODS


class DownscaleScaler:
    """Shrink each image to the model's input size; enlarge the view back afterwards.

    The enlarged view is blurry: the difference to the original is the detail that the
    reinjection loop adds back.
    """

    def __init__(self, view_size: tuple[int, int], method: str = "bicubic") -> None:
        if method not in RESIZE_METHODS:
            raise SettingsError(f"scaler.method {method!r} is not a resize method; choose one of {', '.join(RESIZE_METHODS)}")
        self.view_size = view_size
        self.method = method

    def to_views(self, images: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(resize(images, self.view_size, self.method), 0.0, 1.0)

    def from_views(self, views: tf.Tensor, image_size: tuple[int, int]) -> tf.Tensor:
        return resize(views, image_size, self.method)
