"""`python -m engine ...`: the same command line as `objectnet-eval`."""

import sys

from engine.cli import main

sys.exit(main())
