"""dreamfx plugin: the ``spotlight-map`` objective."""

from __future__ import annotations

from typing import Any

from dreamfx import hookimpl


def _spotlight(model_info: Any, layer: str, map: int, x: float, y: float, radius: float, outside: float) -> Any:
    from .spotlight import SpotlightMap  # TensorFlow only when a dream needs it

    return SpotlightMap(model_info, layer, map, x, y, radius, outside)


@hookimpl
def dreamfx_register_objectives(register: Any) -> None:
    register(
        "spotlight-map",
        _spotlight,
        params={"layer": "conv2", "map": 0, "x": 0.5, "y": 0.5, "radius": 0.25, "outside": -0.5},
        description="One feature map weighted by a Gaussian spotlight at (x, y); 'outside' weights the rest",
    )
