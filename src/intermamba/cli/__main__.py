"""`python -m intermamba.cli` (torchrun and other launchers)."""

import sys

from . import main

sys.exit(main())
