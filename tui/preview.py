"""The engine-only model: a policy and a data file, evaluated with pkrules.api; the cycle's stages,
deadlines, actions, appeals and audit events are a preview kept in memory.

It follows the appraisal process of the HR documents (self-review 3 working days, manager 5,
publication 3, appeal answer 5, three escalation levels) with plain working days (Monday to
Friday, no holiday calendar), and forgets everything on exit: the workflow's store
(tui.store.StoreModel) is where a real cycle lives. The screens cannot tell the two apart except
by `info.preview` and `info.note`, which say so.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import zlib
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from pkrules import api

from .labels import word
from .model import (
    Action, Appeal, AuditEvent, Band, BoardQuery, BoardRow, BoardView, Change, CycleInfo, DiffView, Distribution,
    EmployeeView, Figure, FormField, Hit, ImpactRow, ImpactView, ModelError, Outcome, Person, PolicyVersion,
    PolicyView, Progress, SemanticChange, Stage,
)

STAGE_CODES = ("self_review", "manager_review", "hr_review", "published", "final")
STAGE_DAYS = {"self_review": 3, "manager_review": 5, "hr_review": 2, "published": 3}  # hr_review: not in the documents
APPEAL_DAYS = 5
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


@dataclass
class _Appeal:
    id: str
    key: str
    node: str
    reason: str
    filed: dt.date
    level: int
    status: str = "open"
    decided_by: str | None = None
    decision_reason: str | None = None
    decided: dt.date | None = None
    change: Change | None = None


class PreviewModel:
    """CycleModel over a policy and a data file; see the module docstring."""

    def __init__(self, policy: str | Path, data: str | Path, person: str = "hr", today: dt.date | None = None,
                 progress: Progress | None = None, *, stage: str = "mixed", appeals: tuple = (),
                 related: dict[str, str] | None = None, versions: tuple[str, ...] = (), cycle: str | None = None,
                 period_end: dt.date | None = None):
        self._lock = threading.RLock()
        self.policy_path = str(policy)
        self.data_path = str(data)
        self.today = today or dt.date.today()
        self.period_end = period_end or add_working_days(self.today, -6)
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
        say(0.15, f"reading {self.data_path}")
        try:
            self.population = api.read_population(self.graph, self.data_path, related=related)
        except api.DataError as e:
            raise ModelError(f"error: {e}") from None
        if self.population.errors:
            shown = [e.describe(self.data_path) for e in self.population.errors[:20]]
            more = len(self.population.errors) - len(shown)
            raise ModelError("\n".join(shown + ([f"… and {more} more bad cells"] if more > 0 else [])))
        if not self.population.rows:
            raise ModelError(f"error: {self.data_path}: no rows")
        say(0.4, f"evaluating {self.population.size} employees")
        self.results = self._evaluate(self.population.rows)
        self.main_output = self.graph.main_output()
        self._name_input = next((n for n in NAME_INPUTS if n in self.graph.nodes and self.graph.nodes[n].is_input), None)
        self._team_input = next((n for n in TEAM_INPUTS if n in self.graph.nodes and self.graph.nodes[n].is_input), None)
        say(0.8, "building the board")
        self._records: dict[str, _Record] = {}
        keys = self.results.keys
        for index in self._latest_rows():
            key = api.value_to_text(keys[index])
            self._records[key] = self._initial_record(key, index, stage)
        self._appeals: dict[str, _Appeal] = {}
        self._events: list[AuditEvent] = []
        self.person = self._find_person(person)
        self.info = CycleInfo(
            title=" ".join(x for x in (self.graph.policy.title, self.graph.policy.version) if x) or Path(self.policy_path).name,
            cycle=cycle or (self.graph.policy.version or self.period_end.isoformat()),
            lang=self.lang, person=self.person, today=self.today, preview=True,
            source=f"{self.policy_path} + {self.data_path}", main_output=self.main_output,
            note=("preview: figures from the engine; stages, deadlines and appeals are simulated in memory "
                  "(working days Mon–Fri, no holiday calendar) and nothing is stored"),
        )
        for key, node, reason in appeals:
            self._seed_appeal(str(key), node, reason)
        self._rows: list[BoardRow] = []
        self._row_of: dict[str, int] = {}
        self._rebuild_rows()
        self._coverage: list[Hit] | None = None
        say(1.0, "ready")

    # ---- loading -------------------------------------------------------------------------------

    def _evaluate(self, rows: list[dict], backend: str = "auto"):
        population = api.Population(self.graph, rows, self.population.row_numbers, [], self.population.related,
                                    self.data_path)
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
        if stage != "mixed":
            if stage not in STAGE_CODES:
                raise ModelError(f"error: unknown stage {stage!r}: {', '.join(STAGE_CODES)} or mixed")
            return _Record(index, stage, self.period_end if stage == "self_review" else self.today)
        # A cycle under way: most results published, some still in review, a few late.
        n = _spread(key)
        if n < 8:
            return _Record(index, "self_review", self.period_end)  # past its 3 days: overdue
        if n < 22:
            late = n < 12
            return _Record(index, "manager_review", add_working_days(self.today, -7 if late else -2))
        if n < 30:
            return _Record(index, "hr_review", add_working_days(self.today, -1))
        if n < 92:
            return _Record(index, "published", add_working_days(self.today, -1))
        return _Record(index, "final", add_working_days(self.today, -4))

    def _seed_appeal(self, key: str, node: str, reason: str) -> None:
        record = self._records.get(key)
        if record is None:
            raise ModelError(f"error: no employee {key} for the appeal")
        record.stage = "published"
        record.entered = add_working_days(self.today, -1)
        appeal = _Appeal(f"A{len(self._appeals) + 1}", key, node, reason, self.today, 1)
        self._appeals[appeal.id] = appeal
        record.appeals.append(appeal.id)
        self._event(key, "appeal", Person(key, self._name(key), "employee"),
                    f"appeal filed on {node}: {reason}")

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

    def persons(self) -> list[Person]:
        people = [Person("hr", word(self.lang, "role.hr"), "hr"), Person("exec", word(self.lang, "role.executive"), "executive")]
        people += [Person(f"manager:{t}", f"{word(self.lang, 'role.manager')} {t}", "manager", t) for t in self.teams()]
        people += [Person(k, self._name(k), "employee", self._team(k)) for k in list(self._records)[:50]]
        return people

    def _find_person(self, spec: str) -> Person:
        spec = spec.strip()
        if spec in ("hr", "HR"):
            return Person("hr", word(self.lang, "role.hr"), "hr")
        if spec in ("exec", "executive"):
            return Person("exec", word(self.lang, "role.executive"), "executive")
        if spec.startswith("manager"):
            team = spec.partition(":")[2] or (self.teams()[0] if self.teams() else "")
            if team not in self.teams():
                raise ModelError(f"error: no team {team!r}: the teams are {', '.join(self.teams())}")
            return Person(f"manager:{team}", f"{word(self.lang, 'role.manager')} {team}", "manager", team)
        if spec in self._records:
            return Person(spec, self._name(spec), "employee", self._team(spec))
        raise ModelError(f"error: who is {spec!r}? In a preview act as hr, exec, manager:TEAM or an employee's "
                         f"{self.graph.key} (such as {next(iter(self._records))})")

    # ---- the board -----------------------------------------------------------------------------

    def stages(self) -> list[Stage]:
        return [Stage(code, word(self.lang, f"stage.{code}")) for code in STAGE_CODES]

    def _deadline(self, record: _Record) -> dt.date | None:
        days = STAGE_DAYS.get(record.stage)
        if days is None:
            return None
        start = self.period_end if record.stage == "self_review" else record.entered
        return add_working_days(start, days)

    def _open_appeal(self, record: _Record) -> _Appeal | None:
        for appeal_id in reversed(record.appeals):
            if self._appeals[appeal_id].status == "open":
                return self._appeals[appeal_id]
        return None

    def _row(self, key: str) -> BoardRow:
        record = self._records[key]
        deadline = self._deadline(record)
        appeal = self._open_appeal(record)
        if appeal is not None:
            deadline = add_working_days(appeal.filed, APPEAL_DAYS)
        latest = self._appeals[record.appeals[-1]] if record.appeals else None
        total = self.results.columns[self.main_output][record.index]
        return BoardRow(key, self._name(key), self._team(key), record.stage, word(self.lang, f"stage.{record.stage}"),
                        deadline, deadline is not None and deadline < self.today,
                        total if isinstance(total, Fraction) else None,
                        api.format_value(total, self.graph.nodes[self.main_output].type, self.lang, compact=True),
                        latest.status if latest else None, appeal is not None)

    def _rebuild_rows(self) -> None:
        self._rows = [self._row(k) for k in self._records]
        self._row_of = {row.key: i for i, row in enumerate(self._rows)}

    def _refresh_row(self, key: str) -> None:
        self._rows[self._row_of[key]] = self._row(key)

    def board(self, query: BoardQuery) -> BoardView:
        with self._lock:
            rows = self._rows
        stage_order = {code: i for i, code in enumerate(STAGE_CODES)}
        needle = query.search.strip().lower()
        chosen = [
            r for r in rows
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
            "total": lambda r: (r.total is None, r.total if r.total is not None else 0, r.key),
        }
        if query.sort != "key" or query.descending:
            chosen.sort(key=keys.get(query.sort, keys["key"]), reverse=query.descending)
        cost = sum((r.total for r in chosen if r.total is not None), Fraction(0))
        return BoardView(query, chosen, len(rows), cost)

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
            row = self._rows[self._row_of[key]]
            inputs = [self._figure(n.name, record.index) for n in self.graph.inputs]
            results = [self._figure(n.name, record.index) for n in self.graph.definitions]
            return EmployeeView(key, row.name, row.team, record.stage, row.stage_label, row.deadline, row.overdue,
                                inputs, results, self.main_output, [self._appeal_view(a) for a in record.appeals])

    def explain(self, key: str, name: str | None = None):
        with self._lock:
            results = self.results
            record = self._record(key)
        period = results.columns[self.graph.period][record.index] if self.graph.period else None
        return api.explain(results, self.results.keys[record.index], name or self.main_output, period=period)

    def history(self, key: str | None = None) -> list[AuditEvent]:
        with self._lock:
            return [e for e in self._events if key is None or e.key == key]

    def _event(self, key: str | None, action: str, actor: Person, summary: str) -> AuditEvent:
        event = AuditEvent(len(self._events) + 1, self.today.isoformat(), f"{actor.name} ({word(self.lang, 'role.' + actor.role)})",
                           action, key, summary)
        self._events.append(event)
        return event

    # ---- actions -------------------------------------------------------------------------------

    def _is_self(self, key: str) -> bool:
        return self.person.role == "employee" and self.person.id == key

    def _is_manager_of(self, key: str) -> bool:
        return self.person.role == "manager" and self.person.team == self._team(key)

    def _value_fields(self, record: _Record) -> tuple[FormField, ...]:
        """One field per input a reviewer may set (not the key, the name or the team)."""
        fixed = {self.graph.key, self._name_input, self._team_input, self.graph.period}
        fields = []
        for node in self.graph.inputs:
            if node.name in fixed:
                continue
            value = self.results.columns[node.name][record.index]
            choices = tuple((v, v) for v in node.type.values) if node.type.values else ()
            fields.append(FormField(node.name, node.name, "choice" if choices else "value", True,
                                    api.value_to_text(value), choices, self._input_help(node)))
        return tuple(fields)

    def _input_help(self, node) -> str:
        line = self.graph.source.text.replace("\r\n", "\n").split("\n")[node.span.line - 1].strip()
        return line

    def _node_choices(self, key: str) -> tuple[tuple[str, str], ...]:
        record = self._records[key]
        return tuple((n.name, f"{n.name} = {api.format_value(self.results.columns[n.name][record.index], n.type, self.lang, compact=True)}")
                     for n in self.graph.definitions)

    def actions(self, key: str) -> list[Action]:
        with self._lock:
            record = self._record(key)
            return self._actions(key, record)

    def _actions(self, key: str, record: _Record) -> list[Action]:
        lang = self.lang
        who = f"{self._name(key)} ({key})"
        me = self.person
        stage_label = word(lang, f"stage.{record.stage}")
        reason = FormField("reason", word(lang, "reason"), "reason", True)
        out: list[Action] = []

        def add(code: str, label: str, refusal: str, fields: tuple = (), appeal_id: str | None = None) -> None:
            out.append(Action(code, label, not refusal, refusal, fields, appeal_id))

        if record.stage == "final":
            add("adjust", "Adjust figures", "final results are locked: a correction is a new adjusting entry in the workflow's store, not in a preview")
            return out
        # self-review
        refusal = ""
        if record.stage != "self_review":
            refusal = f"the self-review is done (the cycle is at {stage_label})"
        elif not self._is_self(key):
            refusal = f"only {who} submits their own self-review; you act as {me.name}"
        add("self_review", "Submit self-review", refusal, (FormField("comment", word(lang, "comment"), "reason", True),))
        # manager's scores
        refusal = ""
        if record.stage != "manager_review":
            refusal = f"scores are entered in manager review (the cycle is at {stage_label})"
        elif not self._is_manager_of(key):
            refusal = f"only the manager of {self._team(key)} scores {who}; you act as {me.name}"
        add("scores", "Enter scores", refusal, self._value_fields(record) + (FormField("comment", word(lang, "comment"), "reason"),))
        # publication
        refusal = ""
        if record.stage != "hr_review":
            refusal = f"results are published after HR review (the cycle is at {stage_label})"
        elif me.role != "hr":
            refusal = f"only HR publishes results; you act as {me.name}"
        add("publish", "Publish results", refusal)
        # appeals
        open_appeal = self._open_appeal(record)
        last = self._appeals[record.appeals[-1]] if record.appeals else None
        window = self._deadline(record) if record.stage == "published" else None
        refusal = ""
        if record.stage != "published":
            refusal = f"an appeal is filed while results are published (the cycle is at {stage_label})"
        elif not self._is_self(key):
            refusal = f"only {who} files their own appeal; you act as {me.name}"
        elif open_appeal is not None:
            refusal = f"appeal {open_appeal.id} is already open (due {add_working_days(open_appeal.filed, APPEAL_DAYS)})"
        elif last is not None:
            refusal = "an appeal was already decided; a rejected appeal is escalated, not filed again"
        elif window is not None and window < self.today:
            refusal = f"the publication window closed on {window}"
        add("appeal", "File an appeal", refusal,
            (FormField("node", word(lang, "disputed"), "node", True, self.main_output, self._node_choices(key)), reason))
        if open_appeal is not None:
            decider = "executive" if open_appeal.level >= 3 else "hr"
            refusal = "" if me.role == decider else \
                f"a level-{open_appeal.level} appeal ({word(lang, f'level.{open_appeal.level}')}) is decided by " \
                f"{word(lang, 'role.' + decider)}; you act as {me.name}"
            add("decide", "Decide the appeal", refusal,
                (FormField("decision", word(lang, "decision"), "choice", True, "reject",
                           (("uphold", word(lang, "uphold")), ("reject", word(lang, "reject")))),
                 reason) + tuple(replace(f, required=False, label=f"{f.name}") for f in self._value_fields(record)),
                open_appeal.id)
        elif last is not None and last.status == "rejected":
            refusal = ""
            if not self._is_self(key):
                refusal = f"only {who} escalates their own appeal; you act as {me.name}"
            elif last.level >= 3:
                refusal = "the appeal was decided at the last level (senior management)"
            add("escalate", f"Escalate to {word(lang, f'level.{min(last.level + 1, 3)}')}", refusal, (reason,), last.id)
        # final
        refusal = ""
        if record.stage != "published":
            refusal = f"results are finalised after publication (the cycle is at {stage_label})"
        elif me.role != "hr":
            refusal = f"only HR finalises results; you act as {me.name}"
        elif open_appeal is not None:
            refusal = f"appeal {open_appeal.id} is open: decide it first"
        elif window is not None and window >= self.today:
            refusal = f"the publication window runs until {window}: appeals can still be filed"
        add("finalise", "Finalise (pay out)", refusal)
        return out

    def perform(self, key: str, action: str, values: dict[str, str], appeal_id: str | None = None) -> Outcome:
        with self._lock:
            record = self._record(key)
            chosen = next((a for a in self._actions(key, record) if a.code == action), None)
            if chosen is None:
                return Outcome(False, f"there is no action {action!r} for {key} now")
            if not chosen.allowed:
                return Outcome(False, chosen.reason)
            missing = {f.name: f"{f.label}: {word(self.lang, 'required')}" for f in chosen.fields
                       if f.required and not str(values.get(f.name, "")).strip()}
            if missing:
                return Outcome(False, word(self.lang, "form_errors"), missing)
            return getattr(self, f"_do_{action}")(key, record, values, chosen)

    def _advance(self, key: str, record: _Record, stage: str, action: str, summary: str) -> Outcome:
        before = word(self.lang, f"stage.{record.stage}")
        record.stage = stage
        record.entered = self.today
        self._refresh_row(key)
        event = self._event(key, action, self.person, f"{summary}: {before} → {word(self.lang, f'stage.{stage}')}")
        return Outcome(True, event.summary, event=event)

    def _do_self_review(self, key, record, values, action) -> Outcome:
        return self._advance(key, record, "manager_review", "self_review", f"self-review submitted ({values['comment'].strip()})")

    def _do_publish(self, key, record, values, action) -> Outcome:
        return self._advance(key, record, "published", "publish", "results published")

    def _do_finalise(self, key, record, values, action) -> Outcome:
        return self._advance(key, record, "final", "finalise", "results final")

    def _corrected(self, key: str, record: _Record, values: dict[str, str], fields) -> tuple[dict | None, dict[str, str], list[str]]:
        """The employee's row with the form's values, validated by the engine as a data file would be:
        (the typed row or None, field → the engine's message, the names that changed)."""
        text_row = {n.name: api.value_to_text(self.results.columns[n.name][record.index]) for n in self.graph.inputs}
        changed = []
        for f in fields:
            if f.kind in ("value", "choice") and f.name in text_row and f.name in values:
                new = str(values[f.name]).strip()
                if new != text_row[f.name]:
                    text_row[f.name] = new
                    changed.append(f.name)
        related = {name: [{k: api.value_to_text(v) for k, v in row.items()} for row in rows]
                   for name, rows in self.population.related.items()} or None
        checked = api.population_from_rows(self.graph, [text_row], related, source="form")
        errors: dict[str, str] = {}
        columns = {(n.decl.column or n.name): n.name for n in self.graph.inputs}
        for error in checked.errors:
            if getattr(error, "row", 1) != 1 and error.column not in columns:
                continue
            name = columns.get(error.column, error.column)
            shown = repr(error.value) if error.value != "" else "an empty value"
            errors[name] = f"{shown} — {error.expected}"
        if errors or not checked.rows:
            return None, errors or {"": "the row could not be read"}, changed
        return checked.rows[0], {}, changed

    def _recompute(self, key: str, record: _Record, row: dict) -> tuple[list[dict], list[dict]]:
        """Evaluate everyone again with the employee's corrected row; (the rows before, the rows after)."""
        before = self.population.rows
        rows = list(self.population.rows)
        rows[record.index] = row
        after = self._evaluate(rows)
        self.population = api.Population(self.graph, rows, self.population.row_numbers, [], self.population.related,
                                         self.data_path)
        self.results = after
        self._coverage = None
        self._rebuild_rows()  # population terms (ranks, team funds) move other people's figures too
        return before, rows

    def _change(self, key: str, before_rows: list[dict], after_rows: list[dict]) -> Change:
        # explanation_change walks both explanations side by side, which needs the exact evaluator's
        # results (the columnar ones raise ImpactError), so both sides are evaluated exactly here.
        before = self._evaluate(before_rows, backend="exact")
        after = self._evaluate(after_rows, backend="exact")
        change = api.explanation_change(before, after, key)
        types = {n: self.graph.nodes[n].type for n in self.graph.nodes}

        def shown(values: dict) -> dict[str, str]:
            return {k: api.format_value(v, types.get(k), self.lang) for k, v in values.items()}

        return Change(key, shown(change.before), shown(change.after), list(change.lines))

    def _do_scores(self, key, record, values, action) -> Outcome:
        row, errors, changed = self._corrected(key, record, values, action.fields)
        if errors:
            return Outcome(False, word(self.lang, "form_errors"), errors)
        before_total = self._rows[self._row_of[key]].total_text
        if changed:
            self._recompute(key, record, row)
        after_total = self._rows[self._row_of[key]].total_text
        what = ", ".join(changed) if changed else "no value changed"
        comment = values.get("comment", "").strip()
        return self._advance(key, record, "hr_review", "scores",
                             f"scores entered ({what}; {self.main_output} {before_total} → {after_total})"
                             + (f" — {comment}" if comment else ""))

    def _do_appeal(self, key, record, values, action) -> Outcome:
        node = values["node"]
        if node not in self.graph.nodes:
            return Outcome(False, word(self.lang, "form_errors"), {"node": f"{node!r} is not a figure of the policy"})
        appeal = _Appeal(f"A{len(self._appeals) + 1}", key, node, values["reason"].strip(), self.today, 1)
        self._appeals[appeal.id] = appeal
        record.appeals.append(appeal.id)
        self._refresh_row(key)
        event = self._event(key, "appeal", self.person, f"appeal {appeal.id} filed on {node}: {appeal.reason}")
        return Outcome(True, f"{event.summary} (answer due {add_working_days(self.today, APPEAL_DAYS)})", event=event)

    def _do_escalate(self, key, record, values, action) -> Outcome:
        last = self._appeals[record.appeals[-1]]
        appeal = _Appeal(f"A{len(self._appeals) + 1}", key, last.node, values["reason"].strip(), self.today, last.level + 1)
        self._appeals[appeal.id] = appeal
        record.appeals.append(appeal.id)
        self._refresh_row(key)
        event = self._event(key, "escalate", self.person,
                            f"appeal {last.id} escalated to {word(self.lang, f'level.{appeal.level}')} as {appeal.id}: {appeal.reason}")
        return Outcome(True, event.summary, event=event)

    def _do_decide(self, key, record, values, action) -> Outcome:
        appeal = self._appeals[action.appeal_id]
        decision = values.get("decision", "")
        if decision not in ("uphold", "reject"):
            return Outcome(False, word(self.lang, "form_errors"), {"decision": "uphold or reject"})
        reason = values["reason"].strip()
        change = None
        if decision == "uphold":
            row, errors, changed = self._corrected(key, record, values, action.fields)
            if errors:
                return Outcome(False, word(self.lang, "form_errors"), errors)
            if not changed:
                return Outcome(False, word(self.lang, "form_errors"),
                               {"decision": "an upheld appeal corrects at least one input; to keep the figures, reject it"})
            before, after = self._recompute(key, record, row)
            change = self._change(key, before, after)
            appeal.change = change
        appeal.status = "upheld" if decision == "uphold" else "rejected"
        appeal.decided_by = self.person.name
        appeal.decision_reason = reason
        appeal.decided = self.today
        self._refresh_row(key)
        if change is not None:
            moved = [f"{k} {change.before[k]} → {change.after[k]}" for k in change.after if change.before.get(k) != change.after[k]]
            summary = f"appeal {appeal.id} upheld: {'; '.join(moved) or 'no figure moved'} — {reason}"
        else:
            summary = f"appeal {appeal.id} rejected — {reason}"
        event = self._event(key, "decide", self.person, summary)
        return Outcome(True, summary, event=event, change=change)

    # ---- appeals --------------------------------------------------------------------------------

    def _appeal_view(self, appeal_id: str) -> Appeal:
        a = self._appeals[appeal_id]
        due = add_working_days(a.filed, APPEAL_DAYS) if a.status == "open" else None
        return Appeal(a.id, a.key, self._name(a.key), self._team(a.key), a.node, a.reason, a.filed, due,
                      due is not None and due < self.today, a.level, a.status, word(self.lang, f"appeal.{a.status}"),
                      a.decided_by, a.decision_reason, a.decided)

    def appeals(self, open_only: bool = False) -> list[Appeal]:
        with self._lock:
            views = [self._appeal_view(i) for i in self._appeals]
        views = [a for a in views if a.is_open or not open_only]
        return sorted(views, key=lambda a: (not a.is_open, a.due or dt.date.max, a.id))

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
                self._coverage = [Hit(h.line, h.node, h.what, h.count) for h in api.coverage(self.results)]
            return PolicyView(self.policy_path, self.graph.source.text, self.lang, list(self._coverage), self.results.size)

    def numeric_figures(self) -> list[str]:
        banded = [b.node for b in api.bands(self.graph)]
        numeric = [n.name for n in self.graph.nodes.values()
                   if n.type.kind in ("number", "money", "percent", "whole") and n.name != self.graph.key]
        first = list(dict.fromkeys(b for b in banded if b in numeric))
        return first + [n for n in numeric if n not in first]

    def distribution(self, name: str | None = None) -> Distribution:
        figures = self.numeric_figures()
        name = name or (figures[0] if figures else self.main_output)
        with self._lock:
            column = self.results.columns[name]
            indices = [r.index for r in self._records.values()]
        values = [column[i] for i in indices]
        values = [Fraction(v) for v in values if isinstance(v, (int, Fraction)) and not isinstance(v, bool)]
        bands = [Band(b.node, b.op, b.threshold, b.table, b.row, b.line) for b in api.bands(self.graph) if b.node == name]
        return Distribution(name, values, bands, self.graph.nodes[name].type)

    def cost_by_team(self) -> list[tuple[str, Fraction]]:
        paid = api.money_outputs(self.graph) or [self.main_output]
        totals: dict[str, Fraction] = {}
        with self._lock:
            columns = [self.results.columns[n] for n in paid]
            for key, record in self._records.items():
                team = self._team(key)
                amount = sum((c[record.index] for c in columns if isinstance(c[record.index], (int, Fraction))), Fraction(0))
                totals[team] = totals.get(team, Fraction(0)) + amount
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))

    def cost_names(self) -> list[str]:
        return api.money_outputs(self.graph) or [self.main_output]

    # ---- versions and diff --------------------------------------------------------------------------

    def policy_versions(self) -> list[PolicyVersion]:
        versions = [PolicyVersion(self.policy_path, f"{self.policy_path} (this cycle)")]
        versions += [PolicyVersion(p, p) for p in self._extra_versions]
        versions += self._git_versions()
        return versions

    def _git_versions(self, limit: int = 20) -> list[PolicyVersion]:
        path = Path(self.policy_path)
        try:
            out = subprocess.run(["git", "log", f"-{limit}", "--format=%h%x09%ad%x09%s", "--date=short", "--", path.name],
                                 cwd=path.parent or ".", capture_output=True, text=True, timeout=10)
            top = subprocess.run(["git", "rev-parse", "--show-prefix"], cwd=path.parent or ".", capture_output=True,
                                 text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return []
        if out.returncode != 0 or top.returncode != 0:
            return []
        prefix = top.stdout.strip()
        versions = []
        for line in out.stdout.splitlines():
            commit, date, subject = (line.split("\t") + ["", ""])[:3]
            versions.append(PolicyVersion(f"{commit}:{prefix}{path.name}", f"{commit} {date} {subject[:60]}"))
        return versions

    def policy_version_text(self, version: PolicyVersion) -> str:
        if version.id == self.policy_path:
            return self.graph.source.text
        if ":" in version.id and not Path(version.id).exists():
            commit, _, path = version.id.partition(":")
            cwd = Path(self.policy_path).parent
            root = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True)
            shown = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=root.stdout.strip() or cwd,
                                   capture_output=True, text=True)
            if shown.returncode != 0:
                raise ModelError(f"error: {version.id}: {shown.stderr.strip()}")
            return shown.stdout
        try:
            return Path(version.id).read_text(encoding="utf-8-sig")
        except OSError as e:
            raise ModelError(f"error: {version.id}: {e.strerror}") from None

    def diff(self, old: PolicyVersion, new: PolicyVersion, progress: Progress | None = None) -> DiffView:
        say = progress or (lambda done, what: None)
        say(0.05, "reading both versions")
        old_text, new_text = self.policy_version_text(old), self.policy_version_text(new)
        say(0.15, "comparing")
        try:
            change = api.diff_texts(old_text, new_text, old.label, new.label)
        except api.PolicyError as e:
            raise ModelError(api.render_diagnostics(e.source, e.diagnostics)) from None
        changes = [SemanticChange(c.sign, c.kind, c.node, c.description, c.old_lines, c.new_lines) for c in change.changes]
        view = DiffView(old, new, old_text, new_text, changes, api.diff_summary(change))
        if not change.has_changes:
            return view
        say(0.3, f"evaluating both versions on {self.data_path}")
        # Lookup files are read next to the cycle's policy: both versions are read from its folder.
        try:
            old_graph = api.compile_text(old_text, self.policy_path)
            new_graph = api.compile_text(new_text, self.policy_path)
            impact = api.policy_impact(old_graph, new_graph, self.data_path, change)
        except api.PolicyError as e:
            view.impact_error = api.render_diagnostics(e.source, e.diagnostics)
            return view
        except (api.ImpactError, api.DataError) as e:
            view.impact_error = str(e)
            return view
        say(0.9, "the impact table")
        view.impact = self._impact_view(impact)
        say(1.0, "done")
        return view

    def _impact_view(self, impact) -> ImpactView:
        lang = impact.lang
        moving = [c for c in impact.columns if c.name in impact.moving]
        rows = []
        for e in impact.changed:
            before = {c.name: api.format_value(e.before.get(c.name), c.type, lang, compact=True) for c in moving}
            after = {c.name: api.format_value(e.after.get(c.name), c.type, lang, compact=True) for c in moving}
            delta = Fraction(e.pay_delta)
            sign = "+" if delta > 0 else ""
            rows.append(ImpactRow(api.value_to_text(e.key), e.label or "", before, after, delta,
                                  sign + api.format_value(delta, api.Type("money"), lang, compact=True)))
        rows.sort(key=lambda r: (-r.delta, r.key))
        return ImpactView(api.impact_summary(impact), [c.name for c in moving], rows, impact.gain, impact.lose,
                          impact.unchanged, Fraction(impact.cost_before), Fraction(impact.cost_after))
