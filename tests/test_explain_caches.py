"""What explanations keep between employees gives the same answers as working everything out again.

A workbook row or a statement for each of 20,000 employees reuses what does not depend on the
employee: a group's counts of who is above whom, a stored term's values read as one list,
each definition's outline. Each of those is checked here against the plain computation.
"""

from __future__ import annotations

import bisect
from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st

from pkrules.engine.results import Beyond

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
