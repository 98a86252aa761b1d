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
