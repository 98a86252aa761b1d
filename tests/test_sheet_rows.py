"""Rows made in bulk (outputs/sheet_rows.py) are the bytes XlsxWriter writes for the same cells one at a time.

The reference below is the workbook writer as it was before the rows were made in bulk: XlsxWriter's own
cell calls (write_string, write_number, write_datetime, write_blank) in constant_memory mode, one cell at
a time. Every part of the package must hold the same bytes (the creation time in docProps/core.xml
aside): the sheets, their dimensions, styles.xml and its numbering of the formats. On every shipped
sample, both engines, and on hypothesis' cells: control characters, text that looks like Excel's
escapes, whitespace at either end, XML's special characters, characters beyond U+FFFF, text longer than
a cell holds, numbers of every size, dates around Excel's 29 February 1900, blanks with and without a
style.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipped import SHIPPED_ALONE

from pkrules import api
from pkrules.messages import speaking, tr
from pkrules.outputs import excel
from pkrules.outputs.results import out_columns, write_excel
from pkrules.outputs.sheet_rows import Fill, last_row, most_bytes, rows_xml, splice

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "policies" / "sample"


def put(sheet, row, column, value, style, date_style) -> None:
    """One cell through XlsxWriter's API, as the writer did it before the rows were made in bulk."""
    if isinstance(value, str):
        if value:
            sheet.write_string(row, column, value, style)
        elif style is not None:
            sheet.write_blank(row, column, None, style)
    elif value is None:
        if style is not None:
            sheet.write_blank(row, column, None, style)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, column, value, style or date_style)
    else:
        sheet.write_number(row, column, value, style)


def cell_by_cell(graph, results, names, rows, path, plain=False) -> None:
    """The workbook as XlsxWriter wrote it a cell at a time (the writer before outputs/sheet_rows.py)."""
    import xlsxwriter

    with speaking(graph.policy.language):
        columns = [excel.sheet_column(results.columns[n], rows) for n in names]
        formats = excel.number_formats(graph, names, plain)
        widths = [excel.column_width(n, values) for n, values in zip(names, columns)]
        with tempfile.TemporaryDirectory() as scratch:
            book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": scratch,
                                                   "strings_to_formulas": False, "strings_to_numbers": False,
                                                   "strings_to_urls": False})
            bold = book.add_format({"bold": True})
            date = book.add_format({"num_format": excel.DATE_FORMAT})
            numbers = {f: book.add_format({"num_format": f}) for f in sorted({f for f in formats if f})}
            sheet = book.add_worksheet(tr("results"))
            for at, width in enumerate(widths):
                sheet.set_column_pixels(at, at, width * 7)
            sheet.freeze_panes(1, 1)
            for column, name in enumerate(names):
                sheet.write_string(0, column, name, bold)
            styles = [numbers.get(f) for f in formats]
            for at, values in enumerate(zip(*columns), start=1):
                for column, (value, style) in enumerate(zip(values, styles)):
                    put(sheet, at, column, value, style, date)
            lines = book.add_worksheet(tr("explanations"))
            for column, name in enumerate([graph.key, tr("name"), tr("value"), tr("line"), tr("how")]):
                lines.write_string(0, column, name, bold)
            for at, record in enumerate(excel.explanation_rows(graph, results, rows), start=1):
                for column, value in enumerate(record):
                    put(lines, at, column, value, None, date)
            book.close()


_CREATED = re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>")


def parts(path: Path) -> list[tuple[str, bytes]]:
    """A workbook's parts in order, with their bytes (the creation time left out)."""
    with zipfile.ZipFile(path) as book:
        return [(i.filename, _CREATED.sub(b"", book.read(i))) for i in book.infolist()]


def assert_same_parts(new: Path, old: Path) -> None:
    a, b = parts(new), parts(old)
    assert [n for n, _ in a] == [n for n, _ in b]
    for (name, x), (_, y) in zip(a, b):
        if x != y:
            at = next((k for k in range(min(len(x), len(y))) if x[k] != y[k]), min(len(x), len(y)))
            raise AssertionError(f"{name} differs at byte {at}:\n  bulk: {x[at - 80:at + 80]!r}\n  cells: {y[at - 80:at + 80]!r}")


@pytest.mark.parametrize("policy, sample", SHIPPED_ALONE, ids=[p.name for p, _ in SHIPPED_ALONE])
@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_every_part_is_what_xlsxwriter_writes_a_cell_at_a_time(tmp_path, policy, sample, engine):
    graph = api.compile_file(policy)
    results = api.evaluate(graph, api.read_population(graph, sample), engine)
    names, rows = out_columns(graph), list(range(len(results.keys)))
    write_excel(graph, results, names, rows, tmp_path / "bulk.xlsx")
    cell_by_cell(graph, results, names, rows, tmp_path / "cells.xlsx")
    assert_same_parts(tmp_path / "bulk.xlsx", tmp_path / "cells.xlsx")


def test_plain_a_subset_of_rows_and_no_rows(tmp_path):
    graph = api.compile_file(ROOT / "policies" / "sales_incentive.pk")
    results = api.evaluate(graph, api.read_population(graph, SAMPLES / "employees.csv"))
    for rows in ([5, 0, 3], []):
        names = out_columns(graph, True)
        write_excel(graph, results, names, rows, tmp_path / "bulk.xlsx", True)
        cell_by_cell(graph, results, names, rows, tmp_path / "cells.xlsx", True)
        assert_same_parts(tmp_path / "bulk.xlsx", tmp_path / "cells.xlsx")


# ---- any cells ----------------------------------------------------------------------------------

TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from(list("ab _x0041F&<>\"'\n\r\t\x00\x01\x1f\ufffe\uffff😀 　")), max_size=14),
    st.sampled_from(["_x0041_", "a_x00e9_b", " lead", "trail ", "\ttab", "=1+1", "<b>x</b>", "<r>x", "x</r>"]),
    st.builds(lambda n, c: c * n, st.integers(16_380, 16_390), st.sampled_from(["😀", "a😀"])),  # past 32,767 UTF-16 units
    st.builds(lambda n: "x" * n, st.sampled_from([32_766, 32_767, 32_768])),
)
NUMBER = st.one_of(
    st.integers(-10**15, 10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 1e-300, 5e-324, 1e300, 123456789.123456789, -0.0, 1 / 3, 2**53 + 1.0]),
)
DATE = st.one_of(st.dates(dt.date(1900, 1, 1), dt.date(1900, 3, 31)), st.dates(),
                 st.datetimes(dt.datetime(1899, 12, 31), dt.datetime(1900, 3, 2)), st.datetimes())
# (XlsxWriter writes a text that starts <r> and ends </r> unescaped, as if it were its own rich string:
# such a cell is compared by what it reads back, below, not with XlsxWriter's bytes)
CELL = st.one_of(TEXT.filter(lambda t: not (t.startswith("<r>") and t.endswith("</r>"))), NUMBER, DATE, st.none(), st.just(""))


def through_xlsxwriter(rows: list[list], styled: list[bool], path: Path) -> None:
    import xlsxwriter

    with tempfile.TemporaryDirectory() as scratch:
        book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": scratch, "strings_to_formulas": False,
                                               "strings_to_numbers": False, "strings_to_urls": False})
        bold, date = book.add_format({"bold": True}), book.add_format({"num_format": excel.DATE_FORMAT})
        money = book.add_format({"num_format": excel.MONEY_FORMAT})
        sheet = book.add_worksheet("s")
        for c in range(len(styled)):
            sheet.write_string(0, c, f"h{c}", bold)
        for r, values in enumerate(rows, start=1):
            for c, value in enumerate(values):
                put(sheet, r, c, value, money if styled[c] else None, date)
        book.close()


def in_bulk(rows: list[list], styled: list[bool], path: Path) -> None:
    import xlsxwriter

    with tempfile.TemporaryDirectory() as scratch:
        frame = Path(scratch) / "frame.xlsx"
        book = xlsxwriter.Workbook(str(frame), {"constant_memory": True, "tmpdir": scratch})
        styles = excel.WorkbookStyles(book)
        money = styles.number(excel.MONEY_FORMAT)
        sheet = book.add_worksheet("s")
        for c in range(len(styled)):
            sheet.write_string(0, c, f"h{c}", styles.bold)
        columns = [list(col) for col in zip(*rows)] if rows else [[] for _ in styled]
        formats = [money if s else None for s in styled]
        styles.number_in_order(excel.first_uses(columns, formats, styles.date))
        book.close()
        attributes = [styles.attribute(f) for f in formats]
        splice(frame, path, {"xl/worksheets/sheet1.xml": Fill(rows_xml(rows, attributes, styles.attribute(styles.date)),
                                                              last_row(rows, attributes), most_bytes(rows, len(styled)))})


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), width=st.integers(1, 4), height=st.integers(0, 6))
def test_any_cells_are_written_as_xlsxwriter_writes_them(tmp_path_factory, data, width, height):
    styled = data.draw(st.lists(st.booleans(), min_size=width, max_size=width))
    rows = data.draw(st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=height, max_size=height))
    folder = tmp_path_factory.mktemp("cells")
    through_xlsxwriter(rows, styled, folder / "cells.xlsx")
    in_bulk(rows, styled, folder / "bulk.xlsx")
    assert_same_parts(folder / "bulk.xlsx", folder / "cells.xlsx")


def test_a_text_that_looks_like_markup_is_text(tmp_path):
    """A name like "<r>Li</r>" is its text, escaped: XlsxWriter wrote it into the sheet unescaped (a rich
    string run without its <t>), which Excel repairs or refuses."""
    from openpyxl import load_workbook

    rows = [["<r>Li</r>", "<r><t>x</t></r>", "a & b", "<r>"]]
    in_bulk(rows, [False] * 4, tmp_path / "bulk.xlsx")
    sheet = load_workbook(tmp_path / "bulk.xlsx").worksheets[0]
    assert [c.value for c in sheet[2]] == rows[0]


# ---- failures: whichever side fails first stops the other, and its error is the one raised ----------


def frame_of(tmp_path: Path) -> Path:
    import xlsxwriter

    frame = tmp_path / "frame.xlsx"
    book = xlsxwriter.Workbook(str(frame), {"constant_memory": True, "tmpdir": str(tmp_path)})
    book.add_worksheet("s").write_string(0, 0, "h")
    book.close()
    return frame


def test_rows_that_fail_stop_the_writer(tmp_path):
    import threading

    def rows():
        for r in range(2, 50_000):
            if r == 30_000:
                raise ValueError("row 30000 cannot be made")
            yield f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>'

    with pytest.raises(ValueError, match="row 30000"):
        splice(frame_of(tmp_path), tmp_path / "out.xlsx", {"xl/worksheets/sheet1.xml": Fill(rows(), 50_000, 10**7)})
    assert not any(t.name == "pkrules-xlsx-writer" for t in threading.enumerate())


def test_a_writer_that_fails_stops_the_rows(tmp_path, monkeypatch):
    made = []

    def rows():
        for r in range(2, 1_000_000):
            made.append(r)
            yield f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>'

    real = zipfile.ZipFile.open

    def full_disk(self, name, mode="r", *args, **kwargs):
        if mode == "w" and str(getattr(name, "filename", name)).endswith("sheet1.xml"):
            raise OSError(28, "No space left on device")
        return real(self, name, mode, *args, **kwargs)

    frame = frame_of(tmp_path)
    monkeypatch.setattr(zipfile.ZipFile, "open", full_disk)
    with pytest.raises(OSError, match="No space left"):
        splice(frame, tmp_path / "out.xlsx", {"xl/worksheets/sheet1.xml": Fill(rows(), 1_000_000, 10**8)})
    assert len(made) < 100_000  # the rows stopped soon after the writer did, not after all of them
