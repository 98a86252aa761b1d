"""Who may do what, and when: every action's rule, the refusal that names who may and when, and what may be seen."""

from __future__ import annotations

from .messages import Msg, level_name, msg, stage_name

APPRAISAL_ACTIONS = ("review.submit_self", "review.return", "review.score", "review.submit", "hr.correct",
                     "acknowledge", "appeal.file")
APPEAL_ACTIONS = ("appeal.accept", "appeal.reject", "appeal.request_info", "appeal.answer", "appeal.decide",
                  "appeal.withdraw", "appeal.escalate")
CYCLE_ACTIONS = ("cycle.advance", "cycle.publish", "cycle.finalize", "cycle.export")

# name → (English label, Chinese label, CLI command, form fields, what it does (en), (zh))
ACTIONS = {
    "review.submit_self": ("Submit self-assessment", "提交自评", "review submit {e} --comment TEXT [--evidence TEXT]",
                           ["comment", "evidence", "self_scores"], "submit the self-assessment (自评)", "提交自评"),
    "review.return": ("Send back to the employee", "退回员工", "review return {e} --reason TEXT", ["reason"],
                      "send the self-assessment back once, with a reason", "退回自评（仅一次），须说明原因"),
    "review.score": ("Enter scores", "评分", "review score {e} INPUT=VALUE…", ["scores", "comment"],
                     "enter the manager-scored inputs", "录入上级评分项"),
    "review.submit": ("Confirm the result", "确认评分", "review submit {e} [--comment TEXT]", ["comment"],
                      "confirm the result; it goes to HR review", "确认评分，进入 HR 汇总"),
    "hr.correct": ("Correct an input", "更正输入", "hr correct {e} INPUT=VALUE… --reason TEXT", ["values", "reason"],
                   "correct inputs with a reason; everyone is evaluated again", "更正输入并说明原因；全员重新计算"),
    "acknowledge": ("Acknowledge the result", "确认结果", "appeal ack {e}", [], "acknowledge the published result",
                    "确认公示结果无异议"),
    "appeal.file": ("File an appeal", "提出申诉", "appeal file {e} TARGET --reason TEXT", ["target", "reason"],
                    "appeal against an input or a value of the explanation", "对某个输入项或解释中的值提出申诉"),
    "appeal.accept": ("Accept the appeal", "受理申诉", "appeal accept {a}", ["note"], "accept it for review", "受理并进入审理"),
    "appeal.reject": ("Mark inadmissible", "不予受理", "appeal reject {a} --reason TEXT", ["reason"],
                      "mark it inadmissible (late, or outside the employee's own result)", "不予受理（逾期，或不涉及本人结果）"),
    "appeal.request_info": ("Request information", "要求补充材料", "appeal request-info {a} --question TEXT", ["question"],
                            "ask the employee for information", "要求员工补充材料"),
    "appeal.answer": ("Give the information", "补充材料", "appeal answer {a} --text TEXT", ["text"],
                      "give the information asked for", "提供所要求的材料"),
    "appeal.decide": ("Decide", "裁决", "appeal decide {a} upheld|partly_upheld|dismissed --reason TEXT [--set INPUT=VALUE…]",
                      ["outcome", "reason", "corrections"], "decide: upheld (inputs corrected, recomputed), partly upheld or dismissed",
                      "裁决：成立（更正输入并重新计算）、部分成立或驳回"),
    "appeal.withdraw": ("Withdraw", "撤回申诉", "appeal withdraw {a}", ["reason"], "withdraw the appeal", "撤回申诉"),
    "appeal.escalate": ("Escalate", "提请上级处理", "appeal escalate {a} --reason TEXT", ["reason"],
                        "escalate the decision to the next level", "将裁决提请上一级处理"),
    "cycle.advance": ("Advance past deadlines", "按截止日期推进", "cycle advance", [],
                      "move self-reviews past their deadline to the manager, marked missing", "逾期未交的自评转给上级，标记缺失"),
    "cycle.publish": ("Publish", "公示", "cycle publish", [], "publish the results for the publication period", "公示结果"),
    "cycle.finalize": ("Finalize", "定稿", "cycle finalize", [], "lock the results: final and payable", "锁定结果：定稿并可发放"),
    "cycle.export": ("Export payroll", "导出工资表", "cycle export OUT.csv", ["path"], "write the payroll file", "导出工资表"),
}

OPEN = ("submitted", "accepted", "under_review", "info_requested")


def describe(name: str, lang: str, employee_id: str | None, appeal_id: int | None) -> tuple[str, str, list[str], str]:
    en, zh, command, fields, what_en, what_zh = ACTIONS[name]
    command = "pkrules " + command.format(e=employee_id or "", a=appeal_id or "")
    return (zh if lang == "zh" else en), command, list(fields), (what_zh if lang == "zh" else what_en)


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
    return Msg(f"{a['employee_id']}'s appraisal is at {stage_name(a['stage'], 'en')}",
               f"{a['employee_id']} 的考核当前处于「{stage_name(a['stage'], 'zh')}」阶段")


def _join(*parts: Msg) -> Msg:
    return Msg("; ".join(p.en for p in parts), "；".join(p.zh for p in parts))


def _employee_only(me, ctx, what_en, what_zh, when_en, when_zh) -> Msg | None:
    a = ctx["appraisal"]
    if me.id != a["employee_id"]:
        return msg("only {e} (the employee) may {w}, {when}", "只有员工本人（{e}）可以{wz}，{whenz}",
                   e=a["employee_id"], w=what_en, wz=what_zh, when=when_en, whenz=when_zh)
    return None


def _manager_only(me, ctx, what_en, what_zh) -> Msg | None:
    a = ctx["appraisal"]
    if me.id != a["manager_id"]:
        return msg("only {m}, {e}'s direct manager, may {w}, during manager review",
                   "只有 {e} 的直属上级（{m}）可以在上级评分阶段{wz}", m=a["manager_id"], e=a["employee_id"], w=what_en, wz=what_zh)
    return None


def _hr_only(me, what_en, what_zh, when_en="", when_zh="") -> Msg | None:
    if me.role != "hr":
        return msg("only HR may {w}{when} (you are {me}, {r})", "只有 HR 可以{wz}{whenz}（您是 {me}，角色 {r}）",
                   w=what_en, wz=what_zh, when=when_en, whenz=when_zh, me=me.label(), r=me.role)
    return None


def _decider(me, ctx) -> Msg | None:
    """Who decides an appeal at its current level: HR (answer), the department (a manager above the appellant),
    the HR panel (HR), the executive."""
    appeal, level = ctx["appeal"], ctx["level_name"]
    if me.id == appeal["employee_id"]:
        return msg("you cannot decide your own appeal", "不能裁决自己的申诉")
    ok = {"hr": me.role == "hr", "hr_panel": me.role == "hr", "executive": me.role == "executive",
          "department": (me.role == "manager" and me.id in ctx.get("chain", [])) or me.role == "hr"}.get(level, False)
    if not ok:
        return msg("appeal #{i} is at the level of {l}: only {who} may act on it now",
                   "申诉 #{i} 当前由{lz}处理：现在只有{whoz}可以操作", i=appeal["id"], l=level_name(level, "en"),
                   lz=level_name(level, "zh"),
                   who={"hr": "HR", "hr_panel": "HR (the HR panel)", "executive": "an executive",
                        "department": "a manager above the employee (or HR)"}.get(level, level),
                   whoz={"hr": "HR", "hr_panel": "HR（HR委员会）", "executive": "高管",
                         "department": "该员工的上级经理（或 HR）"}.get(level, level))
    return None


def check(name: str, me, ctx: dict) -> Msg | None:
    """None when `me` may take action `name` now; else the refusal: who may, and when."""
    a = ctx.get("appraisal")
    c = ctx["cycle"]
    if name.startswith("appeal.") and name != "appeal.file":
        return _check_appeal(name, me, ctx)
    if name == "review.submit_self":
        return _employee_only(me, ctx, "submit the self-assessment", "提交自评", "during self-review", "在自评阶段") or (
            None if a["stage"] == "self_review" else _join(
                msg("the self-assessment is submitted during self-review", "自评只能在自评阶段提交"), _now(ctx)))
    if name in ("review.return", "review.score", "review.submit"):
        what = {"review.return": ("send the self-assessment back", "退回自评"),
                "review.score": ("enter the scores", "录入评分"),
                "review.submit": ("confirm the result", "确认评分")}[name]
        refusal = _manager_only(me, ctx, *what)
        if refusal:
            return refusal
        if a["stage"] != "manager_review":
            return _join(msg("this is done during manager review", "这一操作只能在上级评分阶段进行"), _now(ctx))
        spec = ctx["spec"]
        if name == "review.return" and a["returned"]:
            return msg("{e}'s self-assessment was already sent back once; it can be sent back only once",
                       "{e} 的自评已退回过一次；只能退回一次", e=a["employee_id"])
        if name == "review.return" and a["self_review_missing"]:
            return msg("{e} submitted no self-assessment (missing): there is nothing to send back; score and confirm",
                       "{e} 未提交自评（缺失）：无可退回；请直接评分并确认", e=a["employee_id"])
        if name == "review.score" and not spec.manager_scores:
            return msg("this process has no manager-scored inputs: confirm the computed result with `review submit`",
                       "本流程没有上级评分项：请用 `review submit` 确认计算结果")
        if name == "review.submit" and spec.manager_scores:
            import json

            scored = json.loads(a["scored"] or "{}")
            missing = [n for n in spec.manager_scores if n not in scored]
            if missing:
                return msg("score {m} first (`review score {e} {m}=…`), then confirm",
                           "请先评分 {m}（`review score {e} {m}=…`），再确认", m=", ".join(missing), e=a["employee_id"])
        return None
    if name == "hr.correct":
        refusal = _hr_only(me, "correct inputs", "更正输入", " during HR review", "（在 HR 汇总阶段）")
        if refusal:
            return refusal
        if a["stage"] == "published":
            return msg("{e}'s result is published: a correction now goes through an appeal (`appeal decide … --set`)",
                       "{e} 的结果已公示：现在的更正须通过申诉（`appeal decide … --set`）", e=a["employee_id"])
        if a["stage"] == "final":
            return msg("{e}'s result is final and never changes: record an adjusting entry in a later cycle (`hr adjust`)",
                       "{e} 的结果已定稿，不再修改：请在以后的周期中记录调整项（`hr adjust`）", e=a["employee_id"])
        if a["stage"] != "hr_review":
            return _join(msg("HR corrects inputs during HR review", "HR 只能在 HR 汇总阶段更正输入"), _now(ctx))
        return None
    if name == "acknowledge":
        return _employee_only(me, ctx, "acknowledge the result", "确认结果", "during publication", "在公示期内") or (
            _join(msg("results are acknowledged during publication", "只能在公示期内确认结果"), _now(ctx))
            if a["stage"] != "published" else
            (msg("already acknowledged", "已确认过") if a["acknowledged"] else None))
    if name == "appeal.file":
        refusal = _employee_only(me, ctx, "appeal against this result", "对该结果提出申诉", "during publication", "在公示期内")
        if refusal:
            return refusal
        if a["stage"] != "published":
            return _join(msg("an appeal is filed while the result is published", "申诉只能在公示期内提出"), _now(ctx))
        if a["open_appeals"]:
            return msg("{e} already has an open appeal: withdraw it or wait for its decision",
                       "{e} 已有未结申诉：请先撤回或等待裁决", e=a["employee_id"])
        return None
    if name == "cycle.advance":
        return _hr_only(me, "advance the cycle", "推进周期") or (
            None if c["state"] == "open" else msg("cycle {c} is {s}: nothing left to advance", "周期 {c} 处于 {s} 状态：无可推进",
                                                  c=c["id"], s=c["state"]))
    if name == "cycle.publish":
        refusal = _hr_only(me, "publish", "公示结果", " once every appraisal is at HR review", "（所有考核都到达 HR 汇总之后）")
        if refusal:
            return refusal
        if c["state"] != "open":
            return msg("cycle {c} is already {s}", "周期 {c} 已经是 {s} 状态", c=c["id"], s=c["state"])
        if ctx["not_at_hr"]:
            return msg("{n} appraisals are still at self-review or manager review (see `cycle status --stage manager_review`); "
                       "publish when all are at HR review (`cycle advance` moves missed self-reviews on)",
                       "还有 {n} 份考核处于自评或上级评分阶段（见 `cycle status --stage manager_review`）；全部到达 HR 汇总后才能公示"
                       "（`cycle advance` 可推进逾期的自评）", n=ctx["not_at_hr"])
        return None
    if name == "cycle.finalize":
        refusal = _hr_only(me, "finalize", "定稿", " after the publication period", "（公示期结束后）")
        if refusal:
            return refusal
        if c["state"] != "published":
            return msg("cycle {c} is {s}: it is finalized after publication", "周期 {c} 处于 {s} 状态：须公示后才能定稿",
                       c=c["id"], s=c["state"])
        if c["publication_deadline"] and ctx["today"] <= c["publication_deadline"]:
            return msg("the publication period runs until {d} (working days): finalize after it",
                       "公示期至 {d}（工作日）：请在公示期结束后定稿", d=c["publication_deadline"])
        if ctx["open_appeals"]:
            return msg("{n} appeals are still open (`cycle status --appeals`): decide them first",
                       "还有 {n} 个申诉未结（`cycle status --appeals`）：请先裁决", n=ctx["open_appeals"])
        return None
    if name == "cycle.export":
        return _hr_only(me, "export the payroll", "导出工资表", " of a final cycle", "（已定稿的周期）") or (
            None if c["state"] == "final" else msg("cycle {c} is {s}: only a final cycle is paid (`cycle finalize` first)",
                                                   "周期 {c} 处于 {s} 状态：只有定稿的周期才能发放（请先 `cycle finalize`）",
                                                   c=c["id"], s=c["state"]))
    if name == "hr.adjust":
        refusal = _hr_only(me, "record an adjusting entry", "记录调整项")
        if refusal:
            return refusal
        target = ctx["target"]
        if c["state"] != "final":
            return msg("cycle {c} is not final: correct it directly (`hr correct`, or an appeal)",
                       "周期 {c} 尚未定稿：请直接更正（`hr correct` 或申诉）", c=c["id"])
        if target["id"] == c["id"]:
            return msg("a final cycle never changes: the adjusting entry goes into a later cycle (--into CYCLE)",
                       "已定稿的周期不再修改：调整项须记入以后的周期（--into 周期）")
        if target["state"] == "final":
            return msg("cycle {t} is final too: adjust into a cycle that is not paid yet", "周期 {t} 也已定稿：请记入尚未发放的周期",
                       t=target["id"])
        return None
    raise KeyError(name)


def _check_appeal(name: str, me, ctx: dict) -> Msg | None:
    appeal = ctx["appeal"]
    state = appeal["state"]
    c = ctx["cycle"]
    if c["state"] == "final" and name != "appeal.withdraw":
        return msg("cycle {c} is final: appeals are closed", "周期 {c} 已定稿：申诉已关闭", c=c["id"])

    def state_is(*states) -> Msg | None:
        if state in states:
            return None
        from .messages import appeal_state_name

        return msg("appeal #{i} is {s}; this is possible when it is {w}", "申诉 #{i} 当前为「{sz}」；此操作仅在「{wz}」时可进行",
                   i=appeal["id"], s=appeal_state_name(state, "en"), sz=appeal_state_name(state, "zh"),
                   w=" or ".join(appeal_state_name(x, "en") for x in states),
                   wz="」或「".join(appeal_state_name(x, "zh") for x in states))

    if name in ("appeal.answer", "appeal.withdraw", "appeal.escalate"):
        if me.id != appeal["employee_id"]:
            what = {"appeal.answer": ("give the information", "补充材料"), "appeal.withdraw": ("withdraw it", "撤回"),
                    "appeal.escalate": ("escalate it", "提请上级处理")}[name]
            return msg("only {e}, who filed appeal #{i}, may {w}", "只有提出申诉 #{i} 的 {e} 可以{wz}",
                       e=appeal["employee_id"], i=appeal["id"], w=what[0], wz=what[1])
        if name == "appeal.answer":
            return state_is("info_requested")
        if name == "appeal.withdraw":
            return state_is(*OPEN)
        refusal = state_is("partly_upheld", "dismissed", "inadmissible")
        if refusal:
            return refusal
        levels = len(ctx["spec"].escalation)
        if appeal["level"] >= levels:
            return msg("appeal #{i} was decided at the last level ({l}): it cannot be escalated further",
                       "申诉 #{i} 已由最后一级（{lz}）裁决：不能再提请", i=appeal["id"], l=level_name(ctx["level_name"], "en"),
                       lz=level_name(ctx["level_name"], "zh"))
        return None
    if name in ("appeal.accept", "appeal.reject"):
        refusal = _hr_only(me, "accept or reject an appeal", "受理或不予受理申诉")
        if refusal:
            return refusal
        refusal = state_is("submitted")
        if refusal:
            return refusal
        if name == "appeal.accept" and appeal["late"]:
            return msg("appeal #{i} was filed on {f}, after the publication period ended on {d}: mark it inadmissible "
                       "(`appeal reject`)", "申诉 #{i} 于 {f} 提出，晚于公示期截止日 {d}：请标记为不予受理（`appeal reject`）",
                       i=appeal["id"], f=appeal["filed_on"], d=c["publication_deadline"])
        return None
    refusal = _decider(me, ctx)
    if refusal:
        return refusal
    return state_is("accepted", "under_review")


def summarize(action: str, details: dict, lang: str) -> str:
    """One line for the audit log, in the cycle's language."""
    zh = lang == "zh"
    def corr():
        c = details.get("corrections") or {}
        return ", ".join(f"{k} {v.get('before')}→{v.get('after')}" if isinstance(v, dict) else f"{k}={v}" for k, v in c.items())
    words = {
        "cycle.new": (f"cycle created: {details.get('employees')} employees, self-review due {details.get('self_review_deadline')}",
                      f"创建周期：{details.get('employees')} 人，自评截止 {details.get('self_review_deadline')}"),
        "review.submit_self": ("self-assessment submitted", "提交自评"),
        "review.score": ("manager scores: " + ", ".join(f"{k}={v.get('after')}" for k, v in (details.get("scores") or {}).items()),
                         "上级评分：" + ", ".join(f"{k}={v.get('after')}" for k, v in (details.get("scores") or {}).items())),
        "review.submit": ("confirmed by the manager → HR review", "上级确认 → HR 汇总"),
        "review.return": (f"sent back: {details.get('reason')}", f"退回：{details.get('reason')}"),
        "hr.correct": (f"HR corrected {corr()}: {details.get('reason')} (run {details.get('run')})",
                       f"HR 更正 {corr()}：{details.get('reason')}（第 {details.get('run')} 次计算）"),
        "acknowledge": ("acknowledged the result", "确认结果"),
        "appeal.file": (f"appeal filed on {details.get('target')}: {details.get('reason')}",
                        f"就 {details.get('target')} 提出申诉：{details.get('reason')}"),
        "appeal.accept": ("appeal accepted", "申诉已受理"),
        "appeal.reject": (f"appeal inadmissible: {details.get('reason')}", f"申诉不予受理：{details.get('reason')}"),
        "appeal.request_info": (f"information requested: {details.get('question')}", f"要求补充材料：{details.get('question')}"),
        "appeal.answer": ("information given", "已补充材料"),
        "appeal.decide": (f"appeal {details.get('outcome')}: {details.get('reason')}" + (f" ({corr()})" if details.get("corrections") else ""),
                          f"申诉裁决 {details.get('outcome')}：{details.get('reason')}" + (f"（{corr()}）" if details.get("corrections") else "")),
        "appeal.withdraw": ("appeal withdrawn", "申诉已撤回"),
        "appeal.escalate": (f"escalated to {details.get('to')}: {details.get('reason')}", f"提请 {details.get('to')}：{details.get('reason')}"),
        "cycle.advance": (f"moved on: self-review missing" if "self_review" in details else f"advance: {details.get('moved')} moved",
                          "自评缺失，转入上级评分" if "self_review" in details else f"推进：{details.get('moved')} 份"),
        "cycle.publish": (f"published until {details.get('until')}", f"公示至 {details.get('until')}"),
        "cycle.finalize": ("final: results locked", "定稿：结果锁定"),
        "cycle.export": (f"payroll exported to {details.get('path')} ({details.get('rows')} rows)",
                         f"导出工资表 {details.get('path')}（{details.get('rows')} 行）"),
        "run": (f"evaluated again (run {details.get('run')}, {details.get('reason')}): {details.get('changed_employees')} changed",
                f"重新计算（第 {details.get('run')} 次，{details.get('reason')}）：{details.get('changed_employees')} 人变化"),
        "hr.adjust": (f"adjusting entry for {details.get('original_cycle')}: {details.get('reason')}",
                      f"调整 {details.get('original_cycle')}：{details.get('reason')}"),
    }
    en, zhs = words.get(action, (action, action))
    return zhs if zh else en
