"""Benchmark: the TUI's cycle board at 10,000 employees — opening it, scrolling, filtering, searching, sorting.

    .venv/bin/python benchmarks/bench_tui.py              # 10,000 employees, the preview and a workflow store
    .venv/bin/python benchmarks/bench_tui.py -n 100000    # more
    .venv/bin/python benchmarks/bench_tui.py --preview    # the engine-only preview only (no store to build)

The app runs headless (Textual's run_test) at 120x40, exactly as in a terminal but without drawing to
one. "open" is from starting the app to the board showing its first screenful of rows: for the preview
that includes checking the policy, reading and evaluating the population (in a worker, behind the
progress bar); for the store, opening it through the workflow service and reading the first page.
Scrolling is the time per key press until the screen has been redrawn; filters, search and sorting are
the time from the key (or the typed text) to the board showing the new rows.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

POLICY = str(ROOT / "policies" / "sales_incentive.pk")
TODAY = dt.date(2024, 10, 16)


def write_population(n: int, folder: Path) -> str:
    import population  # benchmarks/population.py: seeded, dense in edge cases

    path = folder / "employees.csv"
    population.write(population.population(n), str(path))
    return str(path)


def write_org(data: str, folder: Path) -> str:
    """An org table for the population: HR, one manager per team (its first member), everyone else under them."""
    rows = list(csv.DictReader(open(data, encoding="utf-8")))
    managers: dict[str, str] = {}
    path = folder / "org.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "name", "role", "manager_id", "team", "login"])
        out.writerow(["H01", "人事", "hr", "", "人力资源部", "hr"])
        out.writerow(["X01", "高管", "executive", "", "管理层", "exec"])
        for row in rows:
            team = row["team"]
            if team not in managers:
                managers[team] = row["id"]
                out.writerow([row["id"], row["name"], "manager", "X01", team, ""])
            else:
                out.writerow([row["id"], row["name"], "employee", managers[team], team, ""])
    return str(path)


def build_store(data: str, folder: Path) -> str:
    from pkrules.workflow.clock import FixedClock
    from pkrules.workflow.service import Workflow

    db = folder / "cycle.db"
    wf = Workflow.open(str(db), as_person="H01", clock=FixedClock(dt.date(2024, 10, 8)), create=True)
    wf.create_cycle(POLICY, "2024Q3", write_org(data, folder), data, demo=True)
    wf.close()
    return str(db)


async def shown(pilot, ready) -> None:
    """Wait until ready() says the board shows the answer, then for the screen to be drawn."""
    app = pilot.app
    while True:
        await app.workers.wait_for_complete()
        await asyncio.sleep(0)
        if ready():
            break
        await asyncio.sleep(0.001)
    await pilot.pause()


async def measure(opener, label: str, search: str) -> dict[str, float]:
    from tui.app import make_app
    from tui.board import BoardScreen, BoardTable  # noqa: F401
    from tui.widgets import TextInput

    figures: dict[str, float] = {}
    start = time.perf_counter()
    app = make_app(opener=opener, blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while True:  # until the board shows rows
            await pilot.pause(0.01)
            screen = app.screen
            if isinstance(screen, BoardScreen):
                table = screen.query_one(BoardTable)
                if table.view is not None and len(table.view):
                    break
            if time.perf_counter() - start > 300:
                raise SystemExit(f"{label}: the board did not open in 300 s")
        await pilot.pause()
        figures["open"] = time.perf_counter() - start
        rows = len(table.view)

        board = app.screen

        def current():
            return board.query_one(BoardTable)

        async def timed(*keys: str, repeat: int = 1, ready=lambda: True) -> float:
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                await pilot.press(*keys)
                await shown(pilot, ready)
                times.append(time.perf_counter() - t)
            return statistics.median(times)

        def query_is(**wanted):
            return lambda: current().view is not None and all(getattr(current().view.query, k) == v for k, v in wanted.items())

        figures["scroll: ↓ (one row)"] = await timed("down", repeat=30)
        figures["scroll: PgDn (one screen)"] = await timed("pagedown", repeat=30)
        figures["scroll: End (to the last row)"] = await timed("end", repeat=3)
        figures["scroll: Home"] = await timed("home", repeat=3)
        figures["filter: overdue on"] = await timed("o", ready=query_is(overdue=True))
        figures["filter: overdue off"] = await timed("o", ready=query_is(overdue=False))
        figures["filter: open appeals on"] = await timed("x", ready=query_is(appeal=True))
        figures["filter: open appeals off"] = await timed("x", ready=query_is(appeal=False))
        figures["sort: by name"] = await timed("s", ready=query_is(sort="name"))
        figures["sort: by total (largest first)"] = await timed("s", "s", "s", "s", ready=query_is(sort="total"))
        await pilot.press("slash")
        search_box = board.query_one("#search", TextInput)
        t = time.perf_counter()
        search_box.value = search
        await shown(pilot, query_is(search=search))
        figures[f"search: '{search}'"] = time.perf_counter() - t
        found = len(current().view)
        t = time.perf_counter()
        search_box.value = ""
        await shown(pilot, query_is(search=""))
        figures["search: cleared"] = time.perf_counter() - t
    print(f"\n{label}: {rows:,} employees on the board ({found:,} match the search)")
    for what, seconds in figures.items():
        print(f"  {what:<34} {seconds * 1000:9.1f} ms")
    return figures


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="employees (default 10,000)")
    parser.add_argument("--preview", action="store_true", help="only the engine-only preview")
    args = parser.parse_args()
    from tui.model import open_preview, open_store

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other work slows every figure)")
    with tempfile.TemporaryDirectory(prefix="pkrules-bench-tui-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        data = write_population(args.n, folder)
        print(f"population of {args.n:,} written in {time.perf_counter() - t:.2f} s")
        asyncio.run(measure(lambda progress: open_preview(POLICY, data, today=TODAY, stage="mixed", progress=progress),
                            "preview (policy + data file, evaluated when the app opens)", "组12"))
        if not args.preview:
            t = time.perf_counter()
            db = build_store(data, folder)
            print(f"\nworkflow store with {args.n:,} appraisals built in {time.perf_counter() - t:.2f} s (not part of the figures)")
            from pkrules.workflow.clock import FixedClock

            asyncio.run(measure(lambda progress: open_store(db, "H01", progress=progress, clock=FixedClock(TODAY)),
                                "store (pkrules tui --db … --as H01)", "员工12"))


if __name__ == "__main__":
    main()
