"""The fast path's readers and writers against data.py and render.format_csv, cell for cell.

The fast path reads a file straight into columns, or declines (Declined) so that the
exact path reads it and reports its problems in its own words. Here: every shape of
number HR types, whitespace, blank rows, quoting, BOM and GB18030, typed Parquet; bad
cells and row errors give the same messages and exit codes with either engine; output
CSV bytes and Parquet columns are the same whichever engine made them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pl = pytest.importorskip("polars")

from pkrules.cli import main  # noqa: E402
from pkrules.engine.results import Declined
from pkrules.engine.columnar import read_table, run_file  # noqa: E402
from pkrules.io.tables import read_csv, read_data  # noqa: E402
from pkrules.language.compile import compile_policy  # noqa: E402
from pkrules.engine.exact import evaluate  # noqa: E402

POLICY = """policy "io" version "1"

input
  id: text key
  team: text
  level: 新人 | 骨干 | 经理
  sales: money >= 0
  rate: percent 0% to 100%
  visits: whole >= 0
  x: number
  ok: yesno
  day: date

bonus = round(sales * rate, 0.01)
score = x / 3 + visits
late = if day > 2024-06-30 then 1 else 0
flag = if ok then 1 else 0
"""


def graph_of(text: str = POLICY):
    return compile_policy(text)


def values_both_ways(graph, path: Path):
    """The input columns as read by the fast path and by data.read_data (exact values)."""
    population = read_data(graph, path)
    assert population.errors == []
    table = read_table(graph, path)
    exact = {n.name: [r[n.name] for r in population.rows] for n in graph.inputs}
    from pkrules.engine.columnar.results import python_values

    fast = {n.name: python_values(table.frame, n.name, table.meta[n.name], {}) for n in graph.inputs}
    assert list(table.row_numbers) == population.row_numbers  # (a range when no row was left out)
    return exact, fast


HEADER = "id,team,level,sales,rate,visits,x,ok,day\n"

ROWS = [
    "E1,T1,骨干,480000,88%,28,1.5,yes,2024-07-01",
    "E2,T1,经理,48万,0.885,0,-2,no,2024/6/30",
    "E3,T2,新人,\"1,234.56\",100%,3,0,是,2024年7月2日",
    "E4,T2,骨干,¥5000,0%,12,90,否,2024-07-31",
    "E5,T2,骨干,5000元,12.5%,1,89.50,TRUE,2024-01-01",
    "E6,T3,经理,1.2亿,7%,7,+3,f,2024-12-31",
    "  E7  , T3 , 新人 , 0.01 , 99.99% , 40 , -0.001 , Y , 2024-02-29 ",
    "E8,T3,骨干,０,50%,2,１,yes,2024-03-01",  # full-width digits: Python's \\d reads them
    "E9,T1,新人,\u3000100\u3000,1%,5,2,1,2024-03-02",  # ideographic spaces around a number
]


@pytest.mark.parametrize("variant", ["plain", "crlf", "bom", "gb18030", "blank_rows", "quotes"])
def test_csv_cells_read_exactly_as_data_py_reads_them(tmp_path, variant):
    rows = list(ROWS)
    if variant != "quotes":
        rows[2] = "E3,T2,新人,1234.56,100%,3,0,是,2024年7月2日"
    text = HEADER + "\n".join(rows) + "\n"
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    if variant == "blank_rows":
        text = HEADER + rows[0] + "\n\n , , ,,,,,,\n" + "\n".join(rows[1:]) + "\n\n"
    path = tmp_path / "people.csv"
    if variant == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    elif variant == "gb18030":
        path.write_bytes(text.replace("０", "0").replace("１", "1").encode("gb18030"))
    else:
        path.write_text(text, encoding="utf-8")
    graph = graph_of()
    exact, fast = values_both_ways(graph, path)
    assert fast == exact


@pytest.mark.parametrize("bad", [
    "E1,T1,骨干,abc,88%,28,1.5,yes,2024-07-01",  # not a number
    "E1,T1,骨干,100,88%,28.5,1.5,yes,2024-07-01",  # not whole
    "E1,T1,骨干,-5,88%,28,1.5,yes,2024-07-01",  # below the limit
    "E1,T1,骨干,100,120%,28,1.5,yes,2024-07-01",  # above the limit
    "E1,T1,骨干,100%,88%,28,1.5,yes,2024-07-01",  # a percentage for money
    "E1,T1,组长,100,88%,28,1.5,yes,2024-07-01",  # not one of the values
    "E1,T1,骨干,100,88%,28,1.5,maybe,2024-07-01",  # not yes/no
    "E1,T1,骨干,100,88%,28,1.5,yes,2024-02-30",  # not a date
    "E1,T1,骨干,,88%,28,1.5,yes,2024-07-01",  # empty
    "E1,T1,骨干,100,88%,28,1.5,yes,2024-07-01,extra",  # too many cells
    "E2,T1,骨干,100,88%,28,1.5,yes,2024-07-01",  # the key again
])
def test_bad_cells_decline_and_both_engines_say_the_same(tmp_path, capsys, bad):
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "E2,T1,骨干,1,1%,1,1,no,2024-07-01\n" + bad + "\n", encoding="utf-8")
    policy = tmp_path / "p.pk"
    policy.write_text(POLICY, encoding="utf-8")
    with pytest.raises(Declined):
        read_table(graph_of(), path)
    said = {}
    for engine in ("fast", "exact"):
        code = main(["run", str(policy), str(path), "--engine", engine])
        out = capsys.readouterr()
        said[engine] = (code, out.out, out.err)
    assert said["fast"] == said["exact"]
    assert said["fast"][0] == 1


def test_row_errors_give_the_same_messages_with_either_engine(tmp_path, capsys):
    policy = tmp_path / "p.pk"
    policy.write_text(POLICY + "ratio = sales / x\n", encoding="utf-8")
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "E1,T1,骨干,100,1%,1,0,no,2024-07-01\nE2,T1,骨干,100,1%,1,2,no,2024-07-01\n", encoding="utf-8")
    said = {}
    for engine in ("fast", "exact"):
        for extra in ([], ["--keep-going"]):
            code = main(["run", str(policy), str(path), "--engine", engine, *extra])
            out = capsys.readouterr()
            said[(engine, tuple(extra))] = (code, out.out, out.err)
    assert said[("fast", ())] == said[("exact", ())]
    assert said[("fast", ("--keep-going",))] == said[("exact", ("--keep-going",))]
    assert "division by zero" in said[("fast", ())][2]


def test_a_file_with_only_a_header_is_no_rows_to_evaluate(tmp_path, capsys):
    policy = tmp_path / "p.pk"
    policy.write_text(POLICY, encoding="utf-8")
    path = tmp_path / "people.csv"
    path.write_text(HEADER, encoding="utf-8")
    said = {}
    for engine in ("fast", "exact"):
        code = main(["run", str(policy), str(path), "--engine", engine])
        out = capsys.readouterr()
        said[engine] = (code, out.out, out.err)
    assert said["fast"] == said["exact"]


def test_typed_parquet_reads_as_its_text(tmp_path):
    frame = pl.DataFrame({
        "id": ["E1", "E2", "E3"],
        "team": ["T1", "T1", "T2"],
        "level": ["骨干", "经理", "新人"],
        "sales": pl.Series([Decimal("480000.00"), Decimal("1234.56"), Decimal("0.01")], dtype=pl.Decimal(18, 2)),
        "rate": pl.Series([0.88, 0.885, 1.0], dtype=pl.Float64),
        "visits": pl.Series([28, 0, 3], dtype=pl.Int32),
        "x": pl.Series([Decimal("-1.500"), Decimal("90"), Decimal("0.333")], dtype=pl.Decimal(10, 3)),
        "ok": [True, False, True],
        "day": [dt.date(2024, 7, 1), dt.date(2024, 6, 30), dt.date(2024, 12, 31)],
    })
    path = tmp_path / "people.parquet"
    frame.write_parquet(path)
    graph = graph_of()
    exact, fast = values_both_ways(graph, path)
    assert fast == exact
    assert fast["sales"] == [F(480000), F("1234.56"), F("0.01")]
    assert fast["rate"] == [F("0.88"), F("0.885"), F(1)]


def test_parquet_with_a_null_declines(tmp_path):
    frame = pl.DataFrame({"id": ["E1", "E2"], "team": ["T", "T"], "level": ["骨干", None], "sales": [1, 2],
                          "rate": [0.1, 0.2], "visits": [1, 2], "x": [1, 2], "ok": [True, False],
                          "day": [dt.date(2024, 1, 1)] * 2})
    path = tmp_path / "people.parquet"
    frame.write_parquet(path)
    with pytest.raises(Declined):
        read_table(graph_of(), path)
    assert read_data(graph_of(), path).errors[0].expected == "a value is required"


# ---- output: the same bytes from either engine ----------------------------------------------------

OUT_POLICY = """input
  id: text key
  a: money
  b: money > 0
  x: number
third = x / 3
ratio = a / b
cents = round(a / 7, 0.01)
fine = a * 0.0001
big = x * 1000000000000
neg = -a / 8
word = if x > 0 then "up" else "down"
yes_no = x > 0
"""


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.integers(-10**9, 10**9), st.integers(1, 10**7), st.integers(-10**6, 10**6)),
                min_size=1, max_size=12))
def test_outputs_are_the_same_bytes_from_either_engine(tmp_path_factory, values):
    from pkrules.engine.columnar.io import write_output

    tmp = tmp_path_factory.mktemp("out")
    graph = compile_policy(OUT_POLICY)
    rows = [dict(id=f"E{i}", a=F(a, 100), b=F(b, 100), x=F(x, 1000)) for i, (a, b, x) in enumerate(values)]
    from pkrules.engine.columnar import evaluate_columnar, table_from_rows

    exact = evaluate(graph, rows)
    fast = evaluate_columnar(graph, table_from_rows(graph, rows))
    names = [graph.key] + [n.name for n in graph.definitions]
    for suffix in ("csv", "parquet"):
        write_output(graph, exact, names, tmp / f"exact.{suffix}")
        write_output(graph, fast, names, tmp / f"fast.{suffix}")
    assert (tmp / "fast.csv").read_bytes() == (tmp / "exact.csv").read_bytes()
    a, b = pl.read_parquet(tmp / "fast.parquet"), pl.read_parquet(tmp / "exact.parquet")
    assert a.schema == b.schema and a.equals(b)
    # and the exact path's own CSV writer (render.format_csv through csv.writer)
    import csv
    import io

    from pkrules.values.format import format_csv

    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(names)
    for i in range(exact.size):
        writer.writerow([format_csv(exact.columns[n][i], graph.nodes[n].type) for n in names])
    assert (tmp / "fast.csv").read_bytes() == handle.getvalue().encode("utf-8")


PEOPLE_POLICY = OUT_POLICY + """rate = a / b
capped = min(a / b, 150%)
growth = a / b - 1
pct = p
share_cents = round(a * p, 0.01)
"""


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.integers(-10**9, 10**9), st.integers(1, 10**7), st.integers(-10**6, 10**6),
                          st.integers(-1000, 1000)), min_size=1, max_size=12),
       st.sampled_from(["en", "zh"]))
def test_files_for_people_are_the_same_bytes_from_either_engine(tmp_path_factory, values, lang):
    # money to the cent (half-up), rates and ratios as 96%, yes/no in the policy's language, a byte order mark
    from pkrules.engine.columnar import evaluate_columnar, table_from_rows
    from pkrules.engine.columnar.io import write_output
    from pkrules.engine.display import display_units
    from pkrules.values.format import format_cell

    tmp = tmp_path_factory.mktemp("people")
    graph = compile_policy(PEOPLE_POLICY.replace("  x: number\n", "  x: number\n  p: percent\n"))
    rows = [dict(id=f"E{i}", a=F(a, 100), b=F(b, 100), x=F(x, 1000), p=F(p, 1000)) for i, (a, b, x, p) in enumerate(values)]
    exact = evaluate(graph, rows)
    fast = evaluate_columnar(graph, table_from_rows(graph, rows))
    names = [graph.key] + [n.name for n in graph.definitions]
    write_output(graph, exact, names, tmp / "exact.csv", people=True, bom=True, lang=lang)
    write_output(graph, fast, names, tmp / "fast.csv", people=True, bom=True, lang=lang)
    assert (tmp / "fast.csv").read_bytes() == (tmp / "exact.csv").read_bytes()
    raw = (tmp / "exact.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    units = display_units(graph)
    assert units["rate"] == units["capped"] == units["growth"] == units["pct"] == "percent"
    import csv
    import io

    got = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert got[0] == names
    for i, line in enumerate(got[1:]):
        assert line == [format_cell(exact.columns[n][i], units.get(n, "other"), lang) for n in names]
        # money with two decimals, rounded half-up from the exact value
        cents = F(line[names.index("cents")])
        assert cents == exact.columns["cents"][i] and line[names.index("fine")].count(".") == 1
        assert len(line[names.index("fine")].split(".")[1]) == 2


def test_run_on_parquet_in_and_out(tmp_path, capsys):
    policy = tmp_path / "p.pk"
    policy.write_text(POLICY, encoding="utf-8")
    csv_path = tmp_path / "people.csv"
    csv_path.write_text(HEADER + "\n".join(r for r in ROWS if "\u3000" not in r and "０" not in r) + "\n", encoding="utf-8")
    graph = graph_of()
    parquet_path = tmp_path / "people.parquet"
    population = read_csv(graph, csv_path)
    fast = run_file(graph, csv_path)
    # the CSV's text as a Parquet file of strings: the same run
    pl.read_csv(csv_path, infer_schema=False).write_parquet(parquet_path)
    for engine in ("fast", "exact"):
        assert main(["run", str(policy), str(parquet_path), "--engine", engine, "--out", str(tmp_path / f"{engine}.parquet")]) == 0
    capsys.readouterr()
    a, b = pl.read_parquet(tmp_path / "fast.parquet"), pl.read_parquet(tmp_path / "exact.parquet")
    assert a.equals(b)
    assert fast.size == len(population.rows)
