"""The appraisal process block (appraisal / 考核流程): its vocabulary in both languages, its lines read, checked.

    appraisal
      self review: 3 working days, by employee
      manager review: 5 working days, by manager, scores visits, on_time_rate
      hr review: by hr
      publication: 3 working days
      appeal: 5 working days, by hr, escalate to department, hr panel, executive
      calendar: china, days off 2025-10-10

Each line is a stage (or the calendar), a colon, and clauses separated by commas:
a deadline in working days, `by ROLE`, `scores INPUT, …` (what the role enters),
`escalate to LEVEL, …` (appeals). A list goes on after a comma until the next
clause word. The workflow (pkrules/workflow/process.py) reads the block through
the rule graph; the vocabulary here is the one both use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pkrules.language.diagnostics import Diagnostic
from pkrules.language.source import NO_SPAN, Span
from pkrules.messages import tr

STAGE_KINDS = ("self_review", "manager_review", "hr_review", "publication", "appeal")
ROLES = ("employee", "manager", "hr", "executive")
ESCALATION_LEVELS = ("department", "hr_panel", "executive")
CALENDARS = ("china", "weekdays")
MAX_ESCALATION = 3

# The HR documents' process (seeds-digest §5): 自评 3 working days, 上级评分 5, HR汇总,
# 公示 3, 申诉 answered in 5 by HR, mediation department → HR panel → senior management.
DEFAULT_DAYS = {"self_review": 3, "manager_review": 5, "hr_review": None, "publication": 3, "appeal": 5}
DEFAULT_ROLE = {"self_review": "employee", "manager_review": "manager", "hr_review": "hr",
                "publication": "hr", "appeal": "hr"}
# Who can act at each stage, as the workflow does it: the employee assesses themselves; the direct
# manager scores (or HR, where the org has no line managers); HR aggregates and publishes; an appeal is
# answered by HR or by an executive. Any other role is refused by check, not ignored by the workflow.
STAGE_ROLES = {"self_review": ("employee",), "manager_review": ("manager", "hr"), "hr_review": ("hr",),
               "publication": ("hr",), "appeal": ("hr", "executive")}

# Words as authors write them (English in any case, words joined by a space, '-' or '_') → the kind.
STAGE_WORDS = {
    "self_review": ("self review", "self-review", "self_review", "self assessment", "自评", "自我评价", "自评阶段"),
    "manager_review": ("manager review", "manager_review", "manager scoring", "上级评分", "上级评价", "经理评分", "主管评分"),
    "hr_review": ("hr review", "hr_review", "hr summary", "HR审核", "HR汇总", "人事审核", "人力审核", "HR 审核", "HR 汇总"),
    "publication": ("publication", "publish", "公示"),
    "appeal": ("appeal", "appeals", "申诉"),
}
CALENDAR_LINE = ("calendar", "日历")
ROLE_WORDS = {
    "employee": ("employee", "员工", "本人"),
    "manager": ("manager", "上级", "经理", "主管"),
    "hr": ("hr", "HR", "人事", "人力"),
    "executive": ("executive", "高管", "管理层"),
}
LEVEL_WORDS = {
    "department": ("department", "部门"),
    "hr_panel": ("hr panel", "hr_panel", "HR委员会", "HR 委员会", "人事委员会"),
    "executive": ("executive", "高管", "管理层"),
}
CALENDAR_WORDS = {"china": ("china", "中国", "中国法定节假日"), "weekdays": ("weekdays", "周一至周五", "双休")}
BY_WORDS = ("by", "由")
SCORES_WORDS = ("scores", "评分", "打分")
ESCALATE_WORDS = ("escalate to", "escalate", "升级", "升级至", "升级到")
DAYS_OFF_WORDS = ("days off", "休息日", "公司休息日")
DAY_WORDS = ("working days", "working day", "days", "day", "个 工作日", "个工作日", "工作日", "个 工作日内", "工作日内")
NO_DEADLINE_WORDS = ("no deadline", "不设期限", "无期限")

# How fmt writes them, per language (the first word of each list above is the English).
CANONICAL = {
    "en": {"self_review": "self review", "manager_review": "manager review", "hr_review": "hr review",
           "publication": "publication", "appeal": "appeal", "calendar": "calendar",
           "employee": "employee", "manager": "manager", "hr": "hr", "executive": "executive",
           "department": "department", "hr_panel": "hr panel", "china": "china", "weekdays": "weekdays",
           "by": "by", "scores": "scores", "escalate": "escalate to", "days_off": "days off",
           "days": "{n} working days", "day": "{n} working day", "no_deadline": "no deadline",
           "block": "appraisal", "colon": ": ", "comma": ", ", "list": ", "},
    "zh": {"self_review": "自评", "manager_review": "上级评分", "hr_review": "HR审核", "publication": "公示",
           "appeal": "申诉", "calendar": "日历", "employee": "员工", "manager": "上级", "hr": "HR", "executive": "高管",
           "department": "部门", "hr_panel": "HR委员会", "china": "中国", "weekdays": "周一至周五",
           "by": "由", "scores": "评分", "escalate": "升级", "days_off": "休息日",
           "days": "{n} 个工作日", "day": "{n} 个工作日", "no_deadline": "不设期限",
           "block": "考核流程", "colon": "：", "comma": "，", "list": "、"},
}


@dataclass(frozen=True)
class AppraisalStage:
    """One stage as the block declares it (the shape the workflow reads)."""

    kind: str  # one of STAGE_KINDS, or the words as written when they name no stage (reported by check)
    days: int | None = None  # working days; None: not written (the stage's default)
    role: str | None = None  # one of ROLES, or as written when unknown; None: the stage's default
    scores: tuple[str, ...] = ()  # inputs the role enters at this stage
    escalation: tuple[str, ...] = ()  # appeal: the levels in order
    no_deadline: bool = False  # `no deadline` written
    words: tuple = field(default=(), compare=False, repr=False)  # (what, text, span) for check's messages
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Appraisal:
    """The appraisal / 考核流程 block: stages in the order written, the calendar and company days off."""

    stages: tuple[AppraisalStage, ...]
    calendar: str | None = None
    days_off: tuple[dt.date, ...] = ()
    calendar_span: Span = field(default=NO_SPAN, compare=False, repr=False)
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


def _norm(text: str) -> str:
    return " ".join(text.replace("-", " ").replace("_", " ").split()).lower() if text.isascii() else " ".join(text.split())


def _lookup(words: dict[str, tuple[str, ...]], text: str) -> str | None:
    wanted = _norm(text)
    for kind, options in words.items():
        if wanted in {_norm(o) for o in options}:
            return kind
    return None


def _starts(words: tuple[str, ...], parts: list[tuple[str, Span]]) -> int:
    """How many of the leading parts spell one of the words (0: none)."""
    for option in sorted(words, key=lambda w: -len(w.split())):
        n = len(option.split())
        if len(parts) >= n and _norm(" ".join(p for p, _ in parts[:n])) == _norm(option):
            return n
    return 0


class AppraisalSyntax(Exception):
    """A line of the block that cannot be read; the parser turns it into a syntax diagnostic."""

    def __init__(self, message: str, span: Span, hint: str | None = None):
        super().__init__(message)
        self.message, self.span, self.hint = message, span, hint


def read_line(label: list[tuple[str, Span]], clauses: list[list[tuple[object, Span]]]) -> AppraisalStage | tuple:
    """One line: its label (words before the colon) and its comma-separated clauses (words, numbers, dates).

    Returns an AppraisalStage, or ("calendar", name, span, days off) for the calendar line."""
    label_text = " ".join(str(w) for w, _ in label)
    span = Span.join(label[0][1], label[-1][1])
    if _lookup({"calendar": CALENDAR_LINE}, label_text):
        return _calendar(clauses, span)
    kind = _lookup(STAGE_WORDS, label_text) or label_text
    days: int | None = None
    role: str | None = None
    scores: list[str] = []
    escalation: list[str] = []
    no_deadline = False
    words: list[tuple] = [("stage", label_text, span)]
    current: list | None = None  # the list a bare continuation adds to
    for clause in clauses:
        if not clause:
            raise AppraisalSyntax(tr("an empty clause between two commas"), span)
        texts = [(str(w), s) for w, s in clause]
        first = clause[0][0]
        clause_span = Span.join(clause[0][1], clause[-1][1])
        if isinstance(first, int) or (isinstance(first, str) and first.lstrip("-").isdigit()):
            number = int(first)
            rest = " ".join(t for t, _ in texts[1:])
            if rest and _norm(rest) not in {_norm(w) for w in DAY_WORDS}:
                raise AppraisalSyntax(tr("a deadline is a number of working days: write {n} working days", n=number),
                                      clause_span)
            if days is not None or no_deadline:  # which one was meant is not for us to guess
                raise AppraisalSyntax(tr("a stage has one deadline: remove one of the two"), clause_span)
            days = number
            words.append(("days", str(number), clause_span))
            current = None
        elif _starts(NO_DEADLINE_WORDS, texts) == len(texts):
            if days is not None or no_deadline:
                raise AppraisalSyntax(tr("a stage has one deadline: remove one of the two"), clause_span)
            no_deadline = True
            words.append(("no_deadline", "", clause_span))
            current = None
        elif n := _starts(BY_WORDS, texts):
            if len(texts) == n:
                raise AppraisalSyntax(tr("'by' needs a role: employee, manager, hr or executive"), clause_span)
            if role is not None:
                raise AppraisalSyntax(tr("a stage has one role: remove one of the two"), clause_span)
            written = " ".join(t for t, _ in texts[n:])
            role = _lookup(ROLE_WORDS, written) or written
            words.append(("role", written, Span.join(texts[n][1], texts[-1][1])))
            current = None
        elif n := _starts(SCORES_WORDS, texts):
            current = scores
            _add(scores, texts[n:], words, "score", clause_span)
        elif n := _starts(ESCALATE_WORDS, texts):
            if texts[n:] and _norm(texts[n][0]) in ("to", "至", "到"):
                n += 1
            current = escalation
            _add(escalation, texts[n:], words, "level", clause_span, LEVEL_WORDS)
        elif current is not None:
            _add(current, texts, words, "score" if current is scores else "level", clause_span,
                 None if current is scores else LEVEL_WORDS)
        else:
            raise AppraisalSyntax(
                tr("'{words}' is not a deadline, a role, scores or an escalation", words=" ".join(t for t, _ in texts)),
                clause_span,
                hint=tr("a stage reads: {example}", example="manager review: 5 working days, by manager, scores visits"))
    return AppraisalStage(kind, days, role, tuple(scores), tuple(escalation), no_deadline, tuple(words), span)


def _add(into: list, texts: list[tuple[str, Span]], words: list, what: str, span: Span, vocabulary=None) -> None:
    if not texts:
        raise AppraisalSyntax(tr("a list needs at least one name here"), span)
    written = " ".join(t for t, _ in texts)
    value = (_lookup(vocabulary, written) or written) if vocabulary is not None else written
    if vocabulary is None and len(texts) > 1:
        raise AppraisalSyntax(tr("'{words}': separate the inputs with commas", words=written), span)
    into.append(value)
    words.append((what, written, Span.join(texts[0][1], texts[-1][1])))


def _calendar(clauses, span: Span) -> tuple:
    name: str | None = None
    name_span = span
    days_off: list[dt.date] = []
    in_days = False
    for clause in clauses:
        texts = [(w, s) for w, s in clause]
        if not texts:
            continue
        if n := _starts(DAYS_OFF_WORDS, [(str(w), s) for w, s in texts]):
            texts, in_days = texts[n:], True
        for word, where in texts:
            if isinstance(word, dt.date):
                if not in_days:
                    raise AppraisalSyntax(tr("a date here is a company day off: write days off {day}", day=word.isoformat()),
                                          where)
                days_off.append(word)
            elif in_days:
                raise AppraisalSyntax(tr("'{word}' is not a date (write 2025-10-10)", word=word), where)
            else:
                written = str(word)
                name = _lookup(CALENDAR_WORDS, written) or written
                name_span = where
    return ("calendar", name, name_span, tuple(days_off), span)


def check_appraisal(block: Appraisal, inputs: dict[str, object], key: str | None) -> list[Diagnostic]:
    """Every problem of a declared process, at the words that cause it (the workflow checks again when a
    cycle starts): unknown stages, roles and levels with did-you-mean, deadlines that are not positive,
    a publication that never ends, more than three escalation levels, scores naming no input."""
    from pkrules.language.builtins import did_you_mean

    found: list[Diagnostic] = []

    def error(code: str, message: str, span: Span, hint: str | None = None) -> None:
        found.append(Diagnostic("error", code, message, span, hint))

    seen: dict[str, AppraisalStage] = {}
    for stage in block.stages:
        words = {w[0]: (w[1], w[2]) for w in stage.words}
        if stage.kind not in STAGE_KINDS:
            options = [o for kind in STAGE_WORDS.values() for o in kind]
            guess = did_you_mean(stage.kind, options)
            error("appraisal", tr("unknown stage '{stage}' (stages: self review, manager review, hr review, publication, "
                                  "appeal — 自评, 上级评分, HR审核, 公示, 申诉)", stage=stage.kind), stage.span,
                  tr("did you mean '{suggestion}'?", suggestion=guess) if guess else None)
        elif stage.kind in seen:
            error("appraisal", tr("the stage {stage} is declared twice", stage=stage_name(stage.kind)), stage.span)
        seen[stage.kind] = stage
        if stage.role is not None and stage.role not in ROLES:
            text, span = words.get("role", (stage.role, stage.span))
            guess = did_you_mean(text, [o for kind in ROLE_WORDS.values() for o in kind])
            error("appraisal", tr("unknown role '{role}' (roles: employee, manager, hr, executive — 员工, 上级, HR, 高管)",
                                  role=text), span, tr("did you mean '{suggestion}'?", suggestion=guess) if guess else None)
        elif stage.role is not None and stage.kind in STAGE_ROLES and stage.role not in STAGE_ROLES[stage.kind]:
            text, span = words.get("role", (stage.role, stage.span))
            error("appraisal", tr("{stage} cannot be done by {role}", stage=stage_name(stage.kind), role=text), span,
                  tr("write by {roles}", roles=tr(" or ").join(role_name(r) for r in STAGE_ROLES[stage.kind])))
        if stage.days is not None and stage.days <= 0:
            error("appraisal", tr("a deadline of {days} working days is not positive", days=stage.days),
                  words.get("days", ("", stage.span))[1], tr("write 1 working day or more"))
        if stage.no_deadline and stage.kind == "publication":
            error("appraisal", tr("a publication without a deadline never ends: results would never become final"),
                  words.get("no_deadline", ("", stage.span))[1], tr("give it a number of working days, e.g. 3 working days"))
        elif stage.no_deadline and stage.kind != "hr_review":
            error("appraisal", tr("{stage} needs a deadline, so that the cycle moves on: give it a number of working days",
                                  stage=stage_name(stage.kind)), words.get("no_deadline", ("", stage.span))[1])
        if stage.scores and stage.kind not in ("self_review", "manager_review"):
            error("appraisal", tr("only self review and manager review enter scores"), stage.span)
        for what, text, span in stage.words:
            if what == "score" and text not in inputs:
                guess = did_you_mean(text, list(inputs))
                error("appraisal", tr("scores '{name}', which is not an input of the policy", name=text), span,
                      tr("did you mean '{suggestion}'?", suggestion=guess) if guess else None)
            elif what == "score" and text == key:
                error("appraisal", tr("'{name}' is the key; it cannot be scored", name=text), span)
            elif what == "level" and _lookup(LEVEL_WORDS, text) is None:
                guess = did_you_mean(text, [o for kind in LEVEL_WORDS.values() for o in kind])
                error("appraisal", tr("unknown escalation level '{level}' (levels: department, hr panel, executive — "
                                      "部门, HR委员会, 高管)", level=text), span,
                      tr("did you mean '{suggestion}'?", suggestion=guess) if guess else None)
        if stage.escalation and stage.kind != "appeal":
            error("appraisal", tr("only appeals escalate"), stage.span)
        if len(stage.escalation) > MAX_ESCALATION:
            error("appraisal", tr("{n} escalation levels; at most {most} (department → HR panel → executive)",
                                  n=len(stage.escalation), most=MAX_ESCALATION), stage.span)
    order = [s.kind for s in block.stages if s.kind in STAGE_KINDS and s.kind != "appeal"]
    if order != sorted(order, key=STAGE_KINDS.index):
        error("appraisal", tr("stages must follow the order self review → manager review → hr review → publication"),
              block.span)
    if block.calendar is not None and block.calendar not in CALENDARS:
        guess = did_you_mean(block.calendar, [o for kind in CALENDAR_WORDS.values() for o in kind])
        error("appraisal", tr("unknown calendar '{name}' (calendars: china, weekdays — 中国, 周一至周五)", name=block.calendar),
              block.calendar_span, tr("did you mean '{suggestion}'?", suggestion=guess) if guess else None)
    return found


def stage_name(kind: str) -> str:
    """A stage as the message's reader writes it (manager review, 上级评分)."""
    from pkrules.messages import current_language

    return CANONICAL[current_language()].get(kind, kind)


def role_name(role: str) -> str:
    from pkrules.messages import current_language

    return CANONICAL[current_language()].get(role, role)


def stage_text(stage: AppraisalStage, lang: str) -> str:
    """A stage line as fmt writes it."""
    w = CANONICAL[lang]
    label = w.get(stage.kind, stage.kind) if stage.kind in STAGE_KINDS else stage.kind
    clauses: list[str] = []
    if stage.days is not None:
        clauses.append(w["day" if stage.days == 1 else "days"].format(n=stage.days))
    if stage.no_deadline:
        clauses.append(w["no_deadline"])
    if stage.role is not None:
        clauses.append(f"{w['by']} {w.get(stage.role, stage.role) if stage.role in ROLES else stage.role}")
    if stage.scores:
        clauses.append(f"{w['scores']} " + w["list"].join(stage.scores))
    if stage.escalation:
        clauses.append(f"{w['escalate']} " + w["list"].join(w.get(level, level) if level in ESCALATION_LEVELS else level
                                                             for level in stage.escalation))
    return label + w["colon"] + w["comma"].join(clauses) if clauses else label + w["colon"].rstrip()


def calendar_text(block: Appraisal, lang: str) -> str | None:
    w = CANONICAL[lang]
    clauses: list[str] = []
    if block.calendar is not None:
        clauses.append(w.get(block.calendar, block.calendar) if block.calendar in CALENDARS else block.calendar)
    if block.days_off:
        clauses.append(f"{w['days_off']} " + w["list"].join(d.isoformat() for d in block.days_off))
    if not clauses:
        return None
    return w["calendar"] + w["colon"] + w["comma"].join(clauses)
