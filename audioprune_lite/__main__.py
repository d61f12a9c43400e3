"""``python -m audioprune_lite``: the command line of :mod:`audioprune_lite.cli`."""

import sys

from .cli import main

sys.exit(main())
