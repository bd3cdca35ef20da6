"""The built-in models: the article's MNIST CNN (shipped, trained) and any user ``.keras`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dreamfx import hookimpl

MODEL_FILE = Path(__file__).with_name("mnist_cnn.keras")


def _mnist_cnn() -> Any:
    from dreamfx.models import load_keras_file

    return load_keras_file(MODEL_FILE)


def _keras_file(path: str) -> Any:
    from dreamfx.errors import SettingsError
    from dreamfx.models import load_keras_file

    if not path:
        raise SettingsError("model 'keras-file' needs a path: --set model.path=my_model.keras")
    return load_keras_file(path)


@hookimpl
def dreamfx_register_models(register: Any) -> None:
    register(
        "mnist-cnn",
        _mnist_cnn,
        params={},
        description="The article's CNN (conv1-conv3, dense1, logits) trained on 4,500 MNIST digits",
    )
    register(
        "keras-file",
        _keras_file,
        params={"path": ""},
        description="Any .keras model file of yours, loaded in Keras' safe mode",
    )
