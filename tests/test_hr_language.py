"""The language for real HR schemes: one section per finding of the HR analyst's trial (issue 10).

1 periods as time · 2 running totals · 3 dates · 4 blanks · 5 only what applies is computed ·
6 named constants and parameters · 7 warnings with counts · 8 word-order traps. The
withholding policy has its own oracle (test_withholding.py); the appraisal block too
(test_appraisal_block.py).
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkrules.cli import main
from pkrules.engine.backend import evaluate
from pkrules.engine.examples import example_rows
from pkrules.engine.population import Population
from pkrules.engine.warnings import run_warnings
from pkrules.io.tables import read_csv
from pkrules.language.compile import compile_policy

from pkrules.language.source import SourceFile
from pkrules.language.compile import check_source
from pkrules.messages import choose_language, speaking
from pkrules.values.periods import order_periods, parse_period

D = dt.date


def check(text: str) -> list:
    """(code, message, hint, line) of every diagnostic of a policy."""
    graph, diagnostics = check_source(SourceFile("p.pk", text))
    return [(d.code, d.message, d.hint, d.span.line if d.span else None) for d in diagnostics]


def codes(text: str) -> list[str]:
    return [c for c, *_ in check(text)]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def results_of(text: str, csv_text: str, tmp_path: Path, backend: str = "exact", **params):
    graph = compile_policy(text)
    data = write(tmp_path, "data.csv", csv_text)
    table = read_csv(graph, data)
    population = Population(graph, table.rows, table.row_numbers, cell_errors=table.errors, params=params or None)
    return graph, population, evaluate(graph, population, backend)


# ---- 1 periods as time, not text ------------------------------------------------------------------

MONTHLY_ZH = """方案 "期间顺序" 版本 "1"

输入
  工号：文本 主键
  月份：文本 期间
  销售额：金额 ≥ 0

上月销售额 = 上期（销售额，0）
"""


@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_the_issues_months_come_in_time_order_0_9_10(tmp_path, capsys, engine):
    policy = write(tmp_path, "order.pk", MONTHLY_ZH)
    data = write(tmp_path, "order.csv", "工号,月份,销售额\nA,2024年9月,9\nA,2024年10月,10\nA,2024年11月,11\n")
    out_csv = tmp_path / "out.csv"
    code, out, err = run(capsys, "run", policy, data, "--engine", engine, "--out", out_csv)
    assert code == 0, err
    lines = out_csv.read_text(encoding="utf-8").splitlines()
    # the output shows the months as the data wrote them, and last month's sales in time order
    assert lines[1:] == ["A,2024年9月,0.00", "A,2024年10月,9.00", "A,2024年11月,10.00"]


@pytest.mark.parametrize("label, kind, start", [
    ("2025-03", "month", D(2025, 3, 1)), ("2025-3", "month", D(2025, 3, 1)), ("2025/03", "month", D(2025, 3, 1)),
    ("2025年3月", "month", D(2025, 3, 1)), ("2025年03月份", "month", D(2025, 3, 1)), ("202503", "month", D(2025, 3, 1)),
    ("2025Q3", "quarter", D(2025, 7, 1)), ("2025年第3季度", "quarter", D(2025, 7, 1)), ("2025年第三季度", "quarter", D(2025, 7, 1)),
    ("2025H2", "half", D(2025, 7, 1)), ("2025年下半年", "half", D(2025, 7, 1)),
    ("2025-W07", "week", D(2025, 2, 10)), ("2025年第7周", "week", D(2025, 2, 10)),
    ("2025-03-15", "date", D(2025, 3, 15)), ("2025年3月15日", "date", D(2025, 3, 15)), ("2025", "year", D(2025, 1, 1)),
])
def test_the_labels_hr_writes_name_a_time(label, kind, start):
    period = parse_period(label)
    assert (period.kind, period.start) == (kind, start)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(2019, 2027), st.integers(1, 12)), min_size=2, max_size=20, unique=True),
       st.randoms(use_true_random=False))
def test_months_in_any_spelling_are_ordered_by_time(months, rnd):
    spellings = [lambda y, m: f"{y}-{m:02d}", lambda y, m: f"{y}-{m}", lambda y, m: f"{y}年{m}月", lambda y, m: f"{y}/{m:02d}"]
    labels = {f"{y}|{m}": rnd.choice(spellings)(y, m) for y, m in months}
    periods = order_periods(labels.values())
    by_time = sorted(labels.values(), key=lambda label: periods[label].ordinal)
    assert by_time == [labels[f"{y}|{m}"] for y, m in sorted(months)]


def test_labels_that_cannot_be_ordered_are_refused_naming_the_row(tmp_path, capsys):
    policy = write(tmp_path, "order.pk", MONTHLY_ZH)
    data = write(tmp_path, "bad.csv", "工号,月份,销售额\nA,2024年9月,9\nA,10月,10\nA,2024Q4,11\nA,2024年11月,11\n")
    code, out, err = run(capsys, "run", policy, data, "--lang", "en")
    assert code == 1
    assert "Excel row 3, column 月份: '10月' — '10月' has no year" in err and "2024年10月" in err
    assert "Excel row 4, column 月份: '2024Q4' — '2024Q4' is a quarter, but the other periods are months (such as 2024年9月)" in err
    assert "nothing was evaluated" in err
    code, out, err = run(capsys, "run", policy, data)  # a Chinese policy is told in Chinese
    assert "Excel 第 3 行，列 月份：'10月' — “10月”没有年份，无法与其他期间排出先后：请写上年份，例如 2024年10月" in err
    assert "“2024Q4”是季度，但其他期间是月份（如 2024年9月）" in err


@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_two_spellings_of_one_month_are_refused_not_taken_for_two_months(tmp_path, capsys, engine):
    # 2024-8 and 2024-08 as two periods would make last month's sales of the one read nothing (a fuzz find:
    # each engine ordered the two labels its own way); the second spelling is a bad cell naming the first.
    policy = write(tmp_path, "order.pk", MONTHLY_ZH)
    data = write(tmp_path, "two.csv", "工号,月份,销售额\nA,2024-7,7\nA,2024-8,8\nB,2024-08,9\n")
    code, out, err = run(capsys, "run", policy, data, "--lang", "en", "--engine", engine)
    assert code == 1
    assert ("Excel row 4, column 月份: '2024-08' — '2024-08' is the same period as '2024-8', written another way: "
            "write each period of the column one way (here 2024-8)") in err
    code, out, err = run(capsys, "run", policy, data, "--engine", engine)
    assert "“2024-08”与“2024-8”是同一个期间，只是写法不同：同一列的期间请用一种写法（这里用 2024-8）" in err


def test_a_one_of_period_follows_its_declared_order(tmp_path):
    text = "input\n  id: text key\n  stage: 试用期 | 转正 | 晋升 period\n  score: number\n\nlast = previous(score, 0)\n"
    graph, _, results = results_of(text, "id,stage,score\nA,晋升,3\nA,试用期,1\nA,转正,2\n", tmp_path)
    assert results.columns["last"] == [F(2), F(0), F(1)]


# ---- 2 running totals and sums over earlier periods ---------------------------------------------------

RUNNING = """input
  id: text key
  team: text
  month: text period
  sales: money >= 0

total = previous(total, 0) + sales
ytd = sum sales year to date
before = sum sales earlier this year
qtd = sum sales quarter to date
since_march = sum sales since 2025-03-01
months = count year to date
team_ytd = sum sales within team year to date
best = max sales to date
"""

RUNNING_DATA = """id,team,month,sales
A,T1,2025-02,20
A,T1,2024-12,5
A,T1,2025-01,10
B,T1,2025-01,1
A,T1,2025-04,40
B,T1,2025-02,2
A,T1,2025-03,30
"""


@pytest.mark.parametrize("engine", ["exact", "auto"])
def test_running_totals_and_year_to_date(tmp_path, engine):
    graph, _, r = results_of(RUNNING, RUNNING_DATA, tmp_path, backend=engine)
    col = lambda name: dict(zip(zip(r.columns["id"], r.columns["month"]), r.columns[name]))  # noqa: E731
    assert col("total")[("A", "2025-04")] == 105  # 5 + 10 + 20 + 30 + 40: a running total over the years
    assert col("ytd")[("A", "2025-04")] == 100 and col("ytd")[("A", "2024-12")] == 5  # a new year starts again
    assert col("before")[("A", "2025-04")] == 60 and col("before")[("A", "2025-01")] == 0
    assert col("qtd")[("A", "2025-04")] == 40 and col("qtd")[("A", "2025-03")] == 60  # Q2 starts in April
    assert col("since_march")[("A", "2025-04")] == 70 and col("since_march")[("A", "2025-02")] == 0
    assert col("months")[("A", "2025-03")] == 3 and col("months")[("B", "2025-02")] == 2
    assert col("team_ytd")[("B", "2025-02")] == 33  # the team's 2025 so far: A 10 + 20, B 1 + 2
    assert col("best")[("A", "2025-04")] == 40 and col("best")[("A", "2025-01")] == 10


def test_a_value_that_uses_itself_now_is_still_a_cycle():
    text = "input\n  id: text key\n  month: whole period\n  sales: money\n\nx = x + sales\ny = previous(y, 0) + z\nz = y * 2\n"
    found = check(text)
    assert [(c, line) for c, *_, line in found if c == "cycle"] == [("cycle", 6), ("cycle", 7)]
    assert "x → x" in found[0][1]


def test_a_running_total_without_periods_says_what_is_missing():
    text = "input\n  id: text key\n  sales: money\n\ntotal = previous(total, 0) + sales\nytd = sum sales year to date\n"
    assert codes(text) == ["no-period", "no-period"]


def test_year_to_date_needs_periods_that_name_a_time():
    text = "input\n  id: text key\n  month: whole period\n  sales: money\n\nytd = sum sales year to date\n"
    (code, message, hint, _), = check(text)
    assert code == "period-type" and "the period month is a whole number" in message
    assert hint == "declare it as text and write the periods as 2025-03 or 2025年3月: month: text period"


def test_rank_of_a_year_to_date_is_refused_with_the_fix():
    (code, message, hint, _), = check("input\n  id: text key\n  month: text period\n  s: money\n\nr = rank s year to date\n")
    assert code == "syntax" and message.startswith("rank compares people within one period")
    assert hint.startswith("rank the total instead")


def test_an_explanation_shows_the_earlier_periods_that_were_summed(tmp_path, capsys):
    policy = write(tmp_path, "ytd.pk", RUNNING)
    data = write(tmp_path, "ytd.csv", RUNNING_DATA)
    code, out, err = run(capsys, "explain", policy, data, "A", "before", "--period", "2025-04")
    assert code == 0, err
    assert "sum sales earlier this year = ¥60.00 (3 periods: 2025-01 ¥10.00, 2025-02 ¥20.00, 2025-03 ¥30.00)" in out


# ---- 3 dates ------------------------------------------------------------------------------------------

DATES = """input
  id: text key
  month: text period
  joined: date
  left_on: date

days = left_on - joined
tenure_months = months_between(joined, left_on)
tenure_years = years_between(joined, left_on)
joined_year = year(joined)
joined_month = month_of_year(joined)
joined_quarter = quarter_of_year(joined)
joined_day = day_of_month(joined)
probation_ends = joined + 90
month_days = days_in(month)
first = period_start(month)
last = period_end(month)
joined_month_end = month_end(joined)
new_this_year = year(joined) = year(first)
"""


def test_differences_months_in_post_parts_and_ends_of_dates(tmp_path):
    graph, _, r = results_of(DATES, "id,month,joined,left_on\nA,2024年2月,2023-01-31,2024-02-29\n", tmp_path)
    value = {name: r.columns[name][0] for name in r.columns}
    assert value["days"] == 394  # 2023-01-31 → 2024-02-29
    assert (value["tenure_months"], value["tenure_years"]) == (12, 1)  # as Excel's DATEDIF: 31 Jan → 29 Feb is 12
    assert (value["joined_year"], value["joined_month"], value["joined_quarter"], value["joined_day"]) == (2023, 1, 1, 31)
    assert value["probation_ends"] == D(2023, 5, 1)
    assert (value["month_days"], value["first"], value["last"]) == (29, D(2024, 2, 1), D(2024, 2, 29))  # a leap year
    assert value["joined_month_end"] == D(2023, 1, 31) and value["new_this_year"] is False


def test_date_arithmetic_other_than_differences_and_moves_is_refused():
    (code, message, hint, _), = check("input\n  id: text key\n  a: date\n  b: date\n\nx = a + b\n")
    assert code == "type" and "dates can be subtracted" in message and "months_between" in hint


def test_proration_by_days_in_post(tmp_path, capsys):
    code, out, err = run(capsys, "test", Path(__file__).parent.parent / "policies" / "prorated_bonus.pk")
    assert code == 0 and "2 passed, 0 failed" in out


# ---- 4 blanks -------------------------------------------------------------------------------------------

BLANKS = """input
  id: text key
  sales: money >= 0
  points: number default 0
  mentor: text optional
  left_on: date optional

total_points = points + 1
mentor_sales = if given(mentor) then sales[mentor] else 0
"""


def test_a_blank_cell_takes_the_default_or_has_no_value(tmp_path):
    graph, population, r = results_of(BLANKS, "id,sales,points,mentor,left_on\nA,100,,,\nB,50,2,A,2025-01-31\n", tmp_path)
    assert population.cell_errors == []
    assert r.columns["total_points"] == [1, 3] and r.columns["mentor"] == [None, "A"]
    assert r.columns["mentor_sales"] == [0, 100] and r.columns["left_on"] == [None, D(2025, 1, 31)]


def test_a_blank_in_a_required_column_stays_an_error_naming_row_and_column(tmp_path):
    graph = compile_policy(BLANKS)
    table = read_csv(graph, write(tmp_path, "d.csv", "id,sales,points,mentor,left_on\nA,,,,\n"))
    assert [(e.row, e.column, e.expected) for e in table.errors] == [(1, "sales", "a value is required")]


def test_a_formula_must_say_what_to_do_when_a_value_may_be_blank():
    found = check(BLANKS + "bonus = sales[mentor]\nleft_early = left_on < 2025-06-30\n")
    assert [(c, line) for c, _, _, line in found] == [("maybe-blank", 10), ("maybe-blank", 11)]
    code, message, hint, _ = found[0]
    assert message == "mentor may be blank (it is optional); say what to do when it is"
    assert hint == 'if given(mentor) then … else …, or give the input a default: mentor: … default ""'
    choose_language("zh")  # as `--lang zh`
    try:
        _, message, hint, _ = check(BLANKS + "bonus = sales[mentor]\n")[0]
    finally:
        choose_language(None)
    assert message == "mentor 可能为空（它是可选的）；请写明为空时怎么办"


def test_an_example_may_leave_an_optional_input_out():
    text = BLANKS + '\nexample "no mentor"\n  sales 10\n  expect total_points 1, mentor_sales 0\n'
    graph = compile_policy(text)
    row = example_rows(graph, graph.policy.examples[0])[0]
    assert (row["mentor"], row["points"]) == (None, 0)  # left out: blank, or the default


def test_a_default_must_be_a_value_of_the_inputs_type():
    assert codes("input\n  id: text key\n  a: money default \"x\"\n\nb = a + 1\n") == ["default-value"]
    assert codes("input\n  id: text key default \"x\"\n  a: money\n\nb = a + 1\n") == ["default-value"]


# ---- 5 only what applies is computed -----------------------------------------------------------------

def test_a_division_in_a_branch_not_taken_is_not_an_error(tmp_path):
    text = """input
  id: text key
  target: money >= 0
  sales: money >= 0

achievement = sales / target
bonus = if target > 0 then round(achievement * ¥1000, 0.01) else 0
"""
    data = "id,target,sales\nM,0,0\nS,100,50\n"
    for engine in ("exact", "fast"):
        graph, _, r = results_of(text, data, tmp_path, backend=engine)
        assert r.errors == [] and r.failed_rows() == set()
        assert r.columns["bonus"] == [0, 500]
        assert r.columns["achievement"] == [None, F(1, 2)]  # nothing needed it for M: blank, not an error
    # where an output needs it, it is still an error of that row
    graph, _, r = results_of(text + "ratio = achievement * 100\n", data, tmp_path)
    assert [(e.key, e.node, e.message) for e in r.errors] == [("M", "achievement", "division by zero: target is 0")]


MANAGERS = """input
  id: text key
  is_manager: yesno
  sales: money >= 0

input reports by manager
  manager: text
  score: number 0 to 100

reports_avg = avg score from reports
coaching = if is_manager then round(reports_avg * ¥10, 0.01) else 0
"""


def test_a_managers_average_over_reports_does_not_fail_for_staff(tmp_path):
    graph = compile_policy(MANAGERS)
    rows = [dict(id="M1", is_manager=True, sales=F(0)), dict(id="S1", is_manager=False, sales=F(0)),
            dict(id="M2", is_manager=True, sales=F(0))]
    reports = [dict(manager="M1", score=F(80)), dict(manager="M1", score=F(90))]
    r = evaluate(graph, Population(graph, rows, related={"reports": reports}))
    assert r.columns["coaching"][:2] == [850, 0]  # S1 manages no one and needs no average
    # M2 is a manager without reports: the average is needed, and its error says why
    assert [(e.key, e.node) for e in r.errors] == [("M2", "reports_avg")]
    assert "avg of no rows" in r.errors[0].message


def test_an_only_if_definition_is_blank_where_it_does_not_apply(tmp_path):
    text = """input
  id: text key
  team: text
  is_manager: yesno
  score: number 0 to 100

team_avg = avg score where not is_manager within team only if is_manager
"""
    graph, _, r = results_of(text, "id,team,is_manager,score\nM,T1,yes,0\nA,T1,no,80\nB,T2,no,70\n", tmp_path)
    assert r.errors == [] and r.columns["team_avg"] == [80, None, None]


def test_a_table_of_scorecards_computes_only_the_employees_own(tmp_path):
    text = """input
  id: text key
  level: 新人 | 骨干
  visits_score: number 0 to 100
  sales: money >= 0
  margin: money

sales_score = min(sales / ¥500000, 1) * 100
margin_score = min(margin / sales / 30%, 1) * 100
score by level
  新人  weighted(visits_score 60%, sales_score 40%)
  骨干  weighted(sales_score 60%, margin_score 40%)
"""
    data = "id,level,visits_score,sales,margin\nN,新人,80,0,0\nC,骨干,50,500000,150000\n"
    for engine in ("exact", "fast"):
        graph, _, r = results_of(text, data, tmp_path, backend=engine)
        assert r.errors == [] and r.columns["score"] == [48, 100]  # 80 × 60%; 100 × 60% + 100 × 40%
    assert codes(text.replace("40%)", "30%)", 1)) == ["weights-sum"]


# ---- 6 named constants, lookups with units, parameters -----------------------------------------------

CONSTANTS = """input
  id: text key
  sales: money >= 0
  score: number 0 to 100
  a: number 0 to 100
  b: number 0 to 100

threshold = 50万
elite_share = 10%
w_a = 60%
cut = 90
step = 0.01
commission = tiered marginal on sales: up to threshold 1%, up to 100万 2%, above 3%
elite = score in top elite_share
s = weighted
  a  w_a
  b  40%
coef
  IF score >= cut THEN coef 1.2
  OTHERWISE coef 1
paid = round(sales * 1.5%, step)
quick_deduction by rate: 3% ¥0, 10% ¥2520, 20% ¥16920
rate = if sales <= 36000 then 3% else if sales <= 144000 then 10% else 20%
"""


def test_named_constants_stand_where_a_fixed_number_must(tmp_path):
    data = "id,sales,score,a,b\n" + "".join(f"E{k},{k * 100000},{50 + k},50,100\n" for k in range(10))
    for engine in ("exact", "fast"):
        graph, _, r = results_of(CONSTANTS, data, tmp_path, backend=engine)
        assert r.errors == []
        assert r.columns["commission"][7] == 5000 + 4000  # 70万: 50万 at 1%, 20万 at 2%
        assert r.columns["elite"] == [False] * 9 + [True] and r.columns["s"][0] == 70
        assert r.columns["quick_deduction"][1] == 2520  # 10万 → 10%


def test_a_percentage_lookup_key_written_without_percent_is_an_error():
    (code, message, hint, _), = check(CONSTANTS.replace("3% ¥0", "3 ¥0"))
    assert code == "lookup-key-type" and message == "quick_deduction looks up by a percentage; 3 without % is 300%"


def test_lookup_file_values_carry_the_declared_unit(tmp_path):
    write(tmp_path, "rates.csv", "rate,deduction\n3%,0\n10%,2520\n")
    text = """input
  id: text key
  taxable: money >= 0

rate = if taxable <= 36000 then 3% else 10%
deduction by rate from "rates.csv" column "deduction" as money
tax = taxable * rate - deduction
"""
    graph = compile_policy(text, str(tmp_path / "p.pk"))
    assert graph.nodes["deduction"].type.kind == "money"
    without = compile_policy(text.replace(" as money", "").replace("- deduction", "- deduction * ¥1"), str(tmp_path / "p.pk"))
    assert without.nodes["deduction"].type.kind == "const"
    graph, diagnostics = check_source(SourceFile(str(tmp_path / "p.pk"), text.replace("as money", "as mony")))
    assert [d.code for d in diagnostics] == ["unknown-type"] and diagnostics[0].hint == "did you mean 'money'?"


PARAMS = """policy "利润分享" version "1"

input
  id: text key
  contribution: number >= 0

parameter
  profit: money > 0
  share: percent 0% to 20% default 5%

pool = round(profit * share, 0.01)
payout = split pool by contribution
"""


def test_parameters_from_the_command_line_or_a_file_are_recorded(tmp_path, capsys):
    policy = write(tmp_path, "p.pk", PARAMS)
    data = write(tmp_path, "d.csv", "id,contribution\nA,3\nB,1\n")
    out_csv = tmp_path / "out.csv"
    code, out, err = run(capsys, "run", policy, data, "--param", "profit=1200万", "--out", out_csv, "--show")
    assert code == 0, err
    assert "parameters: profit = 12,000,000.00, share = 5%" in out
    # for people (a byte order mark for Excel, the share as a percentage); --plain: exact, as programs read it
    assert out_csv.read_text(encoding="utf-8-sig").splitlines() == [
        "id,profit,share,pool,payout", "A,12000000.00,5%,600000.00,450000.00", "B,12000000.00,5%,600000.00,150000.00"]
    assert run(capsys, "run", policy, data, "--param", "profit=1200万", "--out", out_csv, "--plain")[0] == 0
    assert out_csv.read_text(encoding="utf-8").splitlines() == [
        "id,profit,share,pool,payout", "A,12000000.00,0.05,600000.00,450000.00", "B,12000000.00,0.05,600000.00,150000.00"]
    params = write(tmp_path, "params.txt", "# this quarter\nprofit = 200万\nshare=10%\n")
    code, out, err = run(capsys, "run", policy, data, "--params", params, "--param", "share=20%")
    assert code == 0 and "parameters: profit = 2,000,000.00, share = 20%" in out  # the option wins over the file


@pytest.mark.parametrize("args, message", [
    ([], "this policy needs the parameter profit: give it with --param profit=… (or in a --params file)"),
    (["--param", "profit=0"], "parameter profit: '0' — expected > 0.00"),
    (["--param", "profit=1万", "--param", "share=30%"], "parameter share: '30%' — expected between 0% and 20%"),
    (["--param", "proft=1万"], "the policy has no parameter proft (its parameters: profit, share)"),
    (["--param", "profit"], "--param profit: write --param NAME=VALUE"),
])
def test_a_missing_or_wrong_parameter_stops_the_run_with_a_message(tmp_path, capsys, args, message):
    policy = write(tmp_path, "p.pk", PARAMS)
    data = write(tmp_path, "d.csv", "id,contribution\nA,3\n")
    code, out, err = run(capsys, "run", policy, data, *args)
    assert code != 0 and message in err and "Traceback" not in err


def test_an_example_gives_parameters_on_any_line(capsys, tmp_path):
    policy = write(tmp_path, "p.pk", PARAMS + '\nexample "two"\n  employee id A, contribution 3, profit 100万\n'
                   '  employee id B, contribution 1\n  expect for A payout 37500\n  expect for B payout 12500\n')
    code, out, err = run(capsys, "test", policy)
    assert code == 0, out + err
    assert codes(PARAMS + '\nexample "none"\n  contribution 3\n  expect payout 1\n') == ["example-missing"]


# ---- 7 warnings with counts --------------------------------------------------------------------------

def test_ties_that_widen_a_top_group_are_counted(tmp_path):
    text = "方案 \"精英\" 版本 \"1\"\n\n输入\n  工号：文本 主键\n  得分：数值 0 至 100\n\n精英 = 如果 得分 在 前 10% 则 2000元 否则 0\n"
    data = "工号,得分\n" + "".join(f"E{k:02d},{95 if k < 5 else 80 - k}\n" for k in range(13))
    graph, _, r = results_of(text, data, tmp_path)
    warning, = run_warnings(r)
    assert (warning.code, warning.count) == ("ties", 3)
    with speaking("zh"):
        warning, = run_warnings(r)
    assert warning.message == "得分 在 前 10%：13 人中 5 人入选 前 10%（名额 2 个），因并列（95）多 3 人"


def test_self_pairings_are_named_and_one_way_matchups_are_warned_at_check(tmp_path, capsys):
    text = """input
  id: text key
  team: text
  partner: text
  score: number

partner_score = score[partner]
team_avg = avg score within team
opponent (matchup) by team: "一组" "二组", "二组" "三组", "三组" "三组"
won = team_avg > team_avg[team = opponent]
"""
    found = check(text)
    assert [c for c, *_ in found] == ["matchup", "matchup"]
    assert "2 of 3 pairings are one-way: 一组 → 二组, but 二组 → 三组" in found[0][1]
    assert "1 meet themselves: 三组" in found[1][1]
    policy = write(tmp_path, "pk.pk", text)
    data = write(tmp_path, "d.csv", "id,team,partner,score\nA,一组,B,1\nB,二组,B,2\nC,三组,A,3\n")
    code, out, err = run(capsys, "run", policy, data)
    assert code == 0
    assert "partner_score: score[partner]: 1 employee(s) paired with themselves (B) [self-pairing]" in err
    assert "won: team_avg[team = opponent]: 1 team(s) matched against themselves (三组) [self-pairing]" in err


# ---- 8 word-order traps name their fix ---------------------------------------------------------------

TRAP_HEAD = """输入
  工号：文本 主键
  销售额：金额 ≥ 0
  得分：数值 0 至 100

输入 评分表 按 员工
  员工：文本
  评分：数值 0 至 100
  角色：上级 | 同事

"""


@pytest.mark.parametrize("line, message, hint", [
    ("人数1 = 人数 其中 角色 = 上级 来自 评分表", "'来自' (the table) goes before '其中' (the condition)",
     "write 人数 来自 评分表 其中 角色 = 上级"),
    ("a = 如果(得分 >= 90, 1, 0)", "IF is not a function with commas, as in a spreadsheet: write IF … THEN … ELSE …",
     "write 如果 得分 >= 90 则 1 否则 0"),
    ("b = 如果 得分 介于 80 和 89 则 1 否则 0", "between … and …: the word between the two values is '且'",
     "write 得分 介于 80 且 89"),
    ("提成 = 销售额 × 2% 如果 销售额 > 50万", "put the condition first: name = IF condition THEN value ELSE value",
     "write 提成 = 如果 销售额 > 50万 则 销售额 × 2% 否则 0"),
    ("c = if(得分 >= 90, 1, 0)", "IF is not a function with commas, as in a spreadsheet: write IF … THEN … ELSE …",
     "write if score >= 90 then 1 else 0"),
    ("d = 得分 between 80 & 89", "between … and …: the word between the two values is 'and'",
     "write score between 80 and 89"),
])
def test_word_order_traps_name_the_fix(line, message, hint):
    choose_language("en")  # as `--lang en`: the policy is Chinese
    try:
        (code, got, got_hint, _), = check(TRAP_HEAD + line + "\n")
    finally:
        choose_language(None)
    assert (code, got, got_hint) == ("syntax", message, hint)


def test_the_trap_messages_are_in_chinese_for_a_chinese_policy():
    (_, message, hint, _), = check(TRAP_HEAD + "b = 如果 得分 介于 80 和 89 则 1 否则 0\n")
    assert (message, hint) == ("介于 … 且 …：两个值之间用“且”", "请写成 得分 介于 80 且 89")


# ---- the new words do not break policies written before them -------------------------------------------

OLD_NAMES_EN = """input
  id: text key
  month: text period
  sales: money >= 0
  default: money >= 0 default 0
  optional: number optional

since = sum sales year to date
earlier = sum sales earlier this year
as = since - earlier
only = as + default
x = if given(optional) then optional else 0
y = sales only if sales > 0
"""

OLD_NAMES_ZH = """输入
  工号：文本 主键
  月份：文本 期间
  销售额：金额 ≥ 0
  默认：金额 ≥ 0 默认 0

本年累计 = 合计 销售额 本年累计
此前 = 合计 销售额 本年此前
始于 = 本年累计 - 此前 + 默认
仅当 = 销售额 仅当 销售额 > 0
"""


OPERANDS_EN = """input
  id: text key
  team: text
  month: text period
  sales: money >= 0
  since: number

earlier = sales * 2
a = sum sales where since > 0 within team
b = sum (earlier) where earlier > 0 year to date
c = sum sales since 2024-02-01
d = max(0, sum sales earlier this year)
"""


@pytest.mark.parametrize("text, data, expected", [
    (OPERANDS_EN, "id,team,month,sales,since\nA,T,2024-1,1,1\nA,T,2024-2,2,0\nA,T,2024-3,4,1\n",
     {"a": [F(1), F(0), F(4)], "b": [F(2), F(6), F(14)], "c": [F(0), F(2), F(6)], "d": [F(0), F(1), F(3)]}),
    (OLD_NAMES_EN, "id,month,sales,default,optional\nA,2024-1,1,,\nA,2024-2,2,5,3\n",
     {"since": [F(1), F(3)], "earlier": [F(0), F(1)], "as": [F(1), F(2)], "only": [F(1), F(7)], "x": [F(0), F(3)]}),
    (OLD_NAMES_ZH, "工号,月份,销售额,默认\nA,2024-1,1,\nA,2024-2,2,5\n",
     {"本年累计": [F(1), F(3)], "此前": [F(0), F(1)], "始于": [F(1), F(7)], "仅当": [F(1), F(2)]}),
])
def test_the_new_keywords_are_names_where_they_cannot_be_keywords(tmp_path, text, data, expected):
    # since, earlier, as, default, optional, 本年累计, 此前, 始于, 默认, 仅当 … were names before issue 10:
    # they are keywords only where one can stand (after sum/count/max…, after an input's colon, after
    # `from` in a lookup, after a definition's `=`), so a definition called `since` reads as it did.
    graph, _, results = results_of(text, data, tmp_path)
    assert not results.errors
    for name, values in expected.items():
        assert results.columns[name] == values, name


@pytest.mark.parametrize("text", [OPERANDS_EN, OLD_NAMES_EN, OLD_NAMES_ZH])
def test_fmt_keeps_the_old_names_names(text):
    # fmt writes `sum (earlier)` with its brackets: bare, the word after sum would read as the scope
    from pkrules.language.fmt import format_text

    formatted = format_text(text)
    assert "sum (earlier)" in formatted or "sum (earlier)" not in text
    assert format_text(formatted) == formatted
    assert compile_policy(formatted).order == compile_policy(text).order
