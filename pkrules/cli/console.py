"""What every command shares: exit codes, stopping with a message, colour on a terminal."""

from __future__ import annotations

import os
import re
import sys

from pkrules.messages import tr

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class Fail(Exception):
    """Stop a command with a message for the user (already in their words) and an exit code."""

    def __init__(self, message: str, code: int = EXIT_PROBLEMS):
        super().__init__(message)
        self.code = code


def colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, stream=None) -> str:
    """Diagnostics with their severity, caret and hints coloured, on a terminal only."""
    if not colour(stream if stream is not None else sys.stderr):
        return text
    text = re.sub(r"(?m)(: )(error|错误)(: |：)", "\\1\033[1;31m\\2\033[0m\\3", text)
    text = re.sub(r"(?m)(: )(warning|警告)(: |：)", "\\1\033[1;33m\\2\033[0m\\3", text)
    text = re.sub(r"(?m)^(\s*\|\s*)(\^+)", "\\1\033[1;31m\\2\033[0m", text)
    text = re.sub(r"(?m)^(\s*)(hint:|提示：)", "\\1\033[1;36m\\2\033[0m", text)
    return text


def err(text: str) -> None:
    print(paint(text), file=sys.stderr)


def error(message: object) -> str:
    """`error: …` (错误：…) in the current language."""
    return tr("error: {message}", message=message)


def warning(message: object) -> str:
    """`warning: …` (警告：…) in the current language."""
    return tr("warning: {message}", message=message)


def note(message: object) -> str:
    """`note: …` (注意：…) in the current language."""
    return tr("note: {message}", message=message)
