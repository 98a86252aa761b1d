"""The payroll file of a final cycle: CSV or Excel, exact money, adjustments from earlier cycles."""

from __future__ import annotations

import csv
import hashlib
from fractions import Fraction
from pathlib import Path

from pkrules.files import atomic_path, atomic_write, quiet_cleanup, write_problem

from .messages import BadInput, msg


def _money(text: str) -> str:
    """Money to the cent for payroll (stored values are exact; a money output is already rounded by the policy)."""
    value = Fraction(text) if text else Fraction(0)
    cents = value * 100
    if cents.denominator != 1:
        # Not rounded by the policy: keep the exact decimal rather than rounding silently.
        from .values import to_text

        return to_text(value)
    sign = "-" if cents < 0 else ""
    cents = abs(cents.numerator)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def write_payroll(path: str | Path, rows: list[dict], money: list[str], lang: str) -> tuple[list[str], str]:
    """Write id, name, each money output, and the adjustments from earlier cycles; return (columns, sha256)."""
    path = Path(path)
    zh = lang == "zh"
    columns = (["工号", "姓名"] if zh else ["id", "name"]) + money + (["调整", "调整说明"] if zh else ["adjustment", "adjustment_note"])
    table = []
    for r in rows:
        amounts = [_money(r["money"][n]) for n in money]
        table.append([r["id"], r["name"], *amounts, _money(r["adjustment"]), r["adjustment_note"]])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".xlsx":
            from openpyxl import Workbook

            book = Workbook()
            sheet = book.active
            sheet.title = "工资表" if zh else "payroll"
            sheet.append(columns)
            from decimal import Decimal

            for line in table:
                sheet.append([Decimal(x) if 2 <= i < len(columns) - 1 and x else x for i, x in enumerate(line)])
                for cell in sheet[sheet.max_row]:
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        cell.data_type = "s"  # text, never a live formula (a name =HYPERLINK(…))
            with atomic_path(path) as temporary, quiet_cleanup():  # whole or not at all: never half a payroll file
                book.save(temporary)
        elif path.suffix.lower() == ".csv":
            from pkrules.api import spreadsheet_safe

            with atomic_write(path, newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                # id, name and the note are text a spreadsheet must not run (=HYPERLINK(…) as a name)
                writer.writerows([[spreadsheet_safe(c) if i in (0, 1, len(line) - 1) else c for i, c in enumerate(line)]
                                  for line in table])
        else:
            raise BadInput(msg("{p}: write .csv or .xlsx", p=path), lang)
    except OSError as e:
        raise BadInput(msg("cannot write {p}: {e}", p=path, e=write_problem(e, path)), lang) from None
    return columns, hashlib.sha256(path.read_bytes()).hexdigest()
