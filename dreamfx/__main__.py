"""``python -m dreamfx`` is the ``dreamfx`` command."""

from .cli import main

raise SystemExit(main())
