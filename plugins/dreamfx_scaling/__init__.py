"""Built-in scaling strategies."""

from __future__ import annotations

from typing import Any

from dreamfx import hookimpl

RESIZE_METHODS = ("bicubic", "bilinear", "lanczos3", "lanczos5", "area", "mitchellcubic", "gaussian")


def _downscale(view_size: tuple[int, int], method: str) -> Any:
    from .downscale import DownscaleScaler

    return DownscaleScaler(view_size, method)


@hookimpl
def dreamfx_register_scalers(register: Any) -> None:
    register(
        "downscale",
        _downscale,
        params={"method": "bicubic"},
        description="The whole image shrunk to the model's input size (28x28), as in the article",
    )
