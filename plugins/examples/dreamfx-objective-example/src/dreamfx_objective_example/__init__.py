"""dreamfx plugin: the ``spotlight-map`` objective."""

from __future__ import annotations

from typing import Annotated, Any

from dreamfx.plugin import BuildContext, hookimpl


def spotlight_map(
    ctx: BuildContext,
    layer: Annotated[str, "A layer with feature maps"] = "conv2",
    map: Annotated[int, "The index of the feature map in that layer"] = 0,
    x: Annotated[float, "The spotlight's centre across, from 0 (left) to 1 (right)"] = 0.5,
    y: Annotated[float, "The spotlight's centre down, from 0 (top) to 1 (bottom)"] = 0.5,
    radius: Annotated[float, "The spotlight's radius, as a fraction of the map's size"] = 0.25,
    outside: Annotated[float, "The weight of the map outside the spotlight (negative: suppress it there)"] = -0.5,
) -> Any:
    from .spotlight import SpotlightMap  # Keras (and TensorFlow) only when a dream needs it

    return SpotlightMap(ctx.model, layer, map, x, y, radius, outside)


@hookimpl
def dreamfx_register_objectives(register: Any) -> None:
    register(
        "spotlight-map",
        spotlight_map,
        description="One feature map weighted by a Gaussian spotlight at (x, y); 'outside' weights the rest",
    )
