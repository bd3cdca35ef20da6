"""The built-in presets: every ``*.toml`` file beside this module, registered by file name."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dreamfx import hookimpl

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_DIR = Path(__file__).parent


def _loader(path: Path) -> Any:
    def load() -> dict[str, Any]:
        with open(path, "rb") as fh:
            return tomllib.load(fh)

    return load


@hookimpl
def dreamfx_register_presets(register: Any) -> None:
    for path in sorted(PRESET_DIR.glob("*.toml")):
        load = _loader(path)
        register(path.stem, load, description=str(load().get("description", "")))
