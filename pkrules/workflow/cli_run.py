"""Carrying out a workflow command: open the store as the right person, call the service, print for HR."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from .messages import BadInput, NotFound, StoreError, WorkflowError, msg


def _table(headers: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    from pkrules.api import table  # aligned, with CJK display widths

    return table(headers, rows, numeric)


def _pairs(values: list[str], lang: str = "en") -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BadInput(msg("'{i}': write INPUT=VALUE (e.g. visits=31)", "'{i}'：请写成 输入项=值（例如 客户拜访量=31）", i=item), lang)
        out[name.strip()] = value.strip()
    return out


def _open(args, create: bool = False):
    from .service import Workflow

    if args.action == "audit_verify":  # anyone may check the chain: it shows no figures
        from .store import Store

        return Workflow(Store(args.db, create=False), None)
    return Workflow.open(args.db, as_person=getattr(args, "as_person", None), create=create)


def _lang_of(wf, args) -> str:
    try:
        return wf.cycle(getattr(args, "cycle", None)).lang
    except WorkflowError:
        return "en"


def run(args) -> int:
    action = args.action
    wf = None
    lang = "en"
    try:
        if action == "demo":
            return _demo(args)
        if action != "cycle_new" and not Path(args.db).exists():
            raise StoreError(msg("{p}: no such store; create one with `pkrules cycle new` (or `pkrules demo --db {p}`), or "
                                 "choose it with --db", "{p}：没有这个数据库；请先用 `pkrules cycle new`（或 `pkrules demo --db {p}`）"
                                 "创建，或用 --db 指定", p=args.db))
        wf = _open(args, create=action == "cycle_new")
        lang = _lang_of(wf, args)
        out = HANDLERS[action](wf, args)
        return out or 0
    except WorkflowError as e:
        print(("错误：" if (e.lang == "zh" or lang == "zh") else "error: ") + e.in_(e.lang if e.lang != "en" else lang), file=sys.stderr)
        return 2 if isinstance(e, (BadInput, StoreError)) else 1
    finally:
        if wf is not None:
            wf.close()


# ---- cycle ------------------------------------------------------------------------------------


def cycle_new(wf, args) -> int:
    start = None
    if args.start:
        try:
            start = dt.date.fromisoformat(args.start)
        except ValueError:
            raise BadInput(msg("--start {s}: write a date as YYYY-MM-DD", "--start {s}：日期请写成 YYYY-MM-DD", s=args.start)) from None
    related = None
    if args.related:
        related = {}
        for spec in args.related:
            name, sep, path = spec.partition("=")
            if not sep:
                raise BadInput(msg("--with {s}: write --with TABLE=FILE", "--with {s}：请写成 --with 表名=文件", s=spec))
            related[name] = path
    for label, path in (("policy", args.policy), ("--people", args.people), ("--data", args.data)):
        if not Path(path).exists():
            raise BadInput(msg("{l} {p}: no such file", "{l} {p}：文件不存在", l=label, p=path))
    scores = [s.strip() for s in args.manager_scores.split(",") if s.strip()] if args.manager_scores else None
    info = wf.create_cycle(args.policy, args.period, args.people, args.data, related=related, start=start, manager_scores=scores)
    lang = info.lang
    page = wf.board(info.id, limit=1)
    deadline = page.rows[0].deadline if page.rows else None
    print(msg("cycle {c} created in {db}: {n} employees evaluated with {t} (policy sha256 {s}…){g}\n"
              "self-review is open until {d}. Next: employees run `pkrules review submit ID --comment …`; "
              "`pkrules cycle status` shows where everyone is.",
              "已在 {db} 创建周期 {c}：按《{t}》计算了 {n} 名员工（政策 sha256 {s}…）{gz}\n"
              "自评截止 {d}。下一步：员工执行 `pkrules review submit 工号 --comment …`；`pkrules cycle status` 查看进度。",
              c=info.id, db=args.db, n=info.employees, t=info.policy_title, s=info.policy_sha256[:12],
              g=f", git {info.policy_git_commit[:12]}" if info.policy_git_commit else "",
              gz=f"，git {info.policy_git_commit[:12]}" if info.policy_git_commit else "", d=deadline or "-").in_(lang))
    return 0


def cycle_list(wf, args) -> int:
    cycles = wf.cycles()
    if not cycles:
        print("no cycles / 没有周期")
        return 0
    rows = [[c.id, c.policy_title, c.state, str(c.employees), str(c.open_appeals), c.lang] for c in cycles]
    print(_table(["cycle", "policy", "state", "employees", "open appeals", "lang"], rows, [False, False, False, True, True, False]))
    return 0


def cycle_status(wf, args) -> int:
    info = wf.cycle(args.cycle)
    lang = info.lang
    zh = lang == "zh"
    limit = max(1, args.limit)
    page = wf.board(args.cycle, team=args.team, stage=args.stage, overdue=True if args.overdue else None,
                    has_appeal=True if args.appeals else None, search=args.search, sort=args.sort, descending=args.desc,
                    offset=(max(1, args.page) - 1) * limit, limit=limit)
    headers = (["工号", "姓名", "小组", "阶段", "截止日期", "逾期", "申诉", page.main_output] if zh else
               ["id", "name", "team", "stage", "deadline", "overdue", "appeal", page.main_output])
    flagged = False
    rows = []
    for r in page.rows:
        deadline = r.deadline.isoformat() if r.deadline else "—"
        if r.deadline_note:
            deadline += "*"
            flagged = True
        stage = r.stage_label + ((" (自评缺失)" if zh else " (self-review missing)") if r.self_review_missing else "")
        rows.append([r.employee_id, r.name, r.team, stage, deadline, ("逾期" if zh else "OVERDUE") if r.overdue else "",
                     ("有" if zh else "open") if r.has_open_appeal else "", r.total])
    title = (f"周期 {info.id}（{info.policy_title}）：{_state(info.state, lang)}" if zh else
             f"cycle {info.id} ({info.policy_title}): {info.state}")
    if info.state == "published" and info.publication_deadline:
        title += f"，公示期至 {info.publication_deadline}" if zh else f", publication until {info.publication_deadline}"
    print(title)
    counts = ", ".join(f"{_stage(s, lang)} {n}" for s, n in info.stages.items() if n)
    print(("  " + counts + f"；逾期 {info.overdue}，未结申诉 {info.open_appeals}") if zh else
          ("  " + counts + f"; overdue {info.overdue}, open appeals {info.open_appeals}"))
    if info.provisional:
        print("  注意：上级评分后尚未重新计算，数值为暂定（公示时重新计算）" if zh else
              "  note: manager scores were entered since the last evaluation: figures are provisional until publication")
    print()
    if not rows:
        print("（没有符合条件的考核）" if zh else "(no appraisal matches)")
    else:
        print(_table(headers, rows, [False, False, False, False, False, False, False, True]))
    first = page.offset + 1 if rows else 0
    last = page.offset + len(rows)
    pages = max(1, -(-page.total_count // limit))
    print()
    print((f"第 {first}–{last} 条，共 {page.total_count} 条（第 {args.page}/{pages} 页）" if zh else
           f"{first}–{last} of {page.total_count} (page {args.page} of {pages})")
          + ((("；--page N 翻页" if zh else "; --page N for more")) if pages > 1 else ""))
    if flagged:
        note = next(r.deadline_note for r in page.rows if r.deadline_note)
        print(f"* {note}")
    return 0


def cycle_show(wf, args) -> int:
    v = wf.appraisal(args.employee, args.cycle)
    zh = v.lang == "zh"
    print(f"{v.employee_id} {v.name} — {v.team} — {v.stage_label}" +
          (f"（截止 {v.deadline}{'，逾期' if v.overdue else ''}）" if zh and v.deadline else
           f" (due {v.deadline}{', OVERDUE' if v.overdue else ''})" if v.deadline else ""))
    if v.deadline_note:
        print(f"  * {v.deadline_note}")
    if v.manager_id:
        print(("  直属上级：" if zh else "  manager: ") + f"{v.manager_id} {v.manager_name or ''}")
    if v.self_review_missing:
        print("  自评：缺失（逾期未交）" if zh else "  self-review: missing (not submitted in time)")
    elif v.self_assessment:
        print(("  自评：" if zh else "  self-assessment: ") + v.self_assessment.get("comment", "") +
              (f"  [{v.self_assessment['evidence']}]" if v.self_assessment.get("evidence") else ""))
    print()
    print(_table(["输入项" if zh else "input", "值" if zh else "value", "来源" if zh else "source"],
                 [[f.name, f.value, f.source] for f in v.inputs], [False, True, False]))
    print()
    print(_table(["结果" if zh else "result", "值" if zh else "value"], [[f.name, f.value] for f in v.results], [False, True]))
    if v.provisional:
        print("（暂定：公示时重新计算）" if zh else "(provisional: evaluated again at publication)")
    for appeal in v.appeals:
        print()
        _print_appeal(appeal, zh)
    print()
    print("可执行的操作：" if zh else "actions:")
    for option in wf.actions(v.employee_id, v.cycle_id):
        mark = "✓" if option.allowed else "✗"
        print(f"  {mark} {option.label}: {option.reason}" + (f"\n      {option.command}" if option.allowed else ""))
    return 0


def _print_appeal(a, zh: bool) -> None:
    print((f"申诉 #{a.id}（{a.target}）：{a.state_label}，{a.level_name}" if zh else
           f"appeal #{a.id} on {a.target}: {a.state_label}, at the level of {a.level_name}") +
          (("（逾期提出）" if zh else " (filed late)") if a.late else "") +
          ((f"，须于 {a.deadline} 前答复" if zh else f", answer due {a.deadline}") if a.open and a.deadline else ""))
    print(("  理由：" if zh else "  reason: ") + a.reason)
    if a.info_request:
        print(("  要求补充：" if zh else "  information requested: ") + a.info_request)
    if a.info_answer:
        print(("  已补充：" if zh else "  information given: ") + a.info_answer)
    if a.decision:
        print(("  裁决：" if zh else "  decision: ") + f"{_decision(a, zh)} — {a.decision_reason} ({a.decided_by})")
    for name, c in a.corrections.items():
        print(("  更正：" if zh else "  corrected: ") + f"{name} {c['before']} → {c['after']}")
    if a.change_lines:
        print("  变化（已存档）：" if zh else "  what changed (stored):")
        for line in a.change_lines:
            print("    " + line)


def _simple(method: str, *fields):
    def handler(wf, args) -> int:
        result = getattr(wf, method)(*[getattr(args, f) if not callable(f) else f(args) for f in fields])
        print(result.message)
        return 0
    return handler


def cycle_export(wf, args) -> int:
    report = wf.export(args.out, args.cycle)
    print(report.message)
    return 0


# ---- review, hr ----------------------------------------------------------------------------------


def review_submit(wf, args) -> int:
    v = wf.appraisal(args.employee, args.cycle)
    me = wf.me(args.cycle)
    if me is not None and me.id == v.employee_id and v.stage != "manager_review":
        scores = _pairs(args.self_score, v.lang)
        result = wf.submit_self_review(args.employee, args.comment, args.evidence, scores, args.cycle)
    else:
        result = wf.confirm(args.employee, args.comment, args.cycle)
    print(result.message)
    return 0


def review_score(wf, args) -> int:
    print(wf.score(args.employee, _pairs(args.values), args.comment, args.cycle).message)
    return 0


def review_return(wf, args) -> int:
    print(wf.send_back(args.employee, args.reason, args.cycle).message)
    return 0


def hr_correct(wf, args) -> int:
    print(wf.correct(args.employee, _pairs(args.values), args.reason, args.cycle).message)
    return 0


def hr_adjust(wf, args) -> int:
    print(wf.adjust(args.original, args.employee, _pairs(args.values), args.reason, args.into).message)
    return 0


# ---- appeals ------------------------------------------------------------------------------------


def appeal_file(wf, args) -> int:
    print(wf.file_appeal(args.employee, args.target, args.reason, args.cycle).message)
    return 0


def appeal_ack(wf, args) -> int:
    print(wf.acknowledge(args.employee, args.cycle).message)
    return 0


def appeal_list(wf, args) -> int:
    appeals = wf.appeals(args.cycle, open_only=args.open)
    zh = _lang_of(wf, args) == "zh"
    if not appeals:
        print("没有申诉" if zh else "no appeals")
        return 0
    rows = [[f"#{a.id}", a.employee_id, a.target, a.state_label, a.level_name, str(a.deadline or "—") +
             (" !" if a.overdue else ""), _decision(a, zh)] for a in appeals]
    print(_table(["申诉", "工号", "对象", "状态", "处理级别", "答复期限", "裁决"] if zh else
                 ["appeal", "employee", "target", "state", "level", "answer due", "decision"], rows, [False] * 7))
    return 0


def _decision(a, zh: bool) -> str:
    if not a.decision:
        return ""
    from .messages import appeal_state_name

    return appeal_state_name(a.decision, "zh" if zh else "en")


def appeal_show(wf, args) -> int:
    a = wf.appeal(args.id)
    _print_appeal(a, wf.cycle(a.cycle_id).lang == "zh")
    return 0


def appeal_decide(wf, args) -> int:
    print(wf.decide_appeal(args.id, args.outcome, args.reason, _pairs(args.values) or None).message)
    return 0


# ---- audit, explain -------------------------------------------------------------------------------


def audit_log(wf, args) -> int:
    events = wf.events(args.cycle, args.employee, args.limit)
    rows = []
    for e in events:
        who = e.actor + (f" (by {e.operator})" if e.operator else "")
        rows.append([f"#{e.seq}", e.at.replace("T", " "), who, e.employee_id or "", e.action, e.summary])
    zh = _lang_of(wf, args) == "zh"
    print(_table(["#", "时间", "操作人", "员工", "动作", "内容"] if zh else ["#", "at", "actor", "employee", "action", "what"], rows,
                 [False] * 6))
    return 0


def audit_verify(wf, args) -> int:
    report = wf.verify()
    lang = "en"
    try:
        lang = wf.cycle().lang
    except WorkflowError:
        pass
    print(report.text(lang), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def explain_cycle(wf, args) -> int:
    from pkrules import api

    if not args.employee:
        raise BadInput(msg("write: pkrules explain --cycle CYCLE EMPLOYEE [NODE]", "用法：pkrules explain --cycle 周期 工号 [值]"))
    explanation = wf.explain(args.employee, args.node, args.cycle)
    if getattr(args, "json", False):
        print(api.render_json(explanation))
    elif getattr(args, "markdown", False):
        print(api.render_markdown(explanation), end="")
    else:
        info = wf.cycle(args.cycle)
        print((f"周期 {info.id}（已存储的结果，政策 sha256 {info.policy_sha256[:12]}…）" if info.lang == "zh" else
               f"cycle {info.id} (stored results, policy sha256 {info.policy_sha256[:12]}…)"))
        print(api.render_tree(explanation))
    return 0


# ---- demo -----------------------------------------------------------------------------------------


def _demo(args) -> int:
    from .demo import build_demo

    path = build_demo(args.db, zh=args.zh)
    if not args.no_tui:
        try:
            import tui  # noqa: F401  (the Textual app, in tui/)
            from tui import run_app
        except ImportError:
            print("(the TUI is not installed here: showing the status table; `pkrules demo --no-tui` skips this note)\n")
        else:
            return run_app(str(path)) or 0
    from .service import Workflow

    wf = Workflow.open(path, as_person="H01")
    try:
        ns = type("A", (), {"cycle": None, "team": None, "stage": None, "overdue": False, "appeals": False, "search": None,
                            "sort": "id", "desc": False, "page": 1, "limit": 50})
        cycle_status(wf, ns)
        print()
        appeal_list(wf, type("A", (), {"cycle": None, "open": False}))
        lang = wf.cycle().lang
    finally:
        wf.close()
    print()
    print(msg("demo store: {p}. Try: pkrules cycle show E013 --db {p} --as H01; pkrules appeal show 1 --db {p} --as H01; "
              "pkrules audit verify --db {p}",
              "演示数据库：{p}。试试：pkrules cycle show E013 --db {p} --as H01；pkrules appeal show 1 --db {p} --as H01；"
              "pkrules audit verify --db {p}", p=path).in_(lang))
    return 0


def _state(state: str, lang: str) -> str:
    return {"open": "进行中", "published": "公示中", "final": "已定稿"}.get(state, state) if lang == "zh" else state


def _stage(stage: str, lang: str) -> str:
    from .messages import stage_name

    return stage_name(stage, lang)


HANDLERS = {
    "cycle_new": cycle_new, "cycle_list": cycle_list, "cycle_status": cycle_status, "cycle_show": cycle_show,
    "cycle_advance": _simple("advance", "cycle"), "cycle_publish": _simple("publish", "cycle"),
    "cycle_finalize": _simple("finalize", "cycle"), "cycle_export": cycle_export,
    "review_submit": review_submit, "review_score": review_score, "review_return": review_return,
    "hr_correct": hr_correct, "hr_adjust": hr_adjust,
    "appeal_file": appeal_file, "appeal_ack": appeal_ack, "appeal_list": appeal_list, "appeal_show": appeal_show,
    "appeal_accept": _simple("accept_appeal", "id", "text"), "appeal_reject": _simple("reject_appeal", "id", "text"),
    "appeal_request_info": _simple("request_info", "id", "text"), "appeal_answer": _simple("answer_info", "id", "text"),
    "appeal_withdraw": _simple("withdraw_appeal", "id", "text"), "appeal_escalate": _simple("escalate_appeal", "id", "text"),
    "appeal_decide": appeal_decide,
    "audit_log": audit_log, "audit_verify": audit_verify, "explain_cycle": explain_cycle,
}
