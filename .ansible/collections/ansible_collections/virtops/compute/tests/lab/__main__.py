"""`python -m lab up|down|status ...` is `python -m lab.cli ...`."""
import sys

from lab.cli import main

sys.exit(main())
