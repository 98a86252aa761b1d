"""Lookup tables read from a CSV file next to the policy (`region_coef by region from "regions.csv"`).

The file is read when the policy is checked, so a missing file, a duplicate
key or a value that is not a number is a diagnostic pointing at both the
policy line and the file's line, before anyone is paid.
"""

from __future__ import annotations

import csv
import io
import os
from contextlib import contextmanager
from contextvars import ContextVar
from fractions import Fraction
from pathlib import Path
from typing import Iterator

from pkrules.errors import PkrulesError
from pkrules.language import ast
from pkrules.language.diagnostics import Diagnostic
from pkrules.values.numbers import TooManyDigits, parse_literal
from pkrules.values.types import ENUM, NUMERIC, TEXT, Type
from pkrules.messages import tr


class LookupFileError(PkrulesError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


# A lookup table is a few hundred rows; a file far larger is not one (and /dev/zero has no end).
MAX_LOOKUP_BYTES = 64 * 1024 * 1024

# Folders besides the policy's own that lookup files may come from: `--lookup-folder DIR` on the command
# line, or PKRULES_LOOKUP_FOLDERS (folders separated as in PATH).
_folders: ContextVar[tuple[str, ...]] = ContextVar("pkrules_lookup_folders", default=())


@contextmanager
def lookup_folders(folders: list[str] | tuple[str, ...]) -> Iterator[None]:
    """Inside the block, lookup files may also lie under these folders."""
    token = _folders.set(tuple(folders))
    try:
        yield
    finally:
        _folders.reset(token)


def allowed_folders(policy_path: str) -> list[Path]:
    """The folders a policy's lookup files may lie under: its own, and those the user named."""
    named = list(_folders.get()) + [f for f in os.environ.get("PKRULES_LOOKUP_FOLDERS", "").split(os.pathsep) if f]
    return [lookup_path(policy_path, ".").resolve()] + [Path(f).resolve() for f in named]


def lookup_path(policy_path: str, file: str) -> Path:
    base = Path(policy_path).parent if policy_path and not policy_path.startswith("<") else Path.cwd()
    return base / file


def _shown(path: Path) -> str:
    """The path relative to where the user is, when it is below it."""
    relative = os.path.relpath(path.resolve())
    return str(path.resolve()) if relative.startswith("..") else relative


def _inside(path: Path, folders: list[Path]) -> bool:
    resolved = path.resolve()  # through links and ..: where the bytes really are
    return any(resolved == folder or folder in resolved.parents for folder in folders)


def read_lookup(policy_path: str, lookup: ast.Lookup, key_type: Type) -> tuple[dict[object, object], dict[object, int]]:
    """(key → value, key → the file's line number) or LookupFileError.

    Only a regular file under the policy's folder (or a folder the user named) is read, and
    nothing of a file outside is ever shown: a policy naming /etc/passwd or ../../secret.csv
    gets a message about the name it wrote, not about the file.
    """
    from pkrules.files import read_bytes

    path = lookup_path(policy_path, lookup.file or "")
    folders = allowed_folders(policy_path)
    if not _inside(path, folders):
        raise LookupFileError(
            tr("lookup file {file} is outside the policy's folder", file=lookup.file),
            tr("lookup files are read only from the policy's folder ({folder}) and below; put the file there, or name "
               "its folder with --lookup-folder", folder=_shown(folders[0])))
    if not path.exists():
        raise LookupFileError(tr("lookup file {file} not found", file=lookup.file), tr("looked for {path}", path=_shown(path)))
    try:
        raw = read_bytes(path, _Unreadable, tr("name a CSV file"), limit=MAX_LOOKUP_BYTES)
    except _Unreadable as e:
        raise LookupFileError(tr("cannot read lookup file {file}: {problem}", file=lookup.file,
                                 problem=str(e).removeprefix(f"{path}: "))) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise LookupFileError(tr("{file} is not a text (CSV) file", file=lookup.file)) from None
    if "\x00" in text:
        raise LookupFileError(tr("{file} is not a text (CSV) file", file=lookup.file))
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise LookupFileError(tr("{file} is not valid CSV: {problem}", file=lookup.file, problem=e)) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise LookupFileError(tr("{file} is empty; expected a header and one row per key", file=lookup.file))
    header = [h.strip() for h in rows[0]]
    key_name = lookup.key.name if isinstance(lookup.key, ast.Name) else None
    key_col = header.index(key_name) if key_name in header else 0
    value_name = lookup.column or lookup.name
    if value_name in header:
        value_col = header.index(value_name)
    elif lookup.column is None and len(header) == 2:
        value_col = 1 - key_col
    else:
        raise LookupFileError(tr("{file} has no column {column}", file=lookup.file, column=value_name),
                              tr('its header is: {header}; name the value column with column "…"', header=tr(", ").join(header)))
    table: dict[object, object] = {}
    lines: dict[object, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) <= max(key_col, value_col):
            raise LookupFileError(tr("{where}: this row has {n} cell{s}; expected {expected}", where=f"{lookup.file}:{number}",
                                     n=len(row), s="" if len(row) == 1 else "s", expected=len(header)))
        key = _key(row[key_col].strip(), key_type, lookup.file or "", number)
        if key in table:
            raise LookupFileError(tr("{where}: the key {key} appears again (first on line {first})",
                                     where=f"{lookup.file}:{number}", key=row[key_col].strip(), first=lines[key]),
                                  tr("each key may appear once"))
        table[key] = _value(row[value_col].strip(), lookup.file or "", number, header[value_col])
        lines[key] = number
    kinds = {isinstance(v, str) for v in table.values()}
    if len(kinds) > 1:
        first_text = next((k, v) for k, v in table.items() if isinstance(v, str))
        raise LookupFileError(tr("{where}: '{value}' in column {column} is not a number, but other rows hold numbers",
                                 where=f"{lookup.file}:{lines[first_text[0]]}", value=first_text[1],
                                 column=header[value_col]),
                              tr("a value column holds numbers or words, not both"))
    return table, lines


class _Unreadable(Exception):
    pass


def _key(text: str, key_type: Type, file: str, line: int) -> object:
    if key_type.kind in NUMERIC:
        parsed = _number(text, file, line)
        if parsed is None:
            raise LookupFileError(tr("{where}: the key '{key}' is not a number", where=f"{file}:{line}", key=text))
        return parsed[0]
    if key_type.kind == ENUM and text not in key_type.values:
        raise LookupFileError(tr("{where}: '{value}' is not one of {name}'s values ({values})", where=f"{file}:{line}",
                                 value=text, name=key_type.enum_name, values=tr(", ").join(key_type.values)))
    if key_type.kind not in (TEXT, ENUM, "error"):
        raise LookupFileError(tr("a lookup from a file needs a text, one-of or number key, not {type}",
                                 type=key_type.describe()))
    return text


def _value(text: str, file: str, line: int, column: str) -> Fraction | str:
    """A number when it reads as one (480,000, 50万, 88%); otherwise the text (an opponent team's name)."""
    parsed = _number(text, file, line)
    if parsed is None:
        if text == "":
            raise LookupFileError(tr("{where}: the value in column {column} is empty", where=f"{file}:{line}", column=column))
        return text
    return parsed[0]


def _number(text: str, file: str, line: int):
    try:
        return parse_literal(text)
    except TooManyDigits as e:
        raise LookupFileError(f"{file}:{line}: {e}") from None


def file_diagnostic(lookup: ast.Lookup, error: LookupFileError) -> Diagnostic:
    return Diagnostic("error", "lookup-file", str(error), lookup.file_span, hint=error.hint)
