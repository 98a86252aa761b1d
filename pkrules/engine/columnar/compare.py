"""Two fast-path runs of one population compared with column expressions: which rows differ, and the sign of each pay change.

Both runs hold exact integer columns over denominators (numeric.py); two numbers are equal when
their cross products are (n1·d2 = n2·d1), computed in 128-bit integers when the columns' ranges
prove it fits. A comparison that cannot be proved to fit answers None, and the caller compares
those values in Python (rare: numbers beyond 128-bit products). Nothing here makes a Python
object per row.
"""

from __future__ import annotations

import math

import polars as pl

from pkrules.engine import plan as P
from pkrules.engine.columnar.numeric import Overflow
from pkrules.engine.columnar.values import den_expr

I128 = pl.Int128
FITS = 1 << 125  # products stay below this


def aligned(old, new) -> bool:
    """Whether row k is the same employee (and period) in both runs."""
    if old.size != new.size:
        return False
    graph = new.graph
    names = [graph.key] + ([graph.period] if graph.period else [])
    if any(name not in old.meta or old.meta[name].kind != new.meta[name].kind for name in names):
        return False
    both = pl.DataFrame({f"o{k}": old.frame.get_column(n) for k, n in enumerate(names)}
                        | {f"n{k}": new.frame.get_column(n) for k, n in enumerate(names)})
    if any(old.meta[n].kind == P.NUM and old.meta[n].den != new.meta[n].den for n in names):
        return False
    return bool(both.select(pl.all_horizontal([pl.col(f"o{k}") == pl.col(f"n{k}") for k in range(len(names))]).all()).item())


def _numerator_and_den(results, name: str) -> tuple[pl.Series, pl.Series | int, int, int] | None:
    """A numeric column's numerators, denominators (a Series, or an int when constant), and their bounds."""
    meta = results.meta[name]
    n = results.frame.get_column(name)
    n_bound = max(abs(meta.lo), abs(meta.hi))
    if meta.den.const:
        return n, meta.den.c, n_bound, meta.den.c
    try:
        expr, bound = den_expr(meta.den, results.factors)
    except Overflow:
        return None
    if bound >= FITS:
        return None
    return n, results.frame.select(expr.cast(I128).alias("d")).to_series(), n_bound, bound


def differs(old, old_name: str, new, new_name: str) -> pl.Series | None:
    """True where the two runs' values of a column differ (None: not comparable by columns here)."""
    mo, mn = old.meta[old_name], new.meta[new_name]
    if mo.kind != mn.kind:
        return None
    if mo.kind != P.NUM:
        a, b = old.frame.get_column(old_name), new.frame.get_column(new_name)
        return pl.DataFrame({"a": a, "b": b}).select((pl.col("a") != pl.col("b")).alias("x")).to_series()
    left, right = _numerator_and_den(old, old_name), _numerator_and_den(new, new_name)
    if left is None or right is None:
        return None
    n1, d1, b1, e1 = left
    n2, d2, b2, e2 = right
    if b1 * e2 >= FITS or b2 * e1 >= FITS:
        return None
    if isinstance(d1, int) and isinstance(d2, int):  # the usual case: constant denominators, reduced first
        g = math.gcd(d1, d2)
        m1, m2 = d2 // g, d1 // g
        frame = pl.DataFrame({"a": n1, "b": n2})
        return frame.select((pl.col("a").cast(I128) * pl.lit(m1, dtype=I128)
                             != pl.col("b").cast(I128) * pl.lit(m2, dtype=I128)).alias("x")).to_series()
    frame = pl.DataFrame({"a": n1, "b": n2,
                          "da": d1 if not isinstance(d1, int) else pl.Series([d1] * len(n1), dtype=I128),
                          "db": d2 if not isinstance(d2, int) else pl.Series([d2] * len(n2), dtype=I128)})
    return frame.select((pl.col("a").cast(I128) * pl.col("db").cast(I128)
                         != pl.col("b").cast(I128) * pl.col("da").cast(I128)).alias("x")).to_series()


def nonzero(results, name: str) -> pl.Series:
    """True where a value is something to pay or show: not 0, not no (an output of one version only)."""
    meta = results.meta[name]
    col = results.frame.get_column(name)
    if meta.kind == P.NUM:
        return col != 0
    if meta.kind == P.BOOL:
        return col.fill_null(False)
    return col.is_not_null()


def pay_sign(old, old_money: list[str], new, new_money: list[str], rows: pl.Series) -> pl.Series | None:
    """sign(Σ new money − Σ old money) at the given rows (-1, 0, 1), exactly (None: not by columns here)."""
    parts = []
    for results, names, sign in ((old, old_money, -1), (new, new_money, 1)):
        for name in names:
            meta = results.meta[name]
            if meta.kind != P.NUM or not meta.den.const:
                return None
            parts.append((results.frame.get_column(name).gather(rows), meta.den.c, max(abs(meta.lo), abs(meta.hi)), sign))
    if not parts:
        return pl.Series([0] * len(rows), dtype=pl.Int8)
    common = 1
    for _, c, _, _ in parts:
        common = math.lcm(common, c)
    if sum(bound * (common // c) for _, c, bound, _ in parts) >= FITS:
        return None
    frame = pl.DataFrame({f"p{k}": s for k, (s, _, _, _) in enumerate(parts)})
    total = pl.sum_horizontal([pl.col(f"p{k}").cast(I128) * pl.lit(sign * (common // c), dtype=I128)
                               for k, (_, c, _, sign) in enumerate(parts)])
    return frame.select(total.sign().cast(pl.Int8).alias("s")).to_series()
