"""The appraisal workflow at scale: create a cycle of N employees, page and filter the board, act, recompute, explain.

    .venv/bin/python benchmarks/bench_workflow.py [N]      (default 100000)

Prints wall-clock figures; nothing is asserted (no timed tests).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from population import population, write, write_org  # noqa: E402

from pkrules.workflow.clock import FixedClock  # noqa: E402
from pkrules.workflow.service import Workflow  # noqa: E402
from pkrules.workflow.store import Store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(label: str, action):
    start = time.perf_counter()
    result = action()
    print(f"{label:<58} {time.perf_counter() - start:8.3f} s")
    return result


def main(n: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-workflow-"))
    data = folder / "inputs.csv"
    write(population(n), str(data))
    ids = [row["id"] for row in csv.DictReader(open(data, encoding="utf-8"))]
    org = folder / "org.csv"
    teams = write_org(str(data), str(org))
    clock = FixedClock(dt.date(2025, 9, 26))
    wf = Workflow(Store(folder / "w.db"), "H01", clock=clock)
    print(f"{n:,} employees, store {folder / 'w.db'}")
    timed("cycle new (validate, evaluate, store every node)", lambda: wf.create_cycle(
        ROOT / "policies" / "sales_incentive.pk", "2025Q3", org, data, demo=True))
    print(f"{'store size':<58} {(folder / 'w.db').stat().st_size / 1e6:8.1f} MB (+ WAL)")
    timed("board: first page (50 rows) + count", lambda: wf.board(limit=50))
    team = next(iter(teams))
    timed("board: one team, sorted by total, descending", lambda: wf.board(team=team, sort="total", descending=True))
    timed("board: page 1000 of everyone", lambda: wf.board(offset=50_000 if n > 50_000 else 0, limit=50))
    timed("board: search a name", lambda: wf.board(search=ids[n // 2][-5:]))
    subject = ids[n // 3]
    me = wf.as_(subject)
    timed("action: self-review submitted", lambda: me.submit_self_review(subject, "done"))
    lead = teams[next(t for t, m in teams.items() if subject in m)][0]
    timed("action: manager enters the scores", lambda: wf.as_(lead).score(subject, {"visits": "20", "on_time_rate": "95%"}))
    timed("action: manager confirms", lambda: wf.as_(lead).confirm(subject))
    clock.set(dt.date(2025, 10, 9))
    timed("cycle advance (everyone else's self-review missing)", lambda: wf.advance())
    timed("explain one employee from stored results", lambda: wf.explain(subject, "total"))
    wf2 = Workflow(Store(folder / "w.db"), "H01", clock=clock)
    timed("explain again (fresh process state, policy compiled)", lambda: wf2.explain(ids[7], "coef"))
    everyone = timed("results of everyone (TUI distributions, hit counts)", lambda: wf2.results())
    from pkrules import api
    timed("  hit counts of every row and branch over them", lambda: api.coverage(everyone))
    # confirm everyone in bulk (SQL) to reach HR review, then correct one input: a recomputation of the population
    with wf.store.transaction():
        wf.store.execute("UPDATE appraisals SET stage = 'hr_review', version = version + 1")
    result = timed("hr correct one input (re-evaluates the population)", lambda: wf.correct(subject, {"visits": "7"}, "bench"))
    print(f"{'  employees whose figures changed':<58} {result.changed_employees:8d}")
    timed("publish", lambda: wf.publish())
    a = wf.as_(subject).file_appeal(subject, "visits", "bench").appeal_id
    timed("appeal accepted (one action)", lambda: wf.accept_appeal(a))
    timed("appeal upheld (re-evaluate, diff, store the new run)", lambda: wf.decide_appeal(a, "upheld", "bench", {"visits": "9"}))
    timed("audit verify (the whole chain)", lambda: wf.verify())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
