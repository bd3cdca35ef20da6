"""Exceptions that mean "the user can fix this".

The CLI prints a :class:`DreamfxError` as one line (no traceback unless ``--debug``);
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class DreamfxError(Exception):
    """A mistake in input, settings or a plugin that the user can fix; the message says how."""


class SettingsError(DreamfxError):
    """A preset, ``--set`` override or component parameter is invalid."""


class PluginError(DreamfxError):
    """A plugin failed to load or registered something invalid."""


class ImageError(DreamfxError):
    """An input image cannot be read, or an output cannot be written."""
