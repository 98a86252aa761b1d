"""The Lark parser for policy text, built lazily from the grammar that ships with the package."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator

from lark import Lark, Token
from lark.indenter import Indenter

from pkrules.language.keywords import keyword_kind

# Keywords that head a block and are names anywhere else.
_BLOCK_HEADS = ("APPRAISAL", "PARAMETER")

# English keywords of several words, read as one: `year to date`, `earlier this quarter`.
_SPANS = ("year", "quarter", "month")

# Words that became keywords with issue 10 are keywords only where they can mean something, and
# names everywhere else, so that a policy written before (a definition called `since`, `默认` or
# `本年累计`) reads as it did: each with what its line must already hold (see _Line.licenses).
SOFT_KEYWORDS = ("TODATE", "EARLIER", "SINCE", "OPTIONAL", "DEFAULT", "ONLYIF", "AS")


_OPERATORS = ("ADD_OP", "MUL_OP", "EQUAL", "COMP", "_LBRACKET")
# Tokens a value follows, never a keyword of these: an operator, an opening bracket, a comma, a condition word.
_BEFORE_VALUE = _OPERATORS + ("_LPAR", "_COMMA", "WHERE", "IF", "THEN", "ELSE", "AND", "OR", "NOT", "IN")


def _next_type(tokens: list[Token]) -> str | None:
    """The type of the token after the first of these (None at the end)."""
    return tokens[1].type if len(tokens) > 1 else None


class _Line:
    """What the tokens so far of a logical line hold, for the soft keywords above."""

    def __init__(self) -> None:
        self.block: str | None = None  # the first token of the last line that starts at column 1
        self.seen: set[str] = set()
        self.depth = 0  # open brackets: a newline inside them does not end the line
        self.last: str | None = None  # the type of the token before

    def see(self, token: Token) -> None:
        if token.type == "_NL":
            if self.depth == 0:
                self.seen = set()
            return
        if not self.seen and token.column == 1:
            self.block = token.type
        self.depth += token.type in ("_LPAR", "_LBRACKET")
        self.depth -= token.type in ("_RPAR", "_RBRACKET") and self.depth > 0
        self.seen.add(token.type)
        self.last = token.type

    def licenses(self, kind: str, after: str | None = None) -> bool:
        """Whether a soft keyword can be one here; the first word of a line is always a name, and so is a
        word an operator follows (`sum x where since > 0` compares a value called since)."""
        if not self.seen:
            return False
        if kind not in ("OPTIONAL", "DEFAULT") and (after in _OPERATORS or self.last in _BEFORE_VALUE):
            return False  # an operand: `sum x where since > 0`, `max(0, earlier)` (`default -5` is a keyword)
        if kind in ("TODATE", "EARLIER", "SINCE"):  # sum … year to date, rank … (refused with its fix)
            return bool(self.seen & {"AGG", "MIN", "MAX", "RANK"})
        if kind in ("OPTIONAL", "DEFAULT"):  # in an input or parameter declaration, after its colon
            return self.block in ("INPUT", "PARAMETER") and "_COLON" in self.seen
        if kind == "AS":  # the unit of a lookup file's values
            return "FROM" in self.seen
        return "EQUAL" in self.seen  # ONLYIF: a definition's guard

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
        return PolicyLayout._employees(_phrases(stream))

    @staticmethod
    def _employees(stream: Iterator[Token]) -> Iterator[Token]:
        previous: Token | None = None
        pending: Token | None = None  # an 'employee' waiting for the token after it
        for token in stream:
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


def _phrases(stream: Iterator[Token]) -> Iterator[Token]:
    """Names → keywords; `year to date` and `earlier this year` → one keyword token each.

    Tokens are passed on as they come (a lexing error further on must not hide a syntax
    error before it); only a word that can start a phrase waits for the next two."""
    buffer: list[Token] = []
    source = iter(stream)
    line = _Line()

    def pull(n: int) -> list[Token]:
        while len(buffer) < n:
            token = next(source, None)
            if token is None:
                break
            if token.type == "NAME":
                kind = keyword_kind(token.value)
                if kind is not None:
                    token = token.update(type=kind)
            buffer.append(token)
        return buffer[:n]

    while pull(1):
        first = buffer[0]
        if first.type in _BLOCK_HEADS:
            # `appraisal` / `parameter` head a block only at the start of a line, alone (or with a colon);
            # elsewhere they are names (partners.pk has a definition called appraisal).
            ahead = pull(2)
            if first.column != 1 or (len(ahead) > 1 and ahead[1].type not in ("_NL", "_COLON")):
                buffer[0] = first.update(type="NAME")
                first = buffer[0]
        if first.type == "PUBLISH":
            # `publish` (公布) starts the publish line only at the start of a line, before a name or a colon;
            # elsewhere it is a name, as before there was a publish line (a definition called 公布 still reads).
            ahead = pull(2)
            if first.column != 1 or len(ahead) < 2 or ahead[1].type not in ("NAME", "_COLON"):
                buffer[0] = first = first.update(type="NAME")
        if first.type in SOFT_KEYWORDS and not line.licenses(first.type, _next_type(pull(2))):
            buffer[0] = first = first.update(type="NAME")
        starts = (first.type == "NAME" and str(first.value).lower() in _SPANS + ("only",)) or \
            first.type in ("TO", "EARLIER")
        if starts:
            ahead = pull(3)
            words = [str(t.value).lower() for t in ahead]
            types = [t.type for t in ahead]
            take = 0
            if len(ahead) == 3 and types[0] == "NAME" and types[1] == "TO" and words[2] == "date":
                kind, take = "TODATE", 3
            elif len(ahead) >= 2 and types[0] == "TO" and types[1] == "NAME" and words[1] == "date":
                kind, take = "TODATE", 2
            elif len(ahead) == 3 and types[0] == "EARLIER" and words[1] == "this" and words[2] in _SPANS:
                kind, take = "EARLIER", 3
            elif len(ahead) >= 2 and types[0] == "NAME" and words[0] == "only" and types[1] == "IF":
                kind, take = "ONLYIF", 2
            if take and line.licenses(kind, _next_type(pull(take + 1)[take - 1:])):
                token = _joined(kind, buffer[:take])
                del buffer[:take]
                line.see(token)
                yield token
                continue
        token = buffer.pop(0)
        line.see(token)
        yield token


def _joined(kind: str, parts: list[Token]) -> Token:
    first, last = parts[0], parts[-1]
    return Token(kind, " ".join(str(p.value) for p in parts), first.start_pos, first.line, first.column,
                 last.end_line, last.end_column, last.end_pos)


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

    # Only the user's own folder: lark's cache is a pickle, and one another user could write (in /tmp, say)
    # could run their code here. Without the folder (or with PKRULES_NO_CACHE) the parser is built each time.
    from pkrules.files import private_cache_folder

    folder = private_cache_folder("pkrules")
    if folder is None or not os.access(folder, os.W_OK):
        return None
    text = grammar_path().read_bytes()
    digest = hashlib.sha256(text + __version_tag().encode()).hexdigest()[:16]
    return str(folder / f"grammar-{digest}.lark-cache")


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
