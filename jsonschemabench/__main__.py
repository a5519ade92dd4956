"""Entry point for `python -m jsonschemabench` (see `cli`)."""
import sys

from .cli import main

sys.exit(main())
