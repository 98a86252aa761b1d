"""The fast path's checks in one query, and its counts without sorting, give the exact evaluator's answers.

- a typed Parquet file read column by column with every check in one query: a text cell that needs
  stripping, a duplicate key, a value outside its limits, a fraction in a whole number, needless
  decimals, wide decimals, a blank row, columns the policy does not read — each gives what the
  exact evaluator gives (its messages, its results: the same bytes from either engine);
- a run's warnings about ties at a top N% cut-off, counted over the columns, are the exact
  evaluator's (top and bottom, within groups, a count, exact fractions); so are the explanations,
  whether the rows better than one are counted or bisected.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

pl = pytest.importorskip("polars")

from pkrules.cli import main  # noqa: E402
from pkrules.engine.backend import evaluate  # noqa: E402
from pkrules.engine.columnar import read_table, run_file  # noqa: E402
from pkrules.engine.population import Population  # noqa: E402
from pkrules.engine.results import Declined  # noqa: E402
from pkrules.engine.warnings import run_warnings  # noqa: E402
from pkrules.io.tables import read_csv  # noqa: E402
from pkrules.language.compile import compile_policy  # noqa: E402

POLICY = """input
  id: text key
  team: text
  level: 新人 | 骨干
  sales: money >= 0
  rate: percent 0% to 100%
  visits: whole >= 0

bonus = round(sales * rate, 0.01) + ¥10 * visits
team_sales = sum sales within team
"""


def frame(**changes) -> pl.DataFrame:
    columns = {
        "id": ["A1", "A2", "A3", "A4"],
        "team": ["一组", "一组", "二组", "二组"],
        "level": ["新人", "骨干", "骨干", "新人"],
        "sales": pl.Series([Decimal("1000.50"), Decimal("0.00"), Decimal("250000.00"), Decimal("12.34")],
                           dtype=pl.Decimal(18, 2)),
        "rate": pl.Series([Decimal("0.9000"), Decimal("1.0000"), Decimal("0.0125"), Decimal("0.5000")],
                          dtype=pl.Decimal(6, 4)),
        "visits": [3, 0, 12, 7],
    }
    columns.update(changes)
    return pl.DataFrame(columns)


def both_engines(tmp_path: Path, capsys, data: pl.DataFrame, policy: str = POLICY) -> dict:
    """Each engine's exit code, messages and output bytes, for a run on the frame as Parquet."""
    policy_path = tmp_path / "p.pk"
    policy_path.write_text(policy, encoding="utf-8")
    path = tmp_path / "data.parquet"
    data.write_parquet(path)
    got = {}
    for engine in ("fast", "exact"):
        out = tmp_path / f"{engine}.csv"
        code = main(["run", str(policy_path), str(path), "--engine", engine, "--out", str(out)])
        captured = capsys.readouterr()
        got[engine] = (code, captured.out.replace(str(out), "OUT"), captured.err,
                       out.read_bytes() if out.exists() else None)
    assert got["fast"] == got["exact"]
    return got["fast"]


def fast_read(tmp_path: Path, data: pl.DataFrame, policy: str = POLICY):
    from pkrules.engine.plan import compile_plan

    graph = compile_policy(policy)
    path = tmp_path / "direct.parquet"
    data.write_parquet(path)
    return read_table(graph, path, compile_plan(graph))


def test_a_clean_typed_parquet_is_read_on_the_fast_path_with_the_exact_results(tmp_path, capsys):
    code, out, err, written = both_engines(tmp_path, capsys, frame())
    assert code == 0 and err == ""
    assert written.decode("utf-8-sig").splitlines()[1] == "A1,一组,930.45,1000.50"
    table = fast_read(tmp_path, frame())
    assert table.meta["sales"].den.c == 100 and table.meta["rate"].den.c == 10_000


def test_text_cells_that_need_stripping_are_stripped_as_the_exact_path_strips_them(tmp_path, capsys):
    data = frame(id=[" A1", "A2\u3000", "A3\t", "A4"], team=["一组 ", "一组", "\xa0二组", "二组"],
                 level=["新人", " 骨干 ", "骨干", "新人"])
    code, out, err, written = both_engines(tmp_path, capsys, data)
    assert code == 0 and err == ""
    lines = written.decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["A1", "A2", "A3", "A4"]
    table = fast_read(tmp_path, data)  # not declined: read on the fast path
    assert table.frame.get_column("team").to_list() == ["一组", "一组", "二组", "二组"]


@pytest.mark.parametrize("changes, reason", [
    ({"id": ["A1", "A2", "A1", "A4"]}, "a key appears twice"),
    ({"id": ["A1", "A2", "A2", "A4"]}, "a key appears twice"),  # (in order: found next to its twin)
    ({"sales": pl.Series([Decimal("-0.01"), Decimal("0"), Decimal("1"), Decimal("2")], dtype=pl.Decimal(18, 2))},
     "sales is outside its limits"),
    ({"rate": pl.Series([Decimal("1.0001"), Decimal("0"), Decimal("0"), Decimal("0")], dtype=pl.Decimal(6, 4))},
     "rate is outside its limits"),
    ({"visits": pl.Series([Decimal("1.5"), Decimal("2"), Decimal("3"), Decimal("4")], dtype=pl.Decimal(10, 1))},
     "visits is not a whole number"),
    ({"level": ["新人", "骨干", "经理", "新人"]}, "level is not one of its values"),
    ({"team": ["一组", " ", "二组", "二组"]}, "an empty cell"),
])
def test_bad_typed_cells_are_declined_and_the_exact_path_reports_them(tmp_path, capsys, changes, reason):
    data = frame(**changes)
    with pytest.raises(Declined, match=reason):
        fast_read(tmp_path, data)
    code, out, err, written = both_engines(tmp_path, capsys, data)
    assert code != 0 and "error" in err and written is None


def test_limits_on_wide_decimals_and_needless_decimals_read_as_the_exact_path_reads_them(tmp_path, capsys):
    wide = pl.Series([Decimal("1000.500000"), Decimal("0"), Decimal("250000"), Decimal("12.340000")],
                     dtype=pl.Decimal(30, 6))  # Int128 integers: the limits are checked after the decimals drop
    whole = pl.Series([Decimal("3.00"), Decimal("0.00"), Decimal("12.00"), Decimal("7.00")], dtype=pl.Decimal(10, 2))
    code, out, err, written = both_engines(tmp_path, capsys, frame(sales=wide, visits=whole))
    assert code == 0 and err == ""
    table = fast_read(tmp_path, frame(sales=wide, visits=whole))
    assert table.meta["sales"].den.c == 100 and table.meta["visits"].den.c == 1
    negative = pl.Series([Decimal("-0.000001"), Decimal("0"), Decimal("1"), Decimal("2")], dtype=pl.Decimal(30, 6))
    with pytest.raises(Declined, match="sales is outside its limits"):
        fast_read(tmp_path, frame(sales=negative))
    both_engines(tmp_path, capsys, frame(sales=negative))


def test_columns_the_policy_does_not_read_are_not_read_but_count_for_blank_rows(tmp_path, capsys):
    data = frame(phone=["1", "2", "3", "4"], notes=[[1], [2], [3], [4]]).with_columns(
        pl.col("phone").cast(pl.String))
    code, out, err, written = both_engines(tmp_path, capsys, data)
    assert code == 0 and err == ""
    table = fast_read(tmp_path, data)
    assert table.frame.columns == ["id", "team", "level", "sales", "rate", "visits"]
    blank = pl.DataFrame({c: [None] for c in data.columns}, schema=data.schema)
    with_blank = pl.concat([data.head(2), blank, data.tail(2)])
    code, out, err, written = both_engines(tmp_path, capsys, with_blank)  # a blank row is skipped, and counts
    assert code == 0
    assert list(fast_read(tmp_path, with_blank).row_numbers) == [1, 2, 4, 5]
    half = with_blank.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("x")).otherwise(
        pl.col("phone")).alias("phone"))  # a cell the policy does not read makes the row not blank
    with pytest.raises(Declined, match="an empty cell"):
        fast_read(tmp_path, half)
    code, out, err, written = both_engines(tmp_path, capsys, half)
    assert code != 0


# ---- ties at a cut-off, counted over the columns ------------------------------------------------------

TIES = """input
  id: text key
  team: text
  score: number
  sales: money
  target: money > 0

ratio = sales / target
top_all = if score in top 10% then 1 else 0
bottom_all = if score in bottom 20% then 1 else 0
top_team = if score in top 30% within team then 1 else 0
top_three = if ratio in top 3 then 1 else 0
low_ratio = if ratio in bottom 25% within team then 1 else 0
"""


def _ties_data(n: int) -> str:
    rows = []
    for k in range(n):
        score = 95 if k % 7 == 0 else (40 if k % 5 == 0 else 50 + (k * 37) % 40)
        sales, target = (k * 7919) % 300 + 1, [3, 7, 9, 3][k % 4]
        if k % 11 == 0:
            sales, target = 1000 * target, target  # ties at the top of a ratio: exactly 1000
        rows.append(f"E{k:03d},T{k % 3},{score},{sales},{target}")
    return "id,team,score,sales,target\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("n", [13, 40, 200])
def test_tie_warnings_counted_over_columns_are_the_exact_ones(tmp_path, n):
    from pkrules.messages import speaking

    graph = compile_policy(TIES)
    path = tmp_path / "d.csv"
    path.write_text(_ties_data(n), encoding="utf-8")
    table = read_csv(graph, path)
    exact = evaluate(graph, Population(graph, table.rows, table.row_numbers), "exact")
    fast = run_file(graph, path)
    assert fast.backend == "fast"
    want = [(w.code, w.node, w.message, w.count) for w in run_warnings(exact)]
    got = [(w.code, w.node, w.message, w.count) for w in run_warnings(fast)]
    assert got == want and (want or n < 20)  # (the larger populations have ties)
    with speaking("zh"):
        assert [w.message for w in run_warnings(fast)] == [w.message for w in run_warnings(exact)]


def test_explanations_of_a_top_are_the_same_whether_counted_or_bisected(tmp_path):
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_tree

    graph = compile_policy(TIES)
    path = tmp_path / "d.csv"
    path.write_text(_ties_data(60), encoding="utf-8")
    table = read_csv(graph, path)
    exact = evaluate(graph, Population(graph, table.rows, table.row_numbers), "exact")
    fast = run_file(graph, path)
    for i in range(exact.size):  # past the first few rows of a group, it is sorted once and bisected
        for name in ("top_all", "bottom_all", "top_team", "top_three", "low_ratio"):
            assert render_tree(explain(fast, i, name)) == render_tree(explain(exact, i, name)), (i, name)


def test_text_cells_that_csv_writer_quotes_or_marks_are_the_same_bytes_from_either_engine(tmp_path, capsys):
    policy = POLICY + 'label = if visits > 5 then "" else team\n'
    data = frame(team=["=1+1", "一组", "-2", "二,组"])
    fast_read(tmp_path, data, policy)  # read on the fast path
    code, out, err, written = both_engines(tmp_path, capsys, data, policy)
    assert code == 0
    lines = written.decode("utf-8-sig").splitlines()
    assert lines[1:] == ["A1,'=1+1,930.45,1000.50,'=1+1", "A2,一组,0.00,0.00,一组", "A3,'-2,3245.00,250000.00,",
                         'A4,"二,组",76.17,12.34,']


def test_a_carriage_return_in_a_parquet_text_cell_is_read_as_the_exact_path_reads_it(tmp_path, capsys):
    # (the exact path reads Parquet through CSV text, where a lone CR ends a line)
    data = frame(team=["一组", "一\r组", "二组", "二组"])
    with pytest.raises(Declined, match="a carriage return in a text cell of team"):
        fast_read(tmp_path, data)
    code, out, err, written = both_engines(tmp_path, capsys, data)
    assert code == 0 and '"一\n组"' in written.decode("utf-8-sig")
