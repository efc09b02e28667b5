"""``python -m nietzsche_tui``: the same as the ``nietzsche-tui`` command."""

import sys

from nietzsche_tui.cli.main import main

sys.exit(main())
