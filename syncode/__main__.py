"""`python -m syncode`: the command line (see `syncode.cli`)."""
import sys

from .cli import main

sys.exit(main())
