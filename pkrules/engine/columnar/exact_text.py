"""The fast path's exact values as stored text (values/stored.py: value_text), made with column expressions.

A number n / d (d: a constant, or a column of denominators) becomes its decimal when the
decimal ends (9216, 0.125, -0.5), else numerator/denominator in lowest terms (869/9) — the
greatest common divisor found by Euclid's algorithm run on whole columns, the rows still going
shrinking at each step. Yes/no become "yes"/"no", dates ISO text, text stays. A column whose
numbers would not fit 128-bit arithmetic is turned into text value by value (rare; the same text).
"""

from __future__ import annotations

import polars as pl

from pkrules.engine import plan as P
from pkrules.engine.columnar.numeric import Overflow
from pkrules.engine.columnar.values import ColMeta, den_expr, python_values
from pkrules.values.numbers import twos_and_fives
from pkrules.values.stored import value_text

I128 = pl.Int128
TEN_38 = 10**38
SAFE = 1 << 120  # products are kept below this (Int128 holds ±2^127)


def text_frame(frame: pl.DataFrame, columns: list[tuple[str, ColMeta]], factors: dict) -> pl.DataFrame:
    """value_text of every value of the named columns of frame (each with its ColMeta), as String columns.

    Text, yes/no, dates, whole numbers and decimals over 2s and 5s are one polars query (run in
    parallel); a column of rationals is reduced on its own."""
    simple: dict[str, pl.Expr] = {}
    done: dict[str, pl.Series] = {}
    for name, meta in columns:
        expr = _simple_text(name, meta)
        if expr is not None:
            simple[name] = expr
        else:
            done[name] = text_series(frame, name, meta, factors)
    if simple:
        computed = frame.lazy().select(list(simple.values())).collect()
        done.update({name: computed.get_column(name) for name in simple})
    return pl.DataFrame([done[name] for name, _ in columns]) if columns else pl.DataFrame()


def _simple_text(name: str, meta: ColMeta) -> pl.Expr | None:
    """The text of a column as one expression, when no reduction is needed (else None)."""
    col = pl.col(name)
    if meta.kind == P.BOOL:
        return pl.when(col).then(pl.lit("yes")).otherwise(pl.lit("no")).alias(name)
    if meta.kind == P.DATE:
        return col.dt.to_string("%Y-%m-%d").alias(name)
    if meta.kind != P.NUM:
        return col.cast(pl.String).alias(name)
    if not meta.den.const:
        return None
    c = meta.den.c
    if c == 1:
        return col.cast(pl.String).alias(name)
    a, b, r = twos_and_fives(c)
    k = max(a, b)
    if r != 1 or k > 36 or max(abs(meta.lo), abs(meta.hi)) * (10**k // c) >= TEN_38:
        return None
    # n / c = n·(10^k / c) / 10^k: polars' own decimal text, trailing zeros dropped
    scaled = col.cast(I128) * pl.lit(10**k // c, dtype=I128)
    return _strip_zeros(decimal_of(scaled, k).cast(pl.String), k).alias(name)


def exact_expr(expr: pl.Expr, meta: ColMeta, factors: dict) -> pl.Expr | None:
    """Exact text of every value as one expression, not always in lowest terms: 9216.00, 0.5, 808/9,
    1738/17100 (Fraction(text) reads each back exactly). None: numbers too large for it."""
    if meta.kind == P.BOOL:
        return pl.when(expr).then(pl.lit("yes")).otherwise(pl.lit("no"))
    if meta.kind == P.DATE:
        return expr.dt.to_string("%Y-%m-%d")
    if meta.kind != P.NUM:
        return expr.cast(pl.String)
    if meta.den.const:
        c = meta.den.c
        if c == 1:
            return expr.cast(pl.String)
        a, b, r = twos_and_fives(c)
        k = max(a, b)
        if r == 1 and k <= 36 and max(abs(meta.lo), abs(meta.hi)) * (10**k // c) < TEN_38:
            return decimal_of(expr.cast(I128) * pl.lit(10**k // c, dtype=I128), k).cast(pl.String)
        return expr.cast(pl.String) + pl.lit(f"/{c}")
    try:
        d, bound = den_expr(meta.den, factors)
    except Overflow:
        return None
    if bound >= SAFE:
        return None
    return expr.cast(pl.String) + pl.lit("/") + d.cast(pl.String)


def text_series(frame: pl.DataFrame, name: str, meta: ColMeta, factors: dict) -> pl.Series:
    """value_text of every value of one column."""
    expr = _simple_text(name, meta)
    if expr is not None:
        return frame.select(expr).to_series()
    try:
        if meta.den.const:
            return number_text(frame.get_column(name).cast(I128), meta.den.c).alias(name)
        d_expr, bound = den_expr(meta.den, factors)
        if bound >= SAFE:
            raise Overflow("denominators too large")
        part = frame.select(pl.col(name).cast(I128).alias("n"), d_expr.cast(I128).alias("d"))
        return number_text(part.get_column("n"), part.get_column("d")).alias(name)
    except (Overflow, pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError):
        values = python_values(frame, name, meta, factors)
        return pl.Series(name, [value_text(v) for v in values], dtype=pl.String)


def number_text(n: pl.Series, d: int | pl.Series) -> pl.Series:
    """value_text of n / d for every row (n: Int128; d ≥ 1, an int or an Int128 Series)."""
    size = len(n)
    n = n.cast(I128)
    if size and _max_abs(n) >= SAFE:
        raise Overflow("numbers too large")
    if isinstance(d, int):
        if d >= SAFE:
            raise Overflow("numbers too large")
        if d == 1:
            return n.cast(pl.String)
        a, b, r = twos_and_fives(d)
        k = max(a, b)
        if r == 1:
            if k > 36:
                raise Overflow("too many decimals")
            factor = 10**k // d
            if size and _max_abs(n) * factor >= TEN_38:  # checked before: a 128-bit product past it wraps around
                raise Overflow("too many digits")
            scaled = pl.DataFrame({"n": n}).select(pl.col("n") * pl.lit(factor, dtype=I128)).to_series()
            return _strip_zeros(pl.DataFrame({"m": scaled}).select(decimal_of(pl.col("m"), k).cast(pl.String)).to_series(), k)
        frame = pl.DataFrame({"n": n})
        x = frame.select((pl.col("n").abs() % pl.lit(d, dtype=I128)).alias("x")).to_series()
        if d <= 1_000_000:  # few residues: each one's gcd once
            import math

            residues = x.unique().to_list()
            g = x.replace_strict(residues, [math.gcd(int(v), d) for v in residues], return_dtype=I128)
        else:
            g = gcd(x, pl.Series([d] * size, dtype=I128))
        reduced = frame.with_columns(g.alias("g")).select((pl.col("n") // pl.col("g")).alias("p"),
                                                           (pl.lit(d, dtype=I128) // pl.col("g")).alias("q"))
        return _reduced_text(reduced)
    if size and _max_abs(d) >= SAFE:
        raise Overflow("numbers too large")
    frame = pl.DataFrame({"n": n, "d": d.cast(I128)})
    g = gcd(frame.select((pl.col("n").abs() % pl.col("d")).alias("x")).to_series(), frame.get_column("d"))
    reduced = frame.with_columns(g.alias("g")).select((pl.col("n") // pl.col("g")).alias("p"),
                                                       (pl.col("d") // pl.col("g")).alias("q"))
    return _reduced_text(reduced)


def _reduced_text(frame: pl.DataFrame) -> pl.Series:
    """p / q in lowest terms as text: an integer, a decimal that ends, or "p/q"."""
    work = frame.with_row_index("#i").filter(pl.col("q") != 1).with_columns(
        pl.col("q").alias("r"), pl.lit(0, dtype=pl.Int32).alias("v2"), pl.lit(0, dtype=pl.Int32).alias("v5"))
    # q's twos and fives, each found in a few halving steps; the decimal ends when nothing else is left
    for prime, column, steps in ((2, "v2", (64, 32, 16, 8, 4, 2, 1)), (5, "v5", (32, 16, 8, 4, 2, 1))):
        for step in steps:
            power = pl.lit(prime**step, dtype=I128)
            divides = pl.col("r") % power == 0
            work = work.with_columns(pl.when(divides).then(pl.col("r") // power).otherwise(pl.col("r")).alias("r"),
                                     (pl.col(column) + pl.when(divides).then(step).otherwise(0)).cast(pl.Int32).alias(column))
    work = work.with_columns((pl.col("r") == 1).alias("ends"), pl.max_horizontal("v2", "v5").alias("k"))
    ending = work.filter(pl.col("ends"))
    if ending.height:
        risky = ending.select(((pl.col("p").abs().cast(pl.Float64) / pl.col("q").cast(pl.Float64) + 1)
                               * pl.lit(10.0).pow(pl.col("k"))).max()).item()
        if risky is not None and risky >= 1e37:
            raise Overflow("too many digits")
    m = pl.col("p") * (pl.lit(10, dtype=I128).pow(pl.col("k").cast(pl.UInt32)) // pl.col("q"))
    fractions = work.select(pl.col("#i"), pl.when(pl.col("ends")).then(_decimal_expr(m, pl.col("k")))
                            .otherwise(pl.col("p").cast(pl.String) + pl.lit("/") + pl.col("q").cast(pl.String)).alias("t"))
    text = frame.select(pl.col("p").cast(pl.String).alias("t")).to_series()
    if not fractions.height:
        return text
    return text.scatter(fractions.get_column("#i"), fractions.get_column("t"))


def decimal_of(m: pl.Expr, places: int) -> pl.Expr:
    """The integer m as the exact decimal m / 10^places (|m| < 10^38): polars' decimal, and its text."""
    from decimal import Decimal

    d = m.cast(pl.Decimal(38, 0))
    if places == 0:
        return d
    return d * pl.lit(Decimal(1).scaleb(-places), dtype=pl.Decimal(38, places))


def _decimal_expr(m: pl.Expr, k: pl.Expr) -> pl.Expr:
    """m / 10^k as text with exactly k decimals, k a column."""
    unit = pl.lit(10, dtype=I128).pow(k.cast(pl.UInt32))
    a = m.abs()
    # the k decimals, zero-padded: 10^k + the remainder, without its leading 1
    decimals = (a % unit + unit).cast(pl.String).str.slice(1)
    sign = pl.when(m < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return sign + (a // unit).cast(pl.String) + pl.when(k > 0).then(pl.lit(".") + decimals).otherwise(pl.lit(""))


def _strip_zeros(text, k: int):
    if k == 0:
        return text
    return text.str.strip_chars_end("0").str.strip_chars_end(".")


def gcd(a: pl.Series, b: pl.Series) -> pl.Series:
    """gcd(a, b) of every row, for 0 ≤ a and 1 ≤ b (Int128), by Euclid's algorithm on whole columns."""
    work = pl.DataFrame({"i": pl.int_range(len(a), dtype=pl.Int64, eager=True), "a": b, "b": a})
    done = []
    while work.height:
        finished = work.filter(pl.col("b") == 0)
        if finished.height:
            done.append(finished.select("i", "a"))
        work = work.filter(pl.col("b") != 0).select("i", pl.col("b").alias("a"), (pl.col("a") % pl.col("b")).alias("b"))
    if not done:
        return pl.Series("g", [], dtype=I128)
    return pl.concat(done).sort("i").get_column("a").alias("g")


def _max_abs(s: pl.Series) -> int:
    if not len(s):
        return 0
    lo, hi = s.min(), s.max()
    return max(abs(int(lo or 0)), abs(int(hi or 0)))
