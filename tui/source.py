"""Policy text highlighted with pkrules' own Pygments lexer, as Rich Text lines the screens lay out."""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from rich.syntax import Syntax
from rich.text import Span, Text

from pkrules import api

THEME = "monokai"
MARK = Style(bgcolor="#3a3a1a")  # the line an explanation points at
FIRED = Style(bgcolor="#1f3d24")  # the table row that fired


def _foreground(style) -> Style:
    if isinstance(style, str):
        style = Style.parse(style)
    return Style(color=style.color, bold=style.bold, italic=style.italic, underline=style.underline)


@lru_cache(maxsize=8)
def _lines(text: str) -> tuple[Text, ...]:
    syntax = Syntax("", lexer=api.policy_lexer(), theme=THEME)
    highlighted = syntax.highlight(text.replace("\r\n", "\n"))
    highlighted.rstrip()
    # The theme's background would paint a block on Textual's own background: keep the colours only.
    highlighted.spans[:] = [Span(s.start, s.end, _foreground(s.style)) for s in highlighted.spans]
    highlighted.style = ""
    lines = highlighted.split("\n", allow_blank=True)
    return tuple(lines)


def highlighted_lines(text: str) -> list[Text]:
    """One highlighted Text per line of the policy (line n is index n-1); copies, free to restyle."""
    return [line.copy() for line in _lines(text)]


def highlight(code: str) -> Text:
    """A formula or a row, highlighted."""
    lines = highlighted_lines(code)
    return Text("\n").join(lines)


def excerpt(text: str, first: int, last: int, marks: dict[int, Style] | None = None, context: int = 1,
            number_width: int | None = None) -> Text:
    """Lines first..last (1-based) of the policy with line numbers, a little context, and marked lines."""
    lines = highlighted_lines(text)
    start = max(1, first - context)
    end = min(len(lines), last + context)
    width = number_width or len(str(end))
    out = Text()
    for n in range(start, end + 1):
        style = (marks or {}).get(n)
        out.append(f"{n:>{width}} ", style="dim" if style is None else "bold")
        out.append("▶" if style is not None else "│", style="bold yellow" if style is not None else "dim")
        out.append(" ")
        line = lines[n - 1]
        if style is not None:
            line.stylize(style)
            line.pad_right(1)
        out.append_text(line)
        if n < end:
            out.append("\n")
    return out
