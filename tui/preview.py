"""The engine-only model: a policy and a data file, evaluated with pkrules.api; the cycle's stages,
deadlines, actions, appeals and audit events are a preview kept in memory.

It follows the workflow's process in outline (the same stages and action names: self-review 3 working
days, manager review 5, HR review, publication 3, appeals answered in 5, escalation over three levels),
with plain working days (Monday to Friday, no holiday calendar), no org table (a manager is "the
manager of a team") and no store: everything is forgotten on exit. tui.store.StoreModel is where a
real cycle lives; `info.preview` and `info.note` say which one the screens are showing.
"""

from __future__ import annotations

import datetime as dt
import threading
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from pkrules import api

from . import figures
from .labels import word
from .model import (
    Action, Appeal, AuditEvent, BoardQuery, BoardRow, BoardView, Change, CycleInfo, DiffView, Distribution, EmployeeView,
    Figure, FormField, Hit, ModelError, Outcome, Person, PolicyVersion, PolicyView, Progress, Stage,
)

STAGE_CODES = ("self_review", "manager_review", "hr_review", "published", "final")
STAGE_DAYS = {"self_review": 3, "manager_review": 5, "published": 3}  # the documents give HR review no deadline
APPEAL_DAYS = 5
LEVELS = ("hr", "department", "hr_panel", "executive")  # level 0 is HR's answer, then three escalation levels
OPEN_STATES = ("submitted",)
NAME_INPUTS = ("name", "姓名", "名字")
TEAM_INPUTS = ("team", "小组", "团队", "部门", "group")


def add_working_days(day: dt.date, n: int) -> dt.date:
    """n working days (Monday to Friday) after day; negative n counts back."""
    step = 1 if n >= 0 else -1
    left = abs(n)
    while left:
        day += dt.timedelta(days=step)
        if day.weekday() < 5:
            left -= 1
    return day


def _spread(key: str) -> int:
    """A stable number 0..99 for a key: the preview's made-up stages do not change between runs."""
    return zlib.crc32(key.encode("utf-8")) % 100


@dataclass
class _Record:
    """One employee's place in the cycle (preview)."""

    index: int  # row in the population / results
    stage: str
    entered: dt.date  # when the current stage began
    appeals: list[str] = field(default_factory=list)  # appeal ids, oldest first
    self_assessment: str | None = None
    scored: dict[str, str] = field(default_factory=dict)
    acknowledged: bool = False


@dataclass
class _Appeal:
    id: str
    key: str
    node: str
    reason: str
    filed: dt.date
    level: int = 0
    status: str = "submitted"
    due: dt.date | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    decided: dt.date | None = None
    change: Change | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATES


@dataclass
class _Raw:
    """A board row before formatting."""

    __slots__ = ("key", "name", "team", "stage", "deadline", "overdue", "total", "appeal", "appeal_open", "index", "order")
    key: str
    name: str
    team: str
    stage: str
    deadline: dt.date | None
    overdue: bool
    total: Fraction | None
    appeal: str | None
    appeal_open: bool
    index: int
    order: float  # the total as a float: sorting compares these first, the exact totals only on a tie


class _Rows(Sequence):
    """The board's rows for one query, formatted only when the table draws them."""

    def __init__(self, keys: list[str], row):
        self.keys = keys
        self.row = row

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.row(k) for k in self.keys[i]]
        return self.row(self.keys[i])

    def position(self, key: str) -> int | None:
        try:
            return self.keys.index(key)
        except ValueError:
            return None


class PreviewModel:
    """CycleModel over a policy and a data file; see the module docstring."""

    def __init__(self, policy: str | Path, data: str | Path, person: str = "hr", today: dt.date | None = None,
                 progress: Progress | None = None, *, stage: str = "mixed", appeals: tuple = (),
                 related: dict[str, str] | None = None, versions: tuple[str, ...] = (), cycle: str | None = None):
        self._lock = threading.RLock()
        self.policy_path = str(policy)
        self.data_path = str(data)
        self.today = today or dt.date.today()
        self.period_end = add_working_days(self.today, -6)
        self._extra_versions = tuple(str(v) for v in versions)
        say = progress or (lambda done, what: None)
        say(0.0, f"checking {self.policy_path}")
        try:
            self.graph = api.compile_file(self.policy_path)
        except api.PolicyError as e:
            raise ModelError(api.render_diagnostics(e.source, e.diagnostics)) from None
        except api.PolicyFileError as e:
            raise ModelError(f"error: {e}") from None
        self.lang = api.policy_language(self.graph)
        say(0.15, f"reading and evaluating {self.data_path}")
        try:
            if related:
                self.population = api.read_population(self.graph, self.data_path, related=related)
                self.results = None if self.population.errors else api.evaluate(self.graph, self.population)
            else:
                # the columnar path reads a large file itself; the rows are read only if a correction needs them
                self.results, self.population = api.evaluate_file(self.graph, self.data_path)
        except api.DataError as e:
            raise ModelError(f"error: {e}") from None
        if self.results is None:
            errors = self.population.errors
            shown = [e.describe(self.data_path) for e in errors[:20]]
            more = len(errors) - len(shown)
            raise ModelError("\n".join(shown + ([f"… and {more} more bad cells"] if more > 0 else [])))
        if self.results.errors:
            raise ModelError("\n".join(e.describe(self.policy_path) for e in self.results.errors[:20]))
        if not self.results.size:
            raise ModelError(f"error: {self.data_path}: no rows")
        self.main_output = self.graph.main_output()
        self._name_input = next((n for n in NAME_INPUTS if n in self.graph.nodes and self.graph.nodes[n].is_input), None)
        self._team_input = next((n for n in TEAM_INPUTS if n in self.graph.nodes and self.graph.nodes[n].is_input), None)
        say(0.8, "building the board")
        self._board_figures = figures.board_figures(self.graph)
        if stage != "mixed" and stage not in STAGE_CODES:
            raise ModelError(f"error: unknown stage {stage!r}: {', '.join(STAGE_CODES)} or mixed")
        self._records: dict[str, _Record] = {}
        keys = self.results.keys
        for index in self._latest_rows():
            key = api.value_to_text(keys[index])
            self._records[key] = self._initial_record(key, index, stage)
        self.published_on = add_working_days(self.today, -2) if stage in ("published", "final") else None
        self._appeals: dict[str, _Appeal] = {}
        self._events: list[AuditEvent] = []
        self.person = self._find_person(person)
        self._title = " ".join(x for x in (self.graph.policy.title, self.graph.policy.version) if x) or Path(self.policy_path).name
        self._cycle = cycle or (self.graph.policy.version or self.period_end.isoformat())
        for seed in appeals:
            self._seed_appeal(*seed)
        self._rebuild_rows()
        self._coverage: list[Hit] | None = None
        say(1.0, "ready")

    @property
    def info(self) -> CycleInfo:
        return CycleInfo(
            title=self._title, cycle=self._cycle, lang=self.lang, person=self.person, today=self.today, preview=True,
            source=f"{self.policy_path} + {self.data_path}", main_output=self.main_output,
            note=("preview: figures from the engine; stages, deadlines and appeals are simulated in memory "
                  "(working days Mon–Fri, no holiday calendar) and nothing is stored"),
        )

    # ---- loading -------------------------------------------------------------------------------

    def _evaluate(self, rows: list[dict], backend: str = "auto"):
        population = api.Population(self.graph, rows, self.population.row_numbers, self.population.related,
                                    source=self.data_path)
        results = api.evaluate(self.graph, population, backend=backend)
        if results.errors:
            shown = [e.describe(self.policy_path) for e in results.errors[:20]]
            raise ModelError("\n".join(shown))
        return results

    def _latest_rows(self) -> list[int]:
        """One row per employee: with data over several periods, each employee's latest."""
        if self.graph.period is None:
            return list(range(self.results.size))
        latest: dict[str, int] = {}
        periods = self.results.columns[self.graph.period]
        for i, key in enumerate(self.results.keys):
            k = api.value_to_text(key)
            if k not in latest or periods[i] >= periods[latest[k]]:
                latest[k] = i
        return sorted(latest.values())

    def _initial_record(self, key: str, index: int, stage: str) -> _Record:
        if stage == "published":
            return _Record(index, stage, add_working_days(self.today, -2))
        if stage == "final":
            return _Record(index, stage, add_working_days(self.today, -1))
        if stage != "mixed":
            return _Record(index, stage, self.period_end if stage == "self_review" else add_working_days(self.today, -1))
        # A cycle under way: employees between self-review and HR review, some of them late.
        n = _spread(key)
        if n < 15:
            return _Record(index, "self_review", self.period_end)  # 3 working days after the period: past due
        if n < 55:
            late = n < 25
            return _Record(index, "manager_review", add_working_days(self.today, -7 if late else -2), self_assessment="—")
        return _Record(index, "hr_review", add_working_days(self.today, -1), self_assessment="—")

    def _seed_appeal(self, key: str, node: str, reason: str, days_ago: int = 0) -> None:
        record = self._records.get(key)
        if record is None:
            raise ModelError(f"error: no employee {key} for the appeal")
        if record.stage != "published":
            raise ModelError(f"error: {key} is at {record.stage}: appeals are filed during publication (stage='published')")
        filed = add_working_days(self.today, -days_ago)
        appeal = _Appeal(f"{len(self._appeals) + 1}", key, node, reason, filed, due=add_working_days(filed, APPEAL_DAYS))
        self._appeals[appeal.id] = appeal
        record.appeals.append(appeal.id)
        self._event(key, "appeal.file", Person(key, self._name(key), "employee"), f"appeal #{appeal.id} filed on {node}: {reason}")

    # ---- people --------------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        if self._name_input is None:
            return key
        value = self.results.columns[self._name_input][self._records[key].index]
        return "" if value is None else str(value)

    def _team(self, key: str) -> str:
        if self._team_input is None:
            return "—"
        value = self.results.columns[self._team_input][self._records[key].index]
        return "" if value is None else str(value)

    def teams(self) -> list[str]:
        with self._lock:
            return sorted({self._team(k) for k in self._records})

    def _find_person(self, spec: str) -> Person:
        spec = spec.strip()
        if spec.lower() == "hr":
            return Person("hr", word(self.lang, "role.hr"), "hr")
        if spec.lower() in ("exec", "executive"):
            return Person("exec", word(self.lang, "role.executive"), "executive")
        if spec.startswith("manager"):
            teams = self.teams()
            team = spec.partition(":")[2] or (teams[0] if teams else "")
            if team not in teams:
                raise ModelError(f"error: no team {team!r}: the teams are {', '.join(teams)}")
            return Person(f"manager:{team}", f"{word(self.lang, 'role.manager')} {team}", "manager", team)
        if spec in self._records:
            return Person(spec, self._name(spec), "employee", self._team(spec))
        raise ModelError(f"error: who is {spec!r}? In a preview act as hr, exec, manager:TEAM or an employee's "
                         f"{self.graph.key} (such as {next(iter(self._records))})")

    # ---- the board -----------------------------------------------------------------------------

    def stages(self) -> list[Stage]:
        return [Stage(code, word(self.lang, f"stage.{code}")) for code in STAGE_CODES]

    @property
    def state(self) -> str:
        """The cycle's state, as the workflow has it: open (stages in progress), published, final."""
        stages = {r.stage for r in self._records.values()}
        if stages == {"final"}:
            return "final"
        return "published" if stages == {"published"} else "open"

    def _deadline(self, record: _Record) -> dt.date | None:
        days = STAGE_DAYS.get(record.stage)
        if days is None:
            return None
        start = self.period_end if record.stage == "self_review" else record.entered
        return add_working_days(start, days)

    def _open_appeal(self, record: _Record) -> _Appeal | None:
        return next((self._appeals[i] for i in reversed(record.appeals) if self._appeals[i].open), None)

    def _raw(self, key: str) -> _Raw:
        """What filtering and sorting need, with nothing formatted (formatting 10,000 rows would take a second)."""
        record = self._records[key]
        deadline = self._deadline(record)
        appeal = self._open_appeal(record)
        if appeal is not None:
            deadline = appeal.due
        latest = self._appeals[record.appeals[-1]] if record.appeals else None
        total = self.results.columns[self.main_output][record.index]
        exact = total if isinstance(total, Fraction) else None
        return _Raw(key, self._name(key), self._team(key), record.stage, deadline,
                    deadline is not None and deadline < self.today, exact,
                    latest.status if latest else None, appeal is not None, record.index,
                    float(exact) if exact is not None else 0.0)

    def _row(self, key: str) -> BoardRow:
        """One board row as shown (formatted when first asked for, then kept until the figures change)."""
        row = self._formatted.get(key)
        if row is None:
            raw = self._raws[self._raw_of[key]]
            row = BoardRow(key, raw.name, raw.team, raw.stage, word(self.lang, f"stage.{raw.stage}"), raw.deadline,
                           raw.overdue, raw.total,
                           api.format_value(raw.total, self.graph.nodes[self.main_output].type, self.lang, compact=True),
                           raw.appeal, raw.appeal_open,
                           figures.figure_texts(self.graph, self.results, raw.index, self._board_figures, self.lang))
            self._formatted[key] = row
        return row

    def _rebuild_rows(self) -> None:
        self._raws = [self._raw(k) for k in self._records]
        self._raw_of = {raw.key: i for i, raw in enumerate(self._raws)}
        self._formatted: dict[str, BoardRow] = {}

    def _refresh_row(self, key: str) -> None:
        self._raws[self._raw_of[key]] = self._raw(key)
        self._formatted.pop(key, None)

    def _sees(self, key: str, team: str) -> bool:
        """As the workflow has it: employees see their own line, managers their team, HR and executives everyone."""
        me = self.person
        if me.role == "employee":
            return key == me.id
        if me.role == "manager":
            return team == me.team
        return True

    def board(self, query: BoardQuery) -> BoardView:
        with self._lock:
            raws = [r for r in self._raws if self._sees(r.key, r.team)]
        stage_order = {code: i for i, code in enumerate(STAGE_CODES)}
        needle = query.search.strip().lower()
        chosen = [
            r for r in raws
            if (query.team is None or r.team == query.team)
            and (query.stage is None or r.stage == query.stage)
            and (not query.overdue or r.overdue)
            and (not query.appeal or r.appeal_open)
            and (not needle or needle in r.key.lower() or needle in r.name.lower() or needle in r.team.lower())
        ]
        far = dt.date.max
        keys = {
            "key": lambda r: r.key,
            "name": lambda r: (r.name, r.key),
            "team": lambda r: (r.team, r.key),
            "stage": lambda r: (stage_order.get(r.stage, 99), r.key),
            "deadline": lambda r: (r.deadline or far, r.key),
            "total": lambda r: (r.total is None, r.order, r.total if r.total is not None else 0, r.key),
        }
        if query.sort != "key" or query.descending:
            chosen.sort(key=keys.get(query.sort, keys["key"]), reverse=query.descending)
        cost = sum((r.total for r in chosen if r.total is not None), Fraction(0))
        rows = _Rows([r.key for r in chosen], self._row)
        return BoardView(query, rows, len(raws), cost, sum(1 for r in chosen if r.overdue),
                         sum(1 for r in chosen if r.appeal_open), self._board_figures)

    def warm_up(self) -> bool:
        return False  # everything is in memory from the start

    # ---- one employee --------------------------------------------------------------------------

    def _record(self, key: str) -> _Record:
        record = self._records.get(key)
        if record is None:
            raise KeyError(f"no employee with {self.graph.key} {key}")
        return record

    def _figure(self, name: str, index: int) -> Figure:
        node = self.graph.nodes[name]
        value = self.results.columns[name][index]
        return Figure(name, value, api.format_value(value, node.type, self.lang), node.type,
                      self.graph.description(name), node.span.line)

    def employee(self, key: str) -> EmployeeView:
        with self._lock:
            record = self._record(key)
            row = self._row(key)
            inputs = [self._figure(n.name, record.index) for n in self.graph.inputs]
            results = [self._figure(n.name, record.index) for n in self.graph.definitions]
            notes = [f"manager: {word(self.lang, 'role.manager')} {row.team}"]
            if record.self_assessment:
                notes.append(f"self-assessment: {record.self_assessment}")
            if record.scored:
                notes.append("scored by the manager: " + ", ".join(f"{k}={v}" for k, v in record.scored.items()))
            if record.acknowledged:
                notes.append("acknowledged the result")
            return EmployeeView(key, row.name, row.team, record.stage, row.stage_label, row.deadline, row.overdue,
                                inputs, results, self.main_output, [self._appeal_view(a) for a in record.appeals], notes)

    def explain(self, key: str, name: str | None = None):
        with self._lock:
            results = self.results
            record = self._record(key)
        period = results.columns[self.graph.period][record.index] if self.graph.period else None
        return api.explain(results, results.keys[record.index], name or self.main_output, period=period)

    def history(self, key: str | None = None) -> list[AuditEvent]:
        with self._lock:
            return [e for e in self._events if key is None or e.key == key]

    def _event(self, key: str | None, action: str, actor: Person, summary: str) -> AuditEvent:
        event = AuditEvent(len(self._events) + 1, self.today.isoformat(),
                           f"{actor.name} ({word(self.lang, 'role.' + actor.role)})", action, key, summary)
        self._events.append(event)
        return event

    # ---- actions -------------------------------------------------------------------------------

    def _is_self(self, key: str) -> bool:
        return self.person.role == "employee" and self.person.id == key

    def _is_manager_of(self, key: str) -> bool:
        return self.person.role == "manager" and self.person.team == self._team(key)

    def _value_fields(self, record: _Record, required: bool) -> tuple[FormField, ...]:
        """One field per input a reviewer may set (not the key, the name, the team or the period)."""
        fixed = {self.graph.key, self._name_input, self._team_input, self.graph.period}
        fields = []
        for node in self.graph.inputs:
            if node.name in fixed:
                continue
            value = self.results.columns[node.name][record.index]
            choices = tuple((v, v) for v in node.type.values) if node.type.values else ()
            line = self.graph.source.text.replace("\r\n", "\n").split("\n")[node.span.line - 1].strip()
            fields.append(FormField(node.name, node.name, "choice" if choices else "value", required,
                                    figures.input_text(value, node.type), choices, line))
        return tuple(fields)

    def _node_choices(self, key: str) -> tuple[tuple[str, str], ...]:
        record = self._records[key]
        return tuple((n.name, f"{n.name} = {api.format_value(self.results.columns[n.name][record.index], n.type, self.lang, compact=True)}")
                     for n in self.graph.nodes.values())

    def actions(self, key: str) -> list[Action]:
        with self._lock:
            return self._actions(key, self._record(key))

    def _actions(self, key: str, record: _Record) -> list[Action]:
        """The workflow's actions on one appraisal, each allowed or refused with who may and when."""
        w = lambda k, **v: word(self.lang, k, **v)  # noqa: E731
        me, stage = self.person, record.stage
        now = f"{key}'s appraisal is at {w('stage.' + stage)}"
        reason = FormField("reason", w("reason"), "reason", True)
        comment = FormField("comment", w("comment"), "reason", False)
        out: list[Action] = []

        def add(code: str, label: str, refusal: str, fields: tuple = (), appeal_id: str | None = None) -> None:
            out.append(Action(code, label, not refusal, refusal, fields, appeal_id))

        def employee_only(what: str, when: str) -> str:
            return "" if self._is_self(key) else f"only {key} (the employee) may {what}, {when}"

        def manager_only(what: str) -> str:
            return "" if self._is_manager_of(key) else \
                f"only the manager of {self._team(key)} may {what}, during manager review (you are {me.name})"

        add("review.submit_self", w("act.review.submit_self"),
            employee_only("submit the self-assessment", "during self-review")
            or ("" if stage == "self_review" else f"the self-assessment is submitted during self-review; {now}"),
            (FormField("comment", w("comment"), "reason", True), FormField("evidence", w("evidence"), "text")))
        for code, what in (("review.score", "enter the scores"), ("review.submit", "confirm the result")):
            refusal = manager_only(what) or ("" if stage == "manager_review" else f"this is done during manager review; {now}")
            if not refusal and code == "review.submit" and not record.scored:
                refusal = f"enter the scores first ({w('act.review.score')}), then confirm"
            fields = self._value_fields(record, True) + (comment,) if code == "review.score" else (comment,)
            add(code, w(f"act.{code}"), refusal, fields)
        refusal = "" if me.role == "hr" else f"only HR may correct inputs, during HR review (you are {me.name})"
        if not refusal and stage == "published":
            refusal = f"{key}'s result is published: a correction now goes through an appeal"
        elif not refusal and stage == "final":
            refusal = f"{key}'s result is final and never changes: an adjustment goes into a later cycle"
        elif not refusal and stage != "hr_review":
            refusal = f"HR corrects inputs during HR review; {now}"
        add("hr.correct", w("act.hr.correct"), refusal, self._value_fields(record, False) + (reason,))
        refusal = employee_only("acknowledge the result", "during publication") or (
            "" if stage == "published" else f"results are acknowledged during publication; {now}")
        if not refusal and record.acknowledged:
            refusal = "already acknowledged"
        add("acknowledge", w("act.acknowledge"), refusal)
        open_appeal = self._open_appeal(record)
        refusal = employee_only("appeal against this result", "during publication") or (
            "" if stage == "published" else f"an appeal is filed while the result is published; {now}")
        if not refusal and open_appeal is not None:
            refusal = f"{key} already has an open appeal: withdraw it or wait for its decision"
        add("appeal.file", w("act.appeal.file"), refusal,
            (FormField("target", w("disputed"), "node", True, self.main_output, self._node_choices(key)), reason))
        for appeal_id in record.appeals:
            out.extend(self._appeal_actions(key, self._appeals[appeal_id], record))
        return out

    def _appeal_actions(self, key: str, appeal: _Appeal, record: _Record) -> list[Action]:
        w = lambda k, **v: word(self.lang, k, **v)  # noqa: E731
        me = self.person
        out: list[Action] = []
        closed = "" if self.state != "final" else f"cycle {self._cycle} is final: appeals are closed"
        state = w(f"appeal.{appeal.status}")
        level = LEVELS[appeal.level]
        # deciding
        if me.id == key:
            refusal = "you cannot decide your own appeal"
        elif level == "executive":
            refusal = "" if me.role == "executive" else \
                f"appeal #{appeal.id} is at the level of {w('level.' + level)}: only an executive may act on it now"
        elif level == "department":
            refusal = "" if me.role == "hr" or self._is_manager_of(key) else \
                f"appeal #{appeal.id} is at the level of {w('level.' + level)}: only the manager of {self._team(key)} (or HR) may act on it now"
        else:
            refusal = "" if me.role == "hr" else \
                f"appeal #{appeal.id} is at the level of {w('level.' + level)}: only HR may act on it now"
        refusal = closed or refusal or ("" if appeal.open else f"appeal #{appeal.id} is {state}: it was decided")
        outcomes = tuple((o, w(f"appeal.{o}")) for o in ("upheld", "partly_upheld", "dismissed"))
        out.append(Action("appeal.decide", f"{w('act.appeal.decide')} #{appeal.id}", not refusal, refusal,
                          (FormField("outcome", w("decision"), "choice", True, "", outcomes), FormField("reason", w("reason"), "reason", True))
                          + tuple(FormField(f.name, f.label, f.kind, False, f.default, f.choices, f.help)
                                  for f in self._value_fields(record, False)), appeal.id))
        # the appellant's own steps
        mine = "" if me.id == key else f"only {key}, who filed appeal #{appeal.id}, may"
        refusal = closed or (f"{mine} withdraw it" if mine else "") or ("" if appeal.open else f"appeal #{appeal.id} is {state}")
        out.append(Action("appeal.withdraw", f"{w('act.appeal.withdraw')} #{appeal.id}", not refusal, refusal,
                          (FormField("reason", w("reason"), "reason"),), appeal.id))
        refusal = closed or (f"{mine} escalate it" if mine else "")
        if not refusal and appeal.status not in ("partly_upheld", "dismissed"):
            refusal = f"appeal #{appeal.id} is {state}; it can be escalated when it is partly upheld or dismissed"
        if not refusal and appeal.level >= len(LEVELS) - 1:
            refusal = f"appeal #{appeal.id} was decided at the last level ({w('level.executive')}): it cannot be escalated further"
        out.append(Action("appeal.escalate", f"{w('act.appeal.escalate')} #{appeal.id}", not refusal, refusal,
                          (FormField("reason", w("reason"), "reason", True),), appeal.id))
        return out

    def cycle_actions(self) -> list[Action]:
        w = lambda k, **v: word(self.lang, k, **v)  # noqa: E731
        with self._lock:
            me, state = self.person, self.state
            not_at_hr = sum(1 for r in self._records.values() if r.stage in ("self_review", "manager_review"))
            open_appeals = sum(1 for a in self._appeals.values() if a.open)
        out = []
        refusal = "" if me.role == "hr" else f"only HR may publish, once every appraisal is at HR review (you are {me.name})"
        if not refusal and state != "open":
            refusal = f"cycle {self._cycle} is already {state}"
        elif not refusal and not_at_hr:
            refusal = f"{not_at_hr} appraisals are still at self-review or manager review: publish when all are at HR review"
        out.append(Action("cycle.publish", w("act.cycle.publish"), not refusal, refusal))
        refusal = "" if me.role == "hr" else f"only HR may finalize, after the publication period (you are {me.name})"
        deadline = add_working_days(self.published_on, STAGE_DAYS["published"]) if self.published_on else None
        if not refusal and state != "published":
            refusal = f"cycle {self._cycle} is {state}: it is finalized after publication"
        elif not refusal and deadline is not None and self.today <= deadline:
            refusal = f"the publication period runs until {deadline} (working days): finalize after it"
        elif not refusal and open_appeals:
            refusal = f"{open_appeals} appeals are still open: decide them first"
        out.append(Action("cycle.finalize", w("act.cycle.finalize"), not refusal, refusal))
        return out

    def perform(self, key: str | None, action: str, values: dict[str, str], appeal_id: str | None = None) -> Outcome:
        with self._lock:
            if key is None:
                options = self.cycle_actions()
                record = None
            else:
                record = self._record(key)
                options = self._actions(key, record)
            chosen = next((a for a in options if a.code == action and (appeal_id is None or a.appeal_id == appeal_id)), None)
            if chosen is None:
                return Outcome(False, f"there is no action {action!r} here now")
            if not chosen.allowed:
                return Outcome(False, chosen.reason)
            missing = {f.name: f"{f.label}: {word(self.lang, 'required')}" for f in chosen.fields
                       if f.required and not str(values.get(f.name, "")).strip()}
            if missing:
                return Outcome(False, word(self.lang, "form_errors"), missing)
            handler = getattr(self, "_do_" + action.replace(".", "_"))
            return handler(key, record, values, chosen)

    def _advance(self, key: str, record: _Record, stage: str, action: str, summary: str) -> Outcome:
        before = word(self.lang, f"stage.{record.stage}")
        record.stage = stage
        record.entered = self.today
        self._refresh_row(key)
        event = self._event(key, action, self.person, f"{summary}: {before} → {word(self.lang, f'stage.{stage}')}")
        return Outcome(True, event.summary, event=event)

    def _do_review_submit_self(self, key, record, values, action) -> Outcome:
        record.self_assessment = values["comment"].strip() + (f" (evidence: {values['evidence'].strip()})" if values.get("evidence", "").strip() else "")
        return self._advance(key, record, "manager_review", "review.submit_self", "self-assessment submitted")

    def _do_review_score(self, key, record, values, action) -> Outcome:
        row, errors, changed = self._corrected(record, values, action.fields)
        if errors:
            return Outcome(False, word(self.lang, "form_errors"), errors)
        before_total = self._row(key).total_text
        if changed:
            self._recompute(record, row)
        record.scored = {f.name: api.value_to_text(row[f.name]) for f in action.fields if f.kind in ("value", "choice")}
        self._coverage = None
        after_total = self._row(key).total_text
        event = self._event(key, "review.score", self.person,
                            f"manager scores ({', '.join(changed) or 'as computed'}): {self.main_output} {before_total} → {after_total}")
        return Outcome(True, event.summary, event=event)

    def _do_review_submit(self, key, record, values, action) -> Outcome:
        return self._advance(key, record, "hr_review", "review.submit", "confirmed by the manager")

    def _do_hr_correct(self, key, record, values, action) -> Outcome:
        row, errors, changed = self._corrected(record, values, action.fields)
        if errors:
            return Outcome(False, word(self.lang, "form_errors"), errors)
        if not changed:
            return Outcome(False, word(self.lang, "form_errors"), {"reason": "change at least one input to correct it"})
        before, after = self._recompute(record, row)
        change = self._change(key, before, after)
        moved = [f"{k} {change.before[k]} → {change.after[k]}" for k in change.after if change.before.get(k) != change.after[k]]
        event = self._event(key, "hr.correct", self.person,
                            f"HR corrected {', '.join(changed)}: {'; '.join(moved) or 'no figure moved'} — {values['reason'].strip()}")
        return Outcome(True, event.summary, event=event, change=change)

    def _do_acknowledge(self, key, record, values, action) -> Outcome:
        record.acknowledged = True
        event = self._event(key, "acknowledge", self.person, "acknowledged the result")
        return Outcome(True, event.summary, event=event)

    def _do_cycle_publish(self, key, record, values, action) -> Outcome:
        for k, r in self._records.items():
            r.stage, r.entered = "published", self.today
        self.published_on = self.today
        self._rebuild_rows()
        deadline = add_working_days(self.today, STAGE_DAYS["published"])
        event = self._event(None, "cycle.publish", self.person, f"published until {deadline}")
        return Outcome(True, f"{self._cycle} published; the publication period ends {deadline}", event=event)

    def _do_cycle_finalize(self, key, record, values, action) -> Outcome:
        for r in self._records.values():
            r.stage, r.entered = "final", self.today
        self._rebuild_rows()
        event = self._event(None, "cycle.finalize", self.person, "final: results locked")
        return Outcome(True, f"{self._cycle} is final: results are locked", event=event)

    def _corrected(self, record: _Record, values: dict[str, str], fields) -> tuple[dict | None, dict[str, str], list[str]]:
        """The employee's row with the form's values, validated by the engine as a data file would be:
        (the typed row or None, field → the engine's message, the names whose value changed)."""
        stored = {n.name: self.results.columns[n.name][record.index] for n in self.graph.inputs}
        typed = {f.name: values[f.name] for f in fields if f.kind in ("value", "choice") and f.name in values and f.name in stored}
        related = {name: [{k: api.value_to_text(v) for k, v in row.items()} for row in rows]
                   for name, rows in self.population.related.items()} or None
        changed, errors, row = figures.changed_inputs(self.graph, stored, typed, related=related)
        return row, errors, list(changed)

    def _recompute(self, record: _Record, row: dict) -> tuple[object, object]:
        """Evaluate everyone again with the employee's corrected row; (the results before, the results after)."""
        before = self.results
        rows = list(self.population.rows)  # read now if the fast path answered without them
        rows[record.index] = row
        self.results = self._evaluate(rows)
        self.population = api.Population(self.graph, rows, self.population.row_numbers, self.population.related,
                                         source=self.data_path)
        self._coverage = None
        self._rebuild_rows()  # population terms (ranks, team funds) move other people's figures too
        return before, self.results

    def _change(self, key: str, before, after) -> Change:
        change = api.explanation_change(before, after, key)
        types = {n: self.graph.nodes[n].type for n in self.graph.nodes}

        def shown(values: dict) -> dict[str, str]:
            return {k: api.format_value(v, types.get(k), self.lang) for k, v in values.items()}

        return Change(key, shown(change.before), shown(change.after), list(change.lines))

    def _do_appeal_file(self, key, record, values, action) -> Outcome:
        target = values["target"]
        if target not in self.graph.nodes:
            return Outcome(False, word(self.lang, "form_errors"), {"target": f"{target!r} is not a value of the policy"})
        appeal = _Appeal(f"{len(self._appeals) + 1}", key, target, values["reason"].strip(), self.today,
                         due=add_working_days(self.today, APPEAL_DAYS))
        self._appeals[appeal.id] = appeal
        record.appeals.append(appeal.id)
        self._refresh_row(key)
        event = self._event(key, "appeal.file", self.person, f"appeal #{appeal.id} filed on {target}: {appeal.reason}")
        return Outcome(True, f"appeal #{appeal.id} filed by {key} on {target}; HR answers by {appeal.due}", event=event)

    def _do_appeal_withdraw(self, key, record, values, action) -> Outcome:
        appeal = self._appeals[action.appeal_id]
        appeal.status, appeal.due = "withdrawn", None
        self._refresh_row(key)
        event = self._event(key, "appeal.withdraw", self.person, f"appeal #{appeal.id} withdrawn")
        return Outcome(True, event.summary, event=event)

    def _do_appeal_escalate(self, key, record, values, action) -> Outcome:
        appeal = self._appeals[action.appeal_id]
        appeal.level += 1
        appeal.status, appeal.due = "submitted", add_working_days(self.today, APPEAL_DAYS)
        appeal.decided_by = appeal.decision_reason = appeal.decided = None
        self._refresh_row(key)
        level = word(self.lang, f"level.{LEVELS[appeal.level]}")
        event = self._event(key, "appeal.escalate", self.person, f"escalated to {level}: {values['reason'].strip()}")
        return Outcome(True, f"appeal #{appeal.id} escalated to {level} (level {appeal.level}); answer due {appeal.due}", event=event)

    def _do_appeal_decide(self, key, record, values, action) -> Outcome:
        appeal = self._appeals[action.appeal_id]
        outcome = values.get("outcome", "")
        if outcome not in ("upheld", "partly_upheld", "dismissed"):
            return Outcome(False, word(self.lang, "form_errors"), {"outcome": "upheld, partly upheld or dismissed"})
        reason = values["reason"].strip()
        change = None
        if outcome != "dismissed":
            row, errors, changed = self._corrected(record, values, action.fields)
            if errors:
                return Outcome(False, word(self.lang, "form_errors"), errors)
            if not changed:
                return Outcome(False, word(self.lang, "form_errors"),
                               {"outcome": "an upheld appeal corrects inputs: change at least one below (or dismiss it)"})
            before, after = self._recompute(record, row)
            change = self._change(key, before, after)
            appeal.change = change
        else:
            _, _, changed = self._corrected(record, values, action.fields)
            if changed:
                return Outcome(False, word(self.lang, "form_errors"),
                               {changed[0]: "a dismissed appeal corrects nothing: put the value back, or uphold it"})
        appeal.status, appeal.due = outcome, None
        appeal.decided_by, appeal.decision_reason, appeal.decided = self.person.name, reason, self.today
        self._refresh_row(key)
        label = word(self.lang, f"appeal.{outcome}")
        if change is not None:
            moved = [f"{k} {change.before[k]} → {change.after[k]}" for k in change.after if change.before.get(k) != change.after[k]]
            summary = f"appeal #{appeal.id} {label}: {'; '.join(moved) or 'no figure moved'} — {reason}"
        else:
            summary = f"appeal #{appeal.id} {label} — {reason}; the employee may escalate it"
        event = self._event(key, "appeal.decide", self.person, summary)
        return Outcome(True, summary, event=event, change=change)

    # ---- appeals --------------------------------------------------------------------------------

    def _appeal_view(self, appeal_id: str) -> Appeal:
        a = self._appeals[appeal_id]
        return Appeal(a.id, a.key, self._name(a.key), self._team(a.key), a.node, a.reason, a.filed, a.due,
                      a.due is not None and a.open and a.due < self.today, a.level,
                      word(self.lang, f"level.{LEVELS[a.level]}"), a.status, word(self.lang, f"appeal.{a.status}"),
                      a.open, a.decided_by, a.decision_reason, a.decided, a.change is not None)

    def appeals(self, open_only: bool = False) -> list[Appeal]:
        with self._lock:
            views = [self._appeal_view(i) for i, a in self._appeals.items() if self._sees(a.key, self._team(a.key))]
        views = [a for a in views if a.is_open or not open_only]
        return sorted(views, key=lambda a: (not a.is_open, a.due or dt.date.max, int(a.id)))

    def appeal_change(self, appeal_id: str) -> Change | None:
        with self._lock:
            appeal = self._appeals.get(appeal_id)
            return appeal.change if appeal else None

    # ---- policy and pictures ----------------------------------------------------------------------

    def source(self) -> tuple[str, str]:
        return self.policy_path, self.graph.source.text

    def policy(self) -> PolicyView:
        with self._lock:
            if self._coverage is None:
                self._coverage = figures.hits(self.results)
            return PolicyView(self.policy_path, self.graph.source.text, self.lang, list(self._coverage), self.results.size)

    def numeric_figures(self) -> list[str]:
        return figures.numeric_figures(self.graph)

    def _indices(self) -> list[int]:
        return [r.index for key, r in self._records.items() if self._sees(key, self._team(key))]

    def distribution(self, name: str | None = None) -> Distribution:
        with self._lock:
            return figures.distribution(self.graph, self.results, name, self._indices())

    def cost_by_team(self) -> list[tuple[str, Fraction]]:
        with self._lock:
            teams = [""] * self.results.size
            for key, record in self._records.items():
                teams[record.index] = self._team(key)
            return figures.cost_by_team(self.graph, self.results, teams, self._indices())

    def cost_names(self) -> list[str]:
        return figures.cost_names(self.graph)

    # ---- versions and diff --------------------------------------------------------------------------

    def policy_versions(self) -> list[PolicyVersion]:
        versions = [PolicyVersion(self.policy_path, f"{self.policy_path} (this cycle)")]
        versions += [PolicyVersion(p, p) for p in self._extra_versions]
        return versions + figures.git_versions(self.policy_path)

    def policy_version_text(self, version: PolicyVersion) -> str:
        if version.id == self.policy_path:
            return self.graph.source.text
        return figures.version_text(version, self.policy_path)

    def diff(self, old: PolicyVersion, new: PolicyVersion, progress: Progress | None = None) -> DiffView:
        (progress or (lambda done, what: None))(0.05, "reading both versions")
        return figures.diff(old, self.policy_version_text(old), new, self.policy_version_text(new), self.policy_path,
                            self.data_path, progress)
