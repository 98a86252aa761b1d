"""`python -m pkrules.cli`: how git's diff driver may call pkrules when no script is installed."""

import sys

from pkrules.cli import main

sys.exit(main())
