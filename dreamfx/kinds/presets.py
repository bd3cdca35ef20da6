"""What a preset is: a table of settings (TOML), registered by name
(``dreamfx_register_presets``); :func:`problem` is its contract."""

from __future__ import annotations

from typing import Any, Mapping

from dreamfx.kinds import short


def problem(obj: Any) -> str | None:
    """Why a built preset does not meet this contract (checked when it is built), or None."""
    return None if isinstance(obj, Mapping) else f"it is not a table of settings: {short(obj)}"
