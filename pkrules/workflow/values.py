"""Exact values as stored text: the same text as `api.value_to_text`, computed faster for whole columns."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from pkrules import api


def fraction_text(value: Fraction) -> str:
    """value_to_text for a Fraction: a decimal when it ends (9216, 0.125), else numerator/denominator."""
    n, d = value.numerator, value.denominator
    if d == 1:
        return str(n)
    twos = fives = 0
    rest = d
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return f"{n}/{d}"
    places = max(twos, fives)
    scaled = n * 10**places // d
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def to_text(value: object) -> str:
    """Any engine value as stored text (identical to api.value_to_text)."""
    cls = value.__class__
    if cls is Fraction:
        return fraction_text(value)
    if cls is str:
        return value
    if value is None:
        return ""
    if cls is bool:
        return "yes" if value else "no"
    if cls is int:
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return api.value_to_text(value)


def sort_key(text: str) -> float | None:
    """A float for ordering the status board by a figure (never used for money: only for sorting)."""
    if not text:
        return None
    try:
        if "/" in text:
            n, d = text.split("/")
            return int(n) / int(d)
        return float(text)
    except ValueError:
        return None


def column_values(texts, type_) -> list:
    """Stored texts back to exact values (api.value_from_text), converting each distinct text once."""
    cache: dict[str, object] = {}
    out = []
    append = out.append
    for text in texts:
        value = cache.get(text, cache)
        if value is cache:
            value = api.value_from_text(text, type_)
            if len(cache) < 200_000:
                cache[text] = value
        append(value)
    return out
