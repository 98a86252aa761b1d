"""Reading a population from CSV: each cell validated against the policy's inputs (pydantic).

Every bad cell is reported (row, column, value, what was expected); the caller
decides whether to stop or to keep going with the good rows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pkrules.errors import DataError
from pkrules.values.cells import parse_cell
from pkrules.language.rule_graph import RuleGraph
from pkrules.values.types import PERCENT, Type
from pkrules.messages import tr

@dataclass
class CellError:
    row: int  # 1 = first data row (the header is row 0)
    column: str
    value: str
    expected: str
    file: str | None = None  # the file it is in, when not the main data file (a related table)

    def describe(self, path: str) -> str:
        shown = repr(self.value) if self.value != "" else tr("an empty cell")
        return tr("{file}: row {row}, column {column}: {value} — {expected}", file=self.file or path, row=self.row,
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


def _validator(type_: Type, rules: list):
    # A closure taking exactly one argument: pydantic passes validation info to
    # functions that take two.
    def validate(value: Any) -> Any:
        raw = value if isinstance(value, str) else str(value)
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
        fields[node.name] = (Annotated[Any, BeforeValidator(_validator(node.type, checks[node.name]))], ...)
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


def read_csv(graph: RuleGraph, path: str | Path, text: str | None = None, table: str | None = None) -> DataTable:
    """Read and validate a CSV file against the policy's inputs (or a related table's columns)."""
    columns = _main_columns(graph) if table is None else related_columns(graph, table)
    by_name = {c.name: c for c in columns}
    from pydantic import ValidationError

    path = Path(path)
    if text is None:
        text = read_text(path)
    if "\x00" in text:
        raise DataError(tr("{path}: this is not a CSV file (it contains binary data)", path=path))
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(tr("{path}: the file is empty; expected a header row naming the columns", path=path)) from None
    except csv.Error as e:
        raise DataError(tr("{path}: line 1: {problem}", path=path, problem=e)) from None
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
        raise DataError("\n".join(lines))
    extra = [h for i, h in enumerate(header) if i not in positions.values()]
    model = _row_model(columns)
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    errors: list[CellError] = []
    skipped = 0
    seen_keys: dict[object, int] = {}
    row_number = 0
    try:
        for record in reader:
            row_number += 1
            if not any(cell.strip() for cell in record):
                continue
            cells = {name: (record[i] if i < len(record) else "") for name, i in positions.items()}
            row_errors: list[CellError] = []
            if len(record) > len(header):
                row_errors.append(CellError(row_number, "(row)", ",".join(record[len(header):]),
                                            tr("this row has {cells} cells but the header has {columns} columns",
                                               cells=len(record), columns=len(header))))
            try:
                values = dict(model.model_validate(cells).__dict__)  # model_dump would turn Fractions into text
            except ValidationError as e:
                values = None
                for problem in e.errors():
                    column = str(problem["loc"][0])
                    message = problem["msg"].removeprefix("Value error, ")
                    row_errors.append(CellError(row_number, header[positions[column]], cells[column], message))
            if values is not None and table is None:
                key = values[graph.key] if graph.period is None else (values[graph.key], values[graph.period])
                if key in seen_keys:
                    message = (tr("the key {key} is also on row {row}; each employee appears once", key=values[graph.key],
                                  row=seen_keys[key])
                               if graph.period is None else
                               tr("{key} in {period} {value} is also on row {row}; each employee appears once per period",
                                  key=values[graph.key], period=graph.period, value=values[graph.period], row=seen_keys[key]))
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
        raise DataError(tr("{path}: row {row}: {problem}", path=path, row=row_number, problem=e)) from None
    return DataTable(rows, numbers, errors, skipped, extra)


def read_data(graph: RuleGraph, path: str | Path, sheet: str | None = None, table: str | None = None,
              related: str | None = None) -> DataTable:
    """Read and validate a CSV, Parquet, Excel or SQLite file against the policy's inputs.

    Every format is read as text, then exactly as a CSV cell: the same parsing,
    limits and messages. (A Parquet cell as polars renders it; an Excel cell as
    the shortest decimal of the stored number; a null or an empty cell is empty.)
    related: read the rows of that related table instead of the main inputs.
    """
    from pkrules.io.formats import excel_as_csv_text, is_excel, is_parquet, is_sqlite, parquet_as_csv_text, sqlite_as_csv_text

    if is_excel(path):
        return read_csv(graph, path, text=excel_as_csv_text(path, sheet), table=related)
    if is_sqlite(path):
        return read_csv(graph, path, text=sqlite_as_csv_text(path, table), table=related)
    if is_parquet(path):
        return read_csv(graph, path, text=parquet_as_csv_text(path), table=related)
    return read_csv(graph, path, table=related)
