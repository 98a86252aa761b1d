"""The appraisal process as declared (or defaulted): stages, deadlines, roles, appeals, calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pkrules import api

from .messages import Msg, msg

# The vocabulary is the language's (pkrules/language/appraisal.py, through the api): the policy's
# appraisal block is checked there when the policy is checked; validate_process is the second line,
# for a process stored with a cycle or built by hand.
STAGE_KINDS = api.APPRAISAL_STAGES
ROLES = api.APPRAISAL_ROLES
ESCALATION_LEVELS = api.ESCALATION_LEVELS
CALENDARS = api.CALENDARS
STAGE_ROLES = api.APPRAISAL_STAGE_ROLES  # who can act at each stage
MAX_ESCALATION = api.MAX_ESCALATION

# The HR documents' process (seeds-digest §5): 自评 3 working days, 上级评分 5, HR汇总,
# 公示 3, 申诉 answered in 5 by HR, mediation department → HR panel → senior management.
DEFAULT_DAYS = api.DEFAULT_STAGE_DAYS
DEFAULT_ROLE = api.DEFAULT_STAGE_ROLE


@dataclass
class StageSpec:
    """One stage: its kind, deadline in working days (None: none), acting role, inputs entered there."""

    kind: str
    days: int | None
    role: str
    scores: list[str] = field(default_factory=list)
    span: object = None


@dataclass
class ProcessSpec:
    """The whole process of a cycle: stages in order, appeals, the calendar and company days off."""

    stages: list[StageSpec]
    appeal_days: int | None = 5
    appeal_role: str = "hr"
    escalation: list[str] = field(default_factory=lambda: list(ESCALATION_LEVELS))
    calendar: str = "china"
    days_off: list[dt.date] = field(default_factory=list)
    declared: bool = False  # False: the documents' defaults (the policy has no appraisal block)

    def stage(self, kind: str) -> StageSpec | None:
        return next((s for s in self.stages if s.kind == kind), None)

    def days(self, kind: str) -> int | None:
        if kind == "appeal":
            return self.appeal_days
        stage = self.stage(kind)
        return stage.days if stage else None

    def role(self, kind: str) -> str:
        if kind == "appeal":
            return self.appeal_role
        stage = self.stage(kind)
        return stage.role if stage else DEFAULT_ROLE[kind]

    @property
    def manager_scores(self) -> list[str]:
        stage = self.stage("manager_review")
        return list(stage.scores) if stage else []

    @property
    def self_scores(self) -> list[str]:
        stage = self.stage("self_review")
        return list(stage.scores) if stage else []

    def to_data(self) -> dict:
        """JSON-ready (stored with each cycle, so a cycle keeps the process it started with)."""
        return {
            "stages": [{"kind": s.kind, "days": s.days, "role": s.role, "scores": list(s.scores)} for s in self.stages],
            "appeal_days": self.appeal_days, "appeal_role": self.appeal_role, "escalation": list(self.escalation),
            "calendar": self.calendar, "days_off": [d.isoformat() for d in self.days_off], "declared": self.declared,
        }

    @classmethod
    def from_data(cls, data: dict) -> "ProcessSpec":
        return cls([StageSpec(s["kind"], s["days"], s["role"], list(s["scores"])) for s in data["stages"]],
                   data["appeal_days"], data["appeal_role"], list(data["escalation"]), data["calendar"],
                   [dt.date.fromisoformat(d) for d in data["days_off"]], data.get("declared", False))


def default_process() -> ProcessSpec:
    """The documents' process: self-review 3, manager review 5, HR review, publication 3; appeals in 5."""
    kinds = ("self_review", "manager_review", "hr_review", "publication")
    return ProcessSpec([StageSpec(k, DEFAULT_DAYS[k], DEFAULT_ROLE[k]) for k in kinds])


@dataclass
class Problem:
    """A problem in a process declaration: what, and where it is written (a span, or None)."""

    message: Msg
    span: object = None
    code: str = "process"

    def said(self) -> Msg:
        """The problem with its line, said in whichever language it is shown in."""
        line = getattr(self.span, "line", None)
        return msg("line {line}: {problem}", line=line, problem=self.message) if line else self.message

    def __str__(self) -> str:
        return str(self.said())


def process_from_policy(graph) -> ProcessSpec:
    """The process a policy declares in its `appraisal` (考核流程) block; the documents' defaults for what it leaves out.

    Reads `graph.policy.appraisal` by duck typing (stages with kind/days/role/scores/escalation/span,
    calendar, days_off); a policy without the block gets `default_process()`.
    """
    block = getattr(getattr(graph, "policy", None), "appraisal", None)
    spec = default_process()
    if block is None:
        return spec
    spec.declared = True
    written = {}
    for stage in getattr(block, "stages", None) or []:
        kind = stage.kind
        if kind == "appeal":
            spec.appeal_days = stage.days if stage.days is not None else DEFAULT_DAYS["appeal"]
            spec.appeal_role = stage.role or DEFAULT_ROLE["appeal"]
            if getattr(stage, "escalation", None):
                spec.escalation = list(stage.escalation)
            written[kind] = stage
            continue
        written[kind] = stage
    stages = []
    for default in spec.stages:
        stage = written.get(default.kind)
        if stage is None:
            stages.append(default)
            continue
        days = stage.days if stage.days is not None else default.days  # not written: the documents' deadline
        stages.append(StageSpec(default.kind, days, stage.role or default.role, list(getattr(stage, "scores", None) or []),
                                getattr(stage, "span", None)))
    # stages of an unknown kind are kept so that validate_process can name them
    for kind, stage in written.items():
        if kind not in DEFAULT_DAYS:
            stages.append(StageSpec(kind, stage.days, stage.role or "", list(getattr(stage, "scores", None) or []),
                                    getattr(stage, "span", None)))
    spec.stages = stages
    if getattr(block, "calendar", None):
        spec.calendar = block.calendar
    spec.days_off = sorted(set(getattr(block, "days_off", None) or []))
    return spec


def validate_process(spec: ProcessSpec, graph=None) -> list[Problem]:
    """Every problem of a process: unknown stage or role, a stage with no way out, a deadline that is not
    positive, too many escalation levels, scores naming an input the policy does not have."""
    problems: list[Problem] = []
    inputs = {n.name: n for n in graph.inputs} if graph is not None else None
    for stage in spec.stages:
        if stage.kind not in STAGE_KINDS:
            problems.append(Problem(msg("unknown stage '{stage}' (stages: {stages})", stage=stage.kind, stages=", ".join(STAGE_KINDS)),
                                    stage.span, "unknown-stage"))
            continue
        if stage.role not in ROLES:
            problems.append(Problem(msg("{stage}: unknown role '{role}' (roles: {roles})", stage=stage.kind, role=stage.role,
                                        roles=", ".join(ROLES)), stage.span, "unknown-role"))
        elif stage.role not in STAGE_ROLES[stage.kind]:
            problems.append(Problem(msg("{stage}: {role} cannot act at this stage (it is done by {roles})", stage=stage.kind,
                                        role=stage.role, roles=", ".join(STAGE_ROLES[stage.kind])), stage.span, "unknown-role"))
        if stage.days is not None and stage.days <= 0:
            problems.append(Problem(msg("{stage}: a deadline of {days} working days is not positive", stage=stage.kind,
                                        days=stage.days), stage.span, "deadline"))
        if stage.kind == "publication" and stage.days is None:
            problems.append(Problem(msg("publication has no deadline, so it never ends and results never become final: "
                                        "give it a number of working days"), stage.span, "no-way-out"))
        if stage.scores and stage.kind not in ("self_review", "manager_review"):
            problems.append(Problem(msg("{stage}: only self-review and manager review enter scores", stage=stage.kind), stage.span,
                                    "scores"))
        if inputs is not None:
            for name in stage.scores:
                if name not in inputs:
                    problems.append(Problem(msg("{stage}: scores '{name}', which is not an input of the policy", stage=stage.kind,
                                                name=name), stage.span, "scores"))
                elif name == graph.key:
                    problems.append(Problem(msg("{stage}: '{name}' is the key; it cannot be scored", stage=stage.kind, name=name),
                                            stage.span, "scores"))
    kinds = [s.kind for s in spec.stages]
    for kind in set(kinds):
        if kinds.count(kind) > 1:
            problems.append(Problem(msg("the stage {stage} is declared twice", stage=kind), None, "duplicate-stage"))
    order = [k for k in kinds if k in STAGE_KINDS]
    expected = [k for k in ("self_review", "manager_review", "hr_review", "publication") if k in order]
    if order != expected:
        problems.append(Problem(msg("stages must follow the order self_review → manager_review → hr_review → publication"), None,
                                "order"))
    if "publication" not in kinds:
        problems.append(Problem(msg("there is no publication stage: results would never be published"), None, "no-way-out"))
    if spec.appeal_role not in ROLES:
        problems.append(Problem(msg("appeal: unknown role '{role}' (roles: {roles})", role=spec.appeal_role, roles=", ".join(ROLES)),
                                None, "unknown-role"))
    elif spec.appeal_role not in STAGE_ROLES["appeal"]:
        problems.append(Problem(msg("{stage}: {role} cannot act at this stage (it is done by {roles})", stage="appeal",
                                    role=spec.appeal_role, roles=", ".join(STAGE_ROLES["appeal"])), None, "unknown-role"))
    if spec.appeal_days is not None and spec.appeal_days <= 0:
        problems.append(Problem(msg("appeal: a deadline of {days} working days is not positive", days=spec.appeal_days), None,
                                "deadline"))
    if len(spec.escalation) > MAX_ESCALATION:
        problems.append(Problem(msg("appeal: {n} escalation levels; at most {most} (department → HR panel → executive)",
                                    n=len(spec.escalation), most=MAX_ESCALATION), None, "escalation"))
    for level in spec.escalation:
        if level not in ESCALATION_LEVELS:
            problems.append(Problem(msg("appeal: unknown escalation level '{level}' (levels: {levels})", level=level,
                                        levels=", ".join(ESCALATION_LEVELS)), None, "escalation"))
    if spec.calendar not in CALENDARS:
        problems.append(Problem(msg("unknown calendar '{calendar}' (calendars: {calendars})", calendar=spec.calendar,
                                    calendars=", ".join(CALENDARS)), None, "calendar"))
    return problems
