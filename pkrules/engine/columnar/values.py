"""What the fast path's columns hold, and their exact values back as Python (Fractions, bools, text, dates).

A number is an integer column over a denominator (numeric.py: a constant
times factor columns); these records say which, and the functions turn a
column, or one value of it, back into the exact values the exact evaluator holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import polars as pl

from pkrules.engine import plan as P
from pkrules.engine.columnar.numeric import Den, IntE, dtype_for


@dataclass
class NumV:
    n: IntE
    den: Den
    err: pl.Expr | None = None


@dataclass
class PlainV:
    expr: pl.Expr
    kind: str
    err: pl.Expr | None = None


@dataclass
class ColMeta:
    """What a materialised column holds: its kind and, for numbers, denominator and range."""

    kind: str
    den: Den | None = None
    lo: int = 0
    hi: int = 0


@dataclass
class Factor:
    n: IntE  # lo ≥ 1


@dataclass
class TermInfo:
    """A stored population term: its plan expression, column, and the values it was computed from."""

    expr: object
    column: str
    meta: ColMeta
    parts: dict  # group (pl.Expr or None), group_meta, chosen, operand, pool, weight (NumV/PlainV)
    err_column: str | None = None  # true where the term itself fails


def den_expr(den: Den, factors: dict) -> tuple[pl.Expr, int]:
    bound = den.c
    for fid, m in den.factors:
        bound *= factors[fid].n.hi ** m
    dt = dtype_for(bound)
    expr = pl.lit(den.c, dtype=dt)
    for fid, m in den.factors:
        for _ in range(m):
            expr = expr * factors[fid].n.expr.cast(dt)
    return expr, bound


def den_column(df: pl.DataFrame, den: Den, factors: dict) -> list[int] | int:
    """The denominator of every row (an int when it is the same for all)."""
    if den.const:
        return den.c
    expr, _ = den_expr(den, factors)
    return df.select(expr.alias("d")).to_series().to_list()


def fractions(nums: list, den) -> list[Fraction | None]:
    """Numerators over denominators; a missing numerator (a value that failed, nothing needed it) is None."""
    if isinstance(den, int):
        return [None if n is None else Fraction(n, den) for n in nums]
    return [None if n is None or d is None else Fraction(n, d) for n, d in zip(nums, den)]


def python_values(df: pl.DataFrame, name: str, meta, factors: dict) -> list:
    """A column as the exact evaluator holds it: Fractions, bools, str, dates."""
    series = df.get_column(name)
    if meta.kind != P.NUM:
        return series.to_list()
    return fractions(series.to_list(), den_column(df, meta.den, factors))


def value_list(df: pl.DataFrame, v, factors: dict) -> list:
    """The exact values of a backend value (NumV / PlainV) over the rows of df."""
    if isinstance(v, NumV):
        cols = [v.n.expr.alias("n")]
        if not v.den.const:
            cols.append(den_expr(v.den, factors)[0].alias("d"))
        part = df.select(cols)
        den = v.den.c if v.den.const else part.get_column("d").to_list()
        return fractions(part.get_column("n").to_list(), den)
    return df.select(v.expr.alias("v")).get_column("v").to_list()


def group_keys(info) -> list[tuple[pl.Expr, object]]:
    """The term's group keys and their metas, in the order of the exact evaluator's groups: the period, then
    `within` (the values results.py compares to select a group)."""
    parts = info.parts
    keys = []
    if parts.get("period") is not None:
        keys.append((parts["period"], parts.get("period_meta")))
    g, meta = parts.get("group"), parts.get("group_meta")
    if isinstance(g, list):
        keys.extend(zip(g, meta))
    elif g is not None:
        keys.append((g, meta))
    return keys
