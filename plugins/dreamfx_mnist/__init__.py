"""The built-in models: the article's MNIST CNN (shipped, trained) and any user ``.keras`` file."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

from dreamfx.plugin import BuildContext, SettingsError, hookimpl, load_keras_file

MODEL_FILE = Path(__file__).with_name("mnist_cnn.keras")
"""The shipped, trained model. ``dreamfx train`` never writes it unless told to with ``-o``."""


def user_data_dir() -> Path:
    """dreamfx's folder in the user's data folder: ``$XDG_DATA_HOME/dreamfx`` (default
    ``~/.local/share/dreamfx``) on Linux and other Unix systems, ``~/Library/Application
    Support/dreamfx`` on macOS, ``%LOCALAPPDATA%\\dreamfx`` on Windows."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or ""
        if not os.path.isabs(base):  # the XDG spec: a relative value is invalid and ignored
            base = str(Path.home() / ".local" / "share")
    return Path(base) / "dreamfx"


def user_model_file() -> Path:
    """Where ``dreamfx train`` writes a retrained model by default."""
    return user_data_dir() / "mnist_cnn.keras"


def _mnist_cnn(ctx: BuildContext) -> Any:
    return load_keras_file(MODEL_FILE)


def _keras_file(ctx: BuildContext, path: Annotated[str, "A `.keras` file, loaded in Keras' safe mode. Required."] = "") -> Any:
    if not path:
        raise SettingsError("model 'keras-file' needs a path: --set model.path=my_model.keras")
    return load_keras_file(path)


@hookimpl
def dreamfx_register_models(register: Any) -> None:
    register(
        "mnist-cnn",
        _mnist_cnn,
        description="The article's CNN (conv1-conv3, dense1, logits) trained on 4,500 MNIST digits",
    )
    register(
        "keras-file",
        _keras_file,
        description="Any .keras model file of yours, loaded in Keras' safe mode",
    )


from .commands import dreamfx_register_commands  # noqa: E402,F401 - `dreamfx train`
