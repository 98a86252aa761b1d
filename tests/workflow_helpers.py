"""Shared set-up for the workflow tests: a store with the sample cycle, at a fixed date."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from pkrules.workflow.clock import FixedClock
from pkrules.workflow.service import Workflow
from pkrules.workflow.store import Store

ROOT = Path(__file__).resolve().parents[1]
# The shipped policies declare their appraisal process (the manager scores visits and the on-time rate).
SHIPPED = ROOT / "policies" / "sales_incentive.pk"
SHIPPED_ZH = ROOT / "policies" / "sales_incentive.zh.pk"


def without_appraisal_block(policy: Path) -> Path:
    """A copy of a policy without its appraisal block (and the comment above it): the documents' default process."""
    lines = policy.read_text(encoding="utf-8").split("\n")
    start = next(n for n, line in enumerate(lines) if line.strip() in ("appraisal", "考核流程"))
    end = start + 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
    folder = Path(tempfile.mkdtemp(prefix="pkrules-workflow-"))
    copy = folder / policy.name
    copy.write_text("\n".join(lines[:start] + lines[end:]), encoding="utf-8")
    return copy


# Most workflow tests exercise the documents' process, in which the manager confirms the computed result.
POLICY = without_appraisal_block(SHIPPED)
POLICY_ZH = without_appraisal_block(SHIPPED_ZH)
DATA = ROOT / "policies" / "sample" / "employees.csv"
DATA_ZH = ROOT / "policies" / "sample" / "employees.zh.csv"
ORG = ROOT / "policies" / "sample" / "org.csv"

# Friday 26 September 2025: self-review (3 working days) ends Tuesday 30 September,
# just before the National Day holiday (1–8 October).
START = dt.date(2025, 9, 26)


def new_cycle(path, zh: bool = False, start: dt.date = START, period: str = "2025Q3", **kw) -> Workflow:
    clock = FixedClock(start)
    wf = Workflow(Store(path), "H01", clock=clock)
    wf.create_cycle(POLICY_ZH if zh else POLICY, period, ORG, DATA_ZH if zh else DATA, demo=True, **kw)
    return wf


def everyone_to_hr_review(wf: Workflow) -> None:
    for row in wf.board(limit=1000).rows:
        v = wf.appraisal(row.employee_id)
        if v.stage == "self_review":
            wf.as_(row.employee_id).submit_self_review(row.employee_id, "done")
            v = wf.appraisal(row.employee_id)
        if v.stage == "manager_review":
            wf.as_(v.manager_id).confirm(row.employee_id)
