"""Exact integer SQL expressions with known ranges: the arithmetic under the SQL backends.

As on the columnar path (engine/columnar/numeric.py), a number of the policy is
an integer numerator over a denominator (a positive constant times factor
columns, each ≥ 1), and every integer expression carries an interval [lo, hi]
that holds for every row, from the data's own minimum and maximum by interval
arithmetic. So the compiler knows before it emits a statement whether each
value fits a BIGINT, needs the wide type (HUGEINT, DECIMAL(38,0)), or could
exceed 38 digits (Overflow: the backend declines and says which definition).
Nothing is ever rounded: + − × compare and select numerators; division adds a
factor; rounding is an exact integer division (tree.Div), which each dialect
prints its own way.
"""

from __future__ import annotations

from dataclasses import dataclass

import pkrules.engine.sql.tree as T
from pkrules.messages import tr

LIMIT = 10**38 - 1  # DECIMAL(38,0) holds ±(10^38 − 1); HUGEINT more
NARROW = 1 << 62  # a BIGINT with room for one more addition


class Overflow(Exception):
    """The numbers of this computation could exceed 38 digits."""


def wide_for(bound: int) -> bool:
    if bound > LIMIT:
        raise Overflow(tr("a value could reach {bound}, more than 38 digits", bound=f"{bound:.3e}"))
    return bound >= NARROW


@dataclass(frozen=True)
class IntE:
    """An integer expression whose every value lies in [lo, hi]; its width follows from the bound."""

    expr: T.E
    lo: int
    hi: int
    literal: bool = False

    @property
    def bound(self) -> int:
        return max(abs(self.lo), abs(self.hi))

    @property
    def wide(self) -> bool:
        return wide_for(self.bound)

    @property
    def const(self) -> int | None:
        return self.lo if self.literal else None

    def as_(self, wide: bool) -> T.E:
        """The expression in the given width (a literal is printed in it; a column is cast)."""
        if self.literal:
            return T.Int(self.lo, wide)
        if wide == self.wide:
            return self.expr
        return T.Cast(self.expr, "i128" if wide else "i64")


def lit(v: int) -> IntE:
    v = int(v)
    return IntE(T.Int(v, wide_for(abs(v))), v, v, True)


def col(name: str, lo: int, hi: int) -> IntE:
    return IntE(T.Col(name), lo, hi)


def _wide(*bounds: int) -> bool:
    return wide_for(max(bounds))


def add(a: IntE, b: IntE) -> IntE:
    if a.literal and b.literal:
        return lit(a.lo + b.lo)
    if b.const == 0:
        return a
    if a.const == 0:
        return b
    lo, hi = a.lo + b.lo, a.hi + b.hi
    w = _wide(a.bound, b.bound, abs(lo), abs(hi))
    return IntE(T.Bin("+", a.as_(w), b.as_(w)), lo, hi)


def sub(a: IntE, b: IntE) -> IntE:
    if a.literal and b.literal:
        return lit(a.lo - b.lo)
    if b.const == 0:
        return a
    lo, hi = a.lo - b.hi, a.hi - b.lo
    w = _wide(a.bound, b.bound, abs(lo), abs(hi))
    return IntE(T.Bin("-", a.as_(w), b.as_(w)), lo, hi)


def neg(a: IntE) -> IntE:
    if a.literal:
        return lit(-a.lo)
    w = a.wide
    return IntE(T.Bin("-", T.Int(0, w), a.as_(w)), -a.hi, -a.lo)


def mul(a: IntE, b: IntE) -> IntE:
    ca, cb = a.const, b.const
    if a.literal and b.literal:
        return lit(ca * cb)
    if ca == 1:
        return b
    if cb == 1:
        return a
    if ca == 0 or cb == 0:
        return lit(0)
    if ca == -1:
        return neg(b)
    if cb == -1:
        return neg(a)
    products = (a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi)
    lo, hi = min(products), max(products)
    w = _wide(a.bound, b.bound, abs(lo), abs(hi))
    return IntE(T.Bin("*", a.as_(w), b.as_(w)), lo, hi)


def mul_const(a: IntE, k: int) -> IntE:
    return mul(a, lit(k))


def floordiv(a: IntE, b: IntE, quotient_limit: int = LIMIT, known: tuple[int, int] | None = None) -> IntE:
    """floor(a / b) for b ≥ 1 (a of any sign), with the engines' integer division only on a ≥ 0.

    known: a range the caller can prove for the quotient, tighter than the operands' ranges show."""
    assert b.lo >= 1
    if b.const == 1:
        return a
    if a.literal and b.literal:
        return lit(a.lo // b.lo)
    candidates = (a.lo // b.lo, a.lo // b.hi, a.hi // b.lo, a.hi // b.hi)
    lo, hi = min(candidates), max(candidates)
    if known is not None:
        lo, hi = max(lo, known[0]), min(hi, known[1])
    w = _wide(a.bound, b.bound, abs(lo), abs(hi))
    if max(abs(lo), abs(hi)) > quotient_limit:
        raise Overflow(tr("a quotient could reach {bound}, more than this engine divides exactly",
                          bound=f"{max(abs(lo), abs(hi)):.3e}"))
    if a.lo >= 0:
        return IntE(T.Div(a.as_(w), b.as_(w), w), lo, hi)
    # floor(a / b) = −floor((−a + b − 1) / b) for a < 0: the division itself sees only non-negatives
    top = add(neg(a), sub(b, lit(1)))
    w = _wide(a.bound, b.bound, top.bound, abs(lo), abs(hi))
    negative = T.Bin("-", T.Int(0, w), T.Div(top.as_(w), b.as_(w), w))
    positive = T.Div(a.as_(w), b.as_(w), w)
    return IntE(T.Case(((T.Bin("<", a.as_(w), T.Int(0, w)), negative),), positive), lo, hi)


def mod(a: IntE, b: IntE) -> IntE:
    """a mod b in [0, b) for a ≥ 0 and b ≥ 1."""
    assert b.lo >= 1 and a.lo >= 0
    if a.literal and b.literal:
        return lit(a.lo % b.lo)
    w = _wide(a.bound, b.bound)
    return IntE(T.Mod(a.as_(w), b.as_(w), w), 0, b.hi - 1)


def absolute(a: IntE) -> IntE:
    if a.literal:
        return lit(abs(a.lo))
    if a.lo >= 0:
        return a
    if a.hi <= 0:
        return neg(a)
    w = a.wide
    return IntE(T.Fn("abs", (a.as_(w),)), 0, a.bound)


def select(cases: list[tuple[T.E, IntE]], otherwise: IntE) -> IntE:
    """CASE WHEN c1 THEN v1 … ELSE otherwise: the first condition that holds."""
    if not cases:
        return otherwise
    values = [v for _, v in cases] + [otherwise]
    lo, hi = min(v.lo for v in values), max(v.hi for v in values)
    w = _wide(*(v.bound for v in values))
    return IntE(T.Case(tuple((c, v.as_(w)) for c, v in cases), otherwise.as_(w)), lo, hi)


def extreme(func: str, items: list[IntE]) -> IntE:
    if len(items) == 1:
        return items[0]
    w = _wide(*(v.bound for v in items))
    args = tuple(v.as_(w) for v in items)
    if func == "min":
        return IntE(T.Fn("least", args), min(v.lo for v in items), min(v.hi for v in items))
    return IntE(T.Fn("greatest", args), max(v.lo for v in items), max(v.hi for v in items))


def compare(op: str, a: IntE, b: IntE) -> T.E:
    w = _wide(a.bound, b.bound)
    return T.Bin(op, a.as_(w), b.as_(w))


def when_negative(value: IntE, negative: IntE, positive: IntE) -> IntE:
    """negative where value < 0, else positive."""
    return select([(compare("<", value, lit(0)), negative)], positive)
