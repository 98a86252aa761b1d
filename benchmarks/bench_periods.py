"""Benchmark: monthly data with running totals — the wage tax withholding policy (prints a table; not a timed test).

    .venv/bin/python benchmarks/bench_periods.py [--employees 1000,10000] [--repeat 1]

For each size, a seeded payroll of 12 months a year (policies/iit_withholding.pk's columns,
rows shuffled, months written 2025年3月) is written as CSV and timed: reading and validating
(every month label read as a time), evaluating with `--engine auto` (the exact evaluator: a
running total is computed period by period; the fast path declines it), and the whole
`pkrules run … --out` in a fresh process. The results are checked against the independent
implementation of the 2019 rules in tests/test_withholding.py.
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POLICY = ROOT / "policies" / "iit_withholding.pk"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def payroll(employees: int, seed: int = 7) -> list[tuple]:
    rnd = random.Random(seed)
    rows = []
    for e in range(employees):
        salary = rnd.choice([6000, 12000, 20000, 30000, 52000, 90000])
        first = rnd.choice([1, 1, 1, 4, 7])
        for month in range(first, 13):
            income = salary + (rnd.choice([0, 0, 0, 30000, 120000]) if month == 1 else 0)
            rows.append((f"E{e:06d}", f"2025年{month}月", income, salary * 15 // 100, rnd.choice([0, 1000, 2000, 3000])))
    rnd.shuffle(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    from pkrules.engine.backend import evaluate
    from pkrules.engine.population import open_population
    from pkrules.language.compile import compile_file
    from test_withholding import withholding  # the independent implementation

    graph = compile_file(POLICY)
    print(f"{'employees':>10} {'rows':>8} {'read s':>8} {'evaluate s':>11} {'rows/s':>9} {'run --out s':>12}  agrees")
    for employees in [int(x) for x in args.employees.split(",")]:
        rows = payroll(employees)
        folder = Path(tempfile.mkdtemp())
        data = folder / "payroll.csv"
        with open(data, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "month", "income", "social_insurance", "special_deductions"])
            writer.writerows(rows)
        start = time.perf_counter()
        population = open_population(graph, data)
        population.rows  # read and validate (the month labels are put in time order here)
        read = time.perf_counter() - start
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            results = evaluate(graph, population, "auto")
            best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from pkrules.cli import main; sys.exit(main(sys.argv[1:]))",
                        "run", str(POLICY), str(data), "--out", str(folder / "out.csv")], check=True, capture_output=True,
                       cwd=ROOT)
        whole = time.perf_counter() - start
        by_person: dict[str, list] = defaultdict(list)
        for who, month, income, si, sd in rows:
            by_person[who].append((2025, int(month[5:-1]), Fraction(income), Fraction(si), Fraction(sd)))
        expected = {(who, f"2025年{m}月"): tax for who, months in by_person.items() for (_, m), tax in withholding(months).items()}
        got = dict(zip(zip(results.columns["id"], results.columns["month"]), results.columns["tax"]))
        print(f"{employees:>10,} {len(rows):>8,} {read:>8.2f} {best:>11.2f} {len(rows) / best:>9,.0f} {whole:>12.2f}  "
              f"{'yes' if got == expected and not results.errors else 'NO'}")


if __name__ == "__main__":
    main()
