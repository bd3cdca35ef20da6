"""``python -m dreamfx`` is the ``dreamfx`` command."""

from dreamfx.cli import entry

entry()
