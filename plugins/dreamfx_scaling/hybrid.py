"""Hybrid: the article's 28x28 view first, then tiled levels up to full size."""

from __future__ import annotations

from typing import Any

from dreamfx.plugin import SettingsError

from .downscale import DownscaleLevel, check_method
from .tiling import TileLevel, check_tile_scale, work_size


class HybridScaler:
    """A pyramid: the whole image downscaled (the article's view), then tiled levels.

    Level sizes grow by ``factor`` up to the image size divided by ``tile_scale``; at most
    ``max_levels`` tiled levels (the finest ones) are kept. Between levels the reinjection
    loop re-adds the detail each level lost.
    """

    fully_convolutional = False

    def __init__(self, view_size: tuple[int, int], factor: float, max_levels: int,
                 tile_scale: float, method: str) -> None:
        check_method(method)
        if not 1.2 <= factor <= 4.0:
            raise SettingsError(f"scaler.factor must be between 1.2 and 4 (size ratio between levels), got {factor}")
        if not 1 <= max_levels <= 16:
            raise SettingsError(f"scaler.max_levels must be 1 to 16, got {max_levels}")
        check_tile_scale(tile_scale)
        self.view_size, self.factor, self.max_levels = view_size, factor, max_levels
        self.tile_scale, self.method = tile_scale, method

    def levels(self, image_size: tuple[int, int]) -> list[Any]:
        finest = work_size(image_size, self.tile_scale)
        sizes = []
        scale = 1.0
        # tiled levels while the level is at least two tiles across its short side
        while len(sizes) < self.max_levels:
            size = (max(1, round(finest[0] / scale)), max(1, round(finest[1] / scale)))
            if sizes and min(size) < 2 * min(self.view_size):
                break
            sizes.append(size)
            scale *= self.factor
        tiled = [TileLevel(self.view_size, size, self.method) for size in reversed(sizes)]
        return [DownscaleLevel(self.view_size, self.method), *tiled]
