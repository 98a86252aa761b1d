"""Benchmark: the impact diff of raising the top band 1.2 → 1.3 on a generated population.

    .venv/bin/python benchmarks/bench_impact.py                  # 100,000 employees, as `pkrules diff --data` runs
    .venv/bin/python benchmarks/bench_impact.py --exact          # the exact evaluator (the new version reuses columns)
    .venv/bin/python benchmarks/bench_impact.py -n 20000 --full  # exact, no column reuse: both versions in full
    .venv/bin/python benchmarks/bench_impact.py --evaluator mod:fn   # any evaluate(graph, rows, row_numbers)-like function

The population is seeded (same file every run): 4 levels of targets, sales from 0 to
twice the target, teams of ten, every score band represented. Prints the time of
each stage and the total, which is what `pkrules diff OLD NEW --data DATA` spends.
"""

from __future__ import annotations

import argparse
import importlib
import io
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pkrules.language.compile import compile_policy  # noqa: E402
from pkrules.review.impact import check_columns, choose_columns, compute_impact, evaluate_both, fast_pair, load_populations, render_text

POLICY = ROOT / "policies" / "sales_incentive.pk"
HEADER = "id,name,team,level,sales,sales_target,collection_rate,visits,on_time_rate,strategic_customers,first_order"


def population_csv(n: int, seed: int) -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write(HEADER + "\n")
    for k in range(n):
        level = rng.choice(["新人", "骨干", "骨干", "经理"])
        target = rng.choice([300000, 500000, 800000, 1000000])
        sales = rng.randrange(0, 2 * target + 1, 1000)
        out.write(f"E{k:06d},员工{k},组{k // 10:05d},{level},{sales},{target},{rng.randrange(50, 101)}%,"
                  f"{rng.randrange(0, 41)},{rng.randrange(60, 101)}%,{rng.choice([0, 0, 0, 1, 2])},"
                  f"{'yes' if rng.random() < 0.1 else 'no'}\n")
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="employees (default 100,000)")
    parser.add_argument("--seed", type=int, default=20240701)
    parser.add_argument("--evaluator", metavar="MODULE:FUNCTION", help="an evaluate(graph, rows, row_numbers)-like function")
    parser.add_argument("--exact", action="store_true", help="the exact evaluator (the new version reuses unchanged columns)")
    parser.add_argument("--full", action="store_true", help="the exact evaluator without column reuse (both versions in full)")
    args = parser.parse_args()

    text = POLICY.read_text(encoding="utf-8")
    changed = text.replace("IF score >= 90 THEN coef 1.2", "IF score >= 90 THEN coef 1.3")
    assert changed != text, "the reference policy no longer has the 1.2 band"
    evaluator = None
    if args.evaluator:
        module, _, name = args.evaluator.partition(":")
        evaluator = getattr(importlib.import_module(module), name or "evaluate")
    elif args.full:
        from pkrules.engine.exact import evaluate as evaluator

    stages: list[tuple[str, float]] = []
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages.append((name, now - clock))
        clock = now

    with tempfile.TemporaryDirectory() as folder:
        data_path = str(Path(folder) / "population.csv")
        Path(data_path).write_text(population_csv(args.n, args.seed), encoding="utf-8")
        stage("generate the population")
        start = clock = time.perf_counter()
        old = compile_policy(text, "old.pk")
        new = compile_policy(changed, "new.pk")
        stage("compile both versions")
        data = check_columns(old, new, data_path)
        stage("read the header")
        pair = None if (args.exact or args.full or evaluator) else fast_pair(old, new, data_path)
        if pair is not None:
            engine = "columnar fast path"
            stage(f"read {args.n:,} rows and evaluate both versions (columnar)")
        else:
            engine = args.evaluator or ("exact, both in full" if args.full else "exact, reusing unchanged columns")
            old_population, new_population = load_populations(old, new, data_path, data)
            stage(f"read and validate {args.n:,} rows")
            pair = evaluate_both(old, new, old_population, new_population, evaluate=evaluator)
            stage("evaluate both versions" + (" (reusing unchanged columns)" if evaluator is None else ""))
        impact = compute_impact(*pair, "population.csv", choose_columns(old, new, {}), {}, {"coef"})
        stage("compare")
        report = render_text(impact, limit=20)
        stage("render (20 rows)")
        total = time.perf_counter() - start

    print("\n".join(report.splitlines()[:4]))
    print()
    print(f"impact diff of {args.n:,} employees ({engine}):")
    for name, seconds in stages:
        print(f"  {name:<56} {seconds:8.2f} s")
    print(f"  {'total (without generating)':<56} {total:8.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
