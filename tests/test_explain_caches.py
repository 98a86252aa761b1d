"""What explanations keep between employees gives the same answers as working everything out again.

A workbook row or a statement for each of 20,000 employees reuses what does not depend on the
employee: a group's counts of who is above whom, a stored term's values read as one list,
each definition's outline. Each of those is checked here against the plain computation.
"""

from __future__ import annotations

import bisect
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from columnar_strategies import policies, populations
from shipped import SHIPPED
from pkrules.engine.backend import evaluate
from pkrules.engine.explain import explain, plainly
from pkrules.engine.population import Population, open_population
from pkrules.engine.render import render_json, render_markdown, render_tree
from pkrules.engine.results import Beyond
from pkrules.language.compile import compile_file, compile_policy
from pkrules.language.diagnostics import PolicyError
from pkrules.messages import speaking

POLICIES = Path(__file__).resolve().parent.parent / "policies"
SAMPLE = POLICIES / "sample"

fractions = st.fractions(min_value=-50, max_value=50, max_denominator=12)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(fractions, max_size=60), asked=st.lists(st.tuples(fractions, st.booleans()), max_size=80))
def test_counting_who_is_beyond_a_value_agrees_with_bisection_before_and_after_the_counts_are_made(values, asked):
    values.sort()
    beyond = Beyond(values)
    # every member asked (as evaluating everyone does), then values that may not be in the group at all
    for v, bottom in [(v, False) for v in values] + [(v, True) for v in values] + asked:
        want = bisect.bisect_left(values, v) if bottom else len(values) - bisect.bisect_right(values, v)
        assert beyond(v, bottom) == want


def test_counts_are_made_only_for_fractions():
    # True == 1 in Python: a group of yes/no answers is bisected as it always was, not counted by (numerator, denominator)
    values = [False, False, True, True, True]
    beyond = Beyond(values)
    for _ in range(40):
        assert beyond(True, False) == 0
        assert beyond(F(1, 2), True) == 2


# ---- numbers as people read them, in integer arithmetic ------------------------------------------

def _format_human_by_fractions(value: F, places: int, group: bool, min_places: int) -> str:
    """format_human as it was written before it worked in integers: round with Fractions, print exactly, trim."""
    from pkrules.values.numbers import format_exact, round_half_up

    text = format_exact(round_half_up(value, F(1, 10**places)), min_places)
    if "." in text and min_places < places:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(min_places, "0")
        text = whole + ("." + frac if frac else "")
    if group:
        sign = "-" if text.startswith("-") else ""
        whole, _, frac = text.lstrip("-").partition(".")
        text = sign + f"{int(whole):,}" + ("." + frac if frac else "")
    return text


@settings(max_examples=500, deadline=None)
@given(value=st.fractions(min_value=-10**9, max_value=10**9, max_denominator=10**4)
       | st.integers(-10**12, 10**12).map(lambda n: F(n, 1000)),
       places=st.integers(0, 8), group=st.booleans(), min_places=st.integers(0, 4))
def test_format_human_in_integers_reads_as_with_fractions(value, places, group, min_places):
    from pkrules.values.numbers import format_human

    assert format_human(value, places, group, min_places) == _format_human_by_fractions(value, places, group, min_places)


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(-10**12, 10**12), places=st.integers(0, 6))
def test_an_amount_in_whole_cents_reads_with_its_cents_and_thousands(cents, places):
    from decimal import Decimal

    from pkrules.values.format import format_people

    amount = Decimal(cents) / 100
    assert format_people(F(cents, 100), "money", places=places) == ("-" if cents < 0 else "") + f"¥{abs(amount):,.2f}"


@settings(max_examples=300, deadline=None)
@given(n=st.integers(-10**9, 10**9))
def test_whole_numbers_and_whole_percentages_read_without_decimals(n):
    from pkrules.values.format import format_people

    sign = "-" if n < 0 else ""
    assert format_people(F(n, 100), "percent") == f"{sign}{abs(n):,}%"
    assert format_people(F(n), "whole") == f"{sign}{abs(n):,}"
    assert format_people(F(n), "number") == (f"{sign}{abs(n):,}" if abs(n) >= 10000 else str(n))


# ---- every explanation, reusing what is worked out once, against the same worked out plainly --------------

def _texts(results, names: list[str], rows, depths=(0, 1, None)) -> list[str]:
    """Every tree of these names and rows (as a workbook row, a brief tree and in full), and each row's statement."""
    graph = results.graph
    out = []
    with speaking(graph.policy.language):
        for i in rows:
            for name in names:
                for depth in depths:
                    out.append(render_tree(explain(results, i, name, depth)))
            out.append(render_json(explain(results, i, graph.main_output())))
            out.append(render_markdown(explain(results, i, graph.main_output(), audience="employee")))
            # (what is kept per language and exactness must not leak from one to the other)
            out.append(render_tree(explain(results, i, graph.main_output(), exact=True, all_bands=True)))
            out.append(render_markdown(explain(results, i, graph.main_output(), exact=True, audience="employee")))
    return out


def _same_both_ways(results, names, rows, depths=(0, 1, None)) -> None:
    reused = _texts(results, names, rows, depths)
    with plainly():
        plain = _texts(results, names, rows, depths)
    assert len(reused) == len(plain)
    for got, want in zip(reused, plain):
        assert got == want


@pytest.mark.parametrize("engine", ["exact", "fast"])
@pytest.mark.parametrize("policy,data,related", SHIPPED, ids=[Path(p).name for p, _, _ in SHIPPED])
def test_every_explanation_of_every_shipped_sample_reads_as_worked_out_plainly(engine, policy, data, related):
    graph = compile_file(policy)
    results = evaluate(graph, open_population(graph, data, related), engine)
    names = [graph.main_output()] + [n.name for n in graph.definitions]
    _same_both_ways(results, names, range(results.size))


def test_what_is_kept_for_one_population_is_not_read_for_another_of_the_same_policy():
    # one compiled policy, two populations, explained in turns: nothing kept for the first shows in the second
    graph = compile_file(POLICIES / "sales_incentive.pk")
    first = evaluate(graph, open_population(graph, SAMPLE / "employees.csv", {}), "fast")
    rows = [dict(r) for r in Population(graph, open_population(graph, SAMPLE / "employees.csv", {}).rows).rows]
    for k, r in enumerate(rows):  # other sales, other teams: other groups, other shares, other cut-offs
        r["sales"] = r["sales"] * (k % 5 + 1) / 3
        r["team"] = ["华东一组", "华东二组"][k % 2]
    second = evaluate(graph, Population(graph, rows), "fast")
    names = [graph.main_output()] + [n.name for n in graph.definitions]
    for i in range(first.size):
        for results in (first, second):
            _same_both_ways(results, names, [i], depths=(1, None))


def _compiles(text: str):
    try:
        return compile_policy(text)
    except PolicyError:
        return None


@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_explanations_of_generated_policies_read_as_worked_out_plainly(engine):
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=policies(max_definitions=5), rows=populations(max_size=12))
    def check(text, rows):
        graph = _compiles(text)
        assume(graph is not None)
        results = evaluate(graph, Population(graph, rows), engine)
        assume(not results.errors)
        _same_both_ways(results, [n.name for n in graph.definitions], range(results.size))

    check()


def test_a_stored_terms_values_read_one_by_one_then_as_one_list_are_the_exact_evaluators():
    # past 64 single reads the fast path reads a stored term's whole column at once: the values must not change
    from pkrules.language import ast
    from pkrules.language.builtins import expressions_of

    graph = compile_file(POLICIES / "sales_incentive.pk")
    population = open_population(graph, SAMPLE / "employees.csv", {})
    fast, exact = evaluate(graph, population, "fast"), evaluate(graph, population, "exact")
    assert fast.backend == "fast"
    terms = [sub for node in graph.definitions for expr in expressions_of(node.decl) for sub in ast.walk(expr)
             if isinstance(sub, (ast.Aggregate, ast.Rank, ast.Top, ast.Split))]
    assert len(terms) >= 4
    for term in terms:
        want = [exact.probe.value(term, i) for i in range(exact.size)]
        for _ in range(3):  # 40 rows: the first pass reads one by one, the later ones from the list
            got = [fast.probe.value(term, i) for i in range(fast.size)]
            assert [(type(v), v) for v in got] == [(type(v), v) for v in want]


@settings(max_examples=300, deadline=None)
@given(value=st.fractions(min_value=-10**6, max_value=10**6, max_denominator=30), first=st.booleans())
def test_a_values_text_is_kept_by_its_kind_and_compactness_in_whatever_order_they_are_asked(value, first):
    # format_value keeps the text of each Fraction by (numerator, denominator, kind, compact): asked in either
    # order, money reads as money, a percentage as a percentage, compact without the fraction
    from pkrules.values.format import format_value
    from pkrules.values.types import MONEY, NUMBER, PERCENT, Type

    order = [(MONEY, False), (PERCENT, False), (NUMBER, True), (NUMBER, False)]
    texts = {}
    for kind, compact in (order if first else order[::-1]):
        texts[kind, compact] = format_value(value, Type(kind), compact)
    assert texts[PERCENT, False].endswith("%") and not texts[MONEY, False].endswith("%")
    whole_cents = (value * 100).denominator == 1
    if whole_cents:
        assert texts[MONEY, False] == ("-" if value < 0 else "") + f"{abs(value.numerator * (100 // value.denominator)) // 100:,}." \
            f"{abs(value.numerator * (100 // value.denominator)) % 100:02d}"
    ends = all(p in (2, 5) for p in _prime_factors(value.denominator))
    assert ("(= " in texts[NUMBER, False]) == (not ends)
    assert "(= " not in texts[NUMBER, True]


def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def test_what_is_kept_in_one_language_is_not_said_in_another():
    # the same results explained in English, then in Chinese (--lang zh), then in English again
    import contextvars

    from pkrules.messages import choose_language

    graph = compile_file(POLICIES / "team_pk.pk")
    results = evaluate(graph, open_population(graph, SAMPLE / "team_pk.csv", {}), "fast")
    names = [graph.main_output()] + [n.name for n in graph.definitions]

    def in_language(lang):
        def run():
            choose_language(lang)
            _same_both_ways(results, names, range(results.size), depths=(0, None))
            return _texts(results, names, [0], depths=(None,))
        return contextvars.copy_context().run(run)

    english, chinese, again = in_language(None), in_language("zh"), in_language(None)
    assert english == again and english != chinese
