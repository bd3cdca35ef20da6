"""Device names: ``auto|cpu|gpu|gpu:N`` checked without a backend, and as TensorFlow names them
(the active backend's choice is :func:`dreamfx.backend.resolve_device`)."""

from __future__ import annotations

import re

from .errors import DreamfxError, SettingsError

DEVICE_CHOICES = "auto, cpu, gpu or gpu:N"


def parse_device(spec: str) -> tuple[str, int]:
    """Check ``auto|cpu|gpu|gpu:N`` without TensorFlow: ``(kind, index)``, or a
    :class:`SettingsError` (a usage mistake, found before any work)."""
    match = re.fullmatch(r"(auto|cpu|gpu)(?::(\d+))?", spec.strip().lower())
    if not match or (match.group(1) != "gpu" and match.group(2)):
        raise SettingsError(f"unknown device {spec!r}; choose {DEVICE_CHOICES}")
    return match.group(1), int(match.group(2) or 0)


def tensorflow_device(spec: str = "auto") -> str:
    """Map ``auto|cpu|gpu|gpu:N`` to a TensorFlow device name such as ``/GPU:0``.

    ``auto`` is the first GPU when TensorFlow sees one, else the CPU; asking for a GPU that
    is not there is an error that says how to get one.
    """
    import tensorflow as tf

    kind, index = parse_device(spec)
    spec = spec.strip().lower()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "cpu" or (kind == "auto" and not gpus):
        return "/CPU:0"
    if kind == "auto":
        return gpus[0].name
    if index >= len(gpus):
        found = f"{len(gpus)} GPU(s)" if gpus else "no GPU"
        raise DreamfxError(
            f"--device {spec}: TensorFlow sees {found}; install the CUDA build with "
            "pip install 'dreamfx[cuda]' or use --device cpu"
        )
    return gpus[index].name
