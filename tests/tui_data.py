"""Fixed data for the TUI's tests: the bundled sample as a preview, and a workflow store built from it
through the service (a cycle in publication with one appeal open), on a fixed clock."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

ROOT = Path(__file__).parent.parent
POLICY = str(ROOT / "policies" / "sales_incentive.pk")
DATA = str(ROOT / "policies" / "sample" / "employees.csv")
POLICY_ZH = str(ROOT / "policies" / "sales_incentive.zh.pk")
DATA_ZH = str(ROOT / "policies" / "sample" / "employees.zh.csv")
ORG = str(ROOT / "policies" / "sample" / "org.csv")
TODAY = dt.date(2024, 10, 16)
APPEAL = ("E013", "visits", "I made 30 visits, not 20: the CRM export missed a week")


def preview(stage: str = "published", person: str = "hr", appeals=(APPEAL,), policy: str = POLICY, data: str = DATA,
            **options):
    """The engine-only model over the sample: everyone at `stage`, E013's appeal open (when published)."""
    from tui.model import open_preview

    if stage != "published":
        appeals = ()
    return open_preview(policy, data, person=person, today=TODAY, stage=stage, appeals=appeals, **options)


def build_store(path: str | Path) -> str:
    """A workflow store for the sample: self-reviews (30 in time, 10 missed), the managers' scores,
    publication on 2024-10-15 and E013's appeal on visits filed on 2024-10-16 — all through the service."""
    from pkrules.workflow.clock import FixedClock
    from pkrules.workflow.service import Workflow

    clock = FixedClock(dt.date(2024, 10, 8))
    wf = Workflow.open(str(path), as_person="H01", clock=clock, create=True)
    wf.create_cycle(POLICY, "2024Q3", ORG, DATA, manager_scores=["visits", "on_time_rate"], demo=True)
    ids = [r.employee_id for r in wf.board(limit=1000).rows]
    for eid in ids[:30]:
        wf.as_(eid).submit_self_review(eid, "targets met; CRM export attached", "crm-2024Q3.xlsx")
    clock.advance(7)
    wf.advance()
    for eid in ids:
        appraisal = wf.appraisal(eid)
        manager = wf.as_(appraisal.manager_id)
        scores = {f.name: f.exact for f in appraisal.inputs if f.name in ("visits", "on_time_rate")}
        manager.score(eid, scores)
        manager.confirm(eid)
    wf.publish()
    clock.advance(1)
    key, target, reason = APPEAL
    wf.as_(key).file_appeal(key, target, reason)
    wf.close()
    return str(path)


_STORE: dict[str, str] = {}


def store_copy(folder: Path) -> str:
    """A fresh copy of the sample store (built once per test session)."""
    if "db" not in _STORE:
        import tempfile

        built = Path(tempfile.mkdtemp(prefix="pkrules-tui-store-")) / "sample.db"
        _STORE["db"] = build_store(built)
    target = folder / "cycle.db"
    shutil.copyfile(_STORE["db"], target)
    return str(target)


def store(folder: Path, person: str = "H01"):
    """The store model over a fresh copy of the sample store, acting as `person` on 2024-10-16."""
    from pkrules.workflow.clock import FixedClock

    from tui.model import open_store

    return open_store(store_copy(folder), person, clock=FixedClock(TODAY))


async def settle(pilot, rounds: int = 6) -> None:
    """Wait until the app's workers are done and what they posted is on screen."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            break


def aio(test):
    """Run an async test (a Pilot session) without an async pytest plugin."""
    import asyncio
    import functools

    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run
