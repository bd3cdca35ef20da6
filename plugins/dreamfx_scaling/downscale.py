"""The article's scaling strategy: the whole image as one model-sized view."""

from __future__ import annotations

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.scaling import resize

from . import RESIZE_METHODS


def check_method(method: str) -> None:
    if method not in RESIZE_METHODS:
        raise SettingsError(f"scaler.method {method!r} is not a resize method; choose one of {', '.join(RESIZE_METHODS)}")


class ResizeLevel:
    """The whole image resized to ``work_size``, as one canvas; enlarged back afterwards.

    The enlarged canvas is blurry: the difference to the original is the detail that the
    reinjection loop adds back. ``view_size`` is ``work_size`` when the model sees the
    canvas as its one view, or None when a fully convolutional model sees it whole.
    """

    roll = 0

    def __init__(self, work_size: tuple[int, int], view_size: tuple[int, int] | None, method: str = "bicubic") -> None:
        self.work_size, self.view_size, self.method = work_size, view_size, method

    def to_canvas(self, images: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(resize(images, self.work_size, self.method), 0.0, 1.0)

    def from_canvas(self, canvas: tf.Tensor, image_size: tuple[int, int]) -> tf.Tensor:
        return resize(canvas, image_size, self.method)


class DownscaleLevel(ResizeLevel):
    """The article's view: the whole image shrunk to exactly the model's input size."""

    def __init__(self, view_size: tuple[int, int], method: str = "bicubic") -> None:
        super().__init__(view_size, view_size, method)


class DownscaleScaler:
    """One level: the whole image shrunk to the model's input size (the article's view)."""

    fully_convolutional = False

    def __init__(self, view_size: tuple[int, int], method: str = "bicubic") -> None:
        check_method(method)
        self.view_size = view_size
        self.level = DownscaleLevel(view_size, method)

    def levels(self, image_size: tuple[int, int]) -> list[DownscaleLevel]:
        return [self.level]
