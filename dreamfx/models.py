"""Loading Keras models safely, and the per-process cache of loaded models."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .errors import DreamfxError, SettingsError

_LOADED: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}


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
    key = (name, tuple(sorted(params.items())))
    if key not in _LOADED:
        _LOADED[key] = build()
    return _LOADED[key]
