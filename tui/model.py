"""What the screens need to know, and the one place the app gets it from.

Every screen talks to a `CycleModel`: the board's rows (filtered, sorted, searched), one employee's
inputs, results and explanation, the actions the acting person may take now (with the reasons for
those they may not), performing one, the appeals, the policy with its hit counts, and two policy
versions to compare. Two implementations:

- `tui.preview.PreviewModel` — the engine alone over a policy and a data file: values are evaluated
  with `pkrules.api`, stages and appeals live in memory and are forgotten on exit (it says so).
- `tui.store.StoreModel` — the appraisal workflow's service (`pkrules.workflow.service`) over its
  store: every action goes through that service, never to the database.

`open_preview` and `open_store` build them; nothing here imports Textual.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Protocol, Sequence, runtime_checkable

Progress = Callable[[float, str], None]  # (fraction done 0..1, what is happening) — for a progress bar


# ---- the cycle and who is acting -----------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """The person the app acts as (`--as`): what they may do depends on their role."""

    id: str
    name: str
    role: str  # employee | manager | hr | executive
    team: str | None = None  # the team a manager leads; an employee's own team


@dataclass(frozen=True)
class CycleInfo:
    title: str  # the policy's title and version: 华东区销售激励 2024Q3
    cycle: str  # the cycle's name
    lang: str  # 'zh' for a policy written in Chinese: the app's labels follow it
    person: Person
    today: dt.date
    preview: bool  # True: nothing is stored (engine-only model)
    source: str  # where the figures come from: a store, or a policy and a data file
    main_output: str  # the figure the board shows as "total"
    note: str = ""  # shown under the title: what this model can and cannot do


@dataclass(frozen=True)
class Stage:
    code: str  # self_review | manager_review | hr_review | published | final (the workflow may add more)
    label: str


# ---- the board ------------------------------------------------------------------------------------

SORTS = ("key", "name", "team", "stage", "deadline", "total")


@dataclass(frozen=True)
class BoardQuery:
    """Which employees the board shows, in which order."""

    team: str | None = None
    stage: str | None = None
    overdue: bool = False  # only those past a deadline
    appeal: bool = False  # only those with an open appeal
    search: str = ""  # a part of the key, the name or the team
    sort: str = "key"
    descending: bool = False

    @property
    def filtered(self) -> bool:
        return bool(self.team or self.stage or self.overdue or self.appeal or self.search.strip())


@dataclass(frozen=True)
class BoardRow:
    key: str
    name: str
    team: str
    stage: str  # code
    stage_label: str
    deadline: dt.date | None
    overdue: bool
    total: Fraction | None
    total_text: str
    appeal: str | None  # the status code of the employee's latest appeal, if any
    appeal_open: bool = False
    figures: tuple[str, ...] = ()  # more figures, shown when the terminal is wide (BoardView.columns names them)


@dataclass
class BoardView:
    """The board's rows for one query; rows is a sequence the table reads lazily, a screenful at a time."""

    query: BoardQuery
    rows: Sequence[BoardRow]
    population: int  # everyone in the cycle (whom the acting person may see)
    cost: Fraction | None = None  # the sum of the shown rows' totals, when the model knows it
    overdue: int | None = None  # how many of the shown rows are past a deadline
    open_appeals: int | None = None  # how many of the shown rows have an open appeal
    columns: tuple[str, ...] = ()  # the names of BoardRow.figures

    def __len__(self) -> int:
        return len(self.rows)

    def position(self, key: str, look: int = 1000) -> int | None:
        """Where an employee is in these rows (to keep the cursor on them), without reading every row of a
        lazy board: a model's rows may know (keys), else only the first `look` rows are searched."""
        finder = getattr(self.rows, "position", None)
        if finder is not None:
            return finder(key)
        return next((i for i in range(min(look, len(self.rows))) if self.rows[i].key == key), None)


# ---- one employee ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One input or result of an employee, as stored and as shown."""

    name: str
    value: object
    text: str
    type: object = None  # pkrules.api.Type
    description: str | None = None  # the author's comment on the definition, or the input's column note
    line: int | None = None


@dataclass(frozen=True)
class Appeal:
    id: str
    key: str
    name: str
    team: str
    node: str  # the disputed input or figure
    reason: str
    filed: dt.date
    due: dt.date | None
    overdue: bool
    level: int  # 0: HR's answer; 1..3: the escalation levels (department, HR panel, senior management)
    level_label: str  # who decides at this level
    status: str  # the workflow's state: submitted, accepted, under_review, upheld, dismissed, …
    status_label: str
    open: bool  # not decided (nor withdrawn) yet
    decided_by: str | None = None
    decision_reason: str | None = None
    decided: dt.date | None = None
    upheld: bool = False  # upheld or partly upheld: its inputs were corrected and figures recomputed

    @property
    def is_open(self) -> bool:
        return self.open


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: str  # when, as the store writes it
    actor: str
    action: str
    key: str | None
    summary: str  # one line: "appeal upheld: total 12,239.41 → 13,023.65"


@dataclass
class EmployeeView:
    key: str
    name: str
    team: str
    stage: str
    stage_label: str
    deadline: dt.date | None
    overdue: bool
    inputs: list[Figure]
    results: list[Figure]
    main_output: str
    appeals: list[Appeal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the manager, the self-assessment, marks such as "self-review missing"

    @property
    def open_appeal(self) -> Appeal | None:
        return next((a for a in self.appeals if a.is_open), None)


# ---- actions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One field of an action's form."""

    name: str
    label: str
    kind: str = "text"  # text | reason (several lines) | choice | node (a figure of the explanation) | value (an input)
    required: bool = False
    default: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for a choice
    help: str = ""  # under the field: what to write (an input's type and limits)


@dataclass(frozen=True)
class Action:
    """Something the acting person may (or may not, and why) do now to an employee's record."""

    code: str  # the workflow's action names: review.submit_self, review.score, appeal.file, appeal.decide, cycle.publish, …
    label: str
    allowed: bool
    reason: str = ""  # why not, when not allowed
    fields: tuple[FormField, ...] = ()
    appeal_id: str | None = None  # the appeal a decision or escalation is about


@dataclass
class Change:
    """An employee's figures before and after a recomputation (an upheld appeal), with the explanation's changed part."""

    key: str
    before: dict[str, str]  # figure → value as shown
    after: dict[str, str]
    lines: list[str]  # the part of the explanation that differs, as text


@dataclass
class Outcome:
    ok: bool
    message: str  # what happened, or why not (in the engine's or the workflow's words)
    errors: dict[str, str] = field(default_factory=dict)  # field → what is wrong with it
    event: AuditEvent | None = None
    change: Change | None = None


# ---- policy, pictures, versions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """How many employees of the cycle a table row, lookup entry or branch fired for."""

    line: int
    node: str
    what: str
    count: int


@dataclass
class PolicyView:
    path: str
    text: str
    lang: str
    hits: list[Hit]
    population: int


@dataclass(frozen=True)
class Band:
    """A threshold a table compares a figure with: `IF score >= 90 THEN coef 1.2`."""

    node: str  # the figure compared (score)
    op: str
    threshold: Fraction
    table: str  # the table's name (coef)
    row: str  # the row as written
    line: int


@dataclass
class Distribution:
    """Every employee's value of one figure, with the bands tables draw on it."""

    name: str
    values: list[Fraction]  # the employees whose value is a number
    bands: list[Band]
    type: object = None


@dataclass(frozen=True)
class PolicyVersion:
    id: str  # what `policy_version_text` takes: a path, or REV:PATH
    label: str


@dataclass(frozen=True)
class SemanticChange:
    sign: str  # + - ~ →
    kind: str
    node: str | None
    description: str
    old_lines: tuple[int, int] | None
    new_lines: tuple[int, int] | None


@dataclass(frozen=True)
class ImpactRow:
    key: str
    name: str
    before: dict[str, str]
    after: dict[str, str]
    delta: Fraction  # the change in pay
    delta_text: str


@dataclass
class ImpactView:
    summary: list[str]  # the engine's own summary lines (counts, cost)
    columns: list[str]
    rows: list[ImpactRow]  # everyone whose figures change, largest gain first
    gain: int
    lose: int
    unchanged: int
    cost_before: Fraction
    cost_after: Fraction


@dataclass
class DiffView:
    old: PolicyVersion
    new: PolicyVersion
    old_text: str
    new_text: str
    changes: list[SemanticChange]
    summary: str
    impact: ImpactView | None = None
    impact_error: str | None = None  # why there is no impact table


# ---- the protocol --------------------------------------------------------------------------------------


@runtime_checkable
class CycleModel(Protocol):
    """All the data the app reads and every change it makes. Methods may be slow (they run in workers)."""

    info: CycleInfo

    def stages(self) -> list[Stage]: ...
    def teams(self) -> list[str]: ...

    def board(self, query: BoardQuery) -> BoardView: ...
    def warm_up(self) -> bool: ...  # load what whole-cycle views need, after the board opened; True: the board can show more

    def employee(self, key: str) -> EmployeeView: ...
    def explain(self, key: str, name: str | None = None): ...  # → pkrules.api.Explanation
    def history(self, key: str | None = None) -> list[AuditEvent]: ...

    def actions(self, key: str) -> list[Action]: ...  # on one appraisal and its appeals
    def cycle_actions(self) -> list[Action]: ...  # on the whole cycle: advance, publish, finalize, export
    def perform(self, key: str | None, action: str, values: dict[str, str], appeal_id: str | None = None) -> Outcome: ...

    def appeals(self, open_only: bool = False) -> list[Appeal]: ...
    def appeal_change(self, appeal_id: str) -> Change | None: ...

    def source(self) -> tuple[str, str]: ...  # the cycle's policy: (path, text)
    def policy(self) -> PolicyView: ...
    def distribution(self, name: str | None = None) -> Distribution: ...
    def numeric_figures(self) -> list[str]: ...
    def cost_by_team(self) -> list[tuple[str, Fraction]]: ...

    def policy_versions(self) -> list[PolicyVersion]: ...  # the cycle's first
    def policy_version_text(self, version: PolicyVersion) -> str: ...
    def cost_names(self) -> list[str]: ...  # what "cost" adds up: the money the policy pays
    def diff(self, old: PolicyVersion, new: PolicyVersion, progress: Progress | None = None) -> DiffView: ...


class ModelError(Exception):
    """The data cannot be opened (a bad policy, a missing file, an unknown person): the message says why."""


# ---- building a model ------------------------------------------------------------------------------------


def open_preview(policy: str, data: str, person: str = "hr", today: dt.date | None = None,
                 progress: Progress | None = None, **options) -> CycleModel:
    """The engine-only model over a policy and a data file (stages and appeals in memory, nothing stored)."""
    from .preview import PreviewModel

    return PreviewModel(policy, data, person=person, today=today, progress=progress, **options)


def open_store(db: str, person: str, progress: Progress | None = None, **options) -> CycleModel:
    """The model over the appraisal workflow's store: every read and action through its service API."""
    from .store import StoreModel

    return StoreModel(db, person, progress=progress, **options)
