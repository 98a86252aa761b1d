"""Other data formats: Excel and SQLite in; Excel, JSON Lines and Markdown statements out.

Inputs are turned into CSV text and read by data.read_csv, so every format gets
the same validation and the same messages. Outputs write exact values: JSON
Lines as decimal strings (or fractions when the decimal does not end), Excel
money as numbers with two decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from fractions import Fraction
from pathlib import Path

from pkrules.io.tables import DataError

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
        raise DataError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable Excel workbook (.xlsx): {e}") from None
    try:
        if sheet is not None:
            if sheet not in book.sheetnames:
                raise DataError(f"{path}: no sheet named {sheet}; its sheets: {', '.join(book.sheetnames)}")
            ws = book[sheet]
        else:
            ws = book.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise DataError(f"{path}: sheet {ws.title} is empty; expected a header row naming the columns")
        width = max((i + 1 for i, h in enumerate(header) if h is not None), default=0)
        names = [_cell_text(h) for h in header[:width]]
        return _csv_text(names, (list(r[:width]) for r in rows))
    finally:
        book.close()


def sqlite_as_csv_text(path: str | Path, table: str | None = None) -> str:
    """A table of a SQLite database as CSV text (the only table, or the one named with --table)."""
    import sqlite3

    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        con = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        tables = [r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view') order by name")]
    except sqlite3.DatabaseError as e:
        raise DataError(f"{path}: not a SQLite database: {e}") from None
    try:
        if table is None:
            if len(tables) != 1:
                raise DataError(f"{path}: name the table with --table (tables: {', '.join(tables) or 'none'})")
            table = tables[0]
        elif table not in tables:
            raise DataError(f"{path}: no table named {table}; its tables: {', '.join(tables) or 'none'}")
        cursor = con.execute(f'select * from "{table.replace(chr(34), chr(34) * 2)}"')
        header = [d[0] for d in cursor.description]
        return _csv_text(header, cursor)
    finally:
        con.close()


# ---- writing -------------------------------------------------------------------------------


def json_lines(graph, results, names: list[str], rows: list[int]) -> str:
    from pkrules.engine.render import json_value

    lines = []
    for i in rows:
        record = {n: json_value(results.columns[n][i], graph.nodes[n].type) for n in names}
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def write_excel(graph, results, names: list[str], rows: list[int], path: str | Path) -> None:
    """One sheet of results (money as numbers with two decimals), one of the explanations' key lines."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from pkrules.engine.explain import explain
    from pkrules.values.numbers import terminates
    from pkrules.engine.render import format_value
    from pkrules.values.types import MONEY, PERCENT

    book = Workbook()
    sheet = book.active
    sheet.title = "results"
    sheet.append(names)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    formats = {n: ("#,##0.00" if graph.nodes[n].type.kind == MONEY else "0.00%" if graph.nodes[n].type.kind == PERCENT
                   else None) for n in names}
    for i in rows:
        values = []
        for n in names:
            v = results.columns[n][i]
            if isinstance(v, bool):
                values.append("yes" if v else "no")
            elif isinstance(v, Fraction):
                # Exact decimals go in as numbers; a value whose decimal does not end goes in as
                # a number rounded to 10 places, like the CSV output.
                values.append(float(v) if terminates(v) and v.denominator <= 10**15 else float(round(v, 10)))
            elif isinstance(v, dt.date):
                values.append(v)
            else:
                values.append("" if v is None else str(v))
        sheet.append(values)
        for cell, n in zip(sheet[sheet.max_row], names):
            if formats[n]:
                cell.number_format = formats[n]
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 10), 40)
    sheet.freeze_panes = "B2"

    lines = book.create_sheet("explanations")
    lines.append([graph.key, "name", "value", "line", "how"])
    for cell in lines[1]:
        cell.font = Font(bold=True)
    main = graph.main_output()
    for i in rows:
        root = explain(results, i, main).root
        for node in [root] + [c for c in root.children if c.kind != "input"]:
            how = "; ".join([s.text for s in node.steps if s.outcome in (None, "fired")][:3] + node.hints)
            lines.append([str(results.keys[i]), node.name, format_value(node.value, node.type), node.line, how])
    book.save(path)


def write_statements(graph, results, rows: list[int], folder: str | Path) -> int:
    """One Markdown statement per employee (the explanation of the main output)."""
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_markdown

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    main = graph.main_output()
    for i in rows:
        name = str(results.keys[i])
        if graph.period:
            name += f"_{results.columns[graph.period][i]}"
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        (folder / f"{safe}.md").write_text(render_markdown(explain(results, i, main)), encoding="utf-8")
    return len(rows)
