"""Diagnostics as data: one type for every problem, rendered the same way everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pkrules.errors import PkrulesError
from pkrules.language.source import SourceFile, Span
from pkrules.messages import speaking, tr
from pkrules.values.text import display_width  # CJK characters take two cells: the caret must line up

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Note:
    """A secondary location that helps explain a diagnostic (e.g. a step of a cycle)."""

    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a policy or a data file."""

    severity: Severity
    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    notes: tuple[Note, ...] = field(default_factory=tuple)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class PolicyError(PkrulesError):
    """Raised when a policy cannot be compiled; carries every diagnostic found."""

    def __init__(self, source: SourceFile, diagnostics: list[Diagnostic]):
        self.source = source
        self.diagnostics = diagnostics
        super().__init__(render_all(source, diagnostics))


def _language(source: SourceFile) -> str:
    from pkrules.language.keywords import policy_language

    return policy_language(source.text)


def render(source: SourceFile, diag: Diagnostic) -> str:
    """`file:line:col: error: message`, the source line, a caret, then hints and notes.

    In the policy's language (or the user's --lang), as its diagnostics were written by check_source.
    """
    with speaking(_language(source)):
        return _render(source, diag)


def _render(source: SourceFile, diag: Diagnostic) -> str:
    out: list[str] = []
    where = source.path
    if diag.span is not None and diag.span.line > 0:
        where = f"{source.path}:{diag.span.line}:{diag.span.column}"
    if diag.is_error:
        out.append(tr("{where}: error: {message} [{code}]", where=where, message=diag.message, code=diag.code))
    else:
        out.append(tr("{where}: warning: {message} [{code}]", where=where, message=diag.message, code=diag.code))
    if diag.span is not None and diag.span.line > 0:
        out.extend(_excerpt(source, diag.span))
    if diag.hint:
        out.append(tr("  hint: {hint}", hint=diag.hint))
    for note in diag.notes:
        if note.span is not None and note.span.line > 0:
            out.append(tr("  note: {where}: {note}", where=f"{source.path}:{note.span.line}:{note.span.column}",
                          note=note.message))
            out.extend("  " + line for line in _excerpt(source, note.span))
        else:
            out.append(tr("  note: {note}", note=note.message))
    return "\n".join(out)


def _excerpt(source: SourceFile, span: Span) -> list[str]:
    text = source.line(span.line).rstrip("\r\n")
    if not text and span.line > len(source.lines()):
        return []
    number = str(span.line)
    gutter = " " * len(number)
    start = max(span.column - 1, 0)
    end = span.end_column - 1 if span.end_line == span.line else len(text)
    end = max(end, start + 1)
    pad = display_width(text[:start].replace("\t", " "))
    width = max(display_width(text[start:end]), 1)
    return [f" {number} | {text}", f" {gutter} | {' ' * pad}{'^' * width}"]


def render_all(source: SourceFile, diagnostics: list[Diagnostic]) -> str:
    with speaking(_language(source)):
        return _render_all(source, diagnostics)


def _render_all(source: SourceFile, diagnostics: list[Diagnostic]) -> str:
    parts = [_render(source, d) for d in sort_diagnostics(diagnostics)]
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    said_errors = tr("{n} error{s}", n=errors, s="s" if errors != 1 else "")
    said_warnings = tr("{n} warning{s}", n=warnings, s="s" if warnings != 1 else "")
    if errors and warnings:
        parts.append(f"{source.path}: " + tr("{errors}, {warnings}", errors=said_errors, warnings=said_warnings))
    elif errors or warnings:
        parts.append(f"{source.path}: " + (said_errors if errors else said_warnings))
    return "\n\n".join(parts[:-1]) + ("\n\n" if len(parts) > 1 else "") + parts[-1] if parts else ""


def sort_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    def key(d: Diagnostic) -> tuple[int, int, int]:
        if d.span is None:
            return (0, 0, 0)
        return (d.span.line, d.span.column, 0 if d.is_error else 1)

    return sorted(diagnostics, key=key)
