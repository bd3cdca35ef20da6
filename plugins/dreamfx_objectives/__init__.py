"""Built-in objectives. Registration is free: Keras loads only when a score is computed."""

from __future__ import annotations

from typing import Annotated, Any, Mapping

from dreamfx.plugin import Auto, BuildContext, Objective, SettingsError, Sum, hookimpl

WHOLE_LAYER_MODES = ("mean-square", "mean")


def _single_map(
    ctx: BuildContext,
    layer: Annotated[str, "A layer with feature maps."] = "conv3",
    map: Annotated[int, "The map index. Its mean activation is the score. Map 0 of `conv3` is silent on many "
                        "photos; the presets use 19. `\"auto\"`: for each photo, the map of `layer` that responds "
                        "most to it (the output's settings hold the map chosen).", Auto()] = 0,
) -> Objective:
    from .maps import SingleMap

    return SingleMap(ctx.model, layer, map)


def _whole_layer(
    ctx: BuildContext,
    layer: Annotated[str, "Any layer."] = "conv3",
    mode: Annotated[str, "`\"mean-square\"` (DeepDream) or `\"mean\"`."] = "mean-square",
) -> Objective:
    from .maps import WholeLayer

    return WholeLayer(ctx.model, layer, mode)


def _weighted_layers(
    ctx: BuildContext,
    weights: Annotated[dict, "`{layer = weight}`. The score is a weighted sum of `whole-layer` terms."] = {  # noqa: B006
        "conv2": 0.5, "conv3": 1.0},
    mode: Annotated[str, "As for `whole-layer`."] = "mean-square",
) -> Objective:
    from .maps import WholeLayer

    model_info = ctx.model

    if not weights:
        raise SettingsError("objective.weights is empty; give layer weights, for example {conv2 = 0.5, conv3 = 1.0}")
    terms = []
    for layer, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise SettingsError(f"objective.weights.{layer} must be a number, got {weight!r}")
        terms.append(float(weight) * WholeLayer(model_info, layer, mode))
    return Sum(terms)


def _weighted_maps(
    ctx: BuildContext,
    terms: Annotated[list, "`[layer, map, weight]` (or `{layer, map, weight}`) per term. A negative weight "
                           "suppresses that map."] = [["conv3", 0, 1.0]],  # noqa: B006
) -> Objective:
    from .maps import SingleMap

    model_info = ctx.model

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


def _class_unit(
    ctx: BuildContext,
    unit: Annotated[int, "A unit of a dense layer (on `logits`: a digit)."] = 3,
    layer: Annotated[str, "A dense layer (the pre-softmax logits by default)."] = "logits",
) -> Objective:
    from .dense import ClassUnit

    return ClassUnit(ctx.model, unit, layer)


def _guide(
    ctx: BuildContext,
    image: Annotated[str, "The guide: an image file (a handwritten digit, a photo). Required."] = "",
    layer: Annotated[str, "A layer with feature maps, where the photo's features are matched to the guide's."] = "conv3",
    invert: Annotated[bool, "Invert the guide first: for dark ink on light paper (the network knows MNIST's "
                            "white strokes on black)."] = False,
) -> Objective:
    from .guide import Guide

    return Guide(ctx.model, layer, image, invert)


def _keyframes(
    ctx: BuildContext,
    keys: Annotated[list, "`[[map, frame], ...]`: at each key's frame that map alone; between keys a crossfade "
                          "of the two. `dreamfx zoom --maps 56,33 --every 24` sets it."] = [[0, 0]],  # noqa: B006
    layer: Annotated[str, "The layer whose maps the keys name."] = "conv3",
    frame: Annotated[int, "The frame dreamed (fed per frame by zoom and video)."] = 0,
) -> Objective:
    from .keyframes import Keyframes

    return Keyframes(ctx.model, layer, keys, frame)


def _sum(
    ctx: BuildContext,
    terms: Annotated[list, "`[{name = \"...\", weight = 1.0, <that objective's params>}, ...]`. The terms can "
                           "be any registered objectives. Required (at least one term)."] = [],  # noqa: B006
) -> Objective:
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
        built.append(float(weight) * ctx.objective(name, params, f"objective.terms[{i}]"))
    return Sum(built)


@hookimpl
def dreamfx_register_objectives(register: Any) -> None:
    register("single-map", _single_map,
             description="Mean activation of one feature map of a convolutional layer (the article's objective)")
    register("whole-layer", _whole_layer,
             description="Total response of all maps of a layer (mean of squares, as DeepDream; or mode = \"mean\")")
    register("weighted-layers", _weighted_layers,
             description="A weighted mix of whole-layer terms, e.g. {conv2 = 0.5, conv3 = 1.0}")
    register("weighted-maps", _weighted_maps,
             description="A weighted mix of single maps: [[layer, map, weight], ...]; negative weights suppress")
    register("class", _class_unit,
             description="One unit of a dense layer, by default a digit's pre-softmax logit (\"dream a 3\")")
    register("guide", _guide,
             description="Guided DeepDream: grow the photo towards the best-matching features of a guide image")
    register("keyframes", _keyframes,
             description="Map keyframes: from map to map over an animation's frames, crossfading between keys")
    register("sum", _sum,
             description="Weighted sum of any registered objectives: [{name = ..., weight = ..., <params>}, ...]")
