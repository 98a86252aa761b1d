"""Source text and positions: every node of a policy remembers where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A range of a source file, 1-based lines and columns (end exclusive)."""

    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"

    @staticmethod
    def join(first: "Span", last: "Span") -> "Span":
        return Span(first.line, first.column, last.end_line, last.end_column)


NO_SPAN = Span(0, 0, 0, 0)


@dataclass(frozen=True)
class SourceFile:
    """A policy's text and the name it is shown under in messages."""

    path: str
    text: str

    def lines(self) -> list[str]:
        # Only "\n" ends a line, as for the parser: splitlines() would also split on \r, \f, \u2028…
        # Split once: explanations ask for lines and snippets thousands of times (the text never changes).
        found = self.__dict__.get("_lines")
        if found is None:
            found = self.text.replace("\r\n", "\n").split("\n")
            object.__setattr__(self, "_lines", found)
        return found

    def line(self, number: int) -> str:
        lines = self.lines()
        if 1 <= number <= len(lines):
            return lines[number - 1]
        return ""

    def snippet(self, span: Span) -> str:
        """The text a span covers (for formulas shown in explanations)."""
        lines = self.lines()
        if not (1 <= span.line <= len(lines)):
            return ""
        if span.line == span.end_line:
            return lines[span.line - 1][span.column - 1 : span.end_column - 1]
        parts = [lines[span.line - 1][span.column - 1 :]]
        parts += lines[span.line : span.end_line - 1]
        # A statement's span may end on the newline after the file's last line.
        if span.end_line <= len(lines):
            parts.append(lines[span.end_line - 1][: span.end_column - 1])
        return "\n".join(parts)


_CLOSING_QUOTE = {"\"": "\"", "“": "”", "「": "」"}


def code_chars(line: str):
    """(index, character) for the characters of a line outside quoted text, up to a '#' comment.

    Ends with (index, '#') when the line has a comment, so callers can find it.
    """
    quote = None
    for index, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in _CLOSING_QUOTE:
            quote = _CLOSING_QUOTE[ch]
        else:
            yield index, ch
            if ch == "#":
                return


@dataclass
class Comment:
    line: int
    text: str  # from '#' to the end of the line
    full_line: bool


def find_comments(text: str) -> list[Comment]:
    """Every comment of a policy's text, with its line; a '#' inside a string is not one."""
    comments = []
    for number, line in enumerate(text.split("\n"), start=1):
        for index, ch in code_chars(line):
            if ch == "#":
                comments.append(Comment(number, line[index:].rstrip(), not line[:index].strip()))
    return comments
