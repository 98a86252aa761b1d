"""Who may do what, and when: every action's rule, the refusal that names who may and when, and what may be seen."""

from __future__ import annotations

from .messages import Msg, appeal_state_msg, cycle_state_msg, joined, level_msg, msg, stage_msg

APPRAISAL_ACTIONS = ("review.submit_self", "review.return", "review.score", "review.submit", "hr.correct",
                     "acknowledge", "appeal.file")
APPEAL_ACTIONS = ("appeal.accept", "appeal.reject", "appeal.request_info", "appeal.answer", "appeal.decide",
                  "appeal.withdraw", "appeal.escalate")
CYCLE_ACTIONS = ("cycle.advance", "cycle.publish", "cycle.finalize", "cycle.export")

# name → (label, CLI command, form fields, what it does)
ACTIONS = {
    "review.submit_self": (msg("Submit self-assessment"), "review submit {e} --comment TEXT [--evidence TEXT]",
                           ["comment", "evidence", "self_scores"],
                           msg("submit the self-assessment (自评)")),
    "review.return": (msg("Send back to the employee"), "review return {e} --reason TEXT", ["reason"],
                      msg("send the self-assessment back once, with a reason")),
    "review.score": (msg("Enter scores"), "review score {e} INPUT=VALUE…", ["scores", "comment"],
                     msg("enter the manager-scored inputs")),
    "review.submit": (msg("Confirm the result"), "review submit {e} [--comment TEXT]", ["comment"],
                      msg("confirm the result; it goes to HR review")),
    "hr.correct": (msg("Correct an input"), "hr correct {e} INPUT=VALUE… --reason TEXT", ["values", "reason"],
                   msg("correct inputs with a reason; everyone is evaluated again")),
    "acknowledge": (msg("Acknowledge the result"), "appeal ack {e}", [],
                    msg("acknowledge the published result")),
    "appeal.file": (msg("File an appeal"), "appeal file {e} TARGET --reason TEXT", ["target", "reason"],
                    msg("appeal against an input or a value of the explanation")),
    "appeal.accept": (msg("Accept the appeal"), "appeal accept {a}", ["note"],
                      msg("accept it for review")),
    "appeal.reject": (msg("Mark inadmissible"), "appeal reject {a} --reason TEXT", ["reason"],
                      msg("mark it inadmissible (late, or outside the employee's own result)")),
    "appeal.request_info": (msg("Request information"), "appeal request-info {a} --question TEXT", ["question"],
                            msg("ask the employee for information")),
    "appeal.answer": (msg("Give the information"), "appeal answer {a} --text TEXT", ["text"],
                      msg("give the information asked for")),
    "appeal.decide": (msg("Decide"), "appeal decide {a} upheld|partly_upheld|dismissed --reason TEXT [--set INPUT=VALUE…]",
                      ["outcome", "reason", "corrections"],
                      msg("decide: upheld (inputs corrected, recomputed), partly upheld or dismissed")),
    "appeal.withdraw": (msg("Withdraw"), "appeal withdraw {a}", ["reason"],
                        msg("withdraw the appeal")),
    "appeal.escalate": (msg("Escalate"), "appeal escalate {a} --reason TEXT", ["reason"],
                        msg("escalate the decision to the next level")),
    "cycle.advance": (msg("Advance past deadlines"), "cycle advance", [],
                      msg("move self-reviews past their deadline to the manager, marked missing")),
    "cycle.publish": (msg("Publish"), "cycle publish", [],
                      msg("publish the results for the publication period")),
    "cycle.finalize": (msg("Finalize"), "cycle finalize", [],
                       msg("lock the results: final and payable")),
    "cycle.export": (msg("Export payroll"), "cycle export OUT.csv", ["path"],
                     msg("write the payroll file")),
}

OPEN = ("submitted", "accepted", "under_review", "info_requested")


def describe(name: str, lang: str, employee_id: str | None, appeal_id: int | None) -> tuple[str, str, list[str], str]:
    label, command, fields, what = ACTIONS[name]
    command = "pkrules " + command.format(e=employee_id or "", a=appeal_id or "")
    return label.in_(lang), command, list(fields), what.in_(lang)


def may_see(me, appraisal: dict, chain: list[str]) -> bool:
    """HR and executives see everyone; an employee their own appraisal; a manager their own and the people
    below them (the direct reports on the board; further down only to decide an escalated appeal)."""
    if me.role in ("hr", "executive"):
        return True
    if me.id == appraisal["employee_id"]:
        return True
    return me.role == "manager" and me.id in chain


def _now(ctx) -> Msg:
    a = ctx["appraisal"]
    return msg("{e}'s appraisal is at {stage}", e=a["employee_id"], stage=stage_msg(a["stage"]))


def _join(*parts: Msg) -> Msg:
    return joined(msg("; "), parts)


def _employee_only(me, ctx, what: Msg, when: Msg) -> Msg | None:
    a = ctx["appraisal"]
    if me.id != a["employee_id"]:
        return msg("only {e} (the employee) may {w}, {when}", e=a["employee_id"], w=what, when=when)
    return None


def _manager_only(me, ctx, what: Msg) -> Msg | None:
    a = ctx["appraisal"]
    if me.id != a["manager_id"]:
        return msg("only {m}, {e}'s direct manager, may {w}, during manager review", m=a["manager_id"], e=a["employee_id"],
                   w=what)
    return None


def _role_word(role: str) -> Msg:
    return {"employee": msg("employee"), "manager": msg("manager"), "hr": msg("hr"),
            "executive": msg("executive")}.get(role) or msg("{name}", name=role)


def _hr_only(me, what: Msg, when: Msg | str = "") -> Msg | None:
    if me.role != "hr":
        return msg("only HR may {w}{when} (you are {me}, {r})", w=what, when=when, me=me.label(), r=_role_word(me.role))
    return None


def _decider(me, ctx) -> Msg | None:
    """Who decides an appeal at its current level: HR (answer), the department (a manager above the appellant),
    the HR panel (HR), the executive."""
    appeal, level = ctx["appeal"], ctx["level_name"]
    if me.id == appeal["employee_id"]:
        return msg("you cannot decide your own appeal")
    ok = {"hr": me.role == "hr", "hr_panel": me.role == "hr", "executive": me.role == "executive",
          "department": (me.role == "manager" and me.id in ctx.get("chain", [])) or me.role == "hr"}.get(level, False)
    if not ok:
        who = {"hr": msg("HR"), "hr_panel": msg("HR (the HR panel)"), "executive": msg("an executive"),
               "department": msg("a manager above the employee (or HR)")}.get(level) or msg("{name}", name=level)
        return msg("appeal #{i} is at the level of {l}: only {who} may act on it now", i=appeal["id"], l=level_msg(level),
                   who=who)
    return None


def check(name: str, me, ctx: dict) -> Msg | None:
    """None when `me` may take action `name` now; else the refusal: who may, and when."""
    a = ctx.get("appraisal")
    c = ctx["cycle"]
    if name.startswith("appeal.") and name != "appeal.file":
        return _check_appeal(name, me, ctx)
    if name == "review.submit_self":
        return _employee_only(me, ctx, msg("submit the self-assessment"), msg("during self-review")) or (
            None if a["stage"] == "self_review" else _join(
                msg("the self-assessment is submitted during self-review"), _now(ctx)))
    if name in ("review.return", "review.score", "review.submit"):
        what = {"review.return": msg("send the self-assessment back"),
                "review.score": msg("enter the scores"),
                "review.submit": msg("confirm the result")}[name]
        if ctx["spec"].role("manager_review") == "hr":  # the process has HR score (no line managers)
            refusal = None if me.role == "hr" else msg(
                "only HR may {w}, during manager review: this process has HR score instead of the manager", w=what)
        else:
            refusal = _manager_only(me, ctx, what)
        if refusal:
            return refusal
        if a["stage"] != "manager_review":
            return _join(msg("this is done during manager review"), _now(ctx))
        spec = ctx["spec"]
        if name == "review.return" and a["returned"]:
            return msg("{e}'s self-assessment was already sent back once; it can be sent back only once", e=a["employee_id"])
        if name == "review.return" and a["self_review_missing"]:
            return msg("{e} submitted no self-assessment (missing): there is nothing to send back; score and confirm", e=a["employee_id"])
        if name == "review.score" and not spec.manager_scores:
            return msg("this process has no manager-scored inputs: confirm the computed result with `review submit`")
        if name == "review.submit" and spec.manager_scores:
            import json

            scored = json.loads(a["scored"] or "{}")
            missing = [n for n in spec.manager_scores if n not in scored]
            if missing:
                return msg("score {m} first (`review score {e} {m}=…`), then confirm", m=", ".join(missing),
                           e=a["employee_id"])
        return None
    if name == "hr.correct":
        refusal = _hr_only(me, msg("correct inputs"), msg(" during HR review"))
        if refusal:
            return refusal
        if a["stage"] == "published":
            return msg("{e}'s result is published: a correction now goes through an appeal", e=a["employee_id"])
        if a["stage"] == "final":
            return msg("{e}'s result is final and never changes: record an adjusting entry in a later cycle (`hr adjust`)", e=a["employee_id"])
        if a["stage"] != "hr_review":
            return _join(msg("HR corrects inputs during HR review"), _now(ctx))
        return None
    if name == "acknowledge":
        return _employee_only(me, ctx, msg("acknowledge the result"), msg("during publication")) or (
            _join(msg("results are acknowledged during publication"), _now(ctx))
            if a["stage"] != "published" else
            (msg("already acknowledged") if a["acknowledged"] else None))
    if name == "appeal.file":
        refusal = _employee_only(me, ctx, msg("appeal against this result"), msg("during publication"))
        if refusal:
            return refusal
        if a["stage"] != "published":
            return _join(msg("an appeal is filed while the result is published"), _now(ctx))
        if a["open_appeals"]:
            return msg("{e} already has an open appeal: withdraw it or wait for its decision", e=a["employee_id"])
        return None
    if name == "cycle.advance":
        return _hr_only(me, msg("advance the cycle")) or (
            None if c["state"] == "open" else msg("cycle {c} is {s}: nothing left to advance",
                                                  c=c["id"], s=cycle_state_msg(c["state"])))
    if name == "cycle.publish":
        refusal = _hr_only(me, msg("publish"), msg(" once every appraisal is at HR review"))
        if refusal:
            return refusal
        if c["state"] != "open":
            return msg("cycle {c} is already {s}", c=c["id"], s=cycle_state_msg(c["state"]))
        if ctx["not_at_hr"]:
            return msg("{n} appraisals are still at self-review or manager review (see `cycle status --stage manager_review`); "
                       "publish when all are at HR review (`cycle advance` moves missed self-reviews on)", n=ctx["not_at_hr"])
        return None
    if name == "cycle.finalize":
        refusal = _hr_only(me, msg("finalize"), msg(" after the publication period"))
        if refusal:
            return refusal
        if c["state"] != "published":
            return msg("cycle {c} is {s}: it is finalized after publication",
                       c=c["id"], s=cycle_state_msg(c["state"]))
        if c["publication_deadline"] and ctx["today"] <= c["publication_deadline"]:
            return msg("the publication period runs until {d} (working days): finalize after it", d=c["publication_deadline"])
        if ctx["open_appeals"]:
            return msg("{n} appeals are still open: decide them first", n=ctx["open_appeals"])
        return None
    if name == "cycle.export":
        return _hr_only(me, msg("export the payroll"), msg(" of a final cycle")) or (
            None if c["state"] == "final" else msg("cycle {c} is {s}: only a final cycle is paid (`cycle finalize` first)",
                                                   c=c["id"], s=cycle_state_msg(c["state"])))
    if name == "hr.adjust":
        refusal = _hr_only(me, msg("record an adjusting entry"))
        if refusal:
            return refusal
        target = ctx["target"]
        if c["state"] != "final":
            return msg("cycle {c} is not final: correct it directly (`hr correct`, or an appeal)", c=c["id"])
        if target["id"] == c["id"]:
            return msg("a final cycle never changes: the adjusting entry goes into a later cycle (--into CYCLE)")
        if target["state"] == "final":
            return msg("cycle {t} is final too: adjust into a cycle that is not paid yet",
                       t=target["id"])
        return None
    raise KeyError(name)


def _check_appeal(name: str, me, ctx: dict) -> Msg | None:
    appeal = ctx["appeal"]
    state = appeal["state"]
    c = ctx["cycle"]
    if c["state"] == "final" and name != "appeal.withdraw":
        return msg("cycle {c} is final: appeals are closed", c=c["id"])

    def state_is(*states) -> Msg | None:
        if state in states:
            return None
        return msg("appeal #{i} is {s}; this is possible when it is {w}", i=appeal["id"], s=appeal_state_msg(state),
                   w=joined(msg(" or "), [appeal_state_msg(x) for x in states]))

    if name in ("appeal.answer", "appeal.withdraw", "appeal.escalate"):
        if me.id != appeal["employee_id"]:
            what = {"appeal.answer": msg("give the information"), "appeal.withdraw": msg("withdraw it"),
                    "appeal.escalate": msg("escalate it")}[name]
            return msg("only {e}, who filed appeal #{i}, may {w}", e=appeal["employee_id"], i=appeal["id"], w=what)
        if name == "appeal.answer":
            return state_is("info_requested")
        if name == "appeal.withdraw":
            return state_is(*OPEN)
        refusal = state_is("partly_upheld", "dismissed", "inadmissible")
        if refusal:
            return refusal
        levels = len(ctx["spec"].escalation)
        if appeal["level"] >= levels:
            return msg("appeal #{i} was decided at the last level ({l}): it cannot be escalated further", i=appeal["id"],
                       l=level_msg(ctx["level_name"]))
        return None
    if name in ("appeal.accept", "appeal.reject"):
        refusal = _hr_only(me, msg("accept or reject an appeal"))
        if refusal:
            return refusal
        refusal = state_is("submitted")
        if refusal:
            return refusal
        if name == "appeal.accept" and appeal["late"]:
            return msg("appeal #{i} was filed on {f}, after the publication period ended on {d}: mark it inadmissible "
                       "(`appeal reject`)",
                       i=appeal["id"], f=appeal["filed_on"], d=c["publication_deadline"])
        return None
    refusal = _decider(me, ctx)
    if refusal:
        return refusal
    return state_is("accepted", "under_review")


def summarize(action: str, details: dict, lang: str) -> str:
    """One line for the audit log, in the cycle's language."""
    def corr():
        c = details.get("corrections") or {}
        return ", ".join(f"{k} {v.get('before')}→{v.get('after')}" if isinstance(v, dict) else f"{k}={v}" for k, v in c.items())
    get = details.get
    if action == "cycle.new":
        line = msg("cycle created: {n} employees, self-review due {d}", n=get("employees"), d=get("self_review_deadline"))
    elif action == "review.score":
        line = msg("manager scores: {scores}", scores=", ".join(f"{k}={v.get('after')}" for k, v in (get("scores") or {}).items()))
    elif action == "review.return":
        line = msg("sent back: {reason}", reason=get("reason"))
    elif action == "hr.correct":
        line = msg("HR corrected {corrections}: {reason} (run {run})", corrections=corr(), reason=get("reason"), run=get("run"))
    elif action == "appeal.file":
        line = msg("appeal filed on {target}: {reason}", target=get("target"), reason=get("reason"))
    elif action == "appeal.reject":
        line = msg("appeal inadmissible: {reason}", reason=get("reason"))
    elif action == "appeal.request_info":
        line = msg("information requested: {question}", question=get("question"))
    elif action == "appeal.decide":
        outcome = appeal_state_msg(get("outcome") or "")
        line = (msg("appeal {outcome}: {reason} ({corrections})", outcome=outcome, reason=get("reason"),
                    corrections=corr()) if get("corrections") else
                msg("appeal {outcome}: {reason}", outcome=outcome, reason=get("reason")))
    elif action == "appeal.escalate":
        line = msg("escalated to {to}: {reason}", to=level_msg(get("to") or ""), reason=get("reason"))
    elif action == "cycle.advance":
        line = msg("moved on: self-review missing") if "self_review" in details else msg("advance: {n} moved", n=get("moved"))
    elif action == "cycle.publish":
        line = msg("published until {d}", d=get("until"))
    elif action == "cycle.export":
        line = msg("payroll exported to {path} ({rows} rows)", path=get("path"), rows=get("rows"))
    elif action == "run":
        line = msg("evaluated again (run {run}, {reason}): {n} changed", run=get("run"), reason=get("reason"),
                   n=get("changed_employees"))
    elif action == "hr.adjust":
        line = msg("adjusting entry for {cycle}: {reason}", cycle=get("original_cycle"), reason=get("reason"))
    else:
        line = {
            "review.submit_self": msg("self-assessment submitted"),
            "review.submit": msg("confirmed by the manager → HR review"),
            "acknowledge": msg("acknowledged the result"),
            "appeal.accept": msg("appeal accepted"),
            "appeal.answer": msg("information given"),
            "appeal.withdraw": msg("appeal withdrawn"),
            "cycle.finalize": msg("final: results locked"),
        }.get(action) or msg("{name}", name=action)
    return line.in_(lang)
