"""Exact numbers: reading the literals HR types, rounding half-up, and writing values out."""

from __future__ import annotations

import re
from fractions import Fraction

from pkrules.messages import tr

_SCALES = {"万": 10_000, "亿": 100_000_000}

_NUMBER = re.compile(
    r"""^\s*(?P<sign>[-+－]?)\s*(?P<cur>[¥￥])?\s*
        (?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?
        \s*(?P<scale>万|亿)?\s*(?P<unit>元|%|％)?\s*$""",
    re.VERBOSE,
)


# The most digits a number may have, in a policy or a data file (10^30 yuan is far beyond any pay; a
# cell of 5,000 digits is a mistake, and Python would refuse to read it as a number anyway).
MAX_DIGITS = 30

# The most digits an exact value may grow to while a policy is evaluated, above or below the fraction's
# line (engine/exact.py stops the row with a message naming the definition): no figure of pay is that
# large, while a value multiplied by itself over and over gets there in a few steps and would then run
# for ever, doubling its digits each time.
MAX_VALUE_DIGITS = 400
MAX_VALUE_BITS = int(MAX_VALUE_DIGITS * 3.33) + 1  # digits → bits (log2 10 ≈ 3.32): checked with int.bit_length


class TooManyDigits(ValueError):
    """A number with more than MAX_DIGITS digits."""

    def __init__(self, digits: int):
        super().__init__(tr("a number of {digits} digits; pkrules reads numbers of at most {limit} digits",
                            digits=f"{digits:,}", limit=MAX_DIGITS))
        self.digits = digits


def too_large(value: Fraction) -> bool:
    """Whether an exact value has grown past MAX_VALUE_DIGITS digits (numerator or denominator)."""
    return value.numerator.bit_length() > MAX_VALUE_BITS or value.denominator.bit_length() > MAX_VALUE_BITS


def parse_literal(text: str) -> tuple[Fraction, bool, bool] | None:
    """Read `480,000.00`, `50万`, `1.2亿`, `¥5000`, `5000元`, `88%`.

    Returns (value, is_money, is_percent) or None when the text is not a number;
    TooManyDigits (a ValueError) when it is one of more than MAX_DIGITS digits.
    """
    m = _NUMBER.match(text)
    if not m:
        return None
    digits = m["digits"].replace(",", "")
    count = len(digits) + len(m["frac"] or ".") - 1
    if count > MAX_DIGITS:
        raise TooManyDigits(count)
    value = Fraction(digits + (m["frac"] or ""))
    if m["scale"]:
        value *= _SCALES[m["scale"]]
    unit = m["unit"]
    is_percent = unit in ("%", "％")
    if is_percent:
        value /= 100
    if m["sign"] in ("-", "－"):
        value = -value
    return value, bool(m["cur"] or unit == "元"), is_percent


def round_half_up(value: Fraction, step: Fraction) -> Fraction:
    """Round to a multiple of step, halves away from zero (四舍五入)."""
    if step <= 0:
        raise ValueError(tr("the rounding step must be positive"))
    if type(step) is Fraction and step.numerator == 1:  # a step of 1/10^k (the usual): in integers, no Fraction maths
        num, den = value.numerator * step.denominator, value.denominator
        n = (abs(num) * 2 + den) // (2 * den)
        return Fraction(n if num >= 0 else -n, step.denominator)
    q = value / step
    n = (abs(q.numerator) * 2 + q.denominator) // (2 * q.denominator)
    return (n if q >= 0 else -n) * step


def floor_to(value: Fraction, step: Fraction) -> Fraction:
    return (value // step) * step


def ceil_to(value: Fraction, step: Fraction) -> Fraction:
    return -((-value) // step) * step


def terminates(value: Fraction) -> bool:
    """Whether the decimal expansion ends (the denominator has only 2s and 5s)."""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def twos_and_fives(d: int) -> tuple[int, int, int]:
    """d as 2^a · 5^b · rest: (a, b, rest). A fraction over d ends after max(a, b) decimals when rest is 1."""
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    return twos, fives, d


def decimal_places(value: Fraction) -> int:
    twos, fives, rest = twos_and_fives(value.denominator)
    if rest == 1:  # 2^a·5^b: max(a, b) places
        return max(twos, fives)
    d, places = value.denominator, 0
    while d != 1:
        places += 1
        value *= 10
        d = value.denominator
        if places > 1000:  # cannot happen for terminating values; a guard only
            break
    return places


def format_exact(value: Fraction, min_places: int = 0, max_places: int = 10) -> str:
    """Plain decimal notation: exact when it ends, else max_places places (half-up)."""
    if terminates(value):
        places = max(decimal_places(value), min_places)
    else:
        places = max(max_places, min_places)
        value = round_half_up(value, Fraction(1, 10**places))
    n, rest = divmod(value.numerator * 10**places, value.denominator)
    assert rest == 0
    sign = "-" if n < 0 else ""
    digits = str(abs(n)).rjust(places + 1, "0")
    if places == 0:
        return sign + digits
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def format_human(value: Fraction, places: int = 2, group: bool = True, min_places: int = 0) -> str:
    """For people: at most `places` decimals (trailing zeros trimmed), thousands grouped."""
    # In integers: the value rounded half-up to `places` decimals is n / 10^places (the text of
    # format_exact(round_half_up(value, 10^-places)) with its trailing zeros trimmed to min_places), made
    # without a Fraction (every value of every explanation comes through here).
    num, den = value.numerator, value.denominator
    scale = 10**places
    n = (abs(num) * scale * 2 + den) // (2 * den)
    whole, part = divmod(n, scale)
    frac = str(part).rjust(places, "0").rstrip("0").ljust(min_places, "0") if places else "0" * min_places
    sign = "-" if num < 0 and n else ""
    return sign + (f"{whole:,}" if group else str(whole)) + ("." + frac if frac else "")


def format_fraction(value: Fraction) -> str:
    """Exact text a reader can check: `96.5555555556 (= 869/9)` for values that do not end."""
    if terminates(value):
        return format_exact(value)
    return f"{format_exact(value)} (= {value.numerator}/{value.denominator})"
