"""Device names: ``auto|cpu|gpu|gpu:N`` checked without a backend (each backend's kernel
names the device: :func:`dreamfx.engine.backend.resolve_device`)."""

from __future__ import annotations

import re

from dreamfx.errors import SettingsError

DEVICE_CHOICES = "auto, cpu, gpu or gpu:N"


def parse_device(spec: str) -> tuple[str, int]:
    """Check ``auto|cpu|gpu|gpu:N`` without TensorFlow: ``(kind, index)``, or a
    :class:`SettingsError` (a usage mistake, found before any work)."""
    match = re.fullmatch(r"(auto|cpu|gpu)(?::(\d+))?", spec.strip().lower())
    if not match or (match.group(1) != "gpu" and match.group(2)):
        raise SettingsError(f"unknown device {spec!r}; choose {DEVICE_CHOICES}")
    return match.group(1), int(match.group(2) or 0)
