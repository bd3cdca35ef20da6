"""Built-in objectives. Registration is free: TensorFlow loads only when a score is computed."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from dreamfx import hookimpl
from dreamfx.errors import SettingsError
from dreamfx.objectives import ModelInfo, Objective, Sum

WHOLE_LAYER_MODES = ("mean-square", "mean")


def _single_map(model_info: ModelInfo, layer: str, map: int) -> Objective:
    from .maps import SingleMap

    return SingleMap(model_info, layer, map)


def _whole_layer(model_info: ModelInfo, layer: str, mode: str) -> Objective:
    from .maps import WholeLayer

    return WholeLayer(model_info, layer, mode)


def _weighted_layers(model_info: ModelInfo, weights: dict, mode: str) -> Objective:
    from .maps import WholeLayer

    if not weights:
        raise SettingsError("objective.weights is empty; give layer weights, for example {conv2 = 0.5, conv3 = 1.0}")
    terms = []
    for layer, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise SettingsError(f"objective.weights.{layer} must be a number, got {weight!r}")
        terms.append(float(weight) * WholeLayer(model_info, layer, mode))
    return Sum(terms)


def _weighted_maps(model_info: ModelInfo, terms: list) -> Objective:
    from .maps import SingleMap

    if not terms:
        raise SettingsError("objective.terms is empty; give (layer, map, weight) terms, "
                            'for example [["conv3", 5, 1.0], ["conv2", 7, -0.5]]')
    built = []
    for i, term in enumerate(terms):
        if isinstance(term, Mapping):
            layer, index, weight = term.get("layer"), term.get("map"), term.get("weight", 1.0)
        elif isinstance(term, (list, tuple)) and len(term) in (2, 3):
            layer, index, weight = term[0], term[1], term[2] if len(term) == 3 else 1.0
        else:
            raise SettingsError(f"objective.terms[{i}] must be [layer, map, weight] or {{layer, map, weight}}, got {term!r}")
        if not isinstance(layer, str) or isinstance(index, bool) or not isinstance(index, int) \
                or isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise SettingsError(f"objective.terms[{i}] needs a layer name, an integer map and a numeric weight, got {term!r}")
        built.append(float(weight) * SingleMap(model_info, layer, index))
    return Sum(built)


def _class_unit(model_info: ModelInfo, unit: int, layer: str) -> Objective:
    from .dense import ClassUnit

    return ClassUnit(model_info, unit, layer)


def _sum(model_info: ModelInfo, terms: list, build: Callable[..., Objective]) -> Objective:
    if not terms:
        raise SettingsError('objective.terms is empty; give weighted terms, for example '
                            '[{name = "single-map", layer = "conv3", map = 5, weight = 1.0}]')
    built = []
    for i, term in enumerate(terms):
        if not isinstance(term, Mapping):
            raise SettingsError(f"objective.terms[{i}] must be a table with a name, got {term!r}")
        params = dict(term)
        name, weight = params.pop("name", None), params.pop("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise SettingsError(f"objective.terms[{i}].weight must be a number, got {weight!r}")
        built.append(float(weight) * build(name, params, f"objective.terms[{i}]"))
    return Sum(built)


_sum.composite = True  # type: ignore[attr-defined]


@hookimpl
def dreamfx_register_objectives(register: Any) -> None:
    register("single-map", _single_map, params={"layer": "conv3", "map": 0},
             description="Mean activation of one feature map of a convolutional layer (the article's objective)")
    register("whole-layer", _whole_layer, params={"layer": "conv3", "mode": "mean-square"},
             description="Total response of all maps of a layer (mean of squares, as DeepDream; or mode = \"mean\")")
    register("weighted-layers", _weighted_layers, params={"weights": {"conv2": 0.5, "conv3": 1.0}, "mode": "mean-square"},
             description="A weighted mix of whole-layer terms, e.g. {conv2 = 0.5, conv3 = 1.0}")
    register("weighted-maps", _weighted_maps, params={"terms": [["conv3", 0, 1.0]]},
             description="A weighted mix of single maps: [[layer, map, weight], ...]; negative weights suppress")
    register("class", _class_unit, params={"unit": 3, "layer": "logits"},
             description="One unit of a dense layer, by default a digit's pre-softmax logit (\"dream a 3\")")
    register("sum", _sum, params={"terms": []},
             description="Weighted sum of any registered objectives: [{name = ..., weight = ..., <params>}, ...]")
