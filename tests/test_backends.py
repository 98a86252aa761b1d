"""Every backend against the exact evaluator, value by value.

For every backend registered in engine/backend.py (the columnar fast path, and
any other that is added), on every shipped policy with its sample, and on
generated policies — the language's constructs, several periods with
`previous`, `consecutive` and `across periods`, related tables — each value of
each node for each row must equal the exact evaluator's, or the backend must
decline naming why. Where the exact evaluator reports a row error, a backend
must decline (it may not return values for a population the exact evaluator
cannot compute). A backend whose engine is not installed here is skipped, and
says so.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from columnar_strategies import policies, populations
from shipped import SHIPPED  # (re-exported: tests/test_kept.py reads it here)
from pkrules.engine.backend import REGISTRY, backend_named, configure
from pkrules.engine.backend import evaluate as backend_evaluate
from pkrules.engine.exact import evaluate as exact_evaluate
from pkrules.engine.plan import not_on_fast_path
from pkrules.engine.population import Population, open_population
from pkrules.engine.results import Declined
from pkrules.language.compile import compile_file, compile_policy
from pkrules.language.diagnostics import PolicyError

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
SAMPLE = POLICIES / "sample"
OTHERS = [name for name in REGISTRY if name != "exact"]

# Spark starts a JVM and takes seconds per run even on ten rows, so it gets a handful of the shipped
# policies and of the generated examples (CI's whole suite must stay within 15 minutes); DuckDB runs
# the same compiled SQL on all of them. One local session for the module: two cores, loopback, no UI.
configure("spark", master="local[2]")
EXAMPLES = {"spark": 3}
SPARK_POLICIES = {"sales_incentive.pk", "ranking.pk", "team_pk.pk", "pools.pk", "partners.pk", "feedback_360.pk"}


def _examples(name: str, default: int) -> int:
    return EXAMPLES.get(name, default)


def _backend(name: str):
    try:
        return backend_named(name)
    except ImportError as e:  # an optional engine (a SQL backend) not installed here
        pytest.skip(f"backend {name} is not available here: {e}")


def typed(value: object) -> tuple[str, object]:
    """A value with its kind: True == Fraction(1) in Python, not here."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, F)):
        return ("num", F(value))
    return (type(value).__name__, value)


def compare(name: str, graph, population: Population) -> str:
    """Run one backend and the exact evaluator; 'same' or 'declined: …', else an AssertionError naming the value."""
    exact = exact_evaluate(graph, population.rows, population.row_numbers, related=population.related,
                           params=population.params)
    try:
        other = _backend(name).evaluate(graph, population)
    except Declined as declined:
        assert declined.reason.strip(), f"{name} declined without saying why"
        return f"declined: {declined.reason}"
    assert not exact.errors, (f"{name} returned values although the exact evaluator reports row "
                              f"{exact.errors[0].row}: {exact.errors[0].message}")
    assert other.size == exact.size and list(other.row_numbers) == list(exact.row_numbers)
    for node in graph.nodes:
        got, want = list(other.columns[node]), exact.columns[node]
        for row, (g, w) in enumerate(zip(got, want)):
            if typed(g) != typed(w):
                raise AssertionError(f"{name}: {node}, row {row + 1} ({exact.keys[row]}): {g!r} != exact {w!r}")
    return "same"


# ---- every shipped policy on its sample ---------------------------------------------------------




def test_every_shipped_policy_has_a_sample():
    assert len(SHIPPED) == len(list(POLICIES.glob("*.pk")))


@pytest.mark.parametrize("name", OTHERS)
@pytest.mark.parametrize("policy,data,related", SHIPPED, ids=[Path(p).name for p, _, _ in SHIPPED])
def test_shipped_policies_on_every_backend(name, policy, data, related):
    if name == "spark" and Path(policy).name not in SPARK_POLICIES:
        pytest.skip("Spark runs a handful of the shipped policies (DuckDB runs the same SQL on all of them)")
    graph = compile_file(policy)
    population = open_population(graph, data, related)
    assert not population.cell_errors
    outcome = compare(name, graph, population)
    # The fast path does every shipped policy itself except those with related tables, and those with a
    # construct it leaves to the exact evaluator by design (engine/plan.py: not_on_fast_path), which it names.
    if name == "fast" and not graph.related:
        reason = not_on_fast_path(graph)
        assert outcome == ("same" if reason is None else f"declined: {reason}"), outcome


# ---- generated policies -----------------------------------------------------------------------


def _compiles(text: str):
    try:
        return compile_policy(text)
    except PolicyError:
        return None


@pytest.mark.parametrize("name", OTHERS)
def test_generated_policies(name):
    @settings(max_examples=_examples(name, 60), deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=policies(max_definitions=5), rows=populations(max_size=12))
    def check(text, rows):
        graph = _compiles(text)
        assume(graph is not None)
        event(compare(name, graph, Population(graph, rows)).split(":")[0])

    check()


PERIOD_HEAD = """input
  id: text key
  team: text
  month: text period
  sales: money >= 0
  target: money > 0
  score: number
"""

PERIOD_DEFINITIONS = [
    "last_sales = previous(sales, 0)",
    "growth = sales - previous(sales, 0)",
    "last_score = previous(score, score)",
    "below = consecutive(sales < target)",
    "met = consecutive(sales >= target)",
    "team_sales = sum sales within team",
    "month_avg = avg score",
    "year_sales = sum sales within id across periods",
    "rank_in_team = rank score within team",
    "elite = score in top 30%",
    "streak_pay = if consecutive(sales >= target) >= 2 then ¥500 else ¥0",
    "fund = split round(5% * max(0, sum sales within team - sum target within team), 0.01) by sales within team",
    "progress = if previous(score, 0) > 0 and score - previous(score, 0) >= 10 then ¥300 else ¥0",
    "everyone_best = max score across periods",
]


@st.composite
def period_cases(draw):
    chosen = draw(st.lists(st.sampled_from(PERIOD_DEFINITIONS), min_size=1, max_size=6, unique=True))
    text = PERIOD_HEAD + "\n".join(chosen) + "\n"
    months = [f"2024-{m:02d}" for m in range(1, draw(st.integers(1, 4)) + 1)]
    people = [f"E{k}" for k in range(1, draw(st.integers(1, 5)) + 1)]
    rows = []
    for month in months:
        for person in people:
            if draw(st.integers(0, 5)) == 0:
                continue  # absent this month: previous() reaches back past a gap
            rows.append({
                "id": person, "team": draw(st.sampled_from(["T1", "T2"])), "month": month,
                "sales": F(draw(st.integers(0, 200)) * 1000), "target": F(draw(st.integers(1, 150)) * 1000),
                "score": F(draw(st.integers(0, 1000)), draw(st.sampled_from([1, 2, 10]))),
            })
    assume(rows)
    return text, rows


@pytest.mark.parametrize("name", OTHERS)
def test_generated_policies_over_several_periods(name):
    @settings(max_examples=_examples(name, 60), deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=period_cases())
    def check(case):
        text, rows = case
        graph = compile_policy(text)
        event(compare(name, graph, Population(graph, rows)).split(":")[0])

    check()


def event(outcome: str) -> None:
    from hypothesis import event as record

    record(outcome)


# ---- generated policies with the constructs of issue 10 --------------------------------------------
# Periods written as HR writes them (2024年9月, 2024-9, 2024/09 …: one way per file) in shuffled rows, dates subtracted,
# moved and taken apart, running totals, sums over earlier periods, blanks, `only if`, parameters.
# The fast path does some of these itself (FAST below: its results must be the exact evaluator's);
# the others it declines by design (engine/plan.py: not_on_fast_path), and then the backend seam's
# fallback must give the user the exact evaluator's results all the same.

TIME_HEAD = """input
  id: text key
  team: text
  month: text period
  joined: date
  left_on: date
  sales: money >= 0
"""

FAST = [  # (definition, extra input lines, a parameter block)
    "last_sales = previous(sales, 0)",
    "growth = sales - previous(sales, 0)",
    "days_in_post = left_on - joined",
    "per_day = if left_on > joined then round(sales / (left_on - joined), 0.01) else ¥0",
    "joined_code = year(joined) * 100 + month_of_year(joined)",
    "left_quarter = quarter_of_year(left_on) + day_of_month(left_on) / 100",
    "probation_end = joined + {n}",
    "probation_month = month_of_year(joined + {n})",
    "moved_back = month_of_year(left_on - {n})",
    "confirmed = if joined + {n} <= left_on then sales else ¥0",
    "backdated = left_on - {n} > joined",
    "team_days = sum (left_on - joined) within team",
]
DECLINED = [
    "running = previous(running, 0) + sales",
    "ytd = sum sales year to date",
    "ytd_count = count year to date",
    "before = sum sales earlier this year",
    "team_ytd = sum sales year to date within team",
    "from_july = sum sales since 2024-07-01",
    "quarter_ytd = sum sales quarter to date",
    "month_days = days_in(month)",
    "days_to_end = period_end(month) - joined",
    "days_from_start = left_on - period_start(month)",
    "tenure = months_between(joined, left_on)",
    "tenure_years = years_between(joined, left_on)",
    "with_points = points + 1",
    "has_mentor = if given(mentor) then 1 else 0",
    "daily = round(sales / (left_on - joined), 0.01) only if left_on > joined",
    "shared = round(sales * rate, 0.01)",
    "withheld = sum taxed earlier this year\ntaxed = max(¥0, round((sum sales year to date) * 10%, 0.01) - withheld)",
]
MONTH_SPELLINGS = [lambda y, m: f"{y}-{m:02d}", lambda y, m: f"{y}-{m}", lambda y, m: f"{y}年{m}月",
                   lambda y, m: f"{y}/{m:02d}"]


@st.composite
def time_cases(draw):
    pool = FAST if draw(st.booleans()) else FAST + DECLINED  # half of the cases on the fast path's own ground
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=5, unique=True))
    lines = [c.format(n=draw(st.sampled_from([0, 1, 30, 90, 365, 400]))) for c in chosen]
    text = TIME_HEAD
    if any("points" in c for c in chosen):
        text += "  points: number default 0\n"
    if any("mentor" in c for c in chosen):
        text += "  mentor: text optional\n"
    if any("rate" in c for c in chosen):
        text += "\nparameter\n  rate: percent 0% to 50% default 10%\n"
    text += "\n" + "\n".join(lines) + "\n"
    # months across a new year (sums to date restart in January), some missing, in any spelling
    months = draw(st.lists(st.sampled_from([(2024, m) for m in range(7, 13)] + [(2025, m) for m in range(1, 4)]),
                           min_size=1, max_size=5, unique=True))
    people = [f"E{k}" for k in range(1, draw(st.integers(1, 4)) + 1)]
    day = st.dates(dt.date(2023, 1, 1), dt.date(2026, 12, 31))
    header = ["id", "team", "month", "joined", "left_on", "sales", "points", "mentor"]
    spelling = draw(st.sampled_from(MONTH_SPELLINGS))  # one per file (two spellings of a month are refused)
    rows = []
    for person in people:
        joined, left_on = draw(day), draw(day)
        for year, month in months:
            if len(months) > 1 and draw(st.integers(0, 5)) == 0:
                continue
            rows.append([person, draw(st.sampled_from(["T1", "T2"])), spelling(year, month),
                         joined.isoformat(), left_on.isoformat(), str(draw(st.integers(0, 50)) * 1000),
                         draw(st.sampled_from(["", "", "2", "0.5"])), draw(st.sampled_from(["", "", *people]))])
    assume(rows)
    rows = draw(st.permutations(rows))
    data = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    return text, data, all(c in FAST for c in chosen)


@pytest.mark.parametrize("name", OTHERS)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=time_cases())
def test_generated_policies_with_periods_dates_blanks_and_parameters(name, case, tmp_path_factory):
    text, data, only_fast = case
    graph = compile_policy(text)
    path = tmp_path_factory.mktemp("time") / "data.csv"
    path.write_text(data, encoding="utf-8")
    population = open_population(graph, str(path))
    assert not population.cell_errors, population.cell_errors[0]
    exact = exact_evaluate(graph, population.rows, population.row_numbers, params=population.params)
    outcome = compare(name, graph, population)
    event(outcome.split(":")[0])
    if name == "fast":
        reason = not_on_fast_path(graph)
        if only_fast:  # the fast path does these itself, unless a row error makes it step aside
            assert reason is None and (outcome == "same" or exact.errors), outcome
        else:
            assert reason is not None and outcome == f"declined: {reason}", outcome
    # what the user gets through the seam, whoever computes it: the exact evaluator's figures
    through = backend_evaluate(graph, population, name)
    assert through.size == exact.size
    for node in graph.nodes:
        assert [typed(v) for v in through.columns[node]] == [typed(v) for v in exact.columns[node]], node


RELATED_HEAD = """input
  id: text key
  team: text
  base: money >= 0

input ratings by employee
  employee: text
  role: 上级 | 同事 | 客户
  rating: number 0 to 100
"""

RELATED_DEFINITIONS = [
    "raters = count from ratings",
    "bosses = count from ratings where role = 上级",
    "rating_sum = sum rating from ratings",
    "high = count from ratings where rating >= 80",
    "boss_avg = if (count from ratings where role = 上级) > 0 then avg rating from ratings where role = 上级 else 0",
    "best = if (count from ratings) > 0 then max rating from ratings else 0",
    "worst = if (count from ratings) > 0 then min rating from ratings else 0",
    "customer_double = sum (if role = 客户 then rating * 2 else rating) from ratings",
    "award = base * (sum rating from ratings where role != 客户) / 1000",
]


@st.composite
def related_cases(draw):
    chosen = draw(st.lists(st.sampled_from(RELATED_DEFINITIONS), min_size=1, max_size=5, unique=True))
    text = RELATED_HEAD + "\n".join(chosen) + "\n"
    people = [f"E{k}" for k in range(1, draw(st.integers(1, 6)) + 1)]
    rows = [{"id": p, "team": draw(st.sampled_from(["T1", "T2"])), "base": F(draw(st.integers(0, 9000)))} for p in people]
    ratings = [{"employee": draw(st.sampled_from(people)), "role": draw(st.sampled_from(["上级", "同事", "客户"])),
                "rating": F(draw(st.integers(0, 100)))} for _ in range(draw(st.integers(0, 12)))]
    return text, rows, ratings


@pytest.mark.parametrize("name", OTHERS)
def test_generated_policies_with_a_related_table(name):
    @settings(max_examples=_examples(name, 40), deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=related_cases())
    def check(case):
        text, rows, ratings = case
        graph = compile_policy(text)
        event(compare(name, graph, Population(graph, rows, related={"ratings": ratings})).split(":")[0])

    check()


def test_a_backend_that_returns_a_wrong_value_is_caught():
    """The comparison itself: a backend whose one value is off by a cent does not pass."""
    graph = compile_file(POLICIES / "sales_incentive.pk")
    population = open_population(graph, SAMPLE / "employees.csv")
    real = REGISTRY["exact"]

    class OffByACent:
        def evaluate(self, graph, population, progress=None):
            results = real().evaluate(graph, population)
            results.columns["total"] = list(results.columns["total"])
            results.columns["total"][7] += F(1, 100)
            return results

    REGISTRY["off"] = OffByACent
    try:
        with pytest.raises(AssertionError, match=r"total, row 8 \(E008\)"):
            compare("off", graph, population)
    finally:
        del REGISTRY["off"]


@pytest.mark.parametrize("suffix, small, large", [("csv", 31_000, 33_000), ("parquet", 5_000, 7_000),
                                                  ("xlsx", 69_000, 71_000), ("sqlite", 199_000, 201_000)])
def test_auto_runs_a_small_file_exactly_and_a_larger_one_on_the_fast_path(tmp_path, suffix, small, large):
    # (the sizes where each is the quicker, measured: engine/backend.py)
    from pkrules.engine.backend import candidates

    graph = compile_policy("input\n  id: text key\n  x: number\n\ny = x + 1\n")
    for size, want in ((small, ["exact"]), (large, ["fast", "exact"])):
        path = tmp_path / f"data{size}.{suffix}"
        path.write_bytes(b"\0" * size)
        population = Population(graph, load=lambda: None, path=path)
        assert candidates("auto", population) == want, (suffix, size)
    assert candidates("auto", Population(graph, [{"id": "a", "x": 1}] * 1_199)) == ["exact"]
    assert candidates("auto", Population(graph, [{"id": "a", "x": 1}] * 1_200)) == ["fast", "exact"]
