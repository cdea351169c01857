"""``python -m rdt_tui.cli``: the same as the ``rdt-tui`` command."""

from rdt_tui.cli import main

raise SystemExit(main())
