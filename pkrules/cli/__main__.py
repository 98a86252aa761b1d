"""`python -m pkrules.cli`: how git's diff driver may call pkrules when no script is installed."""

from pkrules.cli import command_line

command_line()
