"""The Chinese reference policy computes exactly what the English one computes.

policies/sales_incentive.zh.pk is policies/sales_incentive.pk written with
Chinese keywords, names, types and comments. Its inputs and definitions
correspond one-to-one, in order, to the English file's, so every result
column can be compared with its English twin. All values are exact
fractions.Fraction: comparisons are ==, never with a tolerance.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkrules.io.tables import read_csv
from pkrules.language.compile import compile_file
from pkrules.engine.exact import evaluate
from pkrules.engine.examples import run_examples

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
EN_POLICY = POLICIES / "sales_incentive.pk"
ZH_POLICY = POLICIES / "sales_incentive.zh.pk"
EN_DATA = POLICIES / "sample" / "employees.csv"
ZH_DATA = POLICIES / "sample" / "employees.zh.csv"

# English name → Chinese name, in policy order. The test derives the mapping
# from the two graphs by position and checks it against these tables, so a
# reordered or renamed definition in either file is caught here first.
INPUTS = {
    "id": "工号",
    "name": "姓名",
    "team": "小组",
    "level": "职级",
    "sales": "销售额",
    "sales_target": "销售目标",
    "collection_rate": "回款率",
    "visits": "客户拜访量",
    "on_time_rate": "方案提交及时率",
    "strategic_customers": "战略客户签约数",
    "first_order": "首单",
}
DEFINITIONS = {
    "sales_score": "销售得分",
    "collection_score": "回款得分",
    "visits_score": "拜访得分",
    "on_time_score": "及时率得分",
    "score": "综合得分",
    "coef": "绩效系数",
    "base": "奖金基数",
    "achievement": "达成率",
    "bonus": "绩效奖金",
    "special": "特别奖励",
    "over_target_award": "超额奖励",
    "first_order_award": "首单奖励",
    "commission": "提成",
    "sales_commission": "累进提成",
    "elite": "精英奖",
    "team_rank": "组内排名",
    "team_pool": "团队奖金池",
    "team_fund": "团队基金",
    "total": "应发合计",
}


@pytest.fixture(scope="module")
def en():
    return compile_file(EN_POLICY)


@pytest.fixture(scope="module")
def zh():
    return compile_file(ZH_POLICY)


# Module-level copies for the hypothesis test (hypothesis and function-scoped
# fixtures do not mix; compiling is cheap but needs doing only once).
EN = compile_file(EN_POLICY)
ZH = compile_file(ZH_POLICY)


def input_pairs(en_graph, zh_graph) -> list[tuple[str, str]]:
    return list(zip([n.name for n in en_graph.inputs], [n.name for n in zh_graph.inputs], strict=True))


def definition_pairs(en_graph, zh_graph) -> list[tuple[str, str]]:
    return list(zip([n.name for n in en_graph.definitions], [n.name for n in zh_graph.definitions], strict=True))


def to_chinese_row(row: dict[str, object]) -> dict[str, object]:
    """An English input row with the Chinese policy's input names (values unchanged)."""
    return {INPUTS[name]: value for name, value in row.items()}


def assert_same_results(en_results, zh_results) -> None:
    """Every input and definition column equal, value by value, exactly."""
    assert len(en_results.errors) == len(zh_results.errors)
    for e, z in zip(en_results.errors, zh_results.errors):
        assert (e.row, e.key, DEFINITIONS.get(e.node, INPUTS.get(e.node))) == (z.row, z.key, z.node)
    for en_name, zh_name in input_pairs(en_results.graph, zh_results.graph) + definition_pairs(en_results.graph, zh_results.graph):
        en_column, zh_column = en_results.columns[en_name], zh_results.columns[zh_name]
        assert len(en_column) == len(zh_column)
        for row, (a, b) in enumerate(zip(en_column, zh_column)):
            assert type(a) is type(b), f"{en_name}/{zh_name}, row {row + 1}: {a!r} vs {b!r}"
            assert a == b, f"{en_name}/{zh_name}, row {row + 1}: {a!r} vs {b!r}"


# ---- the two files ----------------------------------------------------------------


def test_both_policies_compile_without_warnings(en, zh):
    assert en.diagnostics == []
    assert zh.diagnostics == []


def test_inputs_and_definitions_correspond_one_to_one(en, zh):
    assert input_pairs(en, zh) == list(INPUTS.items())
    assert definition_pairs(en, zh) == list(DEFINITIONS.items())
    assert (en.key, zh.key) == ("id", "工号")
    for en_name, zh_name in input_pairs(en, zh) + definition_pairs(en, zh):
        en_type, zh_type = en.nodes[en_name].type, zh.nodes[zh_name].type
        assert (en_type.kind, en_type.values) == (zh_type.kind, zh_type.values), (en_name, zh_name)
        assert en.nodes[en_name].kind == zh.nodes[zh_name].kind, (en_name, zh_name)
    # the same dependencies, name for name
    names = {**INPUTS, **DEFINITIONS}
    for en_name, zh_name in definition_pairs(en, zh):
        assert [names[d] for d in en.nodes[en_name].deps] == list(zh.nodes[zh_name].deps), en_name


def test_examples_pass_in_both_files(en, zh):
    en_outcomes, zh_outcomes = run_examples(en), run_examples(zh)
    assert len(en_outcomes) == len(zh_outcomes) == 6
    for outcome in en_outcomes + zh_outcomes:
        assert outcome.passed, (outcome.title, outcome.mismatches, outcome.errors)
        assert outcome.checked == 5


def test_examples_give_the_same_inputs_and_expectations(en, zh):
    """The golden examples are the same four cases in both files, value for value."""
    from pkrules.language.builtins import example_word

    names = {**INPUTS, **DEFINITIONS}
    for en_example, zh_example in zip(en.policy.examples, zh.policy.examples, strict=True):
        en_given = [(names[f.name], example_word(f.value)) for f in en_example.employees[0]]
        zh_given = [(f.name, example_word(f.value)) for f in zh_example.employees[0]]
        yes_no = {"no": "否", "yes": "是"}
        en_given = [(n, yes_no.get(v, v) if n == "首单" else v) for n, v in en_given]
        assert en_given == zh_given
        en_expect = [(names[x.field.name], example_word(x.field.value)) for x in en_example.expectations]
        zh_expect = [(x.field.name, example_word(x.field.value)) for x in zh_example.expectations]
        assert en_expect == zh_expect


# ---- the sample population ----------------------------------------------------------


def test_sample_data_gives_identical_results(en, zh):
    en_population = read_csv(en, EN_DATA)
    zh_population = read_csv(zh, ZH_DATA)
    assert en_population.errors == [] and zh_population.errors == []
    assert len(en_population.rows) == len(zh_population.rows) == 40
    # the two files hold the same data
    assert [to_chinese_row(r) for r in en_population.rows] == zh_population.rows

    en_results = evaluate(en, en_population.rows, en_population.row_numbers)
    zh_results = evaluate(zh, zh_population.rows, zh_population.row_numbers)
    assert en_results.errors == [] and zh_results.errors == []
    assert_same_results(en_results, zh_results)


def test_sample_totals_are_exact(en, zh):
    """A spot check that the comparison is not vacuous: money to the cent, pools split exactly."""
    zh_population = read_csv(zh, ZH_DATA)
    results = evaluate(zh, zh_population.rows)
    for value in results.columns["应发合计"]:
        assert isinstance(value, Fraction) and (value * 100).denominator == 1
    by_team: dict[str, list[int]] = {}
    for i, team in enumerate(results.columns["小组"]):
        by_team.setdefault(team, []).append(i)
    for rows in by_team.values():
        pool = results.columns["团队奖金池"][rows[0]]
        assert sum((results.columns["团队基金"][i] for i in rows), Fraction(0)) == pool


# ---- generated populations -------------------------------------------------------------

TEAMS = ["华东一组", "华东二组", "华南组", "西北组"]
LEVELS = ["新人", "骨干", "经理"]

# Targets in whole yuan, from small to above the 100万 band; a few fixed ones so
# that targets (and hence scores) repeat.
targets = st.one_of(
    st.sampled_from([Fraction(300_000), Fraction(500_000), Fraction(1_000_000)]),
    st.integers(1, 2_000_000).map(Fraction),
)
percents = st.one_of(
    st.sampled_from([Fraction(0), Fraction(72, 100), Fraction(88, 100), Fraction(90, 100), Fraction(95, 100), Fraction(1)]),
    st.integers(0, 1000).map(lambda n: Fraction(n, 1000)),
)
wholes = lambda top: st.integers(0, top).map(Fraction)  # noqa: E731


@st.composite
def sales_for(draw, target: Fraction) -> Fraction:
    """Sales around the target: zero, exactly 110%, tier limits, or anything with cents."""
    return draw(st.one_of(
        st.just(Fraction(0)),
        st.just(target * Fraction(11, 10)),           # exactly 110%: no over-target award (strictly more)
        st.just(target),
        st.just(target * Fraction(3, 2)),             # the 150% cap
        st.sampled_from([Fraction(500_000), Fraction(1_000_000)]),  # tier limits
        st.integers(0, 300_000_000).map(lambda c: Fraction(c, 100)),
        st.integers(0, 200).map(lambda p: target * Fraction(p, 100)),
    ))


@st.composite
def employee(draw) -> dict[str, object]:
    target = draw(targets)
    return {
        "id": "",  # filled in by population()
        "name": draw(st.sampled_from(["小张", "小李", "王芳", "赵强", ""])),
        "team": draw(st.sampled_from(TEAMS)),
        "level": draw(st.sampled_from(LEVELS)),
        "sales": draw(sales_for(target)),
        "sales_target": target,
        "collection_rate": draw(percents),
        "visits": draw(wholes(45)),
        "on_time_rate": draw(percents),
        "strategic_customers": draw(wholes(3)),
        "first_order": draw(st.booleans()),
    }


@st.composite
def population(draw) -> list[dict[str, object]]:
    people = draw(st.lists(employee(), min_size=1, max_size=25))
    # Ties: some employees copy another's scorecard (same score, maybe another team).
    for i in range(1, len(people)):
        if draw(st.integers(0, 4)) == 0:
            source = people[draw(st.integers(0, i - 1))]
            copied = {k: source[k] for k in ("sales", "sales_target", "collection_rate", "visits", "on_time_rate")}
            people[i] = {**people[i], **copied}
    # A whole team with zero sales now and then (its pool is 0, its split has no weight).
    if draw(st.booleans()):
        quiet = draw(st.sampled_from(TEAMS))
        people = [{**p, "sales": Fraction(0)} if p["team"] == quiet else p for p in people]
    # Unique keys, in an order that is not the row order (the split breaks ties by key).
    numbers = draw(st.permutations(range(len(people))))
    return [{**p, "id": f"E{n:03d}"} for p, n in zip(people, numbers)]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(population())
def test_generated_populations_give_identical_results(rows):
    en_results = evaluate(EN, rows)
    zh_results = evaluate(ZH, [to_chinese_row(r) for r in rows])
    assert en_results.errors == []
    assert_same_results(en_results, zh_results)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(TEAMS), min_size=1, max_size=12), targets)
def test_generated_ties_and_exactly_110_percent(teams, target):
    """Everyone identical but the team: all tie on score (all elite), rank 1 in their team,
    and sales of exactly 110% of target earn no over-target award in either language."""
    rows = [{
        "id": f"T{i:02d}", "name": "", "team": team, "level": "骨干",
        "sales": target * Fraction(11, 10), "sales_target": target,
        "collection_rate": Fraction(88, 100), "visits": Fraction(28), "on_time_rate": Fraction(1),
        "strategic_customers": Fraction(0), "first_order": False,
    } for i, team in enumerate(teams)]
    en_results = evaluate(EN, rows)
    zh_results = evaluate(ZH, [to_chinese_row(r) for r in rows])
    assert en_results.errors == []
    assert_same_results(en_results, zh_results)
    assert set(zh_results.columns["精英奖"]) == {Fraction(2000)}
    assert set(zh_results.columns["组内排名"]) == {Fraction(1)}
    assert set(zh_results.columns["超额奖励"]) == {Fraction(0)}
