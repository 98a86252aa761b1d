"""Exact values as stored text and back: the one text form every store keeps (kept runs, the workflow, the API)."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction

from pkrules.values.numbers import twos_and_fives
from pkrules.values.types import BOOL, DATE, ENUM, MONEY, NUMERIC, PERCENT, TEXT, WHOLE, Type


def fraction_text(value: Fraction) -> str:
    """A decimal when it ends (9216, 0.125, -0.5), else numerator/denominator in lowest terms (869/9)."""
    n, d = value.numerator, value.denominator
    if d == 1:
        return str(n)
    twos, fives, rest = twos_and_fives(d)
    if rest != 1:
        return f"{n}/{d}"
    places = max(twos, fives)
    scaled = n * 10**places // d
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def value_text(value: object) -> str | None:
    """An exact value as text that value_from_text reads back identically; None stays None (a value that failed).

    Numbers: fraction_text; yes/no: "yes"/"no"; dates: ISO; text as is.
    """
    cls = value.__class__
    if cls is Fraction:
        return fraction_text(value)  # type: ignore[arg-type]
    if cls is str:
        return value  # type: ignore[return-value]
    if value is None:
        return None
    if cls is bool:
        return "yes" if value else "no"
    if cls is int:
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Fraction):
        return fraction_text(value)
    return str(value)


def value_from_text(text: str | None, type_: Type | None) -> object:
    """The inverse of value_text for a value of the given type ("" and None: no value)."""
    if text is None or text == "":
        return None
    kind = type_.kind if type_ is not None else None
    if kind == BOOL:
        return text == "yes"
    if kind == DATE:
        return dt.date.fromisoformat(text)
    if kind in NUMERIC or kind in (MONEY, PERCENT, WHOLE):
        return fraction_from_text(text)
    if kind in (TEXT, ENUM):
        return text
    return text  # a type the language may add later: keep the text


_DECIMAL = re.compile(r"-?\d+(?:\.(\d+))?\Z")


def fraction_from_text(text: str) -> Fraction:
    """Fraction(text), twice as fast for the decimals fraction_text writes (a whole view of 100,000
    employees reads millions): digits and a point make the numerator, the places a power of ten."""
    found = _DECIMAL.match(text)
    if found is None:
        return Fraction(text)  # (a ratio like 869/9, or any other text Fraction reads)
    places = found.group(1)
    if places is None:
        return Fraction(int(text))
    return Fraction(int(text.replace(".", "")), 10 ** len(places))
