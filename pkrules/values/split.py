"""Splitting a pool to the cent by the largest-remainder method (the shares add up to the pool exactly).

Each share is first rounded down to the unit; the units left over go one each
to the largest remainders, ties broken by key ascending. The exact evaluator
calls `largest_remainder`; the columnar backend computes the same in integer
columns of SPLIT_UNIT.
"""

from __future__ import annotations

import math
from fractions import Fraction

from pkrules.messages import tr

SPLIT_UNIT = Fraction(1, 100)  # pools are split to the cent


class NotWholeUnits(ValueError):
    """The pool is not a whole number of units (round it first)."""


def largest_remainder(pool: Fraction, weights: list[Fraction], keys: list, unit: Fraction = SPLIT_UNIT) -> list[Fraction]:
    """Split pool in proportion to weights (which must not add up to 0), to the unit."""
    sign = -1 if pool < 0 else 1
    units = abs(pool) / unit
    if units.denominator != 1:
        raise NotWholeUnits(tr("the pool {pool} is not a whole number of {unit}: round it first, e.g. round(…, 0.01)", pool=pool, unit=unit))
    total = sum(weights, Fraction(0))
    exact = [units * w / total for w in weights]
    floors = [math.floor(x) for x in exact]
    left = int(units) - sum(floors)
    order = sorted(range(len(weights)), key=lambda k: (-(exact[k] - floors[k]), key_order(keys[k])))
    for k in order[:left]:
        floors[k] += 1
    return [sign * n * unit for n in floors]


def key_order(key: object) -> tuple:
    """How keys sort when they break ties: numbers first, by value; then text."""
    return (0, key, "") if isinstance(key, Fraction) else (1, Fraction(0), str(key))
