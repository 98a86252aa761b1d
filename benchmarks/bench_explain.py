"""Benchmark: explanations of many employees (prints figures; not a timed test).

    .venv/bin/python benchmarks/bench_explain.py [--workbook 20000] [--statements 2000] [--seed 1]

On a seeded population of the reference policy (benchmarks/population.py), evaluated on the fast
path, in one process each:

- the workbook's explanations sheet (outputs/excel.py: explanation_rows, one depth-1 tree per
  employee), CPU seconds, the first time (reading the columns and groups it needs included);
- one Markdown statement per employee (render_markdown of the employee's tree), CPU seconds;
- both again worked out plainly (engine/explain.py: plainly — nothing reused between employees or
  nodes), the reference the reused figures are checked against; and a digest of every text, the same
  both ways (or the script says DIFFERENT).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POLICY = ROOT / "policies" / "sales_incentive.pk"
sys.path.insert(0, str(HERE))

CHILD = """
import hashlib, sys, time
from contextlib import nullcontext
from pkrules import api
from pkrules.engine.explain import explain, plainly
from pkrules.engine.render import render_markdown
from pkrules.language.limits import run_deep
from pkrules.messages import speaking
from pkrules.outputs import excel

def work():
    policy, data, what, plain = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "plain"
    graph = api.compile_file(policy)
    results = api.evaluate(graph, api.read_population(graph, data), "fast")
    rows = list(range(results.size))
    main = graph.main_output()
    with speaking(graph.policy.language), (plainly() if plain else nullcontext()):
        t = time.process_time()
        if what == "workbook":
            made = repr(list(excel.explanation_rows(graph, results, rows)))
        else:
            made = "".join(render_markdown(explain(results, i, main, audience="employee")) for i in rows)
        spent = time.process_time() - t
    print(spent, hashlib.sha256(made.encode()).hexdigest()[:16])

run_deep(work)
"""


def measure(data: Path, what: str, plain: bool) -> tuple[float, str]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(POLICY), str(data), what, "plain" if plain else "reused"],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(done.stderr)
    spent, digest = done.stdout.split()
    return float(spent), digest


def main() -> int:
    import population as Pop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workbook", type=int, default=20_000)
    parser.add_argument("--statements", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    same = True
    with tempfile.TemporaryDirectory() as folder:
        print("| what | CPU | worked out plainly | digest |")
        print("|---|---|---|---|")
        for what, n in (("workbook", args.workbook), ("statements", args.statements)):
            data = Path(folder) / f"{what}.csv"
            Pop.write(Pop.population(n, args.seed), str(data))
            reused, digest = measure(data, what, False)
            plain, plain_digest = measure(data, what, True)
            same &= digest == plain_digest
            label = (f"explanations sheet, {n:,} employees (explanation_rows)" if what == "workbook"
                     else f"{n:,} Markdown statements (explain + render_markdown)")
            print(f"| {label} | {reused:.2f} s | {plain:.2f} s | {digest}"
                  + ("" if digest == plain_digest else f" DIFFERENT from {plain_digest}") + " |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
