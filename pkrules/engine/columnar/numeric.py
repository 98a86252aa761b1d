"""Exact integer columns with known ranges: the arithmetic under the columnar fast path.

A numeric value of the policy is a column of exact rationals. It is held as an
integer numerator column `n` over a denominator `Den`: a positive constant times
a product of *factor* columns (each ≥ 1), e.g. score = n / (3420 × sales_target).
Every integer column carries an interval [lo, hi] that holds for every row
(computed from the data's own minimum and maximum, then by interval arithmetic),
so each operation knows in advance whether its result fits a 64-bit column, needs
a 128-bit one, or would not fit at all (Overflow: the caller falls back to the
exact evaluator for that definition). Nothing is ever rounded: + − × compare and
select numerators over a common denominator; division adds a factor; rounding is
an exact integer division.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

LIMIT = 1 << 126  # every intermediate stays below this (Int128 holds ±2^127)
I64_LIMIT = 1 << 62


class Overflow(Exception):
    """The numbers of this computation could exceed 128 bits: compute it another way."""


def dtype_for(bound: int):
    if bound >= LIMIT:
        # (bit_length, not a float: a bound beyond 10^308 has no float, and str() of it may be refused)
        raise Overflow(f"a value could reach 2^{bound.bit_length()}")
    return pl.Int64 if bound < I64_LIMIT else pl.Int128


@dataclass(frozen=True)
class IntE:
    """An integer column expression whose every value lies in [lo, hi]; its dtype follows from the bound."""

    expr: pl.Expr
    lo: int
    hi: int
    literal: bool = False  # a constant written in the policy (not a column whose values happen to be equal)

    @property
    def bound(self) -> int:
        return max(abs(self.lo), abs(self.hi))

    @property
    def dtype(self):
        return dtype_for(self.bound)

    def as_(self, dtype) -> pl.Expr:
        return self.expr if dtype == self.dtype else self.expr.cast(dtype)

    @property
    def const(self) -> int | None:
        """The value of a literal (a column never counts as one: it must keep its length)."""
        return self.lo if self.literal else None


def lit(v: int) -> IntE:
    v = int(v)
    return IntE(pl.lit(v, dtype=dtype_for(abs(v))), v, v, True)


def make(expr: pl.Expr, lo: int, hi: int, computed_dtype) -> IntE:
    """Wrap an expression computed in computed_dtype, casting down when its range allows."""
    out = IntE(expr, lo, hi)
    want = out.dtype
    if want != computed_dtype:
        out = IntE(expr.cast(want), lo, hi)
    return out


def _wide(*bounds: int):
    return dtype_for(max(bounds))


def add(a: IntE, b: IntE) -> IntE:
    if a.literal and b.literal:
        return lit(a.lo + b.lo)
    if b.const == 0:
        return a
    if a.const == 0:
        return b
    lo, hi = a.lo + b.lo, a.hi + b.hi
    dt = _wide(a.bound, b.bound, abs(lo), abs(hi))
    return make(a.as_(dt) + b.as_(dt), lo, hi, dt)


def sub(a: IntE, b: IntE) -> IntE:
    if a.literal and b.literal:
        return lit(a.lo - b.lo)
    if b.const == 0:
        return a
    lo, hi = a.lo - b.hi, a.hi - b.lo
    dt = _wide(a.bound, b.bound, abs(lo), abs(hi))
    return make(a.as_(dt) - b.as_(dt), lo, hi, dt)


def neg(a: IntE) -> IntE:
    if a.literal:
        return lit(-a.lo)
    dt = a.dtype
    return IntE(pl.lit(0, dtype=dt) - a.expr, -a.hi, -a.lo)  # (Int128 has no unary minus in polars)


def mul(a: IntE, b: IntE) -> IntE:
    ca, cb = a.const, b.const
    if a.literal and b.literal:
        return lit(ca * cb)
    if ca == 1:
        return b
    if cb == 1:
        return a
    if ca == 0 and not b.literal:
        return make(b.expr * 0, 0, 0, b.dtype)  # zero, still a column
    if cb == 0 and not a.literal:
        return make(a.expr * 0, 0, 0, a.dtype)
    if ca == -1:
        return neg(b)
    if cb == -1:
        return neg(a)
    products = (a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi)
    lo, hi = min(products), max(products)
    dt = _wide(a.bound, b.bound, abs(lo), abs(hi))
    return make(a.as_(dt) * b.as_(dt), lo, hi, dt)


def mul_const(a: IntE, k: int) -> IntE:
    return mul(a, lit(k))


def floordiv(a: IntE, b: IntE) -> IntE:
    """floor(a / b) for b ≥ 1."""
    assert b.lo >= 1
    if b.const == 1:
        return a
    if a.literal and b.literal:
        return lit(a.lo // b.lo)
    candidates = (a.lo // b.lo, a.lo // b.hi, a.hi // b.lo, a.hi // b.hi)
    lo, hi = min(candidates), max(candidates)
    dt = _wide(a.bound, b.bound, abs(lo), abs(hi))
    return make(a.as_(dt) // b.as_(dt), lo, hi, dt)


def mod(a: IntE, b: IntE) -> IntE:
    """a mod b in [0, b) for b ≥ 1 (floor semantics)."""
    assert b.lo >= 1
    if a.literal and b.literal:
        return lit(a.lo % b.lo)
    dt = _wide(a.bound, b.bound)
    return make(a.as_(dt) % b.as_(dt), 0, b.hi - 1, dt)


def absolute(a: IntE) -> IntE:
    if a.literal:
        return lit(abs(a.lo))
    if a.lo >= 0:
        return a
    if a.hi <= 0:
        return neg(a)
    return IntE(a.expr.abs(), 0, a.bound)


def select(cases: list[tuple[pl.Expr, IntE]], otherwise: IntE) -> IntE:
    """when(c1) then v1 … otherwise: the first condition that holds."""
    if not cases:
        return otherwise
    values = [v for _, v in cases] + [otherwise]
    lo, hi = min(v.lo for v in values), max(v.hi for v in values)
    dt = _wide(*(v.bound for v in values))
    chain = pl.when(cases[0][0]).then(cases[0][1].as_(dt))
    for cond, v in cases[1:]:
        chain = chain.when(cond).then(v.as_(dt))
    return make(chain.otherwise(otherwise.as_(dt)), lo, hi, dt)


def extreme(func: str, items: list[IntE]) -> IntE:
    if len(items) == 1:
        return items[0]
    dt = _wide(*(v.bound for v in items))
    exprs = [v.as_(dt) for v in items]
    if func == "min":
        return make(pl.min_horizontal(exprs), min(v.lo for v in items), min(v.hi for v in items), dt)
    return make(pl.max_horizontal(exprs), max(v.lo for v in items), max(v.hi for v in items), dt)


def pow_const(base: int, exponent: IntE) -> IntE:
    """base ** exponent for a small non-negative integer exponent column."""
    lo, hi = base ** exponent.lo, base ** exponent.hi
    dt = _wide(hi)
    return make(pl.lit(base, dtype=dt).pow(exponent.expr.cast(pl.UInt32)), lo, hi, dt)


# ---- denominators -----------------------------------------------------------------------


@dataclass(frozen=True)
class Den:
    """c × Π factor^mult: a positive constant and factor columns (by id, each ≥ 1)."""

    c: int = 1
    factors: tuple = ()  # ((fid, mult), …) sorted by fid

    def __post_init__(self):
        # A constant denominator past 128 bits cannot scale any column: the definition is evaluated exactly.
        # (Zero squared twenty times over a denominator of 100 would otherwise reach 10^4,000,000 here.)
        if self.c >= LIMIT:
            raise Overflow(f"a denominator of 2^{self.c.bit_length()}")

    @property
    def const(self) -> bool:
        return not self.factors


def den_lcm(a: Den, b: Den) -> Den:
    merged = dict(a.factors)
    for fid, m in b.factors:
        merged[fid] = max(merged.get(fid, 0), m)
    return Den(math.lcm(a.c, b.c), tuple(sorted(merged.items(), key=_fid_key)))


def den_mul(a: Den, b: Den) -> Den:
    merged = dict(a.factors)
    for fid, m in b.factors:
        merged[fid] = merged.get(fid, 0) + m
    return Den(a.c * b.c, tuple(sorted(merged.items(), key=_fid_key)))


def _fid_key(item) -> str:
    return repr(item[0])
