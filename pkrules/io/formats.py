"""Excel, SQLite and Parquet files read as CSV text, so every format gets the same validation.

The text then goes through io.tables.read_csv: the same parsing, limits and
messages whatever the file's format.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from pkrules.errors import DataError
from pkrules.messages import tr

EXCEL = (".xlsx", ".xlsm")
SQLITE = (".sqlite", ".sqlite3", ".db")


def is_excel(path: str | Path) -> bool:
    return str(path).lower().endswith(EXCEL)


def is_sqlite(path: str | Path) -> bool:
    return str(path).lower().endswith(SQLITE)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel stores binary doubles; repr gives the shortest decimal that reads back the same,
        # which is what Excel shows for a typed value (0.88, 480000).
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value).strip()


def _csv_text(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell_text(v) for v in row])
    return buffer.getvalue()


def excel_as_csv_text(path: str | Path, sheet: str | None = None) -> str:
    """The first sheet (or the named one) as CSV text; the first row is the header."""
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise DataError(tr("{path}: no such file", path=path)) from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise DataError(tr("{path}: not a readable Excel workbook (.xlsx): {problem}", path=path, problem=e)) from None
    try:
        if sheet is not None:
            if sheet not in book.sheetnames:
                raise DataError(tr("{path}: no sheet named {sheet}; its sheets: {sheets}", path=path, sheet=sheet,
                                   sheets=tr(", ").join(book.sheetnames)))
            ws = book[sheet]
        else:
            ws = book.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise DataError(tr("{path}: sheet {sheet} is empty; expected a header row naming the columns", path=path,
                               sheet=ws.title))
        width = max((i + 1 for i, h in enumerate(header) if h is not None), default=0)
        names = [_cell_text(h) for h in header[:width]]
        return _csv_text(names, (list(r[:width]) for r in rows))
    finally:
        book.close()


def sqlite_as_csv_text(path: str | Path, table: str | None = None) -> str:
    """A table of a SQLite database as CSV text (the only table, or the one named with --table)."""
    import sqlite3

    if not Path(path).is_file():
        raise DataError(tr("{path}: no such file", path=path))
    try:
        con = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        tables = [r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view') order by name")]
    except sqlite3.DatabaseError as e:
        raise DataError(tr("{path}: not a SQLite database: {problem}", path=path, problem=e)) from None
    try:
        if table is None:
            if len(tables) != 1:
                raise DataError(tr("{path}: name the table with --table (tables: {tables})", path=path,
                                   tables=tr(", ").join(tables) or tr("none")))
            table = tables[0]
        elif table not in tables:
            raise DataError(tr("{path}: no table named {table}; its tables: {tables}", path=path, table=table,
                               tables=tr(", ").join(tables) or tr("none")))
        cursor = con.execute(f'select * from "{table.replace(chr(34), chr(34) * 2)}"')
        header = [d[0] for d in cursor.description]
        return _csv_text(header, cursor)
    finally:
        con.close()


def is_parquet(path: str | Path) -> bool:
    return str(path).lower().endswith((".parquet", ".pq"))


def parquet_as_csv_text(path: str | Path) -> str:
    """A Parquet file as the CSV text the row-by-row reader reads (cells as polars renders them)."""
    import polars as pl

    if not Path(path).exists():
        raise DataError(tr("{path}: no such file", path=path))
    try:
        frame = pl.read_parquet(path)
        text = frame.select([pl.col(c).cast(pl.String).fill_null("") for c in frame.columns])
    except Exception as e:
        raise DataError(tr("{path}: cannot read it as Parquet: {problem}", path=path, problem=str(e).splitlines()[0])) from None
    return text.write_csv(line_terminator="\n")
