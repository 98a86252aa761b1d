"""Tiered amounts: 超额累进 (each part of the base at its band's rate) and 全额累进 (the whole base at one rate).

A band is (upper limit, rate); the last band's limit is None (open above).
Every backend computes tiers by these rules: the exact evaluator calls these
functions, the columnar plan compiles the same band arithmetic into columns.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterator, Sequence

Band = tuple[Fraction | None, Fraction]


def tier_parts(bands: Sequence[Band], x: Fraction) -> Iterator[tuple[Fraction, Fraction | None, Fraction, Fraction]]:
    """(lower, upper, the part of x in the band, rate) for each band: 超额累进."""
    lower = Fraction(0)
    for upper, rate in bands:
        top = x if upper is None else min(x, upper)
        part = max(Fraction(0), top - lower)
        yield lower, upper, part, rate
        if upper is None:
            break
        lower = upper


def marginal_amount(bands: Sequence[Band], x: Fraction) -> Fraction:
    """超额累进: the sum of each part of x times its band's rate."""
    return sum((part * rate for _, _, part, rate in tier_parts(bands, x)), Fraction(0))


def whole_amount_rate(bands: Sequence[Band], x: Fraction) -> Fraction:
    """全额累进: the rate of the band the whole amount falls in (a limit belongs to its band)."""
    for upper, rate in bands:
        if upper is None or x <= upper:
            return rate
    return bands[-1][1]


def whole_amount(bands: Sequence[Band], x: Fraction) -> Fraction:
    """全额累进: the whole amount at the rate of its band."""
    return x * whole_amount_rate(bands, x)
