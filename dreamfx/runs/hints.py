"""What ``dreamfx layers`` lists and the hints it and a silent dream's summary give: a model's
layers, and which map of a layer responds to a photo.

Listing layers needs the model alone: no objective, scaler, optimizer or loop is resolved,
so it works whatever dream components are installed or disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from dreamfx.engine.responses import Silence, silences, strongest_map
from dreamfx.errors import SettingsError

SAMPLE_IMAGE = Path(__file__).parents[1] / "data" / "coffee.png"


@dataclass
class LayerListing:
    """A model's layers (name, type, output shape, "N maps"/"N units", weights) and the
    command line that dreams its deepest layer with maps."""

    model: str
    params: dict[str, Any]
    input_shape: tuple[int, ...]
    rows: list[tuple[str, str, str, str, str]]
    hint: str | None


def model_choice(host: Any, name: str, overrides: Sequence[tuple[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The model ``name`` with ``model.*`` overrides, validated like every setting."""
    from dreamfx.config.settings import check_value, validate_params

    table: dict[str, Any] = {}
    for key, value in overrides:
        section, _, param = key.partition(".")
        if section != "model" or not param:
            hint = " (choose the model with --model NAME)" if key == "model" else ""
            raise SettingsError(f"dreamfx layers only takes model.* settings, got {key!r}{hint}")
        if param == "name":
            name = value
        else:
            table[param] = value
    if not isinstance(name, str):
        raise SettingsError(f"model.name must be a string, got {name!r}")
    check_value(table, "model")
    return name, validate_params(host.get("models", name), table, "model")


def list_layers(host: Any, name: str, params: dict[str, Any]) -> LayerListing:
    """Load the model (TensorFlow) and list its layers, with a hint of what to dream."""
    from dreamfx.kinds.models import cached_model
    from dreamfx.kinds.objectives import ModelInfo

    component = host.get("models", name)
    model = cached_model(name, params, lambda: component.build(**params))
    info = ModelInfo.from_model(model, name)
    rows = []
    for layer in model.layers:
        if layer.name in info.layers:
            shape = info.layers[layer.name]
            kind = "maps" if len(shape) == 3 else "units"
            rows.append((layer.name, type(layer).__name__, str(shape), f"{shape[-1]} {kind}", f"{layer.count_params():,}"))
    model_args = "" if name == "mnist-cnn" else f" --set model={name}" + "".join(
        f" --set model.{k}={v}" for k, v in params.items())
    map_layers = info.map_layers()
    if not map_layers:
        dense = [layer for layer, shape in info.layers.items() if len(shape) == 1]
        hint = None if not dense else (
            f"This model has no layer with feature maps; dream a unit of its last layer with: dreamfx run "
            f"photo.jpg{model_args} --set objective=class --set objective.layer={dense[-1]} --set objective.unit=0")
        return LayerListing(name, params, tuple(info.input_shape), rows, hint)
    layer = map_layers[-1]  # the deepest layer with maps: the article's choice of layer
    best = responding_map(host, model, info, layer)
    command = f"Dream its deepest layer with: dreamfx run photo.jpg{model_args} --set objective.layer={layer} "
    if best is None:
        hint = (command + "--set objective.map=N   (a map that is zero on your photo cannot start a dream: "
                "try others)")
    else:
        hint = (command + f"--set objective.map={best}   (map {best} responds most to the bundled photo, shrunk "
                "to the model's input; a map that is zero on your photo cannot start a dream)")
    return LayerListing(name, params, tuple(info.input_shape), rows, hint)


def responding_map(host: Any, model: Any, info: Any, layer: str) -> int | None:
    """The map of ``layer`` with the largest mean response to the bundled photo seen the way the
    default preset sees it (shrunk to the model's input by the ``downscale`` scaler); None when
    that cannot be computed (no such scaler, an input of unknown size) or every map is silent."""
    try:
        downscale = host.get("scalers", "downscale")
        scaler = downscale.build(downscale.context(model=info))
    except (TypeError, ValueError, SettingsError):
        return None
    from dreamfx.io.images import as_gray_array

    return strongest_map(model, info, scaler, layer, as_gray_array(SAMPLE_IMAGE))


def silence_summary(found: Sequence[Silence], head: str | None = None,
                    each: str | None = "report.json names one for each") -> str:
    """One line for the silent images of a run: ``3 silent: conv3 map 56 does not respond
    to them (zero activation): nothing changed; try --set objective.map=auto, or --set
    objective.map=33 (the map of conv3 that responds most to 2 of them)``. ``head``
    replaces ``3 silent``; ``each``: where a map for each image is named, when they differ."""
    from collections import Counter

    count = len(found)
    them = "it" if count == 1 else "them"
    names = Counter(s.objective for s in found)
    what = names.most_common(1)[0][0] if len(names) == 1 else "the objective"
    line = f"{head or f'{count} silent'}: {what} does not respond to {them} (zero activation): nothing changed"
    bests = Counter(s.best for s in found)
    best, often = bests.most_common(1)[0]
    first = next(s for s in found if s.best == best)
    if len(bests) == 1 or best is None:
        return f"{line}; {first.advice(them)}"
    return f"{line}; {first.advice(f'{often} of {them}')}" + (f" ({each})" if each else "")


def silent_hint(dreamer: Any, image: Any) -> str:
    """For a silent dream of ``image``: what to try (a map of the objective's deepest map
    layer that responds to it)."""
    import numpy as np

    batch = dreamer.model_input([np.asarray(image, np.float32)])
    return silences(dreamer, batch, [0], [dreamer.objective_description])[0].advice()
