"""The results workbook (.xlsx): a results sheet and an explanations sheet; XlsxWriter frames it, the rows are made in bulk."""

from __future__ import annotations

import datetime as dt
import tempfile
from fractions import Fraction
from pathlib import Path

from pkrules.files import OutputError, atomic_path
from pkrules.messages import current_language, say, tr

MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.00%"
DATE_FORMAT = "yyyy-mm-dd"  # (what openpyxl, the earlier writer, gave a date)
LARGEST_EXACT_DENOMINATOR = 10**15
EXCEL_ROWS = 1_048_576  # the most rows a sheet holds, its header included (XlsxWriter drops the rest silently)


def write_workbook(graph, results, names: list[str], rows: list[int], path: str | Path, plain: bool = False) -> None:
    """The workbook of a run at path, written whole or not at all; call it speaking the sheet's language.

    The results sheet holds one row per employee (the given rows) and the named columns: money as numbers
    shown #,##0.00, rates and ratios as numbers shown 0.00%, yes/no as words, dates as dates, everything
    else as text, never as a formula; columns as wide as their longest value (10 to 40), the header bold
    and frozen with the first column. The explanations sheet holds, for each employee, the main output
    and the values right under it. The results' columns are converted once, for their widths, and the
    explanations are made before the workbook is begun; the rows' XML is not held: each row goes to the
    file as it is made.
    """
    import xlsxwriter
    from xlsxwriter.exceptions import FileCreateError

    from pkrules.outputs.sheet_rows import Fill, last_row, most_bytes, rows_xml, splice

    existed = Path(path).exists()
    if len(rows) + 1 > EXCEL_ROWS:  # (before converting anything)
        raise too_many_rows(path, tr("results"), existed)
    columns = [sheet_column(results.columns[n], rows) for n in names]
    formats = number_formats(graph, names, plain)
    widths = [column_width(n, values) for n, values in zip(names, columns)]
    # the explanations are made first: the sheet's dimension, before its rows, must reach the last of them
    explained = explanation_records(graph, results, rows)
    if len(explained) + 1 > EXCEL_ROWS:
        raise too_many_rows(path, tr("explanations"), existed)
    with atomic_path(path) as temporary, tempfile.TemporaryDirectory(prefix="pkrules-xlsx-") as scratch:
        # XlsxWriter makes the frame: both sheets with their header rows, the widths, the frozen panes and
        # the cell formats; the rows are made in bulk (outputs/sheet_rows.py) and spliced into it. Every
        # file is in the scratch folder, removed with it whatever happens.
        frame = Path(scratch) / "frame.xlsx"
        book = xlsxwriter.Workbook(str(frame), {"constant_memory": True, "tmpdir": scratch,
                                                "strings_to_formulas": False, "strings_to_numbers": False,
                                                "strings_to_urls": False})
        styles = WorkbookStyles(book)
        sheet = book.add_worksheet(tr("results"))
        for at, width in enumerate(widths):
            # XlsxWriter's set_column(w) stores w plus Excel's padding; in pixels (7 a character) it stores
            # w itself, the width openpyxl stored
            sheet.set_column_pixels(at, at, width * 7)
        sheet.freeze_panes(1, 1)
        write_header(sheet, names, styles.bold)
        cell_formats = [styles.number(f) for f in formats]
        styles.number_in_order(first_uses(columns, cell_formats, styles.date))
        lines = book.add_worksheet(tr("explanations"))
        write_header(lines, [graph.key, tr("name"), tr("value"), tr("line"), tr("how")], styles.bold)
        try:
            book.close()
        except FileCreateError as e:  # the OSError underneath, so that files.writing says why the write failed
            raise e.args[0] if e.args and isinstance(e.args[0], OSError) else OSError(str(e)) from None
        result_styles = [styles.attribute(f) for f in cell_formats]
        values = list(zip(*columns))
        plain_styles = [""] * 5
        splice(frame, Path(temporary), {
            "xl/worksheets/sheet1.xml": Fill(rows_xml(values, result_styles, styles.attribute(styles.date)),
                                             last_row(values, result_styles), most_bytes(values, len(names))),
            "xl/worksheets/sheet2.xml": Fill(rows_xml(explained, plain_styles, ""), last_row(explained, plain_styles),
                                             most_bytes(explained, 5))})


def first_uses(columns: list[list], cell_formats: list, date_format) -> list:
    """The cell formats in the order the results' cells first use them, row by row: each column's format
    from the first row (a styled column styles every cell, blank or not), the date format from the
    first date in a column without one."""
    uses = [(0, c, f) for c, f in enumerate(cell_formats) if f is not None and columns[c]]
    for c, (values, f) in enumerate(zip(columns, cell_formats)):
        if f is None:
            first_date = next((r for r, v in enumerate(values) if isinstance(v, dt.date)), None)
            if first_date is not None:
                uses.append((first_date, c, date_format))
    return [f for _, _, f in sorted(uses, key=lambda u: (u[0], u[1]))]


def too_many_rows(path: str | Path, sheet: str, existed: bool) -> OutputError:
    """The OutputError for a sheet longer than Excel allows: a workbook missing rows is never written."""
    why = tr("the {sheet} sheet needs more than the {limit} rows an Excel sheet holds; write .csv or .parquet instead",
             sheet=sheet, limit=f"{EXCEL_ROWS:,}")
    if existed:
        return OutputError(tr("cannot write {path}: {why}; the file was left as it was", path=path, why=why))
    return OutputError(tr("cannot write {path}: {why}; nothing was written", path=path, why=why))


def sheet_column(column, rows: list[int]) -> list:
    """One column's cells for the results sheet, converted once for the column: exact numbers as floats
    (a decimal that does not end, or needs more than 15 places, rounded to 10 places, like the CSV
    output), yes/no as the language's words, dates as they are, anything else as its text.

    XlsxWriter writes a float to 16 significant digits (Excel shows 15): a value that needs 17 (say a
    decimal that does not end, of a million or more, rounded to 10 places) may read back one unit in
    its last place away from this float; openpyxl wrote all 17."""
    from pkrules.values.numbers import terminates

    everyone = list(column)  # (a column of the fast path converts itself whole, once)
    values = [everyone[i] for i in rows]
    yes, no = say(current_language(), "yes"), say(current_language(), "no")

    exact: dict[int, bool] = {}  # denominator → whether its values are written as they are (few denominators)

    def cell(v):
        if isinstance(v, bool):
            return yes if v else no
        if isinstance(v, Fraction):
            d = v.denominator
            if d == 1:
                return float(v.numerator)
            whole = exact.get(d)
            if whole is None:
                whole = exact[d] = d <= LARGEST_EXACT_DENOMINATOR and terminates(v)
            return v.numerator / d if whole else float(round(v, 10))  # (n / d: float(v), correctly rounded)
        if isinstance(v, dt.date):
            return v
        return "" if v is None else str(v)

    return [cell(v) for v in values]


def number_formats(graph, names: list[str], plain: bool) -> list[str | None]:
    """The number format of each column: money #,##0.00, rates and ratios 0.00% (ratios only for people)."""
    from pkrules.engine.display import display_units
    from pkrules.values.types import MONEY, PERCENT

    units = display_units(graph)

    def number_format(name: str) -> str | None:
        kind = graph.nodes[name].type.kind
        if kind == MONEY:
            return MONEY_FORMAT
        if kind == PERCENT or (not plain and units.get(name) == "percent"):
            return PERCENT_FORMAT
        return None

    return [number_format(n) for n in names]


def column_width(header: str, values: list) -> int:
    """A column's width in characters: its longest text (a number as Python writes it, zero and blanks as
    nothing) and two more, at least 10, at most 40."""
    longest = max((len(str(v)) for v in values if v), default=0)
    return min(max(max(len(header), longest) + 2, 10), 40)


def explanation_records(graph, results, rows: list[int]) -> list[tuple]:
    """The explanations sheet's rows (explanation_rows), made in two processes where that is worth it
    (outputs/halves.py). Excel's limit is checked by the caller: a sheet that passes it is never written,
    and the employees' explanations are made before (their number is known only then)."""
    from pkrules.outputs.halves import in_halves, python_results, worth_forking

    source = python_results(results) if worth_forking(len(rows)) else None
    if source is None:
        made = []
        for record in explanation_rows(graph, results, rows):
            made.append(record)
            if len(made) + 1 > EXCEL_ROWS:
                break  # (enough to refuse: the caller says so)
        return made
    per_employee = in_halves(lambda part: [list(explanation_rows(graph, source, [i])) for i in part], rows)
    return [record for records in per_employee for record in records]


def explanation_rows(graph, results, rows: list[int]):
    """For each employee, the main output and the values right under it (not the inputs): key, name,
    value as people read it, line of the policy, and how (the first three steps that fired, and hints)."""
    from pkrules.engine.explain import explain
    from pkrules.engine.render import format_value

    main = graph.main_output()
    for i in rows:
        key = str(results.keys[i])
        # the sheet shows the main output and the values right under it: a tree one level deep is enough
        root = explain(results, i, main, 1).root
        for node in [root] + [c for c in root.children if c.kind != "input"]:
            how = "; ".join([s.text for s in node.steps if s.outcome in (None, "fired")][:3] + node.hints)
            yield key, node.name, format_value(node.value, node.type), node.line, how


def write_header(sheet, names: list[str], bold) -> None:
    for column, name in enumerate(names):
        sheet.write_string(0, column, name, bold)


class WorkbookStyles:
    """The workbook's few cell formats, each made once."""

    def __init__(self, book):
        self._book = book
        self.bold = book.add_format({"bold": True})
        self.date = book.add_format({"num_format": DATE_FORMAT})
        self._numbers: dict[str, object] = {}
        self._indices: dict[int, int] = {}

    def number(self, number_format: str | None):
        if number_format is None:
            return None
        if number_format not in self._numbers:
            self._numbers[number_format] = self._book.add_format({"num_format": number_format})
        return self._numbers[number_format]

    def number_in_order(self, used: list) -> None:
        """Number the formats as XlsxWriter would number them writing the cells one by one: the header's
        bold first, then in the order the cells first use them. (XlsxWriter numbers a format when a cell
        first uses it; these cells are written without it, so it is asked here, before the frame is
        closed, for styles.xml to hold each format: Format._get_xf_index is that numbering.)"""
        for style in [self.bold] + used:
            self._indices[id(style)] = style._get_xf_index()

    def attribute(self, style) -> str:
        """A cell's style attribute: ` s="N"` for a numbered format, nothing for none (or one no cell uses)."""
        index = None if style is None else self._indices.get(id(style))
        return "" if index is None else f' s="{index}"'
