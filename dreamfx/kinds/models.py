"""Loading Keras models safely, the per-process cache of loaded models, and which network
a model setting names (the SHA-256 of its file, recorded in every output)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

from dreamfx.cache import process_cache
from dreamfx.errors import DreamfxError, SettingsError

_LOADED = process_cache("models.loaded", 8, "built models, by name and parameters")


def load_keras_file(path: str | Path) -> Any:
    """Load a ``.keras`` file in Keras' safe mode (no arbitrary code, no pickle).

    A file that needs custom objects or unsafe lambdas is refused with a clear error.
    """
    import keras

    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise SettingsError(f"model file {path} must be a .keras file (Keras v3 format); "
                            "legacy .h5 and SavedModel folders are not loaded")
    if not path.is_file():
        raise SettingsError(f"model file {path} does not exist")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise DreamfxError(f"cannot load model {path} in safe mode: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise DreamfxError(f"model {path} must take one image input (batch, height, width, channels), "
                           f"got inputs {[tuple(i.shape) for i in model.inputs]}")
    return model


def cached_model(name: str, params: dict[str, Any], build: Callable[[], Any]) -> Any:
    """Build a model once per (name, parameters) and process; later calls reuse it."""
    return _LOADED.get_or_build((name, tuple(sorted(params.items()))), build)


_DIGESTS = process_cache("models.file_digests", 64, "SHA-256 of model files, by path, inode, size and mtime")
MODEL_FILE_ATTRIBUTE = "dreamfx_model_file"
"""A model factory with this attribute, a function of the factory's parameters returning
the ``.keras`` file it loads, lets the host name the network without building it."""


def model_file(factory: Callable[..., Any], where: Callable[..., Any]) -> Callable[..., Any]:
    """Declare that ``factory`` loads the file ``where(**params)`` returns (a path, or ""
    when the parameters name none); returns ``factory``."""
    setattr(factory, MODEL_FILE_ATTRIBUTE, where)
    return factory


def file_sha256(path: str | os.PathLike[str]) -> str | None:
    """The SHA-256 of a regular file, cached by its identity and modification time; None
    when it cannot be read (the model's build reports why)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(path):
        return None
    key = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    known = _DIGESTS.peek(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    _DIGESTS.put(key, known := digest.hexdigest())
    return known


def model_sha256(component: Any, params: dict[str, Any]) -> str | None:
    """The SHA-256 of the file the model ``component`` loads with ``params``, when its
    factory declares one (:func:`model_file`); None otherwise (a network built in code is
    named by its component name and parameters alone)."""
    where = getattr(component.factory, MODEL_FILE_ATTRIBUTE, None)
    if where is None:
        return None
    path = where(**params)
    return file_sha256(Path(path).expanduser()) if path else None


# -- the contract, checked when a component is built ------------------------------------------


def problem(obj: Any) -> str | None:
    """Why a built model does not meet this contract (checked when it is built), or None."""
    if not hasattr(obj, "inputs") or not hasattr(obj, "layers"):
        return f"it is not a Keras model (no inputs and layers), got {type(obj).__name__}"
    return None
