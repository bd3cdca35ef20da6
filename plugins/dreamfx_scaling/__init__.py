"""Built-in scaling strategies: downscale (the article's), tiling, hybrid and octaves."""

from __future__ import annotations

from typing import Annotated, Any

from dreamfx.plugin import RESIZE_METHODS, BuildContext, hookimpl

__all__ = ["RESIZE_METHODS"]

Method = Annotated[str, "The resize method: `bicubic`, `bilinear`, `lanczos3`, `lanczos5`, `area`, `mitchellcubic` "
                        "or `gaussian`."]
SameMethod = Annotated[str, "As for `downscale`."]


def _downscale(ctx: BuildContext, method: Method = "bicubic") -> Any:
    from .downscale import DownscaleScaler

    return DownscaleScaler(ctx.view_size, method)


def _tiling(
    ctx: BuildContext,
    tile_scale: Annotated[float, "Image pixels per model pixel. Each tile sees `tile_scale` x 28 pixels. "
                                 "Must be 1 or more."] = 1.0,
    method: SameMethod = "bicubic",
) -> Any:
    from .tiling import TilingScaler

    return TilingScaler(ctx.view_size, tile_scale, method)


def _hybrid(
    ctx: BuildContext,
    factor: Annotated[float, "The size ratio between pyramid levels, from 1.2 to 4."] = 2.0,
    max_levels: Annotated[int, "The most tiled levels kept (the finest ones)."] = 4,
    tile_scale: Annotated[float, "As for `tiling`, at the finest level."] = 1.0,
    method: SameMethod = "bicubic",
) -> Any:
    from .hybrid import HybridScaler

    return HybridScaler(ctx.view_size, factor, max_levels, tile_scale, method)


def _octaves(
    ctx: BuildContext,
    factor: Annotated[float, "The size ratio between octaves, from 1.1 to 4."] = 1.4,
    octaves: Annotated[int, "The most sizes; those smaller than 28x28 are skipped. The whole image runs through the "
                            "conv layers, so the objective must be on `conv1`-`conv3` or a pool layer."] = 4,
    scale: Annotated[float, "Image pixels per model pixel at the largest octave. Must be 1 or more."] = 2.0,
    method: SameMethod = "bicubic",
) -> Any:
    from .octaves import OctaveScaler

    return OctaveScaler(ctx.view_size, factor, octaves, scale, method)


@hookimpl
def dreamfx_register_scalers(register: Any) -> None:
    register("downscale", _downscale,
             description="The whole image shrunk to the model's input size (28x28), as in the article")
    register("tiling", _tiling,
             description="Model-sized tiles covering every pixel; each tile sees tile_scale x 28 pixels")
    register("hybrid", _hybrid,
             description="A pyramid: the whole image at 28x28, then tiled levels growing by factor up to full size")
    register("octaves", _octaves,
             description="Classic DeepDream octaves: the whole image through the conv layers at growing sizes "
             "(objectives on conv/pool layers only)")
