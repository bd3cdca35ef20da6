"""The article's scaling strategy: the whole image as one model-sized view."""

from __future__ import annotations

from typing import Any

from keras import ops

from dreamfx.plugin import check_resize_method, resize

check_method = check_resize_method


class ResizeLevel:
    """The whole image resized to ``work_size``, as one canvas; enlarged back afterwards.

    The enlarged canvas is blurry: the difference to the original is the detail that the
    reinjection loop adds back. ``view_size`` is ``work_size`` when the model sees the
    canvas as its one view, or None when a fully convolutional model sees it whole.
    """

    roll = 0

    def __init__(self, work_size: tuple[int, int], view_size: tuple[int, int] | None, method: str) -> None:
        self.work_size, self.view_size, self.method = work_size, view_size, method

    def to_canvas(self, images: Any) -> Any:
        return ops.clip(resize(images, self.work_size, self.method), 0.0, 1.0)

    def from_canvas(self, canvas: Any, image_size: tuple[int, int]) -> Any:
        return resize(canvas, image_size, self.method)


class DownscaleLevel(ResizeLevel):
    """The article's view: the whole image shrunk to exactly the model's input size."""

    def __init__(self, view_size: tuple[int, int], method: str) -> None:
        super().__init__(view_size, view_size, method)


class DownscaleScaler:
    """One level: the whole image shrunk to the model's input size (the article's view)."""

    fully_convolutional = False

    def __init__(self, view_size: tuple[int, int], method: str) -> None:
        check_method(method)
        self.view_size = view_size
        self.level = DownscaleLevel(view_size, method)

    def levels(self, image_size: tuple[int, int]) -> list[DownscaleLevel]:
        return [self.level]
