"""The demo store: the bundled 40-employee sample in publication, one appeal upheld, one dismissed and escalated,
one still open — built without asking anything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .clock import Clock, FixedClock
from .messages import StoreError, msg
from .store import Store

ROOT = Path(__file__).resolve().parents[2]


def sample_paths(zh: bool = False) -> tuple[Path, Path, Path]:
    """(policy, data, org) of the bundled sample, from a source checkout."""
    policies = ROOT / "policies"
    if zh:
        return policies / "sales_incentive.zh.pk", policies / "sample" / "employees.zh.csv", policies / "sample" / "org.csv"
    return policies / "sales_incentive.pk", policies / "sample" / "employees.csv", policies / "sample" / "org.csv"


def _remove_old(path: Path) -> None:
    if not path.exists():
        return
    try:
        store = Store(path, create=False)
        is_demo = store.meta("demo") == "1"
        store.close()
    except Exception:
        is_demo = False
    if not is_demo:
        raise StoreError(msg("{p} exists and is not a demo store: choose another --db (the demo never overwrites real data)", p=path))
    for suffix in ("", "-wal", "-shm"):
        extra = Path(str(path) + suffix)
        if extra.exists():
            extra.unlink()


def build_demo(path: str | Path, zh: bool = False, today: dt.date | None = None) -> Path:
    """Build the demo store at `path` (replacing an earlier demo store there), ending today."""
    from .service import Workflow

    path = Path(path)
    policy, data, org = sample_paths(zh)
    for f in (policy, data, org):
        if not f.exists():
            raise StoreError(msg("the demo needs the bundled sample ({f}): run it from a pkrules checkout", f=f))
    _remove_old(path)
    today = today or Clock().today()
    clock = FixedClock(today - dt.timedelta(days=14))
    wf = Workflow(Store(path), "H01", clock=clock)
    try:
        period = f"{today.year}Q{(today.month - 1) // 3 + 1}"
        wf.create_cycle(policy, period, org, data, demo=True)
        names = {"visits": "visits", "coef": "coef", "sales": "sales"}
        if zh:
            names = {"visits": "客户拜访量", "coef": "绩效系数", "sales": "销售额"}
        ids = [r.employee_id for r in wf.board(period, limit=1000).rows]
        clock.advance(2)
        for eid in ids:
            if eid == "E020":  # 吴洋 misses the self-review deadline
                continue
            wf.as_(eid).submit_self_review(eid, "完成了本季度目标，附 CRM 拜访记录" if zh else "Targets met; CRM visit log attached",
                                           "CRM 导出 Q3" if zh else "CRM export Q3")
        clock.advance(4)
        wf.advance(period)
        people = {r.employee_id: wf.appraisal(r.employee_id, period).manager_id for r in wf.board(period, limit=1000).rows}
        from .process import process_from_policy
        from pkrules import api

        scored_inputs = process_from_policy(api.compile_file(policy)).manager_scores
        first = True
        for eid in ids:
            manager = wf.as_(people[eid])
            if eid == "E035" and first:
                first = False
                manager.send_back(eid, "请补充大客户拜访的证明" if zh else "Add evidence for the key-account visits")
                wf.as_(eid).submit_self_review(eid, "已补充大客户拜访记录" if zh else "Key-account visit notes added",
                                               "拜访纪要 3 份" if zh else "3 visit reports")
            if scored_inputs:  # the policy's process: the manager scores these (here as the data has them)
                view = wf.appraisal(eid, period)
                manager.score(eid, {f.name: f.exact for f in view.inputs if f.name in scored_inputs})
            manager.confirm(eid, "同意" if zh else "Agreed")
        clock.advance(3)
        wf.correct("E004", {names["sales"]: "420000"}, "一笔订单晚录入了 2 万元" if zh else "An order of 20,000 was booked late")
        clock.advance(3)
        wf.publish(period)
        clock.set(today - dt.timedelta(days=1))
        e13 = wf.as_("E013").file_appeal("E013", names["visits"], "有 2 次拜访记在了同事名下" if zh else
                                         "Two of my visits were logged under a colleague's name")
        e22 = wf.as_("E022").file_appeal("E022", names["coef"], "模板2按 93.2 分给了 1.0，应为 1.2" if zh else
                                         "Template 2 gave 1.0 for 93.2 points; it should be 1.2")
        wf.accept_appeal(e13.appeal_id)
        wf.accept_appeal(e22.appeal_id)
        wf.decide_appeal(e13.appeal_id, "upheld", "CRM 日志证实了这 2 次拜访" if zh else "The CRM audit trail confirms both visits",
                         {names["visits"]: "22"})
        wf.decide_appeal(e22.appeal_id, "dismissed", "系数按精确分数计算，结果正确" if zh else
                         "The coefficient is computed from the exact score; the published figure is right")
        clock.set(today)
        wf.as_("E022").escalate_appeal(e22.appeal_id, "请部门复核" if zh else "I ask the department to review it")
        wf.as_("E031").file_appeal("E031", names["visits"], "拜访量统计口径有误" if zh else "The visit count uses the wrong period")
    finally:
        wf.close()
    return path
