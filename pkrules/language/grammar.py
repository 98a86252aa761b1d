"""The Lark parser for policy text, built lazily from the grammar that ships with the package."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator

from lark import Lark, Token
from lark.indenter import Indenter

# English keywords match in any case; Chinese keywords as written. Words are
# turned into keyword tokens here rather than in the grammar so that both
# languages share one grammar and a Chinese name such as 如果金额 stays a name.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "POLICY": ("policy", "政策", "方案"),
    "VERSION": ("version", "版本"),
    "INPUT": ("input", "inputs", "输入"),
    "KEY": ("key", "主键"),
    "COLUMN": ("column", "列名"),
    "TO": ("to", "至", "到"),
    "BETWEEN": ("between", "介于"),
    "AND": ("and", "且", "并且", "而且"),
    "OR": ("or", "或", "或者"),
    "NOT": ("not", "非", "不"),
    "IN": ("in", "属于", "在"),
    "IF": ("if", "如果", "若"),
    "THEN": ("then", "则", "那么"),
    "ELSE": ("else",),
    "OTHERWISE": ("otherwise", "否则", "其他"),
    "WEIGHTED": ("weighted", "加权"),
    "TIERED": ("tiered", "分段", "阶梯"),
    "ON": ("on", "基于"),
    "UP": ("up",),
    "UPTO": ("以内", "以下"),
    "ABOVE": ("above", "以上"),
    "BY": ("by", "按"),
    "EXAMPLE": ("example", "示例"),
    "EMPLOYEE": ("employee", "员工"),
    "EXPECT": ("expect", "期望", "预期"),
    "FOR": ("for", "对于"),
    "TOP": ("top", "前"),
    "BOTTOM": ("bottom", "后"),
    "MIN": ("min", "最小"),
    "MAX": ("max", "最大"),
    "AGG": ("sum", "avg", "average", "count", "合计", "求和", "总和", "平均", "人数", "计数"),
    "WHERE": ("where", "其中"),
    "WITHIN": ("within", "组内"),
    "RANK": ("rank", "排名"),
    "ASCENDING": ("ascending", "升序"),
    "SPLIT": ("split", "分配"),
    "OUTPUT": ("output", "输出"),
    "LOOKUP": ("lookup", "查表"),
    "FROM": ("from", "来自"),
    "ACROSS": ("across", "跨期"),
    "PERIOD": ("period", "期间"),
    "WITH": ("with", "附"),
}

KEYWORD_OF: dict[str, str] = {
    word: kind for kind, words in KEYWORDS.items() for word in words
}


def keyword_kind(word: str) -> str | None:
    """The keyword a word stands for (`如果` → IF, `If` → IF), or None for a name."""
    return KEYWORD_OF.get(word) or KEYWORD_OF.get(word.lower()) if word.isascii() else KEYWORD_OF.get(word)


_WORD = re.compile(r"[^\W\d]\w*")


def _english_keywords(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if w.isascii() and keyword_kind(w))


def _chinese_keywords(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if not w.isascii() and keyword_kind(w))


def policy_language(text: str) -> str:
    """The language a policy is written in: 'zh' when it has more Chinese keywords than English ones.

    It does not need the policy to parse, so that even a policy full of syntax
    errors is told about them in its own language.
    """
    return "zh" if _chinese_keywords(text) > _english_keywords(text) else "en"


class PolicyLayout(Indenter):
    """Turns indentation into blocks and words into keywords."""

    NL_type = "_NL"
    OPEN_PAREN_types = ["_LPAR", "_LBRACKET"]
    CLOSE_PAREN_types = ["_RPAR", "_RBRACKET"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 4

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return super().process(self._keywords(stream))

    @staticmethod
    def _keywords(stream: Iterator[Token]) -> Iterator[Token]:
        previous: Token | None = None
        pending: Token | None = None  # an 'employee' waiting for the token after it
        for token in stream:
            if token.type == "NAME":
                kind = keyword_kind(token.value)
                if kind is not None:
                    token = token.update(type=kind)
            if pending is not None:
                # 'employee' starts a person in an example only when a field name follows it;
                # elsewhere (employee: text, score[employee]) it is an ordinary name.
                yield pending if token.type == "NAME" else pending.update(type="NAME")
                pending = None
            if token.type == "EMPLOYEE" and (previous is None or previous.type in ("_NL", "_INDENT", "_DEDENT")):
                pending = token
            elif token.type == "EMPLOYEE":
                yield token.update(type="NAME")
            else:
                yield token
            previous = token
        if pending is not None:
            yield pending.update(type="NAME")

    # lark's Indenter keeps its paren level on the instance between parses;
    # it resets in process(), so one instance can serve every parse.
    @property
    def always_accept(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.NL_type,)


def grammar_path() -> Path:
    """The grammar file: inside the installed package, else the source tree's grammar/."""
    packaged = resources.files("pkrules").joinpath("_grammar", "pkrules.lark")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "grammar" / "pkrules.lark"


def _cache_file() -> str | None:
    """Where lark keeps the analysed grammar between runs (building the LALR tables takes 0.3 s)."""
    import hashlib
    import os
    import tempfile

    text = grammar_path().read_bytes()
    digest = hashlib.sha256(text + __version_tag().encode()).hexdigest()[:16]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "pkrules")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        folder = tempfile.gettempdir()
    if not os.access(folder, os.W_OK):
        return None
    return os.path.join(folder, f"grammar-{digest}.lark-cache")


def __version_tag() -> str:
    import lark

    return f"lark {lark.__version__}"


@lru_cache(maxsize=1)
def parser() -> Lark:
    options = dict(
        parser="lalr",
        lexer="basic",
        postlex=PolicyLayout(),
        propagate_positions=True,
        maybe_placeholders=False,
    )
    cache = _cache_file()
    text = grammar_path().read_text(encoding="utf-8")
    if cache is not None:
        try:
            return Lark(text, cache=cache, **options)
        except Exception:  # a stale or unreadable cache file: build without it
            pass
    return Lark(text, **options)
