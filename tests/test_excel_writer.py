"""The streaming .xlsx writer (outputs/excel.py) against the openpyxl writer it replaced: what a user sees is the same.

The reference below is the former writer, kept here as the oracle: openpyxl's cell model, a cell at a
time. For every shipped policy's sample, both workbooks are read back with openpyxl and every cell's
value, type, number format and boldness, each column's width, the frozen panes and the sheets' names
must be equal (the files' bytes differ: zip order and metadata).
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest
from openpyxl import load_workbook

from shipped import SHIPPED_ALONE

from pkrules import api
from pkrules.messages import current_language, say, speaking, tr
from pkrules.outputs.results import out_columns, write_excel

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "policies" / "sample"


def reference_workbook(graph, results, names, rows, path, plain=False) -> None:
    """The workbook as the openpyxl writer made it (before the streaming writer)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from pkrules.engine.display import display_units
    from pkrules.engine.explain import explain
    from pkrules.engine.render import format_value
    from pkrules.values.numbers import terminates
    from pkrules.values.types import MONEY, PERCENT

    def append(sheet, values, row):
        sheet.append(values)
        cells = [sheet.cell(row=row, column=k) for k in range(1, len(values) + 1)]
        for cell, value in zip(cells, values):
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"
        return cells

    with speaking(graph.policy.language):
        units = display_units(graph)
        book = Workbook()
        sheet = book.active
        sheet.title = tr("results")
        for cell in append(sheet, names, 1):
            cell.font = Font(bold=True)

        def number_format(name):
            kind = graph.nodes[name].type.kind
            if kind == MONEY:
                return "#,##0.00"
            if kind == PERCENT or (not plain and units.get(name) == "percent"):
                return "0.00%"
            return None

        formats = {n: number_format(n) for n in names}
        for at, i in enumerate(rows, start=2):
            values = []
            for n in names:
                v = results.columns[n][i]
                if isinstance(v, bool):
                    values.append(say(current_language(), "yes" if v else "no"))
                elif isinstance(v, Fraction):
                    values.append(float(v) if terminates(v) and v.denominator <= 10**15 else float(round(v, 10)))
                elif isinstance(v, dt.date):
                    values.append(v)
                else:
                    values.append("" if v is None else str(v))
            for cell, n in zip(append(sheet, values, at), names):
                if formats[n]:
                    cell.number_format = formats[n]
        for column in sheet.columns:
            width = max(len(str(c.value or "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 10), 40)
        sheet.freeze_panes = "B2"
        lines = book.create_sheet(tr("explanations"))
        for cell in append(lines, [graph.key, tr("name"), tr("value"), tr("line"), tr("how")], 1):
            cell.font = Font(bold=True)
        main = graph.main_output()
        at = 1
        for i in rows:
            root = explain(results, i, main, 1).root
            for node in [root] + [c for c in root.children if c.kind != "input"]:
                how = "; ".join([s.text for s in node.steps if s.outcome in (None, "fired")][:3] + node.hints)
                at += 1
                append(lines, [str(results.keys[i]), node.name, format_value(node.value, node.type), node.line, how], at)
        book.save(path)


def seen(path: Path) -> list:
    """What a user sees of a workbook, as openpyxl reads it back."""
    book = load_workbook(path)
    sheets = []
    for sheet in book.worksheets:
        widths = {}
        for dimension in sheet.column_dimensions.values():
            if dimension.customWidth:
                for column in range(dimension.min, dimension.max + 1):  # (a writer may give equal columns one range)
                    widths[column] = dimension.width
        # (an empty cell's type is not seen: openpyxl wrote a blank as an empty inline string)
        cells = [[(c.value, c.data_type if c.value is not None else None, c.number_format, bool(c.font.b))
                  for c in row] for row in sheet.iter_rows()]
        sheets.append((sheet.title, sheet.freeze_panes, widths, cells))
    return sheets


def both(tmp_path, graph, results, plain=False, rows=None):
    names = out_columns(graph, plain)
    rows = list(range(len(results.keys))) if rows is None else rows
    write_excel(graph, results, names, rows, tmp_path / "new.xlsx", plain)
    reference_workbook(graph, results, names, rows, tmp_path / "old.xlsx", plain)
    return seen(tmp_path / "new.xlsx"), seen(tmp_path / "old.xlsx")


@pytest.mark.parametrize("policy, sample", SHIPPED_ALONE, ids=[p.name for p, _ in SHIPPED_ALONE])
@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_every_cell_is_as_the_openpyxl_writer_made_it(tmp_path, policy, sample, engine):
    graph = api.compile_file(policy)
    results = api.evaluate(graph, api.read_population(graph, sample), engine)
    new, old = both(tmp_path, graph, results)
    with speaking(graph.policy.language):
        assert [s[0] for s in new] == [tr("results"), tr("explanations")]
    assert new == old
    assert len(new[1][3]) > len(results.keys)  # the explanations are there


def test_plain_and_a_subset_of_rows(tmp_path):
    graph = api.compile_file(ROOT / "policies" / "sales_incentive.pk")
    results = api.evaluate(graph, api.read_population(graph, SAMPLES / "employees.csv"))
    new, old = both(tmp_path, graph, results, plain=True, rows=[5, 0, 3])
    assert new == old and len(new[0][3]) == 4


EDGES = """\
policy "edges"
input
  id: text key
  note: text
  amount: money
  rate: percent
refund = amount - ¥200
third = amount / 3
share = amount / 7 * rate
big = amount * 1000000
paid = amount > ¥100
label = note
"""


def test_blanks_long_decimals_formulas_and_sizes(tmp_path):
    policy = tmp_path / "edges.pk"
    policy.write_text(EDGES, encoding="utf-8")
    data = tmp_path / "d.csv"
    data.write_text('id,note,amount,rate\n"=1+1","=HYPERLINK(""http://x"")",100,5%\n+cmd,@SUM(A1),0,100%\n'
                    "x,y,12345678.91,33%\n" + "".join(f"k{i},{'w' * (i % 60 + 1)},{i}.{i % 100:02d},{i % 100}%\n"
                                                      for i in range(60)), encoding="utf-8")
    graph = api.compile_file(policy)
    results = api.evaluate(graph, api.read_population(graph, data), "exact")
    results.columns["refund"][1] = None  # a blank money cell: styled, without a value
    results.columns["label"][2] = None  # a blank text cell: nothing
    results.columns["third"][2] = Fraction(1, 2**60)  # ends, but past 15 places: rounded to 10, like the CSV
    new, old = both(tmp_path, graph, results)
    assert new == old
    cells = new[0][3]
    assert cells[1][0] == ("=1+1", "s", "General", False) and cells[1][1][0] == '=HYPERLINK("http://x")'
    assert cells[2][2][:3] == (None, None, "#,##0.00")
    assert cells[0][0][3] and new[0][1] == "B2" and max(new[0][2].values()) == 40


def test_the_workbook_is_in_the_policys_language(tmp_path):
    policy = ROOT / "policies" / "sales_incentive.zh.pk"
    graph = api.compile_file(policy)
    results = api.evaluate(graph, api.read_population(graph, SAMPLES / "employees.zh.csv"))
    new, old = both(tmp_path, graph, results)
    assert new == old
    assert new[0][0] == "结果" and new[1][0] != "explanations"  # (yes/no words in Chinese: tests/test_trial.py)


def test_a_write_that_fails_leaves_no_scratch_files(tmp_path, monkeypatch):
    import tempfile

    graph = api.compile_file(ROOT / "policies" / "sales_incentive.pk")
    results = api.evaluate(graph, api.read_population(graph, SAMPLES / "employees.csv"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"old")
    from pkrules.outputs import excel

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(excel, "explanation_rows", fail)
    with pytest.raises(OSError):
        write_excel(graph, results, out_columns(graph), list(range(len(results.keys))), target)
    assert target.read_bytes() == b"old"
    assert list(scratch.iterdir()) == []  # the rows written so far went with their scratch folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx", "scratch"]  # and no half workbook is left


@pytest.mark.parametrize("limit, sheet", [(30, "results"), (100, "explanations")])
def test_a_sheet_longer_than_excel_allows_is_refused_not_cut(tmp_path, monkeypatch, limit, sheet):
    # 40 employees: 41 rows of results, 241 of explanations; Excel's limit is made small to see it.
    from pkrules.files import OutputError
    from pkrules.outputs import excel
    from pkrules.outputs.results import write_results

    graph = api.compile_file(ROOT / "policies" / "sales_incentive.pk")
    results = api.evaluate(graph, api.read_population(graph, SAMPLES / "employees.csv"))
    monkeypatch.setattr(excel, "EXCEL_ROWS", limit)
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(OutputError) as refused:
        write_results(graph, results, out_columns(graph), list(range(len(results.keys))), target)
    assert str(refused.value) == (f"cannot write {target}: the {sheet} sheet needs more than the {limit:,} rows an Excel "
                                  "sheet holds; write .csv or .parquet instead; the file was left as it was")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]
