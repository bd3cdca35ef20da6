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


class OutputError(ImageError, OSError):
    """An output could not be written (a full disk, a read-only or vanished folder): one line
    naming the file and the system's reason. Still an :class:`OSError` (``errno``,
    ``strerror``), so code that handles failed writes as such keeps working."""

    def __init__(self, path: object, cause: OSError) -> None:
        OSError.__init__(self, cause.errno, cause.strerror or str(cause), str(path))
        self.message = f"cannot write {path}: {cause.strerror or cause}"

    def __str__(self) -> str:
        return self.message
