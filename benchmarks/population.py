"""Seeded populations for the reference policy (policies/sales_incentive.pk), dense in edge cases.

Band edges (scores of exactly 70, 80, 90, 100), sales at exactly 110% and 150% of
target and at the tier limits, zero sales and whole teams with zero sales, money
with cents, and shared profiles so that scores tie (at the top-10% cut-off too).
Generated with polars expressions (hashes of the row number and the seed), so a
million rows take a fraction of a second and the same seed gives the same file.
"""

from __future__ import annotations

import polars as pl

LEVELS = ["新人", "骨干", "经理"]
WAN = 10_000


def _pick(h: pl.Expr, choices: list) -> pl.Expr:
    """One of choices, by a hash column."""
    idx = (h % len(choices)).cast(pl.Int64)
    out = pl.lit(choices[-1])
    for k in range(len(choices) - 2, -1, -1):
        out = pl.when(idx == k).then(pl.lit(choices[k])).otherwise(out)
    return out


def population(n: int, seed: int = 1) -> pl.DataFrame:
    """n employees: id, name, team, level, sales, sales_target (in cents), rates (in basis points), …"""
    i = pl.int_range(n, dtype=pl.Int64)

    def h(k: int) -> pl.Expr:
        return (i.hash(seed * 1000 + k) // 2).cast(pl.Int64)

    df = pl.select(i.alias("i"))
    # a quarter of the rows copy one of 8 shared profiles (ties), the rest draw their own
    shared = h(1) % 4 == 0
    p = pl.when(shared).then(h(2) % 8).otherwise(h(3)).alias("p")
    df = df.with_columns(p)

    def hp(k: int) -> pl.Expr:  # a hash of the profile
        return (pl.col("p").hash(seed * 1000 + k) // 2).cast(pl.Int64)

    # targets in cents: common round targets, or any amount with cents
    target = pl.when(hp(10) % 3 == 0).then(hp(11) % (200 * WAN * 100) + 100) \
        .otherwise(_pick(hp(12), [30 * WAN * 100, 50 * WAN * 100, 100 * WAN * 100, 120 * WAN * 100, 80 * WAN * 100]))
    kind = hp(13) % 6
    ratio_pct = _pick(hp(14), [0, 40, 60, 80, 100, 110, 150, 200, 96, 90, 120, 300])
    sales = (
        pl.when(kind <= 1).then(target * ratio_pct // 100)
        .when(kind == 2).then(_pick(hp(15), [50 * WAN * 100, 100 * WAN * 100, 0, 150 * WAN * 100,
                                             50 * WAN * 100 + 1, 100 * WAN * 100 - 1]))
        .when(kind == 3).then(pl.lit(0))
        .otherwise(hp(16) % (250 * WAN * 100))
    )
    shape = hp(17) % 5
    collection = pl.when(shape <= 1).then(_pick(hp(18), [9000, 10000, 0])) \
        .when(shape == 2).then(pl.lit(9000)).otherwise(_pick(hp(19), [8800, 7200, 8900, 9400, 5000, 10000]) + 0 * hp(20)) \
        .alias("collection_bp")
    collection = pl.when(shape == 4).then(hp(21) % 10001).otherwise(collection)
    visits = pl.when(shape <= 1).then(_pick(hp(22), [30, 45, 0])).when(shape == 2).then(pl.lit(30)) \
        .otherwise(hp(23) % 60)
    on_time = pl.when(shape <= 1).then(_pick(hp(24), [9500, 10000, 0])).when(shape == 2).then(pl.lit(9500)) \
        .otherwise(hp(25) % 10001)
    teams = max(1, n // 25)
    team = h(30) % teams
    zero_team = (team.hash(seed) % 40) == 0  # about one team in forty sells nothing
    df = df.with_columns(
        pl.format("E{}", (i + 1).cast(pl.String).str.pad_start(7, "0")).alias("id"),
        pl.format("员工{}", i).alias("name"),
        pl.format("组{}", team).alias("team"),
        _pick(hp(31), LEVELS).alias("level"),
        pl.when(zero_team).then(pl.lit(0)).otherwise(sales).cast(pl.Int64).alias("sales_cents"),
        target.cast(pl.Int64).alias("target_cents"),
        collection.cast(pl.Int64).alias("collection_bp"),
        visits.cast(pl.Int64).alias("visits"),
        on_time.cast(pl.Int64).alias("on_time_bp"),
        (hp(32) % 4).cast(pl.Int64).alias("strategic_customers"),
        (hp(33) % 2 == 0).alias("first_order"),
    )
    return df.drop("i", "p")


def _money_text(cents: pl.Expr) -> pl.Expr:
    whole = (cents // 100).cast(pl.String)
    frac = (cents % 100).cast(pl.String).str.pad_start(2, "0")
    return pl.when(cents % 100 == 0).then(whole).otherwise(whole + "." + frac)


def _percent_text(bp: pl.Expr) -> pl.Expr:
    whole = (bp // 100).cast(pl.String)
    frac = (bp % 100).cast(pl.String).str.pad_start(2, "0").str.strip_chars_end("0")
    return pl.when(bp % 100 == 0).then(whole).otherwise(whole + "." + frac) + "%"


def as_csv_frame(df: pl.DataFrame) -> pl.DataFrame:
    """The columns of the policy's input, as HR writes them: 480000, 1234.56, 88%, yes/no."""
    return df.select(
        "id", "name", "team", "level",
        _money_text(pl.col("sales_cents")).alias("sales"),
        _money_text(pl.col("target_cents")).alias("sales_target"),
        _percent_text(pl.col("collection_bp")).alias("collection_rate"),
        pl.col("visits").cast(pl.String),
        _percent_text(pl.col("on_time_bp")).alias("on_time_rate"),
        pl.col("strategic_customers").cast(pl.String),
        pl.when(pl.col("first_order")).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("first_order"),
    )


def _decimal(value: pl.Expr, places: int, dtype) -> pl.Expr:
    """An integer count of 10^-places as an exact decimal (built from text: no rounding)."""
    unit = 10**places
    text = (value // unit).cast(pl.String) + "." + (value % unit).cast(pl.String).str.pad_start(places, "0")
    return text.cast(dtype)


def as_parquet_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Typed columns: money as Decimal(18, 2), rates as Decimal(6, 4), counts as integers, yes/no as booleans."""
    return df.select(
        "id", "name", "team", "level",
        _decimal(pl.col("sales_cents"), 2, pl.Decimal(18, 2)).alias("sales"),
        _decimal(pl.col("target_cents"), 2, pl.Decimal(18, 2)).alias("sales_target"),
        _decimal(pl.col("collection_bp"), 4, pl.Decimal(6, 4)).alias("collection_rate"),
        "visits",
        _decimal(pl.col("on_time_bp"), 4, pl.Decimal(6, 4)).alias("on_time_rate"),
        "strategic_customers", "first_order",
    )


def write(df: pl.DataFrame, path: str) -> None:
    if path.endswith(".parquet"):
        as_parquet_frame(df).write_parquet(path)
    else:
        as_csv_frame(df).write_csv(path)


def write_org(data: str, path: str) -> dict[str, list[str]]:
    """The workflow's org chart for a population file written above: HR H01, a director M00, each team's
    first member its manager (reporting to M00), the others reporting to that manager. Returns team → ids."""
    import csv

    teams: dict[str, list[str]] = {}
    with open(data, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            teams.setdefault(row["team"], []).append(row["id"])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["id", "name", "role", "manager_id", "team", "login"])
        w.writerow(["H01", "HR", "hr", "", "HR", ""])
        w.writerow(["M00", "Director", "manager", "", "all", ""])
        for team, members in teams.items():
            for i, eid in enumerate(members):
                w.writerow([eid, eid, "manager" if i == 0 else "employee", "M00" if i == 0 else members[0], team, ""])
    return teams
