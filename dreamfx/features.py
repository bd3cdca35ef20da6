"""Multi-output feature models: one per (model, set of layers), built once and cached."""

from __future__ import annotations

import weakref
from typing import Any, Sequence

_CACHE: "weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], Any]]" = weakref.WeakKeyDictionary()


def feature_model(model: Any, layers: Sequence[str]) -> Any:
    """A Keras model mapping the model's input to ``{layer_name: activations}``."""
    import keras

    key = tuple(sorted(set(layers)))
    per_model = _CACHE.setdefault(model, {})
    if key not in per_model:
        outputs = {name: model.get_layer(name).output for name in key}
        per_model[key] = keras.Model(inputs=model.inputs, outputs=outputs, name=f"{model.name}_features")
    return per_model[key]
