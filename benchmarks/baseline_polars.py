"""The reference policy written by hand in polars, exactly: the baseline of the benchmark.

What an engineer who knows polars would write for policies/sales_incentive.pk
(the rules of ../shared/reference-policy.md) without pkrules: money in integer
cents and rates in basis points (Int64/Int128), every division kept as an exact
fraction or done as an integer division with half-up rounding, the exact score
ordered by an integer key, the team fund split by largest remainder.

    baseline(df) -> DataFrame with id, score_num, score_den (score = num/den exactly),
                    coef_fifths, bonus, special, commission, elite, team_rank, team_pool,
                    team_fund, total (money in cents)

Input: benchmarks/population.py's frame (sales_cents, target_cents, collection_bp,
visits, on_time_bp, strategic_customers, first_order, id, team, level), or
`from_parquet(path)` for the Parquet file the benchmark writes.
"""

from __future__ import annotations

import polars as pl

I128 = pl.Int128


def L(v: int) -> pl.Expr:
    return pl.lit(v, dtype=I128)


def _round_div(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """round half up of num / den for num ≥ 0, den > 0."""
    return (num * 2 + den) // (den * 2)


def from_parquet(path: str) -> pl.DataFrame:
    """Read the benchmark's Parquet file into integer cents and basis points."""
    df = pl.read_parquet(path)
    return df.select(
        "id", "team", "level",
        (pl.col("sales") * 100).cast(pl.Int64).alias("sales_cents"),
        (pl.col("sales_target") * 100).cast(pl.Int64).alias("target_cents"),
        (pl.col("collection_rate") * 10000).cast(pl.Int64).alias("collection_bp"),
        "visits",
        (pl.col("on_time_rate") * 10000).cast(pl.Int64).alias("on_time_bp"),
        "strategic_customers", "first_order",
    )


def baseline(df: pl.DataFrame) -> pl.DataFrame:
    n = df.height
    t_max = int(df.get_column("target_cents").max())
    s, t = pl.col("sales_cents").cast(I128), pl.col("target_cents").cast(I128)
    c, v, o = pl.col("collection_bp"), pl.col("visits"), pl.col("on_time_bp")
    # score = 50·min(s,t)/t + min(c,9000)/450 + min(v,30)/2 + 3·min(o,9500)/1900, over 17100·t
    score_num = (L(50 * 17100) * pl.min_horizontal(s, t)
                 + t * (38 * pl.min_horizontal(c, 9000) + 8550 * pl.min_horizontal(v, 30)
                        + 27 * pl.min_horizontal(o, 9500)).cast(I128))
    score_den = L(17100) * t
    # an exact order key: distinct scores differ by ≥ 1/(17100·t_max²)
    shift = (17100 * t_max * t_max).bit_length()
    out = df.lazy().select(
        "id", "team", "level", "sales_cents", "target_cents", "strategic_customers", "first_order",
        score_num.alias("score_num"), score_den.alias("score_den"),
    ).with_columns(
        ((pl.col("score_num") * L(1 << shift)) // pl.col("score_den")).alias("key"),
        pl.when(pl.col("score_num") >= L(90) * pl.col("score_den")).then(6)
        .when(pl.col("score_num") >= L(80) * pl.col("score_den")).then(5)
        .when(pl.col("score_num") >= L(70) * pl.col("score_den")).then(4)
        .otherwise(0).cast(pl.Int64).alias("coef_fifths"),
        pl.col("level").replace_strict({"新人": 5000, "骨干": 8000, "经理": 12000}, return_dtype=pl.Int64).alias("base"),
    ).with_columns(
        # bonus = base × coef/5 × min(2s, 3t)/(2t), in cents: × 100
        _round_div(pl.col("base").cast(I128) * pl.col("coef_fifths").cast(I128)
                   * pl.min_horizontal(s * 2, t * 3) * L(100), t * 10).cast(pl.Int64).alias("bonus"),
        # special = 2% × (s − t) if s > 110% t, + 5000 per strategic customer, + 1000 first order
        _round_div(pl.when(s * 10 > t * 11).then((s - t) * 2).otherwise(L(0))
                   + L(100) * (L(500000) * pl.col("strategic_customers").cast(I128)
                               + pl.when(pl.col("first_order")).then(L(100000)).otherwise(L(0))),
                   L(100)).cast(pl.Int64).alias("special"),
        # commission: 1% to 50万, 2% to 100万, 3% above (超额累进)
        _round_div(pl.min_horizontal(s, L(50_000_000))
                   + 2 * pl.max_horizontal(L(0), pl.min_horizontal(s, L(100_000_000)) - L(50_000_000))
                   + 3 * pl.max_horizontal(L(0), s - L(100_000_000)), L(100)).cast(pl.Int64).alias("commission"),
        # elite: fewer than ceil(10% × N) strictly higher scores
        pl.when(L(n) - pl.col("key").rank("max").cast(I128) < L(-(-n // 10))).then(200000).otherwise(0)
        .cast(pl.Int64).alias("elite"),
        pl.col("key").rank("dense", descending=True).over("team").cast(pl.Int64).alias("team_rank"),
        (s.sum().over("team") - t.sum().over("team")).alias("excess"),
        s.sum().over("team").alias("team_sales"),
    ).with_columns(
        # pool = round(5% × max(0, Σs − Σt)) in cents
        _round_div(pl.max_horizontal(L(0), pl.col("excess")), L(20)).alias("team_pool"),
    ).with_columns(
        pl.when(pl.col("team_sales") > 0).then(pl.col("team_pool") * s // pl.col("team_sales")).otherwise(L(0)).alias("floor"),
        pl.when(pl.col("team_sales") > 0).then(pl.col("team_pool") * s % pl.col("team_sales")).otherwise(L(0)).alias("rem"),
    ).with_columns(
        (pl.col("team_pool") - pl.col("floor").sum().over("team")).alias("left"),
        pl.struct((L(0) - pl.col("rem")).alias("r"), pl.col("id")).rank("ordinal").over("team").alias("place"),
    ).with_columns(
        pl.when(pl.col("team_sales") > 0)
        .then(pl.col("floor") + pl.when(pl.col("place").cast(I128) <= pl.col("left")).then(L(1)).otherwise(L(0)))
        .otherwise(L(0)).cast(pl.Int64).alias("team_fund"),
    ).with_columns(
        (pl.col("bonus") + pl.col("special") + pl.col("commission") + pl.col("elite") + pl.col("team_fund")).alias("total"),
    ).select(
        "id", "score_num", "score_den", "coef_fifths", "bonus", "special", "commission", "elite", "team_rank",
        pl.col("team_pool").cast(pl.Int64), "team_fund", "total",
    )
    return out.collect()
