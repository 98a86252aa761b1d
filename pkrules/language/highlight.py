"""Syntax highlighting of policy text: a Pygments lexer (also registered as a Pygments plugin).

Used for the formulas in `explain` when it prints to a terminal; Rich and
Textual pick it up by name ("pkrules") for the TUI.
"""

from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

from pkrules.language.keywords import KEYWORDS
from pkrules.values.types import TYPE_NAMES

_ENGLISH = sorted({w for ws in KEYWORDS.values() for w in ws if w.isascii()}, key=len, reverse=True)
_CHINESE = sorted({w for ws in KEYWORDS.values() for w in ws if not w.isascii()}, key=len, reverse=True)
_TYPES = sorted(TYPE_NAMES, key=len, reverse=True)
# A word ends where the next character cannot continue a name (the same rule as the parser's).
_END = r"(?!\w)"


class PkrulesLexer(RegexLexer):
    name = "pkrules"
    aliases = ["pkrules", "pk"]
    filenames = ["*.pk"]
    flags = re.MULTILINE | re.UNICODE

    tokens = {
        "root": [
            (r"[ \t\u3000]+", Whitespace),
            (r"\n", Whitespace),
            (r"#.*$", Comment.Single),
            (r'"[^"\n]*"|“[^”\n]*”|「[^」\n]*」', String),
            (r"[¥￥]?\d[\d,]*(\.\d+)?(万|亿)?元?[%％]?", Number),
            (words(tuple(_ENGLISH), prefix=r"(?i)(?<!\w)", suffix=_END), Keyword),
            (words(tuple(_CHINESE), prefix=r"(?<!\w)", suffix=_END), Keyword),
            (r"([:：])([ \t\u3000]*)(" + "|".join(map(re.escape, _TYPES)) + r")" + _END,
             bygroups(Punctuation, Whitespace, Keyword.Type)),
            (r"[^\W\d]\w*", Name),
            (r">=|<=|!=|<>|==|[=<>≥≤≠＝＞＜+\-*/×÷＋－＊／|｜]", Operator),
            (r"[(),:，：、（）]", Punctuation),
            (r".", Text),
        ],
    }


def highlight_terminal(text: str) -> str:
    """ANSI-coloured policy text for a terminal."""
    from pygments import highlight
    from pygments.formatters import TerminalFormatter

    return highlight(text, PkrulesLexer(), TerminalFormatter()).rstrip("\n")
