"""What a screen shows: plain dataclasses returned by the service (cycles, board pages, appraisals, actions)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class CycleInfo:
    """One appraisal cycle: its policy, state, dates, and how many appraisals are at each stage."""

    id: str
    period: str
    policy_title: str
    policy_path: str
    policy_sha256: str
    policy_git_commit: str | None
    state: str  # "open" (stages in progress) | "published" | "final"
    start: dt.date
    published_on: dt.date | None
    publication_deadline: dt.date | None
    finalized_on: dt.date | None
    lang: str  # "en" | "zh": the language of the policy and of every message about this cycle
    employees: int
    stages: dict[str, int]  # stage → how many appraisals are there
    overdue: int
    open_appeals: int
    provisional: bool  # inputs changed since the last evaluation (manager scores): figures recomputed at publication
    main_output: str
    money_outputs: list[str]
    process: dict  # ProcessSpec.to_data()
    version: int
    run: int  # the run whose figures are current (a recomputation makes a new one)


@dataclass
class BoardRow:
    """One line of the status board."""

    employee_id: str
    name: str
    team: str
    stage: str  # self_review | manager_review | hr_review | published | final
    stage_label: str  # in the cycle's language
    deadline: dt.date | None
    deadline_note: str  # non-empty when the deadline was counted on weekdays only
    overdue: bool
    has_open_appeal: bool
    self_review_missing: bool
    total: str  # the main output, formatted for people ("" when hidden or not computed)
    total_exact: str  # the same, exact (stored text: a decimal or numerator/denominator)
    version: int


@dataclass
class BoardPage:
    """A page of the board: rows offset..offset+limit of `total_count` matching rows."""

    cycle_id: str
    rows: list[BoardRow]
    total_count: int
    offset: int
    limit: int
    lang: str
    main_output: str


@dataclass
class Figure:
    """One input or result: its name, the value for people, the exact stored text, and where it came from."""

    name: str
    value: str
    exact: str
    source: str = ""  # inputs: "data" | "manager" | "hr" | "appeal"


@dataclass
class EventView:
    """One audit event as someone allowed to see it reads it."""

    seq: int
    at: str
    cycle_id: str | None
    employee_id: str | None
    appeal_id: int | None
    actor: str
    operator: str | None  # who typed it, when someone acted on another's behalf
    action: str
    details: dict
    summary: str  # one line in the cycle's language


@dataclass
class AppealView:
    """An appeal (申诉) and where it stands."""

    id: int
    cycle_id: str
    employee_id: str
    target: str  # the disputed input or node of the explanation
    reason: str
    state: str
    state_label: str
    level: int  # 0: HR's answer; 1..3: the escalation levels
    level_name: str  # who decides now, in the cycle's language
    filed_on: dt.date
    late: bool
    deadline: dt.date | None
    deadline_note: str
    overdue: bool
    decision: str | None
    decision_reason: str | None
    decided_by: str | None
    corrections: dict[str, dict]  # input → {"before": text, "after": text}
    change_lines: list[str]  # the stored before/after diff of the appellant's explanation
    change: dict  # {"before": {...}, "after": {...}, "data": [...]} exact texts
    info_request: str | None
    info_answer: str | None
    open: bool
    version: int


@dataclass
class AppraisalView:
    """One employee's appraisal in full: inputs, results, stage, history and appeals."""

    cycle_id: str
    employee_id: str
    name: str
    team: str
    manager_id: str | None
    manager_name: str | None
    stage: str
    stage_label: str
    entered_on: dt.date | None
    deadline: dt.date | None
    deadline_note: str
    overdue: bool
    self_review_missing: bool
    returned: bool
    acknowledged: bool
    self_assessment: dict | None  # {"comment", "evidence", "self_scores": {input: text}}
    manager_note: str | None
    scored: dict[str, str]  # inputs the manager entered: input → text
    inputs: list[Figure]
    results: list[Figure]
    total: str
    provisional: bool
    history: list[EventView]
    appeals: list[AppealView]
    lang: str
    version: int


@dataclass
class ActionOption:
    """An action on an appraisal, an appeal or the cycle, and whether the acting person may take it now.

    reason says why not (who may do it, and when), or, when allowed, what it does.
    """

    name: str  # e.g. "review.submit", "appeal.decide"
    label: str
    allowed: bool
    reason: str
    command: str  # the CLI command that does it
    fields: list[str] = field(default_factory=list)  # what the form asks for
    appeal_id: int | None = None


@dataclass
class ActionResult:
    """What an action did: a message for people, the new version of what it changed, the event number."""

    message: str
    event: int | None = None
    version: int | None = None
    appeal_id: int | None = None
    run_id: int | None = None
    changed_employees: int = 0
    details: dict = field(default_factory=dict)


@dataclass
class ExportReport:
    """A payroll export: where, how many rows, and whether this cycle had been exported before."""

    path: str
    rows: int
    columns: list[str]
    previous: list[dict]  # earlier exports of this cycle: {"at", "actor", "path"}
    message: str
