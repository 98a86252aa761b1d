"""Carrying out a workflow command: open the store as the right person, call the service, print for HR."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from pkrules.messages import set_language, tr

from .messages import BadInput, StoreError, WorkflowError, appeal_state_name, msg, stage_name


def _table(headers: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    from pkrules.api import table  # aligned, with CJK display widths

    return table(headers, rows, numeric)


def _pairs(values: list[str], lang: str = "en") -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BadInput(msg("'{i}': write INPUT=VALUE (e.g. visits=31)", i=item), lang)
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
                                 "choose it with --db", p=args.db))
        wf = _open(args, create=action == "cycle_new")
        lang = _lang_of(wf, args)
        set_language(lang)  # the cycle's policy's language (or the user's --lang) from here on
        out = HANDLERS[action](wf, args)
        return out or 0
    except WorkflowError as e:
        said = set_language(e.lang if e.lang != "en" else lang)
        print(tr("error: {message}", message=e.in_(said)), file=sys.stderr)
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
            raise BadInput(msg("--start {s}: write a date as YYYY-MM-DD", s=args.start)) from None
    related = None
    if args.related:
        related = {}
        for spec in args.related:
            name, sep, path = spec.partition("=")
            if not sep:
                raise BadInput(msg("--with {s}: write --with TABLE=FILE", s=spec))
            related[name] = path
    for label, path in (("policy", args.policy), ("--people", args.people), ("--data", args.data)):
        if not Path(path).exists():
            raise BadInput(msg("{l} {p}: no such file", l=label, p=path))
    scores = [s.strip() for s in args.manager_scores.split(",") if s.strip()] if args.manager_scores else None
    info = wf.create_cycle(args.policy, args.period, args.people, args.data, related=related, start=start, manager_scores=scores)
    set_language(info.lang)
    page = wf.board(info.id, limit=1)
    deadline = page.rows[0].deadline if page.rows else None
    values = dict(c=info.id, db=args.db, n=info.employees, t=info.policy_title, s=info.policy_sha256[:12], d=deadline or "-")
    if info.policy_git_commit:
        print(tr("cycle {c} created in {db}: {n} employees evaluated with {t} (policy sha256 {s}…), git {g}\n"
                 "self-review is open until {d}. Next: employees run `pkrules review submit ID --comment …`; "
                 "`pkrules cycle status` shows where everyone is.", g=info.policy_git_commit[:12], **values))
    else:
        print(tr("cycle {c} created in {db}: {n} employees evaluated with {t} (policy sha256 {s}…)\n"
                 "self-review is open until {d}. Next: employees run `pkrules review submit ID --comment …`; "
                 "`pkrules cycle status` shows where everyone is.", **values))
    return 0


def cycle_list(wf, args) -> int:
    cycles = wf.cycles()
    if not cycles:
        print(tr("no cycles"))
        return 0
    rows = [[c.id, c.policy_title, c.state, str(c.employees), str(c.open_appeals), c.lang] for c in cycles]
    print(_table([tr("cycle"), tr("policy"), tr("state"), tr("employees"), tr("open appeals"), tr("lang")], rows,
                 [False, False, False, True, True, False]))
    return 0


def cycle_status(wf, args) -> int:
    info = wf.cycle(args.cycle)
    lang = set_language(info.lang)
    limit = max(1, args.limit)
    page = wf.board(args.cycle, team=args.team, stage=args.stage, overdue=True if args.overdue else None,
                    has_appeal=True if args.appeals else None, search=args.search, sort=args.sort, descending=args.desc,
                    offset=(max(1, args.page) - 1) * limit, limit=limit)
    headers = [tr("id"), tr("name", ctx="person"), tr("team"), tr("stage"), tr("deadline"), tr("overdue"), tr("appeal"), page.main_output]
    flagged = False
    rows = []
    for r in page.rows:
        deadline = r.deadline.isoformat() if r.deadline else "—"
        if r.deadline_note:
            deadline += "*"
            flagged = True
        stage = tr("{stage} (self-review missing)", stage=r.stage_label) if r.self_review_missing else r.stage_label
        rows.append([r.employee_id, r.name, r.team, stage, deadline, tr("OVERDUE") if r.overdue else "",
                     tr("open", ctx="appeal") if r.has_open_appeal else "", r.total])
    state = _state(info.state, lang)
    if info.state == "published" and info.publication_deadline:
        print(tr("cycle {c} ({t}): {state}, publication until {d}", c=info.id, t=info.policy_title, state=state,
                 d=info.publication_deadline))
    else:
        print(tr("cycle {c} ({t}): {state}", c=info.id, t=info.policy_title, state=state))
    counts = tr(", ").join(f"{_stage(s, lang)} {n}" for s, n in info.stages.items() if n)
    print("  " + tr("{counts}; overdue {overdue}, open appeals {appeals}", counts=counts, overdue=info.overdue,
                    appeals=info.open_appeals))
    if info.provisional:
        print(tr("  note: manager scores were entered since the last evaluation: figures are provisional until publication"))
    print()
    if not rows:
        print(tr("(no appraisal matches)"))
    else:
        print(_table(headers, rows, [False, False, False, False, False, False, False, True]))
    first = page.offset + 1 if rows else 0
    last = page.offset + len(rows)
    pages = max(1, -(-page.total_count // limit))
    print()
    shown = dict(first=first, last=last, total=page.total_count, page=args.page, pages=pages)
    print(tr("{first}–{last} of {total} (page {page} of {pages}); --page N for more", **shown) if pages > 1 else
          tr("{first}–{last} of {total} (page {page} of {pages})", **shown))
    if flagged:
        note = next(r.deadline_note for r in page.rows if r.deadline_note)
        print(f"* {note}")
    return 0


def cycle_show(wf, args) -> int:
    v = wf.appraisal(args.employee, args.cycle)
    set_language(v.lang)
    head = f"{v.employee_id} {v.name} — {v.team} — {v.stage_label}"
    if v.deadline:
        head += (tr(" (due {d}, OVERDUE)", d=v.deadline) if v.overdue else tr(" (due {d})", d=v.deadline))
    print(head)
    if v.deadline_note:
        print(f"  * {v.deadline_note}")
    if v.manager_id:
        print(tr("  manager: {who}", who=f"{v.manager_id} {v.manager_name or ''}"))
    if v.self_review_missing:
        print(tr("  self-review: missing (not submitted in time)"))
    elif v.self_assessment:
        print(tr("  self-assessment: {text}", text=v.self_assessment.get("comment", "")) +
              (f"  [{v.self_assessment['evidence']}]" if v.self_assessment.get("evidence") else ""))
    print()
    print(_table([tr("input"), tr("value"), tr("source")], [[f.name, f.value, f.source] for f in v.inputs], [False, True, False]))
    print()
    print(_table([tr("result"), tr("value")], [[f.name, f.value] for f in v.results], [False, True]))
    if v.provisional:
        print(tr("(provisional: evaluated again at publication)"))
    for appeal in v.appeals:
        print()
        _print_appeal(appeal)
    print()
    print(tr("actions:"))
    for option in wf.actions(v.employee_id, v.cycle_id):
        mark = "✓" if option.allowed else "✗"
        print(tr("  {mark} {label}: {reason}", mark=mark, label=option.label, reason=option.reason)
              + (f"\n      {option.command}" if option.allowed else ""))
    return 0


def _print_appeal(a) -> None:
    head = tr("appeal #{i} on {t}: {state}, at the level of {level}", i=a.id, t=a.target, state=a.state_label,
              level=a.level_name)
    if a.late:
        head += tr(" (filed late)")
    if a.open and a.deadline:
        head += tr(", answer due {d}", d=a.deadline)
    print(head)
    print(tr("  reason: {text}", text=a.reason))
    if a.info_request:
        print(tr("  information requested: {text}", text=a.info_request))
    if a.info_answer:
        print(tr("  information given: {text}", text=a.info_answer))
    if a.decision:
        print(tr("  decision: {text}", text=f"{_decision(a)} — {a.decision_reason} ({a.decided_by})"))
    for name, c in a.corrections.items():
        print(tr("  corrected: {text}", text=f"{name} {c['before']} → {c['after']}"))
    if a.change_lines:
        print(tr("  what changed (stored):"))
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
    set_language(_lang_of(wf, args))
    if not appeals:
        print(tr("no appeals"))
        return 0
    rows = [[f"#{a.id}", a.employee_id, a.target, a.state_label, a.level_name, str(a.deadline or "—") +
             (" !" if a.overdue else ""), _decision(a)] for a in appeals]
    print(_table([tr("appeal"), tr("employee"), tr("target"), tr("state"), tr("level"), tr("answer due"), tr("decision")],
                 rows, [False] * 7))
    return 0


def _decision(a) -> str:
    if not a.decision:
        return ""
    from pkrules.messages import current_language

    return appeal_state_name(a.decision, current_language())


def appeal_show(wf, args) -> int:
    a = wf.appeal(args.id)
    set_language(wf.cycle(a.cycle_id).lang)
    _print_appeal(a)
    return 0


def appeal_decide(wf, args) -> int:
    print(wf.decide_appeal(args.id, args.outcome, args.reason, _pairs(args.values) or None).message)
    return 0


# ---- audit, explain -------------------------------------------------------------------------------


def audit_log(wf, args) -> int:
    events = wf.events(args.cycle, args.employee, args.limit)
    set_language(_lang_of(wf, args))
    rows = []
    for e in events:
        who = tr("{actor} (by {operator})", actor=e.actor, operator=e.operator) if e.operator else e.actor
        rows.append([f"#{e.seq}", e.at.replace("T", " "), who, e.employee_id or "", e.action, e.summary])
    print(_table(["#", tr("at"), tr("actor"), tr("employee"), tr("action"), tr("what")], rows, [False] * 6))
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
        raise BadInput(msg("write: pkrules explain --cycle CYCLE EMPLOYEE [NODE]"))
    explanation = wf.explain(args.employee, args.node, args.cycle)
    if getattr(args, "json", False):
        print(api.render_json(explanation))
    elif getattr(args, "markdown", False):
        print(api.render_markdown(explanation), end="")
    else:
        info = wf.cycle(args.cycle)
        set_language(info.lang)
        print(tr("cycle {c} (stored results, policy sha256 {s}…)", c=info.id, s=info.policy_sha256[:12]))
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
            print(tr("(the TUI is not installed here: showing the status table; `pkrules demo --no-tui` skips this note)")
                  + "\n")
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
              "pkrules audit verify --db {p}", p=path).in_(lang))
    return 0


def _state(state: str, lang: str) -> str:
    from .messages import cycle_state_msg

    return cycle_state_msg(state).in_(lang)


def _stage(stage: str, lang: str) -> str:
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
