"""The model over the appraisal workflow's store: every read and every action through
`pkrules.workflow.service.Workflow`, as the acting person (`--as`), never the database itself.

The service's SQLite connection belongs to the thread that opened it, so one thread owns the service
and every call runs there (the screens call from their workers; a call made on that thread runs
directly). Its permission and state checks are the only ones: refusals come back in its words.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from functools import wraps
from pathlib import Path
from typing import Sequence

from pkrules import api

from . import figures
from .labels import word
from .model import (
    Action, Appeal, AuditEvent, BoardQuery, BoardRow, BoardView, Change, CycleInfo, DiffView, Distribution, EmployeeView,
    Figure, FormField, ModelError, Outcome, Person, PolicyVersion, PolicyView, Progress, Stage,
)

STAGES = ("self_review", "manager_review", "hr_review", "published", "final")
SORT_WORDS = {"key": "id"}
PAGE = 200
DECIDED_UPHELD = ("upheld", "partly_upheld")


def _in_store_thread(method):
    @wraps(method)
    def run(self, *args, **kwargs):
        return self._call(method, self, *args, **kwargs)

    return run


class _Rows(Sequence):
    """A board's rows, fetched a page at a time from the service as the table draws them."""

    def __init__(self, count: int, fetch, first: list[BoardRow]):
        self.count = count
        self.fetch = fetch  # offset → rows from there (one page)
        self.pages: dict[int, list[BoardRow]] = {0: first}

    def position(self, key: str) -> int | None:
        """Where an employee is, among the pages read so far (reading the rest would read the whole board)."""
        for page, rows in self.pages.items():
            for k, row in enumerate(rows):
                if row.key == key:
                    return page * PAGE + k
        return None

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.count))]
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(i)
        page = i // PAGE
        if page not in self.pages:
            self.pages[page] = self.fetch(page * PAGE)
        rows = self.pages[page]
        return rows[i - page * PAGE]


class StoreModel:
    """CycleModel over `Workflow.open(db, as_person=person)`."""

    def __init__(self, db: str | Path, person: str | None, progress: Progress | None = None, clock=None,
                 cycle: str | None = None):
        self.db = str(db)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pkrules-store")
        self._thread: threading.Thread | None = None
        say = progress or (lambda done, what: None)
        say(0.1, f"opening {self.db}")
        from pkrules.workflow.service import Workflow, WorkflowError

        self._errors = WorkflowError
        if not Path(self.db).exists():
            raise ModelError(f"error: {self.db}: no such store (create one with `pkrules cycle new` or `pkrules demo`)")

        def open_store():
            self._thread = threading.current_thread()
            return Workflow.open(self.db, as_person=person, clock=clock)

        try:
            self.wf = self._call(open_store)
            say(0.4, "reading the cycle")
            self.cycle_id = cycle or self._call(lambda: self.wf.cycle().id)
            say(0.6, "checking its policy")
            self._call(self._load_graph)
        except WorkflowError as e:
            raise ModelError(f"error: {e}") from None
        self._results_cache: tuple[object, object] | None = None
        self._info: CycleInfo | None = None
        say(1.0, "ready")

    def _call(self, fn, *args, **kwargs):
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        return self._pool.submit(fn, *args, **kwargs).result()

    def close(self) -> None:
        self._call(self.wf.close)
        self._pool.shutdown(wait=False)

    def _load_graph(self) -> None:
        path, text = self.wf.policy_text(self.cycle_id)
        self.policy_path, self.policy_text = path, text
        self.graph = api.compile_text(text, path)
        self.lang = api.policy_language(self.graph)
        self.board_columns = figures.board_figures(self.graph)

    # ---- the cycle and who is acting ---------------------------------------------------------------

    @property
    def info(self) -> CycleInfo:
        """The cycle and the acting person (read once, and again after each action)."""
        if self._info is None:
            self._info = self._call(self._read_info)
        return self._info

    def _read_info(self) -> CycleInfo:
        c = self.wf.cycle(self.cycle_id)
        me = self.wf.me(self.cycle_id)
        person = Person(me.id, me.name, me.role, me.team) if me else Person("?", "?", "employee")
        title = " ".join(x for x in (c.policy_title, self.graph.policy.version) if x)
        note = f"store {self.db}: cycle {c.id} is {c.state}"
        if c.provisional:
            note += "; figures provisional: manager scores are counted at publication"
        return CycleInfo(title, c.id, c.lang, person, self.wf.clock.today(), False, self.db, c.main_output, note)

    def stages(self) -> list[Stage]:
        return [Stage(code, word(self.lang, f"stage.{code}")) for code in STAGES]

    @_in_store_thread
    def teams(self) -> list[str]:
        return self.wf.teams(self.cycle_id)

    # ---- the board ------------------------------------------------------------------------------

    def _board_row(self, r, type_, index: dict | None = None) -> BoardRow:
        total = api.value_from_text(r.total_exact, type_) if r.total_exact else None
        shown = ()
        if index is not None and r.employee_id in index:
            shown = figures.figure_texts(self.graph, self._results(), index[r.employee_id], self.board_columns, self.lang)
        return BoardRow(r.employee_id, r.name, r.team, r.stage, r.stage_label, r.deadline, r.overdue,
                        total if isinstance(total, Fraction) else None, r.total or "—",
                        "open" if r.has_open_appeal else None, r.has_open_appeal, shown)

    @_in_store_thread
    def warm_up(self) -> bool:
        """Read the cycle's stored results (a second or so at 10,000 people): the wide board's extra figures,
        hit counts and pictures need them. The board opens without them and asks for this afterwards."""
        self._warm = True
        self._row_index()
        return bool(self.board_columns)

    def _row_index(self) -> dict[str, int] | None:
        """Each employee's row in the stored results (for the wide board's extra figures), once they are read."""
        if self._results_cache is None and not getattr(self, "_warm", False):
            return None
        results = self._results()
        if getattr(self, "_index_of", (None,))[0] is not results:
            self._index_of = (results, {api.value_to_text(k): i for i, k in enumerate(results.keys)})
        return self._index_of[1]

    @_in_store_thread
    def board(self, query: BoardQuery) -> BoardView:
        wf = self.wf
        type_ = self.graph.nodes[self.graph.main_output()].type
        kw = dict(team=query.team, stage=query.stage, overdue=True if query.overdue else None,
                  has_appeal=True if query.appeal else None, search=query.search.strip() or None,
                  sort=SORT_WORDS.get(query.sort, query.sort), descending=query.descending)

        index = self._row_index()  # None until warm_up: the first page must not wait for the stored results

        def fetch(offset: int) -> list[BoardRow]:
            def page() -> list[BoardRow]:
                rows = wf.board(self.cycle_id, **kw, offset=offset, limit=PAGE).rows
                return [self._board_row(r, type_, index) for r in rows]

            return self._call(page)

        first = wf.board(self.cycle_id, **kw, offset=0, limit=PAGE)
        rows = _Rows(first.total_count, fetch, [self._board_row(r, type_, index) for r in first.rows])
        everyone = wf.board(self.cycle_id, limit=0).total_count
        overdue = first.total_count if query.overdue else wf.board(self.cycle_id, **dict(kw, overdue=True), limit=0).total_count
        appeals = first.total_count if query.appeal else wf.board(self.cycle_id, **dict(kw, has_appeal=True), limit=0).total_count
        return BoardView(query, rows, everyone, None, overdue, appeals, self.board_columns if index is not None else ())

    # ---- one employee ---------------------------------------------------------------------------

    def _figure(self, f, source: str = "") -> Figure:
        node = self.graph.nodes.get(f.name)
        value = api.value_from_text(f.exact, node.type) if (node is not None and f.exact) else None
        description = self.graph.description(f.name) if node is not None else None
        if source and source != "data":
            description = f"[{source}] " + (description or "")
        return Figure(f.name, value, f.value or "—", node.type if node else None, description,
                      node.span.line if node else None)

    def _appeal(self, a, name: str = "", team: str = "") -> Appeal:
        return Appeal(str(a.id), a.employee_id, name, team, a.target, a.reason, a.filed_on, a.deadline if a.open else None,
                      a.overdue, a.level, a.level_name, a.state, a.state_label, a.open, a.decided_by, a.decision_reason,
                      None, a.decision in DECIDED_UPHELD)

    @_in_store_thread
    def employee(self, key: str) -> EmployeeView:
        a = self.wf.appraisal(key, self.cycle_id)
        notes = []
        if a.manager_id:
            notes.append(f"manager: {a.manager_name or ''} ({a.manager_id})")
        if a.self_assessment:
            text = a.self_assessment.get("comment", "")
            if a.self_assessment.get("evidence"):
                text += f" (evidence: {a.self_assessment['evidence']})"
            notes.append(f"self-assessment: {text}")
        if a.self_review_missing:
            notes.append("self-review missing (moved on at its deadline)")
        if a.returned:
            notes.append("self-assessment sent back once")
        if a.scored:
            notes.append("scored by the manager: " + ", ".join(f"{k}={v}" for k, v in a.scored.items()))
        if a.manager_note:
            notes.append(f"manager's note: {a.manager_note}")
        if a.acknowledged:
            notes.append("acknowledged the result")
        if a.provisional:
            notes.append("figures provisional: manager scores are counted at publication")
        return EmployeeView(a.employee_id, a.name, a.team, a.stage, a.stage_label, a.deadline, a.overdue,
                            [self._figure(f, f.source) for f in a.inputs], [self._figure(f) for f in a.results],
                            self.graph.main_output(), [self._appeal(x, a.name, a.team) for x in a.appeals], notes)

    @_in_store_thread
    def explain(self, key: str, name: str | None = None):
        return self.wf.explain(key, name, self.cycle_id)

    def _event(self, e) -> AuditEvent:
        actor = e.actor + (f" (by {e.operator})" if e.operator else "")
        return AuditEvent(e.seq, e.at.replace("T", " "), actor, e.action, e.employee_id, e.summary)

    @_in_store_thread
    def history(self, key: str | None = None) -> list[AuditEvent]:
        return [self._event(e) for e in self.wf.events(self.cycle_id, key)]

    # ---- actions --------------------------------------------------------------------------------

    def _inputs(self, key: str) -> dict[str, str]:
        """The employee's inputs as stored (exact texts), by input name."""
        return {f.name: f.exact for f in self.wf.appraisal(key, self.cycle_id).inputs}

    def _value_fields(self, key: str, names: list[str] | None, required: bool) -> tuple[FormField, ...]:
        stored = self._inputs(key)
        lines = self.policy_text.replace("\r\n", "\n").split("\n")
        out = []
        for node in self.graph.inputs:
            if node.name == self.graph.key or (names is not None and node.name not in names):
                continue
            if names is None and node.type.kind == "text":
                continue  # names and teams are the org table's, not corrected here
            choices = tuple((v, v) for v in node.type.values) if node.type.values else ()
            text = stored.get(node.name, "")
            shown = figures.input_text(api.value_from_text(text, node.type), node.type) if text else ""
            out.append(FormField(node.name, node.name, "choice" if choices else "value", required, shown,
                                 choices, lines[node.span.line - 1].strip()))
        return tuple(out)

    def _node_choices(self, key: str) -> tuple[tuple[str, str], ...]:
        a = self.wf.appraisal(key, self.cycle_id)
        shown = {f.name: f.value for f in a.inputs + a.results}
        return tuple((name, f"{name} = {shown.get(name) or '—'}") for name in self.graph.nodes)

    def _fields(self, name: str, key: str | None) -> tuple[FormField, ...]:
        w = lambda k: word(self.lang, k)  # noqa: E731
        reason = FormField("reason", w("reason"), "reason", True)
        if name == "review.submit_self":
            return (FormField("comment", w("comment"), "reason", True), FormField("evidence", w("evidence"), "text"))
        if name in ("review.return", "appeal.reject", "appeal.escalate"):
            return (reason,)
        if name == "review.score":
            spec = self.wf.cycle(self.cycle_id).process
            scores = next((s["scores"] for s in spec["stages"] if s["kind"] == "manager_review"), [])
            return self._value_fields(key, scores, True) + (FormField("comment", w("comment"), "reason"),)
        if name == "review.submit":
            return (FormField("comment", w("comment"), "reason"),)
        if name == "hr.correct":
            return self._value_fields(key, None, False) + (reason,)
        if name == "appeal.file":
            return (FormField("target", w("disputed"), "node", True, self.graph.main_output(), self._node_choices(key)), reason)
        if name == "appeal.accept":
            return (FormField("note", w("comment"), "text"),)
        if name == "appeal.request_info":
            return (FormField("question", "question", "reason", True),)
        if name == "appeal.answer":
            return (FormField("text", "information", "reason", True),)
        if name == "appeal.decide":
            outcomes = tuple((o, w(f"appeal.{o}")) for o in ("upheld", "partly_upheld", "dismissed"))
            return (FormField("outcome", w("decision"), "choice", True, "", outcomes), reason) + self._value_fields(key, None, False)
        if name == "appeal.withdraw":
            return (FormField("reason", w("reason"), "reason"),)
        if name == "cycle.export":
            return (FormField("path", "file (.csv or .xlsx)", "text", True, f"payroll-{self.cycle_id}.csv"),)
        return ()

    def _action(self, option, key: str | None) -> Action:
        label = option.label + (f" #{option.appeal_id}" if option.appeal_id is not None else "")
        fields = self._fields(option.name, key) if option.allowed else ()
        return Action(option.name, label, option.allowed, "" if option.allowed else option.reason, fields,
                      None if option.appeal_id is None else str(option.appeal_id))

    @_in_store_thread
    def actions(self, key: str) -> list[Action]:
        options = self.wf.actions(key, self.cycle_id)
        return sorted((self._action(o, key) for o in options), key=lambda a: not a.allowed)

    @_in_store_thread
    def cycle_actions(self) -> list[Action]:
        return [self._action(o, None) for o in self.wf.cycle_actions(self.cycle_id)]

    def _check_values(self, key: str, fields, values: dict[str, str]) -> tuple[dict[str, str], dict[str, str], dict | None]:
        """(the changed inputs as canonical texts, field → the engine's message, the whole row read back)."""
        stored_text = self._inputs(key)
        types = {n.name: n.type for n in self.graph.inputs}
        stored = {n: (api.value_from_text(t, types[n]) if t else None) for n, t in stored_text.items() if n in types}
        typed = {f.name: values[f.name] for f in fields if f.kind in ("value", "choice") and f.name in values and f.name in stored}
        if not typed:
            return {}, {}, None
        return figures.changed_inputs(self.graph, stored, typed, source=key)

    @_in_store_thread
    def perform(self, key: str | None, action: str, values: dict[str, str], appeal_id: str | None = None) -> Outcome:
        wf = self.wf
        options = self.cycle_actions() if key is None else self.actions(key)
        chosen = next((a for a in options if a.code == action and (appeal_id is None or a.appeal_id == appeal_id)), None)
        if chosen is None:
            return Outcome(False, f"there is no action {action!r} here now")
        if not chosen.allowed:
            return Outcome(False, chosen.reason)
        missing = {f.name: f"{f.label}: {word(self.lang, 'required')}" for f in chosen.fields
                   if f.required and not str(values.get(f.name, "")).strip()}
        if missing:
            return Outcome(False, word(self.lang, "form_errors"), missing)
        changed, errors, row = self._check_values(key, chosen.fields, values) if key is not None else ({}, {}, None)
        if errors:
            return Outcome(False, word(self.lang, "form_errors"), errors)
        v = {k: str(x).strip() for k, x in values.items()}
        appeal = int(appeal_id) if appeal_id is not None else None
        try:
            result = {
                "review.submit_self": lambda: wf.submit_self_review(key, v["comment"], v.get("evidence", ""), cycle_id=self.cycle_id),
                "review.return": lambda: wf.send_back(key, v["reason"], cycle_id=self.cycle_id),
                "review.score": lambda: wf.score(key, {f.name: api.value_to_text(row[f.name]) for f in chosen.fields
                                                       if f.kind in ("value", "choice")}, v.get("comment", ""), cycle_id=self.cycle_id),
                "review.submit": lambda: wf.confirm(key, v.get("comment", ""), cycle_id=self.cycle_id),
                "hr.correct": lambda: wf.correct(key, changed, v["reason"], cycle_id=self.cycle_id),
                "acknowledge": lambda: wf.acknowledge(key, cycle_id=self.cycle_id),
                "appeal.file": lambda: wf.file_appeal(key, v["target"], v["reason"], cycle_id=self.cycle_id),
                "appeal.accept": lambda: wf.accept_appeal(appeal, v.get("note", "")),
                "appeal.reject": lambda: wf.reject_appeal(appeal, v["reason"]),
                "appeal.request_info": lambda: wf.request_info(appeal, v["question"]),
                "appeal.answer": lambda: wf.answer_info(appeal, v["text"]),
                "appeal.decide": lambda: wf.decide_appeal(appeal, v["outcome"], v["reason"], changed or None),
                "appeal.withdraw": lambda: wf.withdraw_appeal(appeal, v.get("reason", "")),
                "appeal.escalate": lambda: wf.escalate_appeal(appeal, v["reason"]),
                "cycle.advance": lambda: wf.advance(self.cycle_id),
                "cycle.publish": lambda: wf.publish(self.cycle_id),
                "cycle.finalize": lambda: wf.finalize(self.cycle_id),
                "cycle.export": lambda: wf.export(v["path"], self.cycle_id),
            }[action]()
        except KeyError:
            return Outcome(False, f"the TUI does not know the workflow's action {action!r} yet")
        except self._errors as e:
            field = "outcome" if action == "appeal.decide" and "upheld" in str(e) else ""
            return Outcome(False, str(e), {field: str(e)} if field else {})
        self._results_cache = None
        self._info = None
        message = getattr(result, "message", "") or str(result)
        seq = getattr(result, "event", None)
        event = None
        if seq is not None:
            event = next((self._event(e) for e in reversed(wf.events(self.cycle_id, key)) if e.seq == seq), None)
        change = None
        if action == "appeal.decide" and changed:
            change = self._change(wf.appeal(appeal))
        return Outcome(True, message, event=event, change=change)

    # ---- appeals --------------------------------------------------------------------------------

    def _change(self, a) -> Change | None:
        if not a.change:
            return None
        types = {n: self.graph.nodes[n].type for n in self.graph.nodes}

        def shown(values: dict) -> dict[str, str]:
            return {k: api.format_value(api.value_from_text(t, types[k]), types[k], self.lang) if t and k in types else (t or "—")
                    for k, t in values.items()}

        return Change(a.employee_id, shown(a.change.get("before", {})), shown(a.change.get("after", {})), list(a.change_lines))

    @_in_store_thread
    def appeals(self, open_only: bool = False) -> list[Appeal]:
        names: dict[str, tuple[str, str]] = {}
        out = []
        for a in self.wf.appeals(self.cycle_id, open_only=open_only):
            if a.employee_id not in names:
                rows = self.wf.board(self.cycle_id, search=a.employee_id, limit=5).rows
                row = next((r for r in rows if r.employee_id == a.employee_id), None)
                names[a.employee_id] = (row.name, row.team) if row else ("", "")
            out.append(self._appeal(a, *names[a.employee_id]))
        return sorted(out, key=lambda a: (not a.is_open, a.due or dt.date.max, int(a.id)))

    @_in_store_thread
    def appeal_change(self, appeal_id: str) -> Change | None:
        return self._change(self.wf.appeal(int(appeal_id)))

    # ---- policy, pictures ---------------------------------------------------------------------------

    def source(self) -> tuple[str, str]:
        return self.policy_path, self.policy_text

    def _results(self):
        """The cycle's stored results that the acting person may see, read through the service once per run."""
        run = self.wf.cycle(self.cycle_id).run
        if self._results_cache is None or self._results_cache[0] != run:
            self._results_cache = (run, self.wf.results(self.cycle_id))
        return self._results_cache[1]

    def _visible(self, results) -> list[int]:
        """Rows of the people the acting person may see (HR and executives: everyone)."""
        me = self.wf.me(self.cycle_id)
        if me is not None and me.role in ("hr", "executive"):
            return list(range(results.size))
        keys = {r.employee_id for r in self.wf.board(self.cycle_id, limit=100000).rows}
        return [i for i, k in enumerate(results.keys) if api.value_to_text(k) in keys]

    @_in_store_thread
    def policy(self) -> PolicyView:
        results = self._results()
        me = self.wf.me(self.cycle_id)
        everyone = me is not None and me.role in ("hr", "executive")
        hits = figures.hits(results) if everyone else []
        return PolicyView(self.policy_path, self.policy_text, self.lang, hits, results.size if everyone else 0)

    def numeric_figures(self) -> list[str]:
        return figures.numeric_figures(self.graph)

    @_in_store_thread
    def distribution(self, name: str | None = None) -> Distribution:
        results = self._results()
        return figures.distribution(self.graph, results, name, self._visible(results))

    @_in_store_thread
    def cost_by_team(self) -> list[tuple[str, Fraction]]:
        results = self._results()
        teams = {r.employee_id: r.team for r in self.wf.board(self.cycle_id, limit=1000000).rows}
        row_teams = [teams.get(api.value_to_text(k), "—") for k in results.keys]
        return figures.cost_by_team(self.graph, results, row_teams, self._visible(results))

    def cost_names(self) -> list[str]:
        return figures.cost_names(self.graph)

    # ---- versions and diff ---------------------------------------------------------------------------

    def policy_versions(self) -> list[PolicyVersion]:
        stored = PolicyVersion("@cycle", f"{self.policy_path} (cycle {self.cycle_id}, as stored)")
        versions = [stored]
        path = Path(self.policy_path)
        if path.exists():
            try:
                now = path.read_text(encoding="utf-8-sig")
            except OSError:
                now = None
            if now is not None and now != self.policy_text:
                versions.append(PolicyVersion(str(path), f"{path} (the file now)"))
            versions += figures.git_versions(str(path))
        return versions

    def policy_version_text(self, version: PolicyVersion) -> str:
        if version.id == "@cycle":
            return self.policy_text
        return figures.version_text(version, self.policy_path)

    @_in_store_thread
    def diff(self, old: PolicyVersion, new: PolicyVersion, progress: Progress | None = None) -> DiffView:
        (progress or (lambda done, what: None))(0.05, "reading both versions")
        me = self.wf.me(self.cycle_id)
        results = self._results() if me is not None and me.role in ("hr", "executive") else None
        view = figures.diff(old, self.policy_version_text(old), new, self.policy_version_text(new), self.policy_path,
                            None, progress, results)
        if results is None and view.impact is None and view.changes:
            view.impact_error = "only HR and executives see the impact of a change on the whole cycle"
        return view
