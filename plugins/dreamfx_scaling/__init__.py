"""Built-in scaling strategies: downscale (the article's), tiling, hybrid and octaves."""

from __future__ import annotations

from typing import Any

from dreamfx import hookimpl

RESIZE_METHODS = ("bicubic", "bilinear", "lanczos3", "lanczos5", "area", "mitchellcubic", "gaussian")


def _downscale(view_size: tuple[int, int], method: str) -> Any:
    from .downscale import DownscaleScaler

    return DownscaleScaler(view_size, method)


def _tiling(view_size: tuple[int, int], tile_scale: float, method: str) -> Any:
    from .tiling import TilingScaler

    return TilingScaler(view_size, tile_scale, method)


def _hybrid(view_size: tuple[int, int], factor: float, max_levels: int, tile_scale: float, method: str) -> Any:
    from .hybrid import HybridScaler

    return HybridScaler(view_size, factor, max_levels, tile_scale, method)


def _octaves(view_size: tuple[int, int], factor: float, octaves: int, scale: float, method: str) -> Any:
    from .octaves import OctaveScaler

    return OctaveScaler(view_size, factor, octaves, scale, method)


@hookimpl
def dreamfx_register_scalers(register: Any) -> None:
    register("downscale", _downscale, params={"method": "bicubic"},
             description="The whole image shrunk to the model's input size (28x28), as in the article")
    register("tiling", _tiling, params={"tile_scale": 1.0, "method": "bicubic"},
             description="Model-sized tiles covering every pixel; each tile sees tile_scale x 28 pixels")
    register("hybrid", _hybrid, params={"factor": 2.0, "max_levels": 4, "tile_scale": 1.0, "method": "bicubic"},
             description="A pyramid: the whole image at 28x28, then tiled levels growing by factor up to full size")
    register("octaves", _octaves, params={"factor": 1.4, "octaves": 4, "scale": 2.0, "method": "bicubic"},
             description="Classic DeepDream octaves: the whole image through the conv layers at growing sizes "
             "(objectives on conv/pool layers only)")
