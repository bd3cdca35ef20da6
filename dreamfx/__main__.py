"""``python -m dreamfx`` is the ``dreamfx`` command."""

from .cli import entry

entry()
