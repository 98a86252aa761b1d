"""Benchmark: the reference policy on 10k, 100k and 1M employees (prints a table; not a timed test).

    .venv/bin/python benchmarks/bench_reference.py [--sizes 10000,100000,1000000] [--exact-max 100000]

For each size, a seeded population (benchmarks/population.py: band edges, sales at
exactly 110% of target, zero sales, ties) is written as CSV and Parquet, and timed
in fresh processes (so that each peak memory is its own):

- pkrules' fast path: reading (Parquet, CSV) and evaluating (best of --repeat);
- the hand-written exact polars implementation (benchmarks/baseline_polars.py), the same way;
- the exact row-by-row evaluator (reading + evaluating) up to --exact-max rows;
- `pkrules run POLICY DATA.parquet --out OUT.parquet` end to end, as a user runs it.

Then every result is checked to agree to the cent: pkrules against the baseline on every
money column, the coefficient, the team rank and the exact score (all sizes), and against
the exact evaluator on every column (up to --exact-max). It also times `pkrules check` on a
2,000-line policy, and explaining one employee of a kept 100k run (engine/kept_file.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    """This process's peak resident memory. (ru_maxrss would also count the parent's memory at the
    fork before exec; the kernel's VmHWM is this program's own.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- children: one measurement per fresh process --------------------------------------------


def child(kind: str, data: str, repeat: int) -> dict:
    out: dict = {}
    if kind == "fast":
        t = time.perf_counter()
        from pkrules.engine.columnar import evaluate_columnar, read_table
        from pkrules.language.compile import compile_file
        from pkrules.engine.plan import compile_plan


        graph = compile_file(POLICY)
        plan = compile_plan(graph)
        out["startup"] = time.perf_counter() - t
        t = time.perf_counter()
        table = read_table(graph, data, plan)
        out["read"] = time.perf_counter() - t
        best = None
        for _ in range(repeat):
            t = time.perf_counter()
            evaluate_columnar(graph, table, plan)
            elapsed = time.perf_counter() - t
            best = elapsed if best is None else min(best, elapsed)
        out["eval"] = best
    elif kind == "baseline":
        import baseline_polars as B

        t = time.perf_counter()
        df = B.from_parquet(data)
        out["read"] = time.perf_counter() - t
        best = None
        for _ in range(repeat):
            t = time.perf_counter()
            B.baseline(df)
            elapsed = time.perf_counter() - t
            best = elapsed if best is None else min(best, elapsed)
        out["eval"] = best
    elif kind == "cli":  # `pkrules run POLICY DATA --out OUT` in this process, as a user runs it
        import contextlib
        import io as _io

        from pkrules.cli import main as cli_main

        with contextlib.redirect_stdout(_io.StringIO()) as said:
            code = cli_main(["run", str(POLICY), data, "--out", data + ".out.parquet"])
        out["code"] = code
        out["said"] = said.getvalue().strip()
    elif kind == "explain":  # data: a run kept by engine/kept_file.py
        from pkrules.engine.kept_file import kept_results
        from pkrules.engine.explain import explain
        from pkrules.engine.render import render_tree

        t = time.perf_counter()
        results = kept_results(data)
        out["load"] = time.perf_counter() - t
        for name in ("total", "team_fund", "elite", "bonus"):
            best = None
            for k in range(5):
                index = (k * 7919) % results.size
                t = time.perf_counter()
                render_tree(explain(results, index, name))
                elapsed = time.perf_counter() - t
                best = elapsed if best is None else min(best, elapsed)
            out[name] = best
    elif kind == "exact":
        from pkrules.io.tables import read_csv
        from pkrules.language.compile import compile_file
        from pkrules.engine.exact import evaluate

        graph = compile_file(POLICY)
        t = time.perf_counter()
        population = read_csv(graph, data)
        out["read"] = time.perf_counter() - t
        t = time.perf_counter()
        evaluate(graph, population.rows, population.row_numbers)
        out["eval"] = time.perf_counter() - t
    out["peak_mb"] = _peak_mb()
    return out


def run_child(kind: str, data: Path, repeat: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--data", str(data), "--repeat", str(repeat)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cli(data: Path) -> dict:
    """`pkrules run … --out OUT.parquet` as a user runs it: wall time (with Python's start-up) and peak memory."""
    exe = Path(sys.executable).with_name("pkrules")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "pkrules.cli"]
    t = time.perf_counter()
    proc = subprocess.run(command + ["run", str(POLICY), str(data), "--out", str(data) + ".out.parquet"],
                          capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0 or proc.stderr.strip():
        raise SystemExit(f"pkrules run failed:\n{proc.stderr}")
    memory = run_child("cli", data, 1)  # the same run again, to read its peak memory
    return {"wall": elapsed, "peak_mb": memory["peak_mb"], "said": proc.stdout.strip()}


# ---- agreement ------------------------------------------------------------------------------


def agree_with_baseline(results, baseline) -> list[str]:
    """pkrules' exact columns against the baseline's integers (cents, fifths), every row."""
    import polars as pl

    frame = results.frame
    problems = []
    checks = [("bonus", "bonus", 100), ("special", "special", 100), ("commission", "commission", 100),
              ("elite", "elite", 100), ("team_pool", "team_pool", 100), ("team_fund", "team_fund", 100),
              ("total", "total", 100), ("coef", "coef_fifths", 5), ("team_rank", "team_rank", 1)]
    both = pl.DataFrame({"id": frame.get_column("id"), "bid": baseline.get_column("id")})
    if not both.select((pl.col("id") == pl.col("bid")).all()).item():
        return ["the rows are not in the same order"]
    for name, column, scale in checks:
        meta = results.meta[name]
        if not meta.den.const:
            problems.append(f"{name}: not a fixed denominator")
            continue
        ok = pl.DataFrame({"a": frame.get_column(name), "b": baseline.get_column(column)}).select(
            (pl.col("a").cast(pl.Int128) * pl.lit(scale, dtype=pl.Int128)
             == pl.col("b").cast(pl.Int128) * pl.lit(meta.den.c, dtype=pl.Int128)).all()).item()
        if not ok:
            problems.append(f"{name} differs")
    # the exact score: n / D against num / den, by cross-multiplication
    meta = results.meta["score"]
    from pkrules.engine.columnar.results import den_expr

    d_expr, _ = den_expr(meta.den, results.factors)
    score = frame.select(pl.col("score").cast(pl.Int128).alias("n"), d_expr.cast(pl.Int128).alias("d"))
    ok = pl.DataFrame({"n": score.get_column("n"), "d": score.get_column("d"),
                       "bn": baseline.get_column("score_num"), "bd": baseline.get_column("score_den")}).select(
        (pl.col("n") * pl.col("bd") == pl.col("bn") * pl.col("d")).all()).item()
    if not ok:
        problems.append("score differs")
    return problems


def agree_with_exact(graph, results, exact) -> list[str]:
    problems = []
    for name in graph.nodes:
        if results.python_column(name) != exact.columns[name]:
            problems.append(f"{name} differs")
    return problems


# ---- check on 2,000 lines; explain -----------------------------------------------------------


def big_policy(lines: int = 2000) -> str:
    """A policy of about `lines` lines: the reference policy's kinds of statements, many times over."""
    head = (POLICY.read_text(encoding="utf-8").split("# Scorecard")[0])
    out = [head]
    k = 0
    while sum(chunk.count("\n") for chunk in out) < lines:
        out.append(f"""
s{k} = min(sales / sales_target, {100 + k % 50}%) * 100
c{k}
  IF s{k} >= 90 THEN c{k} 1.2
  IF s{k} >= 80 THEN c{k} 1.0
  OTHERWISE c{k} 0
b{k} = round(c{k} * ¥{1000 + k} * min(collection_rate / 90%, 1), 0.01)
t{k} = tiered marginal on sales: up to {10 + k % 40}万 1%, above 2%
g{k} by level: 新人 ¥{k}, 骨干 ¥{2 * k}, 经理 ¥{3 * k}
w{k} = weighted
  s{k}  60%
  visits  40%
p{k} = b{k} + t{k} + g{k}{f" + p{k - 1}" if k % 20 else ""}
""")
        k += 1
    return "".join(out)


def time_check(tmp: Path) -> dict:
    text = big_policy()
    path = tmp / "big.pk"
    path.write_text(text, encoding="utf-8")
    from pkrules.language.compile import check_source
    from pkrules.language.source import SourceFile

    best = None
    for _ in range(3):
        t = time.perf_counter()
        graph, diagnostics = check_source(SourceFile(str(path), text))
        elapsed = time.perf_counter() - t
        best = elapsed if best is None else min(best, elapsed)
    assert graph is not None, [d.message for d in diagnostics if d.is_error][:3]
    from pkrules.language.parse import parse_policy

    parse_best = None
    for _ in range(3):
        t = time.perf_counter()
        parse_policy(SourceFile(str(path), text))
        elapsed = time.perf_counter() - t
        parse_best = elapsed if parse_best is None else min(parse_best, elapsed)
    exe = Path(sys.executable).with_name("pkrules")
    t = time.perf_counter()
    proc = subprocess.run([str(exe), "check", "-q", str(path)], capture_output=True, text=True)
    cli = time.perf_counter() - t
    return {"lines": text.count("\n"), "in_process": best, "parse": parse_best, "cli": cli, "ok": proc.returncode == 0}


def time_explain(data: Path, tmp: Path) -> dict:
    """Explaining one employee of a kept 100k run: the run kept once, then opened and explained in a fresh process."""
    from pkrules.engine.columnar import run_file
    from pkrules.engine.kept import keep
    from pkrules.engine.kept_file import write_kept_file
    from pkrules.language.compile import compile_file

    graph = compile_file(POLICY)
    stored = tmp / "run100k.pkrun"
    write_kept_file(keep(run_file(graph, data)), graph, stored)
    return run_child("explain", stored, 1)


# ---- the table -------------------------------------------------------------------------------


def fmt_s(x):
    return "—" if x is None else (f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s")


def fmt_rate(n, x):
    if not x:
        return "—"
    rate = n / x
    return f"{rate / 1e6:.1f} M/s" if rate >= 1e6 else f"{rate / 1e3:.0f} k/s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--exact-max", type=int, default=100000, help="run the exact evaluator up to this size")
    parser.add_argument("--repeat", type=int, default=5, help="evaluations of each; the best is reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child")
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.repeat)))
        return 0

    import polars as pl

    import baseline_polars as B
    import population as Pop
    from pkrules.engine.columnar import evaluate_columnar, read_table
    from pkrules.language.compile import compile_file

    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"pkrules benchmark — reference policy, {os.cpu_count()} cores, polars {pl.__version__}, "
          f"Python {sys.version.split()[0]}")
    t = time.perf_counter()
    graph = compile_file(POLICY)
    print(f"parse + check of {POLICY.name}: {fmt_s(time.perf_counter() - t)}")
    rows_out = []
    all_ok = True
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for n in sizes:
            df = Pop.population(n, args.seed)
            csv_path, pq_path = tmp / f"pop{n}.csv", tmp / f"pop{n}.parquet"
            Pop.write(df, str(csv_path))
            Pop.write(df, str(pq_path))
            # peak memory (and a first timing) in fresh processes
            fast = run_child("fast", pq_path, 1)
            fast_csv = run_child("fast", csv_path, 1)
            base = run_child("baseline", pq_path, 1)
            exact = run_child("exact", csv_path, 1) if n <= args.exact_max else None
            cli = run_cli(pq_path)
            # evaluation times: pkrules and the baseline alternately, best of --repeat each
            # (the machine may be shared: alternating spreads any disturbance over both)
            table = read_table(graph, pq_path)
            frame = B.from_parquet(str(pq_path))
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                results = evaluate_columnar(graph, table)
                fast["eval"] = min(fast["eval"], time.perf_counter() - t0)
                t0 = time.perf_counter()
                baseline = B.baseline(frame)
                base["eval"] = min(base["eval"], time.perf_counter() - t0)
            # agreement, in this process
            problems = agree_with_baseline(results, baseline)
            if n <= args.exact_max:
                from pkrules.io.tables import read_csv
                from pkrules.engine.exact import evaluate

                population = read_csv(graph, csv_path)
                problems += agree_with_exact(graph, results, evaluate(graph, population.rows, population.row_numbers))
            all_ok &= not problems
            rows_out.append(dict(n=n, fast=fast, fast_csv=fast_csv, base=base, exact=exact, cli=cli, problems=problems))
            print(f"  {n:>9,} rows: fast {fmt_s(fast['eval'])}, baseline {fmt_s(base['eval'])}, "
                  f"exact {fmt_s(exact['eval']) if exact else '—'}, run end to end {fmt_s(cli['wall'])}"
                  f" — {'agree to the cent' if not problems else 'DIFFER: ' + ', '.join(problems)}", flush=True)
        check = time_check(tmp)
        explain_n = 100000
        pq = tmp / f"pop{explain_n}.parquet"
        if not pq.exists():
            Pop.write(Pop.population(explain_n, args.seed), str(pq))
        explained = time_explain(pq, tmp)

    print()
    print("| employees | pkrules evaluate | rows/s | baseline (hand-written polars) | pkrules / baseline | "
          "exact evaluator | read Parquet / CSV | `pkrules run` Parquet → Parquet | peak memory pkrules / baseline / run | agree |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for r in rows_out:
        n, fast, base, exact, cli = r["n"], r["fast"], r["base"], r["exact"], r["cli"]
        ratio = fast["eval"] / base["eval"] if base["eval"] else float("nan")
        exact_text = f"{fmt_s(exact['eval'])} ({fmt_rate(n, exact['eval'])})" if exact else "—"
        print(f"| {n:,} | {fmt_s(fast['eval'])} | {fmt_rate(n, fast['eval'])} | {fmt_s(base['eval'])} | {ratio:.2f}× | "
              f"{exact_text} | {fmt_s(fast['read'])} / {fmt_s(r['fast_csv']['read'])} | {fmt_s(cli['wall'])} | "
              f"{fast['peak_mb']:.0f} / {base['peak_mb']:.0f} / {cli['peak_mb']:.0f} MB | "
              f"{'yes' if not r['problems'] else 'NO'} |")
    print()
    print(f"`pkrules check` on a {check['lines']:,}-line policy: {fmt_s(check['in_process'])} in process "
          f"(parse + check + analysis; parsing alone {fmt_s(check['parse'])}), "
          f"{fmt_s(check['cli'])} as a command (with Python's start-up)"
          + ("" if check["ok"] else " — FAILED"))
    print(f"explaining one employee of a stored 100k run: loading the run {fmt_s(explained['load'])} (once), then "
          + ", ".join(f"{name} {explained[name] * 1000:.1f} ms" for name in ("total", "team_fund", "elite", "bonus")))
    return 0 if all_ok and check["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
