"""Excel, SQLite and Parquet files read as CSV text, so every format gets the same validation.

The text then goes through io.tables.read_csv: the same parsing, limits and
messages whatever the file's format. A binary number (a float: Excel's numbers,
a Parquet double) is read as the decimal Excel shows, 15 significant digits —
495000.00000000006, what `=F2*1.1` stores, is 495000 — and the cells that were
such numbers are remembered, so that money with digits beyond the cent after that
is reported rather than silently used. Empty Excel cells that are not really empty
(a formula whose value was never saved, a merged cell) are remembered with why.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pkrules.errors import DataError
from pkrules.messages import tr

EXCEL = (".xlsx", ".xlsm")
SQLITE = (".sqlite", ".sqlite3", ".db")
SIGNIFICANT = 15  # the digits Excel shows of a number (and keeps of a typed one)


@dataclass
class SheetText:
    """A table of another format as CSV text, with what the text alone cannot say."""

    text: str
    floats: dict[str, set[int]] = field(default_factory=dict)  # header name → data rows (1 = first) holding a float
    notes: dict[tuple[int, str], str] = field(default_factory=dict)  # (row, header name) → why the cell is empty


class MissingColumns(DataError):
    """The header lacks columns the policy reads (the message lists them)."""

    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = missing


def is_excel(path: str | Path) -> bool:
    return str(path).lower().endswith(EXCEL)


def is_sqlite(path: str | Path) -> bool:
    return str(path).lower().endswith(SQLITE)


def is_parquet(path: str | Path) -> bool:
    return str(path).lower().endswith((".parquet", ".pq"))


def float_text(value: float) -> str:
    """A binary number as the decimal Excel shows: 15 significant digits, plain notation, no trailing zeros.

    495000.00000000006 → 495000; 0.1 + 0.2 → 0.3; 5e-05 → 0.00005 (never 5e-05, which is not a number a
    person types); 1/3 → 0.333333333333333. Not a number and infinities are said as such (a cell error).
    """
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "infinity" if value > 0 else "-infinity"
    text = f"{value:.{SIGNIFICANT}g}"
    if "e" in text:
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


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
        return float_text(value)
    return str(value).strip()


def _sheet_text(header: list[str], rows) -> SheetText:
    """CSV text of the rows, remembering which cells were floats."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    floats: dict[str, set[int]] = {}
    for number, row in enumerate(rows, start=1):
        for name, value in zip(header, row):
            if isinstance(value, float):
                floats.setdefault(name, set()).add(number)
        writer.writerow([_cell_text(v) for v in row])
    return SheetText(buffer.getvalue(), floats)


# ---- Excel ---------------------------------------------------------------------------------------


def _open_workbook(path: str | Path, **options):
    import zipfile

    from openpyxl import load_workbook

    from pkrules.files import require_regular

    require_regular(path, DataError, "name an Excel file (.xlsx)")
    try:
        return load_workbook(path, **options)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as e:
        raise DataError(tr("{path}: not a readable Excel workbook (.xlsx): {problem}", path=path, problem=e)) from None


def excel_table(path: str | Path, sheet: str | None = None, columns: set[str] | None = None) -> SheetText:
    """The first sheet (or the named one) as CSV text; the first row is the header.

    columns: the header names a policy reads; an empty cell among them is looked at again to say
    why it is empty, when it is a formula without a saved value or part of a merged range.
    """
    book = _open_workbook(path, read_only=True, data_only=True)
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
        table = _sheet_text(names, (list(r[:width]) + [None] * (width - len(r[:width])) for r in rows))
        title = ws.title
    finally:
        book.close()
    wanted = [i for i, n in enumerate(names) if columns is None or n in columns]
    if wanted and _has_empty_cells(table.text, wanted):
        table.notes = _why_empty(path, title, names, wanted)
    return table


def excel_as_csv_text(path: str | Path, sheet: str | None = None) -> str:
    return excel_table(path, sheet).text


def _has_empty_cells(text: str, positions: list[int]) -> bool:
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for record in reader:
        if any(c.strip() for c in record) and any(i >= len(record) or not record[i].strip() for i in positions):
            return True
    return False


def _why_empty(path, title: str, names: list[str], positions: list[int]) -> dict[tuple[int, str], str]:
    """(row, column) → why an empty cell is empty: a formula Excel never saved a value for, or a merged cell.

    Read only when there are empty cells (it loads the sheet again, with its formulas and merged ranges)."""
    book = _open_workbook(path, data_only=False)
    try:
        ws = book[title]
        notes: dict[tuple[int, str], str] = {}
        for merged in ws.merged_cells.ranges:
            first = merged.start_cell.coordinate
            for row in range(merged.min_row, merged.max_row + 1):
                for col in range(merged.min_col, merged.max_col + 1):
                    if (row, col) != (merged.min_row, merged.min_col) and col - 1 in positions and row > 1:
                        notes[(row - 1, names[col - 1])] = tr(
                            "a merged cell: its value is only in {first}, the first cell of {cells}; unmerge the cells "
                            "and fill each row", first=first, cells=merged.coord)
        for i in positions:
            for row in range(2, ws.max_row + 1):
                cell = ws.cell(row=row, column=i + 1)
                if isinstance(cell.value, str) and cell.value.startswith("=") and (row - 1, names[i]) not in notes:
                    notes[(row - 1, names[i])] = tr(
                        "a formula ({formula}) whose value the file does not hold (it was not saved by Excel); open "
                        "and save the file in Excel, or paste the values", formula=cell.value[:40])
        return notes
    finally:
        book.close()


def excel_sheet_headers(path: str | Path) -> dict[str, list[str]]:
    """Every sheet's first row (to say on which sheet the columns are)."""
    book = _open_workbook(path, read_only=True, data_only=True)
    try:
        headers = {}
        for ws in book.worksheets:
            first = next(ws.iter_rows(values_only=True, max_row=1), None) or ()
            headers[ws.title] = [_cell_text(h) for h in first if h is not None]
        return headers
    finally:
        book.close()


# ---- SQLite --------------------------------------------------------------------------------------


def sqlite_table(path: str | Path, table: str | None = None) -> SheetText:
    """A table of a SQLite database as CSV text (the only table, or the one named with --table)."""
    import sqlite3

    from pkrules.files import require_regular

    require_regular(path, DataError, "name a SQLite database (.sqlite, .db)")
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
        try:
            cursor = con.execute(f'select * from "{table.replace(chr(34), chr(34) * 2)}"')
            header = [d[0] for d in cursor.description]
            return _sheet_text(header, cursor)
        except sqlite3.DatabaseError as e:
            raise DataError(tr("{path}: cannot read the table {table}: {problem}", path=path, table=table, problem=e)) from None
    finally:
        con.close()


def sqlite_as_csv_text(path: str | Path, table: str | None = None) -> str:
    return sqlite_table(path, table).text


# ---- Parquet -------------------------------------------------------------------------------------


def parquet_text_columns(frame) -> tuple[object, dict[str, str]]:
    """Every column of a polars frame as the text the readers see (null: empty), and which columns held
    floats. The exact path (parquet_table) and the fast path (engine/columnar/io.py) both read Parquet
    cells through this, so they read the same text.

    Floats as float_text (15 significant digits); lists, arrays, structs, durations and other types
    that have no text of their own as Python writes their values (a cell error names them, if read).
    """
    import polars as pl

    columns = []
    floats: dict[str, str] = {}
    for name in frame.columns:
        series = frame.get_column(name)
        dtype = series.dtype
        if dtype.is_float():
            floats[name] = str(dtype)
            columns.append(float_column_text(series))
        elif dtype == pl.String:
            columns.append(series.fill_null(""))
        else:
            try:
                columns.append(series.cast(pl.String).fill_null(""))
            except Exception:  # no cast to text (List, Array, Duration…): each value as Python writes it
                columns.append(pl.Series(name, ["" if v is None else str(v) for v in series.to_list()], dtype=pl.String))
    return pl.DataFrame(columns), floats


def float_column_text(series):
    """float_text of every value of a polars float column (null: empty), computed in columns where it can be.

    A double whose shortest exact text (polars writes that) has at most 15 significant digits in plain
    notation is that text: 15-digit rounding gives the same decimal (a decimal of 15 digits survives the
    trip through a double). The others (495000.00000000006, 1/3, 1e20) go through float_text, once per
    distinct value.
    """
    import polars as pl

    name = series.name
    text = series.cast(pl.Float64).cast(pl.String)
    frame = pl.DataFrame({"x": series.cast(pl.Float64), "t": text})
    digits = (pl.col("t").str.replace(r"^-", "").str.replace(r"\.0$", "").str.replace(".", "", literal=True)
              .str.strip_chars_start("0").str.strip_chars_end("0").str.len_chars())
    short = (~pl.col("t").str.contains("[eEiInN]")) & (digits <= SIGNIFICANT)
    frame = frame.with_columns(short=short.fill_null(True))
    plain = pl.col("t").str.replace(r"\.0$", "").str.replace(r"^-0$", "0")
    others = frame.filter(~pl.col("short") & pl.col("x").is_not_null()).get_column("x").unique()
    if others.len():
        values = others.to_list()
        table = pl.DataFrame({"x": pl.Series(values, dtype=pl.Float64),
                              "f": pl.Series([float_text(v) for v in values], dtype=pl.String)})
        frame = frame.join(table, on="x", how="left", maintain_order="left")
        result = frame.select(pl.when(pl.col("short")).then(plain).when(pl.col("x").is_nan()).then(pl.lit("NaN"))
                              .otherwise(pl.col("f")).fill_null("").alias(name))
    else:
        result = frame.select(plain.fill_null("").alias(name))
    return result.get_column(name)


def parquet_files(path: str | Path) -> list[Path]:
    """A Parquet file, or the Parquet files of a folder in name order (one table, as the SQL engines read it)."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and is_parquet(p))
    return [path]


def is_parquet_folder(path: str | Path) -> bool:
    return Path(path).is_dir() and bool(parquet_files(path))


def parquet_table(path: str | Path) -> SheetText:
    """A Parquet file (or a folder of them, in name order) as the CSV text the row-by-row reader reads
    (cells as parquet_text_columns writes them)."""
    import polars as pl

    from pkrules.files import require_regular

    if not Path(path).is_dir():
        require_regular(path, DataError, "name a Parquet file")
    files = parquet_files(path)
    if not files:
        raise DataError(tr("{path}: a folder without Parquet files", path=path))
    try:
        frames = [pl.read_parquet(f) for f in files]
        frame = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
    except Exception as e:
        raise DataError(tr("{path}: cannot read it as Parquet: {problem}", path=path, problem=str(e).splitlines()[0])) from None
    text, floats = parquet_text_columns(frame)
    rows = set(range(1, frame.height + 1))
    marks = {name: {i + 1 for i, v in enumerate(frame.get_column(name).is_not_null().to_list()) if v} if
             frame.get_column(name).null_count() else rows for name in floats}
    return SheetText(text.write_csv(line_terminator="\n"), {str(k).strip(): v for k, v in marks.items()})


def parquet_as_csv_text(path: str | Path) -> str:
    return parquet_table(path).text


# ---- DuckDB ----------------------------------------------------------------------------------------

DUCKDB = (".duckdb", ".ddb")


def is_duckdb(path: str | Path) -> bool:
    return str(path).lower().endswith(DUCKDB)


def duckdb_table(path: str | Path, table: str | None = None) -> SheetText:
    """A table of a DuckDB database file as CSV text (the only table, or the one named with --table)."""
    from pkrules.files import require_regular

    require_regular(path, DataError, "name a DuckDB database (.duckdb)")
    try:
        import duckdb
    except ImportError:
        raise DataError(tr("{path}: reading a DuckDB database needs duckdb (pip install 'pkrules[sql]')",
                           path=path)) from None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise DataError(tr("{path}: not a DuckDB database: {problem}", path=path, problem=str(e).splitlines()[0])) from None
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        if table is None:
            if len(tables) != 1:
                raise DataError(tr("{path}: name the table with --table (tables: {tables})", path=path,
                                   tables=tr(", ").join(tables) or tr("none")))
            table = tables[0]
        elif table not in tables:
            raise DataError(tr("{path}: no table named {table}; its tables: {tables}", path=path, table=table,
                               tables=tr(", ").join(tables) or tr("none")))
        cursor = con.execute(f'SELECT * FROM "{table.replace(chr(34), chr(34) * 2)}" ORDER BY rowid')
        header = [d[0] for d in cursor.description]
        return _sheet_text(header, cursor.fetchall())
    finally:
        con.close()
