"""Number text for people and files (values/numbers.py) against its definitions in plain Fraction arithmetic.

The functions work in integers for speed (statements and workbooks format hundreds of thousands of values);
these properties hold them to what they mean: half-up rounding to a step, the decimal places of a value whose
expansion ends, its exact decimal text.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from pkrules.values.numbers import decimal_places, format_exact, round_half_up, terminates

values = st.builds(Fraction, st.integers(-10**15, 10**15),
                   st.sampled_from([1, 2, 3, 7, 8, 9, 20, 25, 100, 125, 1000, 17100, 17100 * 800_000, 2**40, 3**20, 10**12]))
places = st.integers(0, 12)


@given(values, places)
def test_rounding_to_a_step_is_half_up_away_from_zero(value, k):
    step = Fraction(1, 10**k)
    rounded = round_half_up(value, step)
    assert isinstance(rounded, Fraction) and (rounded / step).denominator == 1
    assert abs(rounded - value) <= step / 2
    if abs(rounded - value) == step / 2:  # a half: away from zero
        assert abs(rounded) > abs(value)
    assert round_half_up(value, step) == -round_half_up(-value, step)


@given(values, st.integers(1, 50))
def test_rounding_to_any_step_agrees_with_the_definition(value, m):
    step = Fraction(m, 7)
    q = value / step
    n = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
    assert round_half_up(value, step) == (n if q >= 0 else -n) * step


@given(values)
def test_decimal_places_are_the_fewest_that_make_the_value_whole(value):
    if not terminates(value):
        return
    k = decimal_places(value)
    assert (value * 10**k).denominator == 1
    assert k == 0 or (value * 10**(k - 1)).denominator != 1


@given(values, st.integers(0, 4))
def test_exact_text_reads_back_as_the_value(value, min_places):
    text = format_exact(value, min_places)
    if terminates(value):
        assert Fraction(text) == value
    else:
        assert Fraction(text) == round_half_up(value, Fraction(1, 10**max(10, min_places)))
    whole, _, frac = text.lstrip("-").partition(".")
    assert len(frac) >= min_places and whole.isdigit()
