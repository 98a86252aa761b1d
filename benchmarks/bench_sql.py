"""Benchmark: the reference policy as SQL — DuckDB (default 10M employees) and Spark local[2] (default 1M) — beside the polars path.

    .venv/bin/python benchmarks/bench_sql.py [--duckdb-rows 10000000] [--spark-rows 1000000]
                                             [--exact-rows 0] [--memory-limit 8GB] [--work DIR]

For each size a seeded population (benchmarks/population.py: band edges, ties at the top-10%
cut-off, zero sales, money with cents) is written as typed Parquet (money DECIMAL(18,2), rates
DECIMAL(6,4)), then in a fresh process per engine (so that each peak memory is its own) the
policy is evaluated and written with `--out OUT.parquet`, as `pkrules run … --engine E --out` does:

- the polars path (`fast`), itself proven identical to the exact evaluator (tests/test_columnar.py);
- DuckDB, reading the Parquet itself, with a memory limit (it spills beyond it);
- Spark local[2] (session start reported apart).

Then every output is compared, value for value, with the polars path's output of the same data —
and with the exact evaluator's where --exact-rows allows (about 3 minutes per million rows here) —
and the table says which comparison was made.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POLICY = ROOT / "policies" / "sales_incentive.pk"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---- one measurement, in a fresh process -----------------------------------------------------------


def child(engine: str, data: str, out: str, memory_limit: str | None, master: str) -> dict:
    from pkrules.engine.backend import backend_named, configure
    from pkrules.engine.population import open_population
    from pkrules.language.compile import compile_file
    from pkrules.outputs.results import write_results

    timings: dict = {}
    t = time.perf_counter()
    graph = compile_file(POLICY)
    if engine == "spark":
        from pkrules.engine.sql.spark import session

        configure("spark", master=master)
        session(master)
        timings["session"] = time.perf_counter() - t
    if engine == "duckdb" and memory_limit:
        configure("duckdb", memory_limit=memory_limit)
    t = time.perf_counter()
    population = open_population(graph, data)
    results = backend_named(engine).evaluate(graph, population)
    timings["compute"] = time.perf_counter() - t
    t = time.perf_counter()
    names = [graph.key] + [n.name for n in graph.definitions]
    write_results(graph, results, names, None, out)
    timings["write"] = time.perf_counter() - t
    timings["backend"] = results.backend
    timings["peak_mb"] = _peak_mb()
    return timings


def measure(engine: str, data: Path, out: Path, memory_limit: str | None, master: str) -> dict:
    command = [sys.executable, __file__, "--child", engine, "--data", str(data), "--out", str(out), "--master", master]
    if memory_limit:
        command += ["--memory-limit", memory_limit]
    t = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{engine} on {data.name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


# ---- comparing outputs --------------------------------------------------------------------------------


def differences(path: Path, reference: Path) -> list[str]:
    """Every column of two outputs compared value for value (exact decimals, text, yes/no)."""
    import polars as pl

    got, want = pl.scan_parquet(path), pl.scan_parquet(reference)
    names = want.collect_schema().names()
    if got.collect_schema().names() != names:
        return [f"columns differ: {got.collect_schema().names()} != {names}"]
    problems = []
    for name in names:
        a = got.select(pl.col(name)).collect().get_column(name)
        b = want.select(pl.col(name)).collect().get_column(name)
        if a.dtype != b.dtype:
            problems.append(f"{name}: {a.dtype} != {b.dtype}")
            continue
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} rows != {len(b)}")
            continue
        unequal = (a != b).sum()
        if unequal:
            row = int((a != b).arg_max())
            problems.append(f"{name}: {unequal} values differ, first at row {row + 1}: {a[row]} != {b[row]}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb-rows", type=int, default=10_000_000)
    parser.add_argument("--spark-rows", type=int, default=1_000_000, help="0: no Spark")
    parser.add_argument("--exact-rows", type=int, default=0,
                        help="also compare with the exact evaluator on populations up to this size (slow)")
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB's memory limit (it spills to disk beyond it)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--work", help="folder for the data and outputs (default: a temporary one)")
    parser.add_argument("--child")
    parser.add_argument("--data")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.out, args.memory_limit, args.master)))
        return

    from population import as_parquet_frame, population

    work = Path(args.work or tempfile.mkdtemp(prefix="pkrules-bench-sql-"))
    work.mkdir(parents=True, exist_ok=True)
    runs = [("duckdb", args.duckdb_rows)] + ([("spark", args.spark_rows)] if args.spark_rows else [])
    sizes = sorted({n for _, n in runs if n})
    rows = []
    for n in sizes:
        data = work / f"reference-{n}.parquet"
        if not data.exists():
            t = time.perf_counter()
            as_parquet_frame(population(n, 1)).write_parquet(data)
            print(f"{n:,} employees written to {data} in {time.perf_counter() - t:.1f} s", flush=True)
        outputs = {}
        engines = ["fast"] + [e for e, size in runs if size == n]
        if n <= args.exact_rows:
            engines.append("exact")
        for engine in engines:
            out = work / f"out-{engine}-{n}.parquet"
            print(f"{engine} on {n:,} …", flush=True)
            result = measure(engine, data, out, args.memory_limit if engine == "duckdb" else None, args.master)
            outputs[engine] = out
            rows.append((n, engine, result))
        for engine in engines:
            if engine == "fast":
                continue
            against = "exact" if "exact" in outputs and engine != "exact" else "fast"
            problems = differences(outputs[engine], outputs[against])
            reference = "the exact evaluator" if against == "exact" else "the polars path"
            verdict = f"identical to {reference} on every value" if not problems else "; ".join(problems[:3])
            rows.append((n, engine + " vs " + against, {"verdict": verdict}))
    print()
    print(f"{'rows':>12}  {'engine':<16} {'session s':>9} {'compute s':>9} {'write s':>8} {'wall s':>7} {'peak MB':>8}")
    for n, engine, r in rows:
        if "verdict" in r:
            print(f"{n:>12,}  {engine:<16} {r['verdict']}")
            continue
        session = f"{r['session']:.1f}" if "session" in r else "—"
        note = "" if r.get("backend") in (engine, None) else f"  (ran on {r['backend']})"
        print(f"{n:>12,}  {engine:<16} {session:>9} {r['compute']:>9.1f} {r['write']:>8.1f} {r['wall']:>7.1f}"
              f" {r['peak_mb']:>8,.0f}{note}")
    import os

    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; data and outputs in {work}")


if __name__ == "__main__":
    main()
