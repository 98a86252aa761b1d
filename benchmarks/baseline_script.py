"""The hand-written exact polars script, as a whole process: read the Parquet file, compute, write key + team_rank + total.

    python benchmarks/baseline_script.py DATA.parquet OUT.csv

What `pkrules run policies/sales_incentive.pk DATA.parquet --out OUT.csv --columns team_rank,total`
does, written by hand for this one policy (benchmarks/baseline_polars.py): the same bytes come
out (money with two decimals, ranks as integers, csv.writer's \\r\\n, and the UTF-8 byte order mark pkrules
writes first so that Excel reads the file as UTF-8), which the benchmark checks.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl  # noqa: E402

import baseline_polars as B  # noqa: E402


def main(data: str, out: str) -> None:
    result = B.baseline(B.from_parquet(data))
    cents = pl.col("total")
    text = (pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit("")) + (cents.abs() // 100).cast(pl.String) + pl.lit(".")
            + (cents.abs() % 100).cast(pl.String).str.pad_start(2, "0"))
    result.select("id", "team_rank", text.alias("total")).write_csv(out, line_terminator="\r\n", include_bom=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
