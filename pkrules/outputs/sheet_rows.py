"""A worksheet's rows as SpreadsheetML text made in bulk, spliced into a workbook XlsxWriter wrote with headers only.

XlsxWriter spends about 6 µs a cell (a call, a check, a tuple, a row table, an XML writer per cell): 1M cells
of a 20,000-employee workbook took 6 s. Here a row is one f-string per cell, written exactly as XlsxWriter
writes it in constant_memory mode (inline strings, its escapes, its number text `{:.16G}`), so the file is
the one XlsxWriter would have written: tests/test_sheet_rows.py compares every byte of every part
against XlsxWriter writing the same cells one by one. XlsxWriter still makes everything else (styles,
widths, frozen panes, the package), into a frame workbook that holds each sheet's header row; its parts
are copied as they are, and each filled sheet gets its rows where its <sheetData> ends.
"""

from __future__ import annotations

import datetime as dt
import math
import queue
import re
import threading
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

EXCEL_STRING_UNITS = 32_767  # the longest text a cell holds, in UTF-16 units (XlsxWriter cuts the rest)
EXCEL_EPOCH = dt.date(1899, 12, 31)

# What makes a string need more than its own text (XlsxWriter's xmlwriter and utility): a control
# character (written _xHHHH_), text that looks like such an escape (its underscore escaped), Excel's two
# non-characters, an XML special character, leading or trailing whitespace (xml:space="preserve").
_SPECIAL = re.compile(r'[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$')
_ESCAPE_LOOKALIKE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_LEADING, _TRAILING = re.compile(r"^\s"), re.compile(r"\s$")


def column_names(count: int) -> list[str]:
    """The letters of the first count columns: A, B, … Z, AA, …"""
    from xlsxwriter.utility import xl_col_to_name

    return [xl_col_to_name(c) for c in range(count)]


def excel_serial(day: dt.date) -> float:
    """A date (or a date and time) as Excel's serial number in the 1900 system, as XlsxWriter computes it:
    days since 1899-12-31 (and the time as part of a day), one more from March 1900, for Excel's
    29 February 1900."""
    if isinstance(day, dt.datetime):
        delta = day.replace(tzinfo=None) - dt.datetime(1899, 12, 31)
        serial = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / (60 * 60 * 24)
        if day.isocalendar() == (1900, 1, 1):  # (XlsxWriter's rule for a time without a date)
            serial -= 1
    else:
        serial = float((day - EXCEL_EPOCH).days)
    return serial + 1 if serial > 59 else serial


def text_cell(ref: str, style: str, text: str) -> str:
    """An inline string cell, escaped as XlsxWriter escapes it, cut to what a cell holds as it cuts it.

    (One difference: XlsxWriter writes a text that starts <r> and ends </r> unescaped, taking it for a
    rich string of its own; here it is text like any other.)"""
    if len(text) > EXCEL_STRING_UNITS // 2 and len(text.encode("utf-16-le", "surrogatepass")) // 2 > EXCEL_STRING_UNITS:
        text = _cut_to_units(text, EXCEL_STRING_UNITS)  # (what a cell holds; the CSV and Parquet keep all of it)
    if _SPECIAL.search(text) is None:
        return f'<c r="{ref}"{style} t="inlineStr"><is><t>{text}</t></is></c>'
    text = _ESCAPE_LOOKALIKE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    preserve = ' xml:space="preserve"' if _LEADING.search(text) or _TRAILING.search(text) else ""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{preserve}>{text}</t></is></c>'


def _cut_to_units(text: str, units: int) -> str:
    """The longest start of text within the given UTF-16 units, never half a character above U+FFFF."""
    length = 0
    for index, char in enumerate(text):
        length += 2 if ord(char) > 0xFFFF else 1
        if length > units:
            return text[:index]
    return text


def number_cell(ref: str, style: str, number) -> str:
    if isinstance(number, float) and not math.isfinite(number):
        # (XlsxWriter refuses these the same way; an exact value never becomes one)
        raise TypeError("NAN/INF not supported in write_number() without 'nan_inf_to_errors' Workbook() option")
    return f"<c r=\"{ref}\"{style}><v>{number:.16G}</v></c>"


def rows_xml(rows: Iterable[Iterable], styles: list[str], date_style: str, first: int = 2) -> Iterator[str]:
    """The <row> elements of the given rows (lists of cell values), the first numbered `first`.

    A cell is: text as an inline string (none when empty), a number, a date as its serial number
    (styled date_style unless its column has a style), or None (none). A column's style (` s="N"`, or
    "" for none) goes on each of its cells, and an empty or None cell of a styled column is written as
    an empty styled cell. A row without any cell is left out, as XlsxWriter leaves it out."""
    letters = column_names(len(styles))
    columns = list(zip(letters, styles))
    special = _SPECIAL.search
    limit = EXCEL_STRING_UNITS // 2
    r = first - 1
    for values in rows:
        r += 1
        row = str(r)
        cells = []
        add = cells.append
        for (letter, style), value in zip(columns, values):
            kind = value.__class__
            # (the common cells inline: this loop runs once for each of a million cells)
            if kind is float or kind is int:
                if kind is float and not math.isfinite(value):
                    add(number_cell(letter + row, style, value))
                else:
                    add(f'<c r="{letter}{row}"{style}><v>{value:.16G}</v></c>')
            elif kind is str and value and len(value) <= limit and special(value) is None:
                add(f'<c r="{letter}{row}"{style} t="inlineStr"><is><t>{value}</t></is></c>')
            elif isinstance(value, str):
                if value:
                    add(text_cell(letter + row, style, str(value)))
                elif style:
                    add(f'<c r="{letter}{row}"{style}/>')
            elif value is None:
                if style:
                    add(f'<c r="{letter}{row}"{style}/>')
            elif isinstance(value, dt.date):
                add(number_cell(letter + row, style or date_style, excel_serial(value)))
            else:
                add(number_cell(letter + row, style, value))
        if cells:
            yield f'<row r="{row}">' + "".join(cells) + "</row>"


def last_row(rows: list, styles: list[str], first: int = 2) -> int:
    """The number of the last row rows_xml writes for these rows (1, the header's, when it writes none):
    the last with a value, or with an empty cell of a styled column."""
    for at in range(len(rows) - 1, -1, -1):
        if any((v is not None and v != "") or style for v, style in zip(rows[at], styles)):
            return first + at
    return 1


def most_bytes(rows: list, width: int) -> int:
    """At most how many bytes rows_xml makes of these rows: a text's character takes at most 7 (an escape
    like _x001F_, or four bytes of UTF-8), a cell's markup and number under 100, a row's under 40."""
    texts = sum(len(v) for values in rows for v in values if isinstance(v, str))
    return 7 * texts + 100 * width * len(rows) + 40 * len(rows)


class Fill:
    """The rows of one sheet: their row elements (made as they are written), the last row's number, and at
    most how many bytes they take (a part over 2 GiB needs zip64, which is kept for those alone)."""

    def __init__(self, rows: Iterable[str], last_row: int, most_bytes: int):
        self.rows, self.last_row, self.most_bytes = rows, last_row, most_bytes


def splice(frame: Path, target: Path, fills: dict[str, Fill]) -> None:
    """Write target: every part of the frame workbook as it is, except the sheets named in fills (by part
    name, xl/worksheets/sheet1.xml …), which get their rows after the header row and a <dimension>
    reaching their last row.

    The rows are made in this thread while a second one compresses and writes them: zlib lets go of
    the interpreter while it compresses, so on two cores the compression (0.6 s for 20,000 employees)
    costs no time. Whichever fails first stops the other; its error is the one raised."""
    with zipfile.ZipFile(frame) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    chunks: queue.Queue = queue.Queue(maxsize=16)
    failed: list[BaseException] = []

    def write() -> None:
        try:
            with zipfile.ZipFile(target, "w") as out:
                for info, data in parts:
                    copy = zipfile.ZipInfo(info.filename, info.date_time)
                    copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
                    if info.filename not in fills:
                        out.writestr(copy, data)
                        continue
                    fill = fills[info.filename]
                    head, tail = _around_rows(data.decode("utf-8"), fill.last_row)
                    # (zip64, which some readers refuse, only where the rows may need it: how long they are is
                    # known only once they are made)
                    big = len(head) + fill.most_bytes + len(tail) >= zipfile.ZIP64_LIMIT
                    with out.open(copy, "w", force_zip64=big) as into:
                        into.write(head.encode("utf-8"))
                        while (chunk := chunks.get()) is not _END:
                            if chunk is _STOP:
                                return
                            into.write(chunk)
                        into.write(tail.encode("utf-8"))
        except BaseException as e:  # noqa: BLE001 - raised again in the calling thread
            failed.append(e)
            while True:  # (let the maker finish putting: it stops at its next chunk)
                try:
                    chunks.get_nowait()
                except queue.Empty:
                    break

    writer = threading.Thread(target=write, name="pkrules-xlsx-writer", daemon=True)
    writer.start()
    try:
        for info, _ in parts:
            if info.filename in fills:
                for chunk in _chunks(fills[info.filename].rows):
                    _put(chunks, chunk, writer, failed)
                _put(chunks, _END, writer, failed)
    except BaseException:
        if writer.is_alive():
            chunks.put(_STOP)
        writer.join()
        raise
    writer.join()
    if failed:
        raise failed[0]


_END, _STOP = object(), object()


def _chunks(rows: Iterable[str], size: int = 2048) -> Iterator[bytes]:
    batch: list[str] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield "".join(batch).encode("utf-8")
            batch.clear()
    if batch:
        yield "".join(batch).encode("utf-8")


def _put(chunks: queue.Queue, chunk, writer: threading.Thread, failed: list) -> None:
    """Hand a chunk to the writer; raise its error if it has stopped."""
    while True:
        if failed:
            raise failed[0]
        try:
            chunks.put(chunk, timeout=0.1)
            return
        except queue.Full:
            if not writer.is_alive():
                raise failed[0] if failed else OSError("the workbook's writer stopped")


_DIMENSION = re.compile(r'<dimension ref="([A-Z]+)1(?::([A-Z]+)1)?"/>')


def _around_rows(xml: str, last_row: int) -> tuple[str, str]:
    """A frame sheet's XML split where its rows end, its dimension widened to the last row.

    The frame's sheet holds only the header row, so its dimension is A1 (one column) or A1:X1."""
    found = _DIMENSION.search(xml)
    if found is None or "</sheetData>" not in xml:
        raise ValueError("the frame's sheet has no header row")  # (never: the frame is made just before)
    if last_row > 1:
        last_column = found.group(2) or found.group(1)
        xml = xml[:found.start()] + f'<dimension ref="A1:{last_column}{last_row}"/>' + xml[found.end():]
    end = xml.index("</sheetData>")
    return xml[:end], xml[end:]
