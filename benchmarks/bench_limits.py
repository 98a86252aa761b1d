"""Benchmark: the hostile inputs of issue 15 at full size (prints a table; not a timed test).

    .venv/bin/python benchmarks/bench_limits.py [--floats 1000000] [--fuzz 0]

Each case runs `pkrules` in a fresh process (so that each peak memory is its own) and reports its
wall time, peak memory and exit code:

- a 10,000-row rule table with 3 employees, on the fast path (which declines it: the exact evaluator
  runs) and on the exact evaluator — before issue 15 the fast path was killed for memory after minutes;
- policies at the language's limits (language/limits.py): a sum of 500 terms, 500 nested ifs, a chain of
  1,000 definitions, each through check, run on both engines and explain; and just past them, where
  `check` must name the limit quickly;
- a value squared 40 times (evaluation must stop at 400 digits, not run for ever);
- reading a Parquet float64 money column of --floats rows (15-digit reading of binary numbers), typed
  and computed (x * 1.1) values.

--fuzz N also runs N more examples of tests/test_fuzz_engines.py's generators than CI does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PKRULES = [sys.executable, "-m", "pkrules.cli"]
HEAD = 'policy "limits"\ninput\n  id: text key\n  x: number\n'


def timed(args: list[str], timeout: float = 900) -> tuple[float, float, int]:
    """(seconds, peak MB, exit code) of one command in a fresh process (GNU time's maximum resident size)."""
    start = time.perf_counter()
    wrapped = ["/usr/bin/time", "-f", "%M"] + args if Path("/usr/bin/time").exists() else args
    done = subprocess.run(wrapped, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    seconds = time.perf_counter() - start
    peak = float(done.stderr.strip().splitlines()[-1]) / 1024 if wrapped is not args else float("nan")
    return seconds, peak, done.returncode


def row(label: str, seconds: float, peak: float, code: int) -> None:
    print(f"{label:58} {seconds:8.2f} s {peak:9.0f} MB   exit {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floats", type=int, default=1_000_000)
    parser.add_argument("--fuzz", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pkrules-limits-") as folder:
        tmp = Path(folder)
        data = tmp / "d.csv"
        data.write_text("id,x\nA,5\nB,500\nC,20000\n", encoding="utf-8")
        cases = {
            "table of 10,000 rows": "y\n" + "".join(f"  IF x >= {10_000 - i} THEN y {10_000 - i}\n" for i in range(10_000))
                                    + "  OTHERWISE y 0\n",
            "sum of 500 terms": "y = " + " + ".join(["x"] * 500) + "\n",
            "500 nested ifs": "y = " + "if x > 5 then 1 else " * 495 + "x\n",
            "chain of 1,000 definitions": "d0 = x + 1\n" + "".join(f"d{i} = d{i - 1} + 1\n" for i in range(1, 1000)),
            "past the limit: 10,000 minus signs": "y = " + "-" * 10_000 + "x\n",
            "past the limit: chain of 20,000": "d0 = x + 1\n" + "".join(f"d{i} = d{i - 1} + 1\n" for i in range(1, 20_000)),
            "x squared 40 times": "v0 = x\n" + "".join(f"v{i} = v{i - 1} * v{i - 1}\n" for i in range(1, 41)),
        }
        print(f"{'case':58} {'time':>10} {'peak':>12}")
        for label, body in cases.items():
            policy = tmp / "p.pk"
            policy.write_text(HEAD + body, encoding="utf-8")
            row(f"{label}: check", *timed(PKRULES + ["check", str(policy)]))
            for engine in ("fast", "exact"):
                row(f"{label}: run --engine {engine}", *timed(PKRULES + ["run", str(policy), str(data), "--engine", engine]))
            row(f"{label}: explain", *timed(PKRULES + ["explain", str(policy), str(data), "B"]))

        import polars as pl

        for label, scale in (("typed", 1.0), ("computed (x * 1.1)", 1.1)):
            values = pl.int_range(0, args.floats, eager=True).cast(pl.Float64) * 7.0 * scale
            parquet = tmp / "floats.parquet"
            pl.DataFrame({"id": pl.int_range(0, args.floats, eager=True).cast(pl.String), "sales": values}).write_parquet(parquet)
            money = tmp / "m.pk"
            money.write_text('policy "m"\ninput\n  id: text key\n  sales: money\npay = round(sales * 2%, 0.01)\n',
                             encoding="utf-8")
            for engine in ("fast", "exact"):
                if engine == "exact" and args.floats > 200_000:
                    continue
                row(f"{args.floats:,} Parquet floats, {label}: run {engine}",
                    *timed(PKRULES + ["run", str(money), str(parquet), "--engine", engine, "--out", str(tmp / "o.parquet"),
                                      "--keep-going"]))
    if args.fuzz:
        env = dict(os.environ, PKRULES_FUZZ_EXAMPLES=str(args.fuzz))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_fuzz_engines.py"], cwd=ROOT, env=env)
        print(f"fuzz with {args.fuzz} examples each: {time.perf_counter() - start:.0f} s, exit {done.returncode}")


if __name__ == "__main__":
    main()
