"""The built-in models: the article's MNIST CNN (shipped, trained: 128 maps in conv3, as in
the article), the earlier 64-map network (kept so outputs made with it stay reproducible)
and any user ``.keras`` file."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

from dreamfx.plugin import BuildContext, SettingsError, hookimpl, load_keras_file, model_file

MODEL_FILE = Path(__file__).with_name("mnist_cnn.keras")
"""The shipped, trained model. ``dreamfx train`` never writes it unless told to with ``-o``."""
MODEL_64_FILE = Path(__file__).with_name("mnist_cnn_64.keras")
"""The network dreamfx shipped as ``mnist-cnn`` before it had the article's 128 maps: the
same recipe with 64 maps in conv3. Outputs that name ``mnist-cnn`` without a digest were
dreamed with it (``--from`` uses it for them)."""


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


def _mnist_cnn_64(ctx: BuildContext) -> Any:
    return load_keras_file(MODEL_64_FILE)


def _keras_file(ctx: BuildContext, path: Annotated[str, "A `.keras` file, loaded in Keras' safe mode. Required."] = "") -> Any:
    if not path:
        raise SettingsError("model 'keras-file' needs a path: --set model.path=my_model.keras")
    return load_keras_file(path)


# The files they load, so every output records the network's SHA-256 (and a rerun knows an
# output of another network is not up to date) without building the model.
model_file(_mnist_cnn, lambda: MODEL_FILE)
model_file(_mnist_cnn_64, lambda: MODEL_64_FILE)
model_file(_keras_file, lambda path="": path)


@hookimpl
def dreamfx_register_models(register: Any) -> None:
    register(
        "mnist-cnn",
        _mnist_cnn,
        description="The article's CNN (conv1-conv3 with 128 maps, dense1, logits) trained on 4,500 MNIST digits",
    )
    register(
        "mnist-cnn-64",
        _mnist_cnn_64,
        description="The earlier mnist-cnn, with 64 maps in conv3 (outputs made with it before the change)",
    )
    register(
        "keras-file",
        _keras_file,
        description="Any .keras model file of yours, loaded in Keras' safe mode",
    )


from .commands import dreamfx_register_commands  # noqa: E402,F401 - `dreamfx train`
