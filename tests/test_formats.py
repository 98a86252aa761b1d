"""Data in and out beyond CSV: Excel (a real .xlsx round trip), SQLite, JSON Lines, statements."""

from __future__ import annotations

import csv
import json
import sqlite3
from fractions import Fraction as F
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from pkrules.cli import main

ROOT = Path(__file__).parent.parent
POLICY = str(ROOT / "policies" / "sales_incentive.pk")
SAMPLE = ROOT / "policies" / "sample" / "employees.csv"


def sample_rows() -> list[list[str]]:
    return list(csv.reader(SAMPLE.open(encoding="utf-8")))


def exact_totals(out: Path) -> dict[str, str]:
    return {r["id"]: r["total"] for r in csv.DictReader(out.open(encoding="utf-8-sig"))}


@pytest.fixture(scope="module")
def csv_totals(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("csv") / "r.csv"
    assert main(["run", POLICY, str(SAMPLE), "--out", str(out), "--engine", "exact"]) == 0
    return exact_totals(out)


def write_workbook(path: Path, chinese_headers: bool = False, sheet: str = "员工") -> None:
    rows = sample_rows()
    book = Workbook()
    first = book.active
    first.title = "说明"
    first.append(["this sheet explains the data; the data is on the next sheet"])
    data = book.create_sheet(sheet)
    data.append(rows[0])
    for r in rows[1:]:
        values = []
        for header, value in zip(rows[0], r):
            if header in ("sales", "sales_target", "visits", "strategic_customers"):
                values.append(int(value))  # numbers as Excel stores them
            elif header in ("collection_rate", "on_time_rate"):
                values.append(int(value.rstrip("%")) / 100)  # a percent cell holds 0.88
            else:
                values.append(value)
        data.append(values)
    book.save(path)


def test_excel_round_trip(tmp_path, capsys, csv_totals):
    workbook = tmp_path / "employees.xlsx"
    write_workbook(workbook)
    out = tmp_path / "results.xlsx"
    assert main(["run", POLICY, str(workbook), "--sheet", "员工", "--out", str(out)]) == 0
    book = load_workbook(out)
    results = book["results"]
    header = [c.value for c in results[1]]
    assert header[0] == "id" and "total" in header
    total_col = header.index("total")
    rows = list(results.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 40
    for row in rows:
        # Excel holds doubles; every total is a whole number of cents, so it reads back exactly.
        assert F(str(row[total_col])) == F(csv_totals[row[0]])
    money = results.cell(row=2, column=total_col + 1)
    assert money.number_format == "#,##0.00"
    lines = list(book["explanations"].iter_rows(values_only=True))
    assert lines[0] == ("id", "name", "value", "line", "how")
    assert ("E022", "bonus", "9,216.00") == lines[[r[:2] for r in lines].index(("E022", "bonus"))][:3]


def test_excel_first_sheet_by_default_and_bad_sheet(tmp_path, capsys):
    workbook = tmp_path / "employees.xlsx"
    write_workbook(workbook)
    assert main(["run", POLICY, str(workbook), "--sheet", "nope"]) == 1
    assert "no sheet named nope; its sheets: 说明, 员工" in capsys.readouterr().err
    assert main(["run", POLICY, str(workbook)]) == 1  # the first sheet is the explanation, not the data
    assert "the header lacks columns" in capsys.readouterr().err


def test_malformed_xlsx_is_one_clear_message(tmp_path, capsys):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a workbook")
    assert main(["run", POLICY, str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: not a readable Excel workbook (.xlsx)" in err
    assert "Traceback" not in err and err.count("error:") == 1


def test_sqlite_table(tmp_path, capsys, csv_totals):
    db = tmp_path / "hr.sqlite"
    rows = sample_rows()
    con = sqlite3.connect(db)
    con.execute(f"create table employees ({', '.join(rows[0])})")
    con.execute("create table other (x)")
    con.executemany(f"insert into employees values ({', '.join('?' * len(rows[0]))})", rows[1:])
    con.commit()
    con.close()
    assert main(["run", POLICY, str(db)]) == 1
    assert "name the table with --table (tables: employees, other)" in capsys.readouterr().err
    out = tmp_path / "r.csv"
    assert main(["run", POLICY, str(db), "--table", "employees", "--out", str(out)]) == 0
    assert exact_totals(out) == csv_totals
    not_db = tmp_path / "x.db"
    not_db.write_text("hello", encoding="utf-8")
    assert main(["run", POLICY, str(not_db)]) == 1
    assert "not a SQLite database" in capsys.readouterr().err


def test_json_lines_are_exact(tmp_path, capsys, csv_totals):
    out = tmp_path / "r.jsonl"
    assert main(["run", POLICY, str(SAMPLE), "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["id"]: r["total"] for r in records} == csv_totals
    zhang = next(r for r in records if r["id"] == "E022")
    assert zhang["score"] == {"fraction": "869/9", "approx": "96.5555555556"}
    assert zhang["bonus"] == "9216.00"


def test_statements_one_markdown_file_per_employee(tmp_path, capsys):
    folder = tmp_path / "statements"
    assert main(["run", POLICY, str(SAMPLE), "--statements", str(folder), "--out", str(tmp_path / "r.csv")]) == 0
    files = sorted(folder.glob("*.md"))
    assert len(files) == 40
    text = (folder / "E022.md").read_text(encoding="utf-8")
    assert text.startswith("# 华东区销售激励: total for E022 (小张)")
    assert "**total = ¥14,016.00**" in text


def _sample(policy: Path) -> Path:
    """The shipped sample of a shipped policy (as tests/test_backends.py finds it)."""
    stem = policy.name[: -len(".pk")]
    base = stem.removesuffix(".zh")
    if base == "sales_incentive":
        return SAMPLE.parent / ("employees.zh.csv" if stem.endswith(".zh") else "employees.csv")
    return next(SAMPLE.parent / c for c in (f"{stem}.csv", f"{base}.csv") if (SAMPLE.parent / c).exists())


SHIPPED = [(p, _sample(p)) for p in sorted((ROOT / "policies").glob("*.pk"))
           if "input ratings by" not in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("policy, data", SHIPPED, ids=[p.name for p, _ in SHIPPED])
def test_excel_cells_and_statements_are_the_same_from_either_engine(tmp_path, capsys, policy, data):
    # the fast path makes the results sheet with column expressions, the exact path value by value
    out = {}
    for engine in ("exact", "fast"):
        folder = tmp_path / engine
        assert main(["run", str(policy), str(data), "--engine", engine, "--out", str(folder / "r.xlsx"),
                     "--statements", str(folder / "statements")]) == 0
        capsys.readouterr()
        statements = sorted((folder / "statements").iterdir())
        book = load_workbook(folder / "r.xlsx")  # (openpyxl dates the file it writes: its cells are compared)
        sheets = [[[c.value for c in row] for row in sheet.iter_rows()] for sheet in book.worksheets]
        out[engine] = (sheets, [(p.name, p.read_bytes()) for p in statements])
    assert out["fast"][0] == out["exact"][0]
    assert out["fast"][1] == out["exact"][1] and out["exact"][1]
