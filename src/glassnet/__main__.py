"""``python -m glassnet``: the command line."""

from .cli import main

raise SystemExit(main())
