"""Text for a terminal: display widths (a Chinese character takes two cells), padding and aligned tables."""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """How many terminal cells the text takes: CJK (wide and fullwidth) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """The text padded with spaces to a display width; right-aligned when asked."""
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def table(headers: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    """A plain aligned table (CJK-aware widths), numbers right-aligned."""
    widths = [max([display_width(h)] + [display_width(r[c]) for r in rows]) for c, h in enumerate(headers)]
    lines = ["  ".join(pad(h, widths[c], numeric[c]) for c, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(pad(cell, widths[c], numeric[c]) for c, cell in enumerate(r)).rstrip())
    return "\n".join(lines)
