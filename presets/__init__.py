"""The built-in presets: every ``*.toml`` file beside this module, registered by file name."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dreamfx.plugin import BuildContext, hookimpl

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_DIR = Path(__file__).parent


def _read(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _loader(path: Path) -> Any:
    def load(ctx: BuildContext) -> dict[str, Any]:
        return _read(path)

    return load


@hookimpl
def dreamfx_register_presets(register: Any) -> None:
    for path in sorted(PRESET_DIR.glob("*.toml")):
        register(path.stem, _loader(path), description=str(_read(path).get("description", "")))
