"""An aligned text table with CJK display widths (used only if the engine's own table helper has moved)."""

from __future__ import annotations

import unicodedata


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    widths = [max([width(h)] + [width(r[c]) for r in rows]) for c, h in enumerate(headers)]

    def pad(text: str, w: int, right: bool) -> str:
        gap = " " * (w - width(text))
        return gap + text if right else text + gap

    lines = ["  ".join(pad(h, widths[c], numeric[c]) for c, h in enumerate(headers)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(pad(cell, widths[c], numeric[c]) for c, cell in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines)
