"""Tiling: the image cut into model-sized tiles that cover every pixel."""

from __future__ import annotations

import tensorflow as tf

from dreamfx.errors import SettingsError
from dreamfx.scaling import resize, tile_grid

from .downscale import check_method


class TileLevel:
    """The image at a working size, reflect-padded to whole tiles, as one canvas.

    Padding is split between both sides and mirrors the border, so the last row and column
    of tiles are real tiles (every pixel is dreamed) and the padded margin continues the
    image instead of adding an edge. ``roll`` lets the optimizer move the tile grid by up
    to one tile per step, so tile borders never stay in one place.
    """

    def __init__(self, view_size: tuple[int, int], work_size: tuple[int, int], method: str = "bicubic") -> None:
        self.view_size, self.work_size, self.method = view_size, work_size, method
        rows, cols = tile_grid(work_size, view_size)
        pad_h, pad_w = rows * view_size[0] - work_size[0], cols * view_size[1] - work_size[1]
        self.pads = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        self.roll = max(view_size)

    def to_canvas(self, images: tf.Tensor) -> tf.Tensor:
        work = tf.clip_by_value(resize(images, self.work_size, self.method), 0.0, 1.0)
        return _reflect_pad(work, self.pads)

    def from_canvas(self, canvas: tf.Tensor, image_size: tuple[int, int]) -> tf.Tensor:
        (top, _), (left, _) = self.pads
        work = canvas[:, top : top + self.work_size[0], left : left + self.work_size[1], :]
        return resize(work, image_size, self.method)


def _reflect_pad(images: tf.Tensor, pads: tuple[tuple[int, int], tuple[int, int]]) -> tf.Tensor:
    """Mirror padding that also works when the pad is wider than the image (repeats it)."""
    (top, bottom), (left, right) = pads
    while top or bottom or left or right:
        h, w = int(images.shape[1]), int(images.shape[2])
        step = [[0, 0], [min(top, h - 1), min(bottom, h - 1)], [min(left, w - 1), min(right, w - 1)], [0, 0]]
        if h == 1 or w == 1:  # a 1-pixel side cannot be mirrored: repeat it
            images = tf.pad(images, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="SYMMETRIC")
            break
        images = tf.pad(images, step, mode="REFLECT")
        top, bottom, left, right = top - step[1][0], bottom - step[1][1], left - step[2][0], right - step[2][1]
    return images


#: The largest scale a scaler accepts (image pixels per model pixel).
MAX_SCALE = 1000.0


def check_tile_scale(tile_scale: float, key: str = "tile_scale") -> None:
    if not 1.0 <= tile_scale <= MAX_SCALE:
        raise SettingsError(f"scaler.{key} must be 1 to {MAX_SCALE:g} (image pixels per model pixel), got {tile_scale}")


def work_size(image_size: tuple[int, int], tile_scale: float) -> tuple[int, int]:
    """The working size at which each tile covers ``tile_scale`` x the view size."""
    return max(1, round(image_size[0] / tile_scale)), max(1, round(image_size[1] / tile_scale))


class TilingScaler:
    """One level: model-sized tiles over the image, each covering ``tile_scale`` x 28 pixels.

    ``tile_scale = 1`` dreams at full resolution (the fine look: many small ghosts);
    ``tile_scale = 4`` shrinks the image 4x first, so each tile sees 112x112 pixels.
    """

    fully_convolutional = False

    def __init__(self, view_size: tuple[int, int], tile_scale: float = 1.0, method: str = "bicubic") -> None:
        check_method(method)
        check_tile_scale(tile_scale)
        self.view_size, self.tile_scale, self.method = view_size, tile_scale, method

    def levels(self, image_size: tuple[int, int]) -> list[TileLevel]:
        return [TileLevel(self.view_size, work_size(image_size, self.tile_scale), self.method)]
