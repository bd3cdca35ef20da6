"""Multi-output feature models: one per (model, set of layers, input kind), built once and cached.

``any_size=True`` rebuilds the model's layers up to the deepest requested one on an input of
any height and width (for the ``octaves`` scaler). Only layers that work at any size can be
re-used that way (convolutions, pooling, element-wise layers); an objective that reads a
layer after a Flatten or Dense layer is refused with the list of layers that would work.
"""

from __future__ import annotations

from typing import Any, Sequence

from dreamfx.cache import process_cache
from dreamfx.errors import SettingsError

_CACHE = process_cache("features.models", 16, "feature models, by model, layer set and any-size")

#: Keras layer types that accept any spatial size.
ANY_SIZE_LAYERS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D",
                   "Activation", "ReLU", "LeakyReLU", "Dropout", "SpatialDropout2D", "BatchNormalization",
                   "ZeroPadding2D", "Rescaling")


def feature_model(model: Any, layers: Sequence[str], *, any_size: bool = False) -> Any:
    """A Keras model mapping the model's input to ``{layer_name: activations}``."""
    key = (tuple(sorted(set(layers))), any_size)

    def build() -> Any:
        from dreamfx.engine.backend import kernel

        if any_size:
            _check_any_size(model, key[0])
        # the kernel's own (JAX: TensorFlow's max-pooling gradient, at its speed), else Keras's
        built = kernel().feature_model(model, key[0], any_size)
        if built is None:
            built = _any_size(model, key[0]) if any_size else _fixed_size(model, key[0])
        return built

    # keyed by the model object itself (not its id, which a collected model's successor may reuse)
    return _CACHE.get_or_build((model, *key), build)


def _fixed_size(model: Any, layers: tuple[str, ...]) -> Any:
    import keras

    outputs = {name: model.get_layer(name).output for name in layers}
    return keras.Model(inputs=model.inputs, outputs=outputs, name=f"{model.name}_features")


def any_size_layers(model: Any) -> list[str]:
    """The names of the leading layers of a chain model that accept any input size."""
    names = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind not in ANY_SIZE_LAYERS:
            break
        names.append(layer.name)
    return names


def _check_any_size(model: Any, layers: tuple[str, ...]) -> None:
    usable = any_size_layers(model)
    outside = [name for name in layers if name not in usable]
    if outside:
        raise SettingsError(
            f"layer {outside[0]!r} needs the model's fixed {tuple(model.inputs[0].shape[1:3])} input, so it cannot "
            f"run on a whole image; the octaves scaler works with objectives on: {', '.join(usable)}"
        )


def _any_size(model: Any, layers: tuple[str, ...]) -> Any:
    import keras

    _check_any_size(model, layers)
    inputs = keras.Input(shape=(None, None, model.inputs[0].shape[-1]), name="any_size_input")
    x, outputs = inputs, {}
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        x = layer(x)
        if layer.name in layers:
            outputs[layer.name] = x
        if len(outputs) == len(layers):
            break
    return keras.Model(inputs=inputs, outputs=outputs, name=f"{model.name}_any_size_features")
