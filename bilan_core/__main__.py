"""Entry point for ``python -m bilan_core``."""

import sys

from bilan_core.cli import main

sys.exit(main())
