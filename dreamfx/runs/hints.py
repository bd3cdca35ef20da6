"""What ``dreamfx layers`` lists and the hints it and a silent dream's summary give: a model's
layers, and which map of a layer responds to a photo.

Listing layers needs the model alone: no objective, scaler, optimizer or loop is resolved,
so it works whatever dream components are installed or disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

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


def map_responses(model: Any, info: Any, scaler: Any, layer: str, images: Any, chunk: int = 512) -> Any:
    """The mean response of each map of ``layer`` to each of the same-sized ``images``
    (B, H, W, channels), seen through ``scaler``'s finest level, as a (B, maps) array; the
    views are computed ``chunk`` at a time, as every score is (:mod:`dreamfx.engine.scoring`)."""
    import numpy as np
    from keras import ops

    from dreamfx.engine.features import feature_model
    from dreamfx.engine.scoring import in_chunks
    from dreamfx.engine.views import views_at

    batch = ops.convert_to_tensor(np.asarray(images, np.float32))
    level = scaler.levels((int(batch.shape[1]), int(batch.shape[2])))[-1]
    features = feature_model(model, (layer,), any_size=bool(getattr(scaler, "fully_convolutional", False)))

    def responses(views: Any, part: slice) -> Any:
        return ops.mean(features(views, training=False)[layer], axis=[1, 2])

    return np.asarray(in_chunks(responses, views_at(level, batch), int(batch.shape[0]), chunk))


def strongest_map(model: Any, info: Any, scaler: Any, layer: str, image: Any) -> int | None:
    """The map of ``layer`` whose mean response to the (H, W) ``image``, seen through
    ``scaler``'s finest level, is largest; None when every map is zero."""
    import numpy as np

    gray = np.asarray(image, np.float32)
    batch = np.repeat(gray[None, :, :, None], int(info.input_shape[2]), axis=-1)
    means = map_responses(model, info, scaler, layer, batch)[0]
    return int(np.argmax(means)) if means.max() > 0 else None


@dataclass(frozen=True)
class Silence:
    """Why a dream changed nothing: its objective (``objective``, as it describes itself) is
    zero on the image, so its gradient is zero. ``best``: the map of ``layer`` (the
    objective's deepest layer with maps) that responds most to the image, None when every
    map of it is zero or it has none; ``auto``: the objective's parameter that may be
    ``"auto"`` (``map`` of ``single-map``), None when it has none."""

    objective: str
    layer: str | None = None
    best: int | None = None
    auto: str | None = None

    def advice(self, subject: str = "it") -> str:
        """What to try instead: a map of the same layer that responds to ``subject``."""
        if self.layer is None:
            return "try another map or layer ('dreamfx oip' shows what a map responds to)"
        if self.best is None:
            return f"every map of {self.layer} is zero on {subject}; try an earlier layer"
        why = f"the map of {self.layer} that responds most to {subject}"
        if self.auto is not None:
            return f"try --set objective.{self.auto}=auto, or --set objective.{self.auto}={self.best} ({why})"
        return (f"try --set objective=single-map --set objective.layer={self.layer} --set objective.map={self.best}, "
                f"{why}")

    def reason(self) -> str:
        """One image's status line: what was silent and what to try."""
        return (f"{self.objective} does not respond to it (zero activation, so zero gradient): nothing changed; "
                f"{self.advice()}")


def silences(dreamer: Any, batch: Any, indices: Sequence[int], objectives: Sequence[str],
             responses: Any = None) -> dict[int, Silence]:
    """A :class:`Silence` for each of ``indices``, the images of the model-input ``batch``
    (B, H, W, channels) whose dream was silent under the objective described by
    ``objectives[i]``. ``responses``: :func:`map_responses` of the whole batch on the
    objective's deepest map layer, when already computed (``objective.map = "auto"``)."""
    import numpy as np

    auto = dreamer.auto_parameter
    layers = [name for name in dreamer.objective.layers if name in dreamer.model_info.map_layers()]
    if not indices:
        return {}
    if not layers:
        return {i: Silence(objectives[i]) for i in indices}
    layer = layers[-1]
    own = auto is not None and getattr(dreamer.objective, "layer", layer) == layer
    try:
        if responses is None:
            from dreamfx.engine.backend import on_device

            picked = np.asarray(batch)[list(indices)]
            with on_device(dreamer.device):
                measured = map_responses(dreamer.model, dreamer.model_info, dreamer.scaler, layer, picked)
            means = dict(zip(indices, measured))
        else:
            means = {i: np.asarray(responses)[i] for i in indices}
    except Exception:  # noqa: BLE001 - advice must never turn a finished dream into an error
        return {i: Silence(objectives[i]) for i in indices}
    return {i: Silence(objectives[i], layer, int(np.argmax(means[i])) if means[i].max() > 0 else None,
                       auto if own else None) for i in indices}


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
