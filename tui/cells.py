"""Text fitted to terminal cells: a Chinese character takes two cells, so widths are counted in cells."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size


def fit(text: str, width: int, right: bool = False) -> str:
    """text cropped (with …) or padded to exactly width cells; a wide character is never cut in half."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    gap = " " * (width - cell_len(text))
    return gap + text if right else text + gap


def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    """A plain aligned table for a pipe or a file (no colour): columns as wide as their widest cell."""
    widths = [max([cell_len(h)] + [cell_len(r[c]) for r in rows]) for c, h in enumerate(headers)]
    lines = ["  ".join(fit(h, widths[c], c in right) for c, h in enumerate(headers)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(fit(cell, widths[c], c in right) for c, cell in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines)
