"""dreamfx: DeepDream-style image filters on a tiny MNIST CNN, as a pluggy plugin framework.

Plugin authors import from :mod:`dreamfx.plugin` (``hookimpl`` is also here, as before);
notebook users call :func:`dream`. Importing this package does not import TensorFlow.
"""

from __future__ import annotations

from typing import Any

import pluggy

__version__ = "0.2.0"

#: The marker for hook implementations: ``@dreamfx.hookimpl``.
hookimpl = pluggy.HookimplMarker("dreamfx")

__all__ = ["__version__", "hookimpl", "dream", "atlas"]


def dream(image: Any, preset: str = "single-map", **overrides: Any) -> Any:
    """Dream ``image`` (a path, PIL image or array) with a preset; see :func:`dreamfx.api.dream`."""
    from dreamfx.api import dream as _dream

    return _dream(image, preset, **overrides)


def atlas(image: Any, preset: str = "single-map", **options: Any) -> Any:
    """Dream ``image`` once per map of a layer, in one batch: the sheet and each map's scores;
    see :func:`dreamfx.api.atlas`."""
    from dreamfx.api import atlas as _atlas

    return _atlas(image, preset, **options)
