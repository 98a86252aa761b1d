"""Reading a population from CSV: each cell validated against the policy's inputs (pydantic).

Every bad cell is reported (row, column, value, what was expected); the caller
decides whether to stop or to keep going with the good rows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pkrules.errors import DataError
from pkrules.messages import tr
from pkrules.values.cells import leading_zeros, parse_cell
from pkrules.language.rule_graph import RuleGraph
from pkrules.values.types import MONEY, PERCENT, Type

if TYPE_CHECKING:  # (for the annotation; read_csv imports it where it is used)
    from pkrules.io.formats import SheetText

_NOT_SPREADSHEETS = (".sqlite", ".sqlite3", ".db", ".parquet", ".pq")  # files no one opens in Excel


def row_label(row: int, path: str | Path | None) -> str:
    """A data row as people find it: in a CSV or Excel file, the row Excel shows (the header is row 1);
    in a database or Parquet file, the data row."""
    if path is not None and str(path).lower().endswith(_NOT_SPREADSHEETS):
        return tr("row {n}", n=row)
    return tr("Excel row {n}", n=row + 1)


@dataclass
class CellError:
    row: int  # 1 = first data row (the header is row 0)
    column: str
    value: str
    expected: str
    file: str | None = None  # the file it is in, when not the main data file (a related table)

    def describe(self, path: str) -> str:
        value = self.value
        if len(value) > 60:  # a cell of 5,000 digits, or the rows an open quote swallowed: its start is enough
            value = value[:50] + "…"
        shown = repr(value) + (tr(" ({count} characters)", count=f"{len(self.value):,}") if value != self.value else "") \
            if self.value != "" else tr("an empty cell")
        where = self.file or path
        return tr("{file}: {row}, column {column}: {value} — {expected}", file=where, row=row_label(self.row, where),
                  column=self.column, value=shown, expected=self.expected)


@dataclass
class DataTable:
    """Validated rows of one data file, ready to evaluate; the rows with bad cells are left out."""

    rows: list[dict[str, Any]]
    row_numbers: list[int]
    errors: list[CellError]
    skipped: int  # rows dropped because they had errors
    extra_columns: list[str]


@dataclass
class Column:
    """One input column a data file must have: its name, type and declaration."""

    name: str
    type: Type
    decl: Any


def _main_columns(graph: RuleGraph) -> list[Column]:
    return [Column(n.name, n.type, n.decl) for n in graph.inputs]


def related_columns(graph: RuleGraph, table: str) -> list[Column]:
    declared, types = graph.related[table]
    return [Column(d.name, types[d.name], d) for d in declared.inputs]


def _constraint_checks(columns: list[Column]):
    """Per input: functions that return an error text for a value outside its declared limits."""
    from pkrules.language.builtins import constant_value
    from pkrules.values.format import format_value

    checks: dict[str, list] = {}
    for node in columns:
        decl = node.decl
        rules = []
        if decl.low is not None and decl.high is not None:
            low, high = constant_value(decl.low), constant_value(decl.high)
            text = tr("expected between {low} and {high}", low=format_value(low, node.type), high=format_value(high, node.type))
            rules.append(lambda v, lo=low, hi=high, t=text: None if lo <= v <= hi else t)
        for op, bound in decl.compares:
            limit = constant_value(bound)
            text = tr("expected {op} {limit}", op=op, limit=format_value(limit, node.type))
            test = {">=": lambda v, b: v >= b, ">": lambda v, b: v > b, "<=": lambda v, b: v <= b,
                    "<": lambda v, b: v < b, "=": lambda v, b: v == b, "!=": lambda v, b: v != b}[op]
            rules.append(lambda v, b=limit, f=test, t=text: None if f(v, b) else t)
        checks[node.name] = rules
    return checks


def _validator(type_: Type, rules: list, decl: Any = None):
    # A closure taking exactly one argument: pydantic passes validation info to
    # functions that take two.
    from pkrules.language.builtins import default_value

    optional = bool(getattr(decl, "optional", False))
    default = default_value(type_, decl.default) if optional and decl.default is not None else None

    def validate(value: Any) -> Any:
        raw = value if isinstance(value, str) else str(value)
        if optional and not raw.strip():
            return default  # a blank cell of an optional input: its default, or no value
        parsed = parse_cell(type_, raw)
        for rule in rules:
            problem = rule(parsed)
            if problem:
                if type_.kind == PERCENT and "%" not in raw and "％" not in raw and parsed > 1:
                    from pkrules.values.numbers import format_exact

                    problem += tr(" ({raw} without % is {percent}%: write {raw}% or {fraction})", raw=raw.strip(),
                                  percent=format_exact(parsed * 100), fraction=format_exact(parsed / 100))
                raise ValueError(problem)
        return parsed

    return validate


def _row_model(columns: list[Column]):
    """A pydantic model of one row: one field per input, parsed and range-checked."""
    from pydantic import BeforeValidator, ConfigDict, create_model
    from typing import Annotated

    checks = _constraint_checks(columns)
    fields: dict[str, Any] = {}
    for node in columns:
        fields[node.name] = (Annotated[Any, BeforeValidator(_validator(node.type, checks[node.name], node.decl))], ...)
    return create_model("PolicyRow", __config__=ConfigDict(arbitrary_types_allowed=True), **fields)


def read_text(path: Path) -> str:
    from pkrules.files import read_bytes

    raw = read_bytes(path, DataError, tr("name a data file"))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(tr("{path}: not a text file in UTF-8 or GB18030", path=path))


def csv_text(text: str) -> str:
    """Text whose lines end in CR alone (old Mac files) or in a mix of CR, LF and CRLF, with every line ending LF;
    other text as it is (a CRLF file needs nothing: the csv module reads it, quoted line breaks included)."""
    if "\r" in text and "\r" in text.replace("\r\n", ""):
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


# The csv module's default limit on one cell (128 KB) would stop a file at the first long cell; an unclosed
# quote is better reported as such (read_csv: _open_quote), with the rows it swallowed, so cells may be longer.
CELL_LIMIT = 16 * 1024 * 1024


def csv_reader(text: str):
    """The one way pkrules splits CSV text into records (the fast path uses it when polars cannot split as it does)."""
    if csv.field_size_limit() < CELL_LIMIT:
        csv.field_size_limit(CELL_LIMIT)
    return csv.reader(io.StringIO(csv_text(text)))


def csv_problem(error: csv.Error) -> str:
    """What the csv module's complaint means for the person who made the file."""
    text = str(error)
    if "field larger than field limit" in text:
        return tr("a cell is longer than {limit} characters; is a quote (\") left open above?", limit=f"{csv.field_size_limit():,}")
    return text


def read_csv(graph: RuleGraph, path: str | Path, text: "str | SheetText | None" = None, table: str | None = None) -> DataTable:
    """Read and validate a CSV file against the policy's inputs (or a related table's columns).

    text: the file's text already read, or another format's table as CSV text (io/formats.py: SheetText,
    which also says which cells were binary numbers and why empty cells are empty)."""
    from pkrules.io.formats import SheetText

    columns = _main_columns(graph) if table is None else related_columns(graph, table)
    by_name = {c.name: c for c in columns}
    from pydantic import ValidationError

    path = Path(path)
    sheet = text if isinstance(text, SheetText) else SheetText("")
    if isinstance(text, SheetText):
        text = text.text
    if text is None:
        text = read_text(path)
    if "\x00" in text:
        raise DataError(tr("{path}: this is not a CSV file (it contains binary data)", path=path))
    reader = csv_reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(tr("{path}: the file is empty; expected a header row naming the columns", path=path)) from None
    except csv.Error as e:
        raise DataError(tr("{path}: line 1: {problem}", path=path, problem=csv_problem(e))) from None
    header = [h.strip() for h in header]
    aliases = {(n.decl.column or n.name): n.name for n in columns}
    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        name = aliases.get(column, column if column in by_name else None)
        if name is not None:
            if name in positions:
                raise DataError(tr("{path}: column {column} appears twice in the header", path=path, column=column))
            positions[name] = index
    missing = [n.name for n in columns if n.name not in positions]
    if missing:
        from pkrules.language.builtins import did_you_mean

        lines = [tr("{path}: the header lacks column{s} {columns}", path=path, s="s" if len(missing) > 1 else "",
                    columns=tr(", ").join(missing))]
        unmatched = [h for h in header if aliases.get(h) is None and h not in positions]
        for name in missing:
            guess = did_you_mean(name, unmatched)
            if guess:
                lines.append(tr("  hint: is '{guess}' meant to be {name}?", guess=guess, name=name))
        lines.append(tr("  the header is: {header}", header=tr(", ").join(header)))
        separator = _other_separator(header)
        if separator:
            lines.append(tr("  hint: {hint}", hint=tr(
                "the columns seem to be separated by {separator}; pkrules reads CSV separated by commas (in Excel: save "
                "as \"CSV UTF-8 (comma delimited)\")", separator=separator)))
        from pkrules.io.formats import MissingColumns

        raise MissingColumns("\n".join(lines), missing)
    extra = [h for i, h in enumerate(header) if i not in positions.values()]
    model = _row_model(columns)
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    errors: list[CellError] = []
    skipped = 0
    seen_keys: dict[object, int] = {}
    key_is_number = table is None and by_name[graph.key].type.numeric
    money = [c.name for c in columns if c.type.kind == MONEY]
    row_number = 0
    line = reader.line_num  # the file's line where the next record starts, less one
    try:
        for record in reader:
            row_number += 1
            first_line, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            swallowed = _open_quote(record, header, first_line, line)
            if swallowed is not None:
                # One record ran over many lines because a quote was not closed: the rows inside it are
                # lost to it, so they are counted (and reported) as the rows they are, not as one.
                errors.append(CellError(row_number, *swallowed))
                skipped += line - first_line + 1
                continue
            cells = {name: (record[i] if i < len(record) else "") for name, i in positions.items()}
            row_errors: list[CellError] = []
            if len(record) > len(header):
                row_errors.append(CellError(row_number, "(row)", ",".join(record[len(header):]),
                                            tr("this row has {cells} cells but the header has {columns} columns",
                                               cells=len(record), columns=len(header))))
            failed: set[str] = set()
            try:
                values = dict(model.model_validate(cells).__dict__)  # model_dump would turn Fractions into text
            except ValidationError as e:
                values = None
                for problem in e.errors():
                    column = str(problem["loc"][0])
                    failed.add(column)
                    message = problem["msg"].removeprefix("Value error, ")
                    name = header[positions[column]]
                    if not cells[column].strip() and (row_number, name) in sheet.notes:
                        message = sheet.notes[(row_number, name)]  # not really empty: a formula, a merged cell
                    row_errors.append(CellError(row_number, name, cells[column], message))
            if values is not None and sheet.floats:
                for column in money:
                    name = header[positions[column]]
                    if row_number in sheet.floats.get(name, ()) and (values[column] * 100).denominator != 1:
                        row_errors.append(CellError(row_number, name, cells[column], tr(
                            "an amount with digits beyond the cent, stored as a binary number (a float, such as Excel "
                            "computes); round it to the cent in the file (in Excel: =ROUND(…, 2))")))
                        values = None
                        break
            if key_is_number and leading_zeros(cells[graph.key]) and (values is not None or graph.key not in failed):
                number = values[graph.key] if values is not None else None
                row_errors.append(CellError(row_number, header[positions[graph.key]], cells[graph.key], tr(
                    "a key with leading zeros would lose them ({text} is the number {number}); declare the key as "
                    "text ({key}: text key) to keep them", text=cells[graph.key].strip(), key=graph.key,
                    number=number if number is not None else cells[graph.key].strip().lstrip("0") or "0")))
                values = None
            if values is not None and table is None:
                key = values[graph.key] if graph.period is None else (values[graph.key], values[graph.period])
                if key in seen_keys:
                    earlier = row_label(seen_keys[key], path)
                    message = (tr("the key {key} is also on {row}; each employee appears once",
                                  key=values[graph.key], row=earlier)
                               if graph.period is None else
                               tr("{key} in {period} {value} is also on {row}; each employee appears once per period",
                                  key=values[graph.key], period=graph.period, value=values[graph.period], row=earlier))
                    row_errors.append(CellError(row_number, header[positions[graph.key]], str(cells[graph.key]), message))
                else:
                    seen_keys[key] = row_number
            if row_errors:
                errors.extend(row_errors)
                skipped += 1
                continue
            rows.append(values)  # type: ignore[arg-type]
            numbers.append(row_number)
    except csv.Error as e:
        raise DataError(tr("{path}: line {line}: {problem}", path=path, line=reader.line_num, problem=csv_problem(e))) from None
    return DataTable(rows, numbers, errors, skipped, extra)


def _other_separator(header: list[str]) -> str | None:
    """The separator a header seems to use when it is not a comma (a semicolon, a tab, a vertical bar)."""
    if len(header) > 1:
        return None
    for separator, name in ((";", tr("semicolons (;)")), ("\t", tr("tabs")), ("|", tr("vertical bars (|)"))):
        if separator in header[0]:
            return name
    return None


def _open_quote(record: list[str], header: list[str], first: int, last: int) -> tuple[str, str, str] | None:
    """(column, value, message) when a record spans lines because a quote was never closed where it should be.

    A quoted cell may hold line breaks (a comment on two lines); an unclosed quote instead swallows the
    rows below it, so the record has too few cells (or too many) and the swallowed text holds the
    separators of whole rows. Only such a record is reported this way.
    """
    if last == first:
        return None
    for index, cell in enumerate(record):
        if "\n" in cell or "\r" in cell:
            lines = cell.splitlines()
            if len(record) != len(header) and any("," in part for part in lines[1:]):
                column = header[index] if index < len(header) else f"#{index + 1}"
                shown = lines[0][:40] + ("…" if len(lines[0]) > 40 or len(lines) > 1 else "")
                return column, shown, tr(
                    'a quote (") opened on line {first} is closed only on line {last}, or never: lines {first}–{last} '
                    "were read as one cell, so {rows} rows are lost in it; close the quote or remove it",
                    first=first, last=last, rows=last - first + 1)
    return None


def read_data(graph: RuleGraph, path: str | Path, sheet: str | None = None, table: str | None = None,
              related: str | None = None) -> DataTable:
    """Read and validate a CSV, Parquet (a file or a folder of them), Excel, SQLite or DuckDB file against the
    policy's inputs.

    Every format is read as text, then exactly as a CSV cell: the same parsing,
    limits and messages. (A binary number, in Excel or Parquet, as the decimal Excel
    shows; a Parquet cell of another type as polars renders it; a null or an empty cell is empty.)
    related: read the rows of that related table instead of the main inputs.
    """
    from pkrules.io.formats import (MissingColumns, duckdb_table, excel_table, is_duckdb, is_excel, is_parquet,
                                    is_parquet_folder, is_sqlite, parquet_table, sqlite_table)

    if is_duckdb(path):
        return read_csv(graph, path, text=duckdb_table(path, table), table=related)
    if is_parquet_folder(path):
        return read_csv(graph, path, text=parquet_table(path), table=related)
    if is_excel(path):
        columns = _main_columns(graph) if related is None else related_columns(graph, related)
        wanted = {c.decl.column or c.name for c in columns} | {c.name for c in columns}
        try:
            return read_csv(graph, path, text=excel_table(path, sheet, wanted), table=related)
        except MissingColumns as e:
            raise MissingColumns(str(e) + _other_sheet_hint(path, sheet, e.missing, columns), e.missing) from None
    if is_sqlite(path):
        return read_csv(graph, path, text=sqlite_table(path, table), table=related)
    if is_parquet(path):
        return read_csv(graph, path, text=parquet_table(path), table=related)
    return read_csv(graph, path, table=related)


def _other_sheet_hint(path, sheet: str | None, missing: list[str], columns: list[Column]) -> str:
    """When the columns are on another sheet of the workbook: which one, and --sheet."""
    import shlex

    from pkrules.io.formats import excel_sheet_headers

    names = {c.name: c.decl.column or c.name for c in columns}
    headers = excel_sheet_headers(path)
    current = sheet if sheet is not None else next(iter(headers), None)
    for title, header in headers.items():
        if title != current and all(names[m] in header or m in header for m in missing):
            return "\n" + tr("  hint: {hint}", hint=tr(
                "the sheet {title} has these columns: choose it with --sheet {option}", title=title, option=shlex.quote(title)))
    if len(headers) > 1:
        return "\n" + tr("  hint: {hint}", hint=tr(
            "this reads the sheet {current}; the workbook's sheets are {sheets} (choose one with --sheet)",
            current=current, sheets=tr(", ").join(headers)))
    return ""
