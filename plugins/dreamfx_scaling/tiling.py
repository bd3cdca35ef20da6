"""Tiling: the image cut into model-sized tiles that cover every pixel."""

from __future__ import annotations

from typing import Any

from keras import ops

from dreamfx.plugin import SettingsError, reflect_pad, resize, tile_grid

from .downscale import check_method


class TileLevel:
    """The image at a working size, reflect-padded to whole tiles, as one canvas.

    Padding is split between both sides and mirrors the border, so the last row and column
    of tiles are real tiles (every pixel is dreamed) and the padded margin continues the
    image instead of adding an edge. ``roll`` lets the optimizer move the tile grid by up
    to one tile per step, so tile borders never stay in one place.
    """

    def __init__(self, view_size: tuple[int, int], work_size: tuple[int, int], method: str) -> None:
        self.view_size, self.work_size, self.method = view_size, work_size, method
        rows, cols = tile_grid(work_size, view_size)
        pad_h, pad_w = rows * view_size[0] - work_size[0], cols * view_size[1] - work_size[1]
        self.pads = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        self.roll = max(view_size)

    def to_canvas(self, images: Any) -> Any:
        work = ops.clip(resize(images, self.work_size, self.method), 0.0, 1.0)
        return reflect_pad(work, self.pads)

    def from_canvas(self, canvas: Any, image_size: tuple[int, int]) -> Any:
        (top, _), (left, _) = self.pads
        work = canvas[:, top : top + self.work_size[0], left : left + self.work_size[1], :]
        return resize(work, image_size, self.method)


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

    def __init__(self, view_size: tuple[int, int], tile_scale: float, method: str) -> None:
        check_method(method)
        check_tile_scale(tile_scale)
        self.view_size, self.tile_scale, self.method = view_size, tile_scale, method

    def levels(self, image_size: tuple[int, int]) -> list[TileLevel]:
        return [TileLevel(self.view_size, work_size(image_size, self.tile_scale), self.method)]
