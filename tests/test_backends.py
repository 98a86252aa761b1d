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

from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from columnar_strategies import policies, populations
from pkrules.engine.backend import REGISTRY, backend_named
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
    exact = exact_evaluate(graph, population.rows, population.row_numbers, related=population.related)
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


def _shipped() -> list[tuple[str, str, dict[str, str]]]:
    cases = []
    for policy in sorted(POLICIES.glob("*.pk")):
        stem = policy.name[: -len(".pk")]
        base = stem.removesuffix(".zh")
        candidates = [f"{stem}.csv", f"{base}.zh.csv" if stem.endswith(".zh") else "", f"{base}.csv"]
        if base == "sales_incentive":
            candidates = ["employees.zh.csv" if stem.endswith(".zh") else "employees.csv"]
        data = next(SAMPLE / c for c in candidates if c and (SAMPLE / c).exists())
        related = {"ratings": str(SAMPLE / "ratings.csv")} if "input ratings by" in policy.read_text(encoding="utf-8") else {}
        cases.append((str(policy), str(data), related))
    return cases


SHIPPED = _shipped()


def test_every_shipped_policy_has_a_sample():
    assert len(SHIPPED) == len(list(POLICIES.glob("*.pk")))


@pytest.mark.parametrize("name", OTHERS)
@pytest.mark.parametrize("policy,data,related", SHIPPED, ids=[Path(p).name for p, _, _ in SHIPPED])
def test_shipped_policies_on_every_backend(name, policy, data, related):
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
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=policies(max_definitions=5), rows=populations(max_size=12))
def test_generated_policies(name, text, rows):
    graph = _compiles(text)
    assume(graph is not None)
    event(compare(name, graph, Population(graph, rows)).split(":")[0])


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
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=period_cases())
def test_generated_policies_over_several_periods(name, case):
    text, rows = case
    graph = compile_policy(text)
    event(compare(name, graph, Population(graph, rows)).split(":")[0])


def event(outcome: str) -> None:
    from hypothesis import event as record

    record(outcome)


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
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=related_cases())
def test_generated_policies_with_a_related_table(name, case):
    text, rows, ratings = case
    graph = compile_policy(text)
    event(compare(name, graph, Population(graph, rows, related={"ratings": ratings})).split(":")[0])


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
