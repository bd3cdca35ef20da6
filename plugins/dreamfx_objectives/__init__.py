"""Built-in objectives. Registration is free: TensorFlow loads only when a score is computed."""

from __future__ import annotations

from typing import Any

from dreamfx import hookimpl
from dreamfx.objectives import ModelInfo, Objective


def _single_map(model_info: ModelInfo, layer: str, map: int) -> Objective:
    from .maps import SingleMap

    return SingleMap(model_info, layer, map)


@hookimpl
def dreamfx_register_objectives(register: Any) -> None:
    register(
        "single-map",
        _single_map,
        params={"layer": "conv3", "map": 0},
        description="Mean activation of one feature map of a convolutional layer (the article's objective)",
    )
