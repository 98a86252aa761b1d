"""The workflow service: what the CLI and the TUI call to read a cycle and act on it, as one person.

    from pkrules.workflow.service import Workflow

    wf = Workflow.open("pkrules.db", as_person="H01")          # or: the person whose login is the OS user
    page = wf.board(team="华东一组", overdue=True, limit=50)     # BoardPage of BoardRow
    view = wf.appraisal("E013")                                   # AppraisalView: inputs, results, history, appeals
    for option in wf.actions("E013"):                             # ActionOption: allowed, or why not
        print(option.name, option.allowed, option.reason)
    wf.as_("E013").file_appeal("E013", "visits", "I made 31 visits, not 28")

Every permission and state check happens here (never in a screen); a refused action raises
`Refused` with a message in the cycle's language saying who may do it and when; an action on an
appraisal someone else changed meanwhile raises `Conflict` ("changed by someone else, reload")
when the caller passes the version it showed. Every change is one transaction with one or more
hash-chained events naming the actor (and the operator, when HR acts on someone's behalf).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import subprocess
from fractions import Fraction
from pathlib import Path

from pkrules import api

from . import access
from .audit import AuditReport, verify_chain
from .calendar import Deadline, WorkCalendar
from .clock import Clock
from .messages import (
    BadInput, Conflict, Msg, NotFound, Refused, StoreError, WorkflowError, appeal_state_msg, appeal_state_name, joined, later,
    level_msg, level_name, msg, stage_name,
)
from .org import Person, read_org
from .process import ProcessSpec, process_from_policy, validate_process
from .store import Store, test_hook
from .values import sort_key, to_text
from .views import (ActionOption, ActionResult, AppealView, AppraisalView, BoardPage, BoardRow, CycleInfo, EventView,
                    ExportReport, Figure)

__all__ = ["Workflow", "WorkflowError", "Refused", "Conflict", "BadInput", "NotFound", "StoreError",
           "CycleInfo", "BoardPage", "BoardRow", "AppraisalView", "AppealView", "ActionOption", "ActionResult",
           "EventView", "ExportReport", "Figure", "AuditReport", "Person", "ProcessSpec"]

STAGES = ("self_review", "manager_review", "hr_review", "published", "final")
OPEN_APPEAL = ("submitted", "accepted", "under_review", "info_requested")
DECIDED = ("upheld", "partly_upheld", "dismissed", "inadmissible")
SORTS = {"id": "employee_id", "name": "name", "team": "team", "stage": "stage", "deadline": "deadline",
         "total": "total_sort", "overdue": "deadline"}
STAGE_ORDER_SQL = ("CASE stage WHEN 'self_review' THEN 1 WHEN 'manager_review' THEN 2 WHEN 'hr_review' THEN 3 "
                   "WHEN 'published' THEN 4 ELSE 5 END")


class Workflow:
    """One store, one acting person, one clock. Reads return view dataclasses; actions return ActionResult."""

    def __init__(self, store: Store, actor: str | None, operator: str | None = None, clock: Clock | None = None):
        self.store = store
        self.actor = actor  # the person acting (their id in the org table)
        self.operator = operator  # who typed it, when not the actor (HR on someone's behalf, or "demo")
        self.clock = clock or Clock()
        self._graphs: dict[int, object] = {}

    # ---- opening, and who is acting ---------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path = "pkrules.db", as_person: str | None = None, login: str | None = None,
             clock: Clock | None = None, create: bool = False) -> "Workflow":
        """Open a store and identify the acting person.

        By default the person whose login is the OS user (getpass.getuser()). `as_person` (an id, or a login)
        is accepted in a demo store, or when the OS user is HR (acting on that person's behalf: events record
        both). With no cycle yet, anyone may open it (creating the first cycle checks the org table).
        """
        store = Store(path, create=create)
        try:
            return cls._identified(store, as_person, login, clock)
        except BaseException:
            store.close()  # (refused: the store is left as it was found, with nothing open on it)
            raise

    @classmethod
    def _identified(cls, store: Store, as_person: str | None, login: str | None, clock: Clock | None) -> "Workflow":
        wf = cls(store, None, None, clock)
        login = login if login is not None else _os_login()
        cycle = wf._latest_cycle_row()
        if cycle is None:
            wf.actor = as_person
            wf.operator = login if as_person else None
            wf._login = login
            return wf
        me = wf._person_by_login(cycle["id"], login)
        if as_person is None:
            if me is None:
                raise Refused(msg("you (OS user '{l}') are not in the org table of cycle {c}: ask HR to add your login, "
                                  "or use --as PERSON (in a demo store, or as HR acting on someone's behalf)", l=login, c=cycle["id"]), cycle["lang"])
            wf.actor = me.id
            return wf
        target = wf._person(cycle["id"], as_person) or wf._person_by_login(cycle["id"], as_person)
        if target is None:
            raise NotFound(msg("--as {p}: nobody with that id or login in the org table of cycle {c}", p=as_person, c=cycle["id"]), cycle["lang"])
        if store.meta("demo") == "1":
            wf.actor, wf.operator = target.id, (me.id if me and me.id != target.id else None)
        elif me is not None and me.role == "hr":
            wf.actor, wf.operator = target.id, (me.id if me.id != target.id else None)
        elif me is not None and me.id == target.id:
            wf.actor = me.id
        else:
            raise Refused(msg("--as {p}: only HR may act on someone's behalf (you are {who}); outside a demo store "
                              "everyone acts as themselves", p=as_person, who=me.label() if me else msg("OS user '{l}'", l=login)),
                          cycle["lang"])
        return wf

    def as_(self, person: str, operator: str | None = None) -> "Workflow":
        """The same store and clock, acting as another person (tests, the demo, HR on someone's behalf)."""
        other = Workflow(self.store, person, operator, self.clock)
        other._graphs = self._graphs
        return other

    def close(self) -> None:
        self.store.close()

    def me(self, cycle_id: str | None = None) -> Person | None:
        """The acting person as the cycle's org table knows them (None: not in it)."""
        cycle = self._cycle_row(cycle_id)
        return self._person(cycle["id"], self.actor) if self.actor else None

    # ---- reading ------------------------------------------------------------------------------------

    def cycles(self) -> list[CycleInfo]:
        """Every cycle, newest first."""
        rows = self.store.all("SELECT id FROM cycles ORDER BY created_at DESC, id DESC")
        return [self.cycle(r["id"]) for r in rows]

    def cycle(self, cycle_id: str | None = None) -> CycleInfo:
        """One cycle (default: the newest)."""
        c = self._cycle_row(cycle_id)
        policy = self.store.one("SELECT * FROM policy_versions WHERE id = ?", (c["policy_id"],))
        today = self.clock.today().isoformat()
        stages = {s: 0 for s in STAGES}
        for row in self.store.all("SELECT stage, count(*) AS n FROM appraisals WHERE cycle_id = ? GROUP BY stage", (c["id"],)):
            stages[row["stage"]] = row["n"]
        overdue = self.store.one("SELECT count(*) AS n FROM appraisals WHERE cycle_id = ? AND deadline IS NOT NULL "
                                 "AND deadline < ? AND stage NOT IN ('final')", (c["id"], today))["n"]
        appeals = self.store.one("SELECT count(*) AS n FROM appeals WHERE cycle_id = ? AND state IN (?,?,?,?)",
                                 (c["id"], *OPEN_APPEAL))["n"]
        graph = self._graph(c)
        return CycleInfo(c["id"], c["period"], policy["title"], policy["path"], policy["sha256"], policy["git_commit"],
                         c["state"], _date(c["start"]), _date(c["published_on"]), _date(c["publication_deadline"]),
                         _date(c["finalized_on"]), c["lang"], sum(stages.values()), stages, overdue, appeals,
                         bool(c["stale"]), graph.main_output(), api.money_outputs(graph), json.loads(c["process"]),
                         c["version"], c["current_run"])

    def board(self, cycle_id: str | None = None, *, team: str | None = None, stage: str | None = None,
              overdue: bool | None = None, has_appeal: bool | None = None, search: str | None = None,
              sort: str = "id", descending: bool = False, offset: int = 0, limit: int = 50) -> BoardPage:
        """A page of the status board, filtered and sorted in SQL (indexes on cycle+stage/team/deadline/total).

        Employees see only their own line, managers themselves and their direct reports, HR and executives everyone.
        search matches the id or the name; sort: id, name, team, stage, deadline, total.
        """
        c = self._cycle_row(cycle_id)
        lang = c["lang"]
        me = self._me(c)
        where, params = ["cycle_id = ?"], [c["id"]]
        if me.role == "employee":
            where.append("employee_id = ?")
            params.append(me.id)
        elif me.role == "manager":
            where.append("(employee_id = ? OR manager_id = ?)")
            params += [me.id, me.id]
        if team:
            where.append("team = ?")
            params.append(team)
        if stage:
            stage = _stage_word(stage)
            if stage not in STAGES:
                raise BadInput(msg("unknown stage '{s}' (stages: {all})",
                                   s=stage, all=", ".join(STAGES)), lang)
            where.append("stage = ?")
            params.append(stage)
        today = self.clock.today().isoformat()
        if overdue is not None:
            where.append("(deadline IS NOT NULL AND deadline < ? AND stage != 'final')" if overdue
                         else "NOT (deadline IS NOT NULL AND deadline < ? AND stage != 'final')")
            params.append(today)
        if has_appeal is not None:
            where.append("open_appeals > 0" if has_appeal else "open_appeals = 0")
        if search:
            where.append("(employee_id LIKE ? OR name LIKE ?)")
            params += [f"%{search}%", f"%{search}%"]
        if sort not in SORTS:
            raise BadInput(msg("cannot sort by '{s}' (sort by: {all})",
                               s=sort, all=", ".join(SORTS)), lang)
        order = STAGE_ORDER_SQL if sort == "stage" else SORTS[sort]
        direction = "DESC" if descending else "ASC"
        clause = " AND ".join(where)
        total = self.store.conn.execute(f"SELECT count(*) FROM appraisals WHERE {clause}", params).fetchone()[0]
        rows = self.store.all(f"SELECT * FROM appraisals WHERE {clause} ORDER BY {order} {direction} NULLS LAST, "
                              f"employee_id LIMIT ? OFFSET ?", (*params, max(0, limit), max(0, offset)))
        graph = self._graph(c)
        type_ = graph.nodes[graph.main_output()].type
        out = []
        for r in rows:
            deadline = _date(r["deadline"])
            value = api.value_from_text(r["total"], type_) if r["total"] else None
            out.append(BoardRow(r["employee_id"], r["name"], r["team"], r["stage"], stage_name(r["stage"], lang), deadline,
                                r["deadline_note"] or "", bool(deadline and r["stage"] != "final" and deadline.isoformat() < today),
                                r["open_appeals"] > 0, bool(r["self_review_missing"]),
                                api.format_value(value, type_, lang=lang) if value is not None else "", r["total"] or "",
                                r["version"]))
        return BoardPage(c["id"], out, total, offset, limit, lang, graph.main_output())

    def teams(self, cycle_id: str | None = None) -> list[str]:
        """The teams of the cycle (for a filter)."""
        c = self._cycle_row(cycle_id)
        return [r["team"] for r in self.store.all("SELECT DISTINCT team FROM appraisals WHERE cycle_id = ? ORDER BY team", (c["id"],))]

    def appraisal(self, employee_id: str, cycle_id: str | None = None) -> AppraisalView:
        """One appraisal in full; refused unless the acting person may see this employee."""
        c = self._cycle_row(cycle_id)
        lang = c["lang"]
        a = self._appraisal_row(c, employee_id)
        self._check_visible(c, a)
        graph = self._graph(c)
        cells = json.loads(self.store.one("SELECT cells FROM inputs WHERE cycle_id = ? AND employee_id = ?",
                                          (c["id"], a["employee_id"]))["cells"])
        scored = json.loads(a["scored"] or "{}")
        sources = self._input_sources(c, a["employee_id"])
        inputs = []
        for node in graph.inputs:
            text = cells.get(node.name, "")
            value = api.value_from_text(text, node.type) if text else None
            inputs.append(Figure(node.name, api.format_value(value, node.type, lang=lang) if value is not None else "",
                                 text, "manager" if node.name in scored else sources.get(node.name, "data")))
        values = self._employee_values(c, a["employee_id"])
        results = []
        for node in graph.definitions:
            text = values.get(node.name, "")
            value = api.value_from_text(text, node.type) if text else None
            results.append(Figure(node.name, api.format_value(value, node.type, lang=lang) if value is not None else "", text))
        type_ = graph.nodes[graph.main_output()].type
        total = api.format_value(api.value_from_text(a["total"], type_), type_, lang=lang) if a["total"] else ""
        manager = self._person(c["id"], a["manager_id"]) if a["manager_id"] else None
        appeals = [self._appeal_view(c, r) for r in
                   self.store.all("SELECT * FROM appeals WHERE cycle_id = ? AND employee_id = ? ORDER BY id", (c["id"], a["employee_id"]))]
        deadline = _date(a["deadline"])
        return AppraisalView(c["id"], a["employee_id"], a["name"], a["team"], a["manager_id"], manager.name if manager else None,
                             a["stage"], stage_name(a["stage"], lang), _date(a["entered_on"]), deadline,
                             a["deadline_note"] or "", self._overdue(a["stage"], deadline), bool(a["self_review_missing"]),
                             bool(a["returned"]), bool(a["acknowledged"]), json.loads(a["self_assessment"]) if a["self_assessment"] else None,
                             a["manager_note"], scored, inputs, results, total, bool(c["stale"]),
                             self.events(c["id"], a["employee_id"]), appeals, lang, a["version"])

    def appeal(self, appeal_id: int) -> AppealView:
        """One appeal; refused unless the acting person may see its employee."""
        row = self._appeal_row(appeal_id)
        c = self._cycle_row(row["cycle_id"])
        self._check_visible(c, self._appraisal_row(c, row["employee_id"]))
        return self._appeal_view(c, row)

    def appeals(self, cycle_id: str | None = None, open_only: bool = False) -> list[AppealView]:
        """The appeals the acting person may see."""
        c = self._cycle_row(cycle_id)
        me = self._me(c)
        sql = "SELECT * FROM appeals WHERE cycle_id = ?" + (" AND state IN (?,?,?,?)" if open_only else "") + " ORDER BY id"
        rows = self.store.all(sql, (c["id"], *(OPEN_APPEAL if open_only else ())))
        return [self._appeal_view(c, r) for r in rows
                if access.may_see(me, self._appraisal_row(c, r["employee_id"]), self._chain(c, r["employee_id"]))]

    def actions(self, employee_id: str, cycle_id: str | None = None) -> list[ActionOption]:
        """Every action on this appraisal (and its open appeals), each allowed or refused with the reason."""
        c = self._cycle_row(cycle_id)
        a = self._appraisal_row(c, employee_id)
        self._check_visible(c, a)
        me = self._me(c)
        ctx = self._ctx(c, a)
        options = []
        for name in access.APPRAISAL_ACTIONS:
            refusal = access.check(name, me, ctx)
            options.append(_option(name, refusal, c["lang"], employee_id))
        for row in self.store.all("SELECT * FROM appeals WHERE cycle_id = ? AND employee_id = ? ORDER BY id", (c["id"], a["employee_id"])):
            actx = self._ctx(c, a, row)
            for name in access.APPEAL_ACTIONS:
                refusal = access.check(name, me, actx)
                options.append(_option(name, refusal, c["lang"], employee_id, row["id"]))
        return options

    def cycle_actions(self, cycle_id: str | None = None) -> list[ActionOption]:
        """The cycle's own actions (advance, publish, finalize, export), each allowed or refused with the reason."""
        c = self._cycle_row(cycle_id)
        me = self._me(c)
        ctx = self._ctx(c, None)
        return [_option(name, access.check(name, me, ctx), c["lang"], None) for name in access.CYCLE_ACTIONS]

    def events(self, cycle_id: str | None = None, employee_id: str | None = None, limit: int | None = None) -> list[EventView]:
        """The audit log as the acting person may read it: their own (and their reports') events, cycle events;
        HR and executives everything. Newest last."""
        c = self._cycle_row(cycle_id) if (cycle_id or self._latest_cycle_row()) else None
        if c is None:
            return []
        me = self._me(c)
        sql = "SELECT * FROM events WHERE (cycle_id = ? OR cycle_id IS NULL)"
        params: list = [c["id"]]
        if employee_id:
            a = self._appraisal_row(c, employee_id)
            self._check_visible(c, a)
            sql += " AND employee_id = ?"
            params.append(a["employee_id"])
        elif me.role == "employee":
            sql += " AND (employee_id = ? OR employee_id IS NULL)"
            params.append(me.id)
        elif me.role == "manager":
            sql += " AND (employee_id IS NULL OR employee_id = ? OR employee_id IN (SELECT employee_id FROM appraisals " \
                   "WHERE cycle_id = ? AND manager_id = ?))"
            params += [me.id, c["id"], me.id]
        sql += " ORDER BY seq"
        rows = self.store.all(sql, params)
        if limit:
            rows = rows[-limit:]
        return [self._event_view(c, r) for r in rows]

    def verify(self) -> AuditReport:
        """Check the whole hash chain (anyone may: it shows no figures)."""
        return verify_chain(self.store)

    def results(self, cycle_id: str | None = None):
        """The current run's stored results (every node's exact value) for whole-cycle views — hit counts,
        distributions, cost by team — holding only the people the acting person may see: HR and executives
        everyone, a manager their direct reports, an employee themselves. (Explanations go through explain(),
        which reads everyone's values for population terms but shows only the asked employee's figures.)"""
        c = self._cycle_row(cycle_id)
        everything = self._stored_results(c, c["current_run"], whole=True)
        me = self.me(c["id"])
        if me is not None and me.role in ("hr", "executive"):
            return everything
        visible = {r.employee_id for r in self.board(c["id"], limit=len(everything.keys) + 1).rows}
        rows = [i for i, k in enumerate(everything.keys) if api.value_to_text(k) in visible]
        graph = everything.graph
        columns = {name: [everything.columns[name][i] for i in rows] for name in graph.nodes}
        return api.results_from_columns(graph, columns, [everything.row_numbers[i] for i in rows])

    def explain(self, employee_id: str, node: str | None = None, cycle_id: str | None = None, run_id: int | None = None):
        """The explanation of one stored figure (default: the main output), with the policy of its time,
        from the stored results of the cycle's current run (or `run_id`): nothing is evaluated again."""
        c = self._cycle_row(cycle_id)
        a = self._appraisal_row(c, employee_id)
        self._check_visible(c, a)
        graph = self._graph(c)
        name = node or graph.main_output()
        if name not in graph.nodes:
            from difflib import get_close_matches

            guess = get_close_matches(name, list(graph.nodes), n=1)
            raise NotFound(msg("'{n}' is not a value of the policy (did you mean '{g}'?)", n=name, g=guess[0]) if guess else
                           msg("'{n}' is not a value of the policy", n=name), c["lang"])
        results = self._stored_results(c, run_id or c["current_run"])
        me = self._me(c)
        # an employee reading their own figures reads their statement: group figures the policy does not
        # publish are withheld (engine/visibility.py); managers and HR see the whole explanation
        own = me is not None and me.id == a["employee_id"]
        return api.explain(results, a["employee_id"], name, audience="employee" if own else "all")

    def policy_text(self, cycle_id: str | None = None) -> tuple[str, str]:
        """(path, full text) of the policy version the cycle uses."""
        c = self._cycle_row(cycle_id)
        p = self.store.one("SELECT path, text FROM policy_versions WHERE id = ?", (c["policy_id"],))
        return p["path"], p["text"]

    # ---- creating a cycle ---------------------------------------------------------------------------

    def create_cycle(self, policy: str | Path, period: str, people: str | Path, data: str | Path,
                     related: dict[str, str | Path] | None = None, start: dt.date | None = None,
                     manager_scores: list[str] | None = None, demo: bool = False) -> CycleInfo:
        """A new cycle: the policy version, the org table, the inputs (validated), everyone evaluated, results
        stored, every appraisal at self-review — all in one transaction (a killed process leaves nothing).

        The acting person must be HR in the new org table. manager_scores: inputs the manager enters at manager
        review, for a policy whose appraisal block does not name them (or that has no block).
        """
        try:
            graph = api.compile_file(policy)
        except api.PolicyFileError as e:
            raise BadInput(msg("{e}", e=e)) from None
        except api.PolicyError as e:
            text = api.render_diagnostics(e.source, e.diagnostics)
            raise BadInput(msg("{p} has errors; fix them first:\n{t}", p=policy, t=text)) from None
        lang = api.policy_language(graph)
        policy_text = Path(policy).read_text(encoding="utf-8-sig")
        spec = process_from_policy(graph)
        if manager_scores:
            if spec.declared and spec.manager_scores and list(manager_scores) != spec.manager_scores:
                # two sources for one fact: the policy's block wins only if nobody is surprised, so say it
                raise BadInput(msg("the policy's appraisal block already names what the manager scores ({a}); "
                                   "change the block, or leave out the manager scores given here ({b})",
                                   a=joined(msg(", "), spec.manager_scores), b=joined(msg(", "), manager_scores)), lang)
            stage = spec.stage("manager_review")
            stage.scores = list(manager_scores)
        problems = validate_process(spec, graph)
        if problems:
            raise BadInput(msg("the appraisal process has problems:\n{problems}",
                               problems=joined("\n", [msg("  {problem}", problem=p.said()) for p in problems])), lang)
        if self.store.one("SELECT id FROM cycles WHERE id = ?", (period,)):
            raise Refused(msg("there is already a cycle {p} in this store; choose another period or another --db", p=period), lang)
        org = read_org(people)
        by_id = {p.id: p for p in org}
        me = by_id.get(self.actor) if self.actor else None
        if me is None and getattr(self, "_login", None):
            me = next((p for p in org if p.login == self._login), None)
        if me is None or me.role != "hr":
            who = me.label() if me else (self.actor or msg("OS user '{l}'", l=getattr(self, "_login", "?")))
            raise Refused(msg("only HR creates a cycle: {who} is not HR in {o} (use --as with an HR person's id, "
                              "or add your login to the org table)",
                              who=who, o=people), lang)
        self.actor = me.id
        results = None
        try:
            if related or graph.related:
                population = api.read_population(graph, data, related=related)
            else:
                # evaluated straight from the file: the fast path reads a large CSV or Parquet file itself, with no
                # Python row per employee (results is None when there are bad cells: population.errors has them)
                results, population = api.evaluate_file(graph, data)
        except api.DataError as e:
            raise BadInput(msg("{e}", e=e), lang) from None
        if results is None and population.errors:
            shown = [later(lambda e=e: e.describe(str(data))) for e in population.errors[:20]]
            more = len(population.errors) - len(shown)
            lines = list(shown)
            if more > 0:
                lines.append(msg("… and {n} more", n=more))
            lines.append(msg("{n} bad cells; no cycle was created. Fix the data and run again.", n=len(population.errors)))
            raise BadInput(joined("\n", lines), lang)
        if results is None:
            results = api.evaluate(graph, population)
        if not results.size:
            raise BadInput(msg("{d}: no employees in the data", d=data), lang)
        keys = [str(k) for k in results.keys]
        row_numbers = results.row_numbers
        problems = []
        seen = set()
        for number, k in zip(row_numbers, keys):
            person = by_id.get(k)
            if k in seen:
                problems.append(msg("{d}: row {n}: {k} appears twice", d=data, n=number, k=k))
            elif person is None:
                problems.append(msg("{d}: row {n}: {k} is not in the org table {o}",
                                    d=data, n=number, k=k, o=people))
            elif person.role not in ("employee", "manager"):
                problems.append(msg("{d}: row {n}: {k} is {r} in the org table; only employees and managers are appraised", d=data, n=number, k=k, r=person.role))
            elif not person.manager_id:
                problems.append(msg("{o}: {k} has no manager: who would review them?", o=people, k=k))
            seen.add(k)
        if problems:
            raise BadInput(joined("\n", problems[:20] + [msg("no cycle was created.")]), lang)
        if results.errors:
            shown = [later(lambda e=e: f"{data}: {e.describe(str(policy))}") for e in results.errors[:20]]
            raise BadInput(joined("\n", shown + [msg("{n} rows could not be computed; no cycle was created.",
                                                     n=len(results.errors))]), lang)
        today = self.clock.today()
        start = start or today
        calendar = WorkCalendar(spec.calendar, spec.days_off)
        first = calendar.add_working_days(start, spec.days("self_review"), lang) if spec.days("self_review") else None
        now = self.clock.now()
        sha = hashlib.sha256(policy_text.encode("utf-8")).hexdigest()
        node_names = list(graph.nodes)
        input_names = [n.name for n in graph.inputs]
        kept = api.keep_run(results)  # every value as text, and what explaining one employee later needs
        cols = {n: [t or "" for t in kept.texts(n)] for n in node_names}
        input_cols = {n: cols[n] for n in input_names}  # (the inputs' stored text too: made by columns, not per value)
        terms = _terms_records(kept)
        main = graph.main_output()
        with self.store.transaction():
            policy_row = self.store.one("SELECT id FROM policy_versions WHERE sha256 = ?", (sha,))
            if policy_row:
                policy_id = policy_row["id"]
            else:
                cur = self.store.execute(
                    "INSERT INTO policy_versions(sha256, path, text, git_commit, title, version, created_at) VALUES (?,?,?,?,?,?,?)",
                    (sha, str(policy), policy_text, _git_commit(policy), graph.policy.title, graph.policy.version, now))
                policy_id = cur.lastrowid
            self.store.execute(
                "INSERT INTO cycles(id, period, policy_id, state, start, process, lang, created_at, created_by, stale, "
                "data_source, people_source, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (period, period, policy_id, "open", start.isoformat(), json.dumps(spec.to_data(), ensure_ascii=False), lang,
                 now, self.actor, 0, str(data), str(people), 1))
            self.store.conn.executemany("INSERT INTO people VALUES (?,?,?,?,?,?,?)",
                                        [(period, p.id, p.name, p.role, p.manager_id, p.team, p.login) for p in org])
            self.store.conn.executemany(
                "INSERT INTO inputs(cycle_id, employee_id, row, cells, pos) VALUES (?,?,?,?,?)",
                ((period, keys[i], row_numbers[i],
                  json.dumps({n: input_cols[n][i] for n in input_names}, ensure_ascii=False), i) for i in range(len(keys))))
            for table, rows in population.related.items():
                link = graph.related[table][0].link
                names = list(rows[0]) if rows else []
                self.store.conn.executemany("INSERT INTO related_inputs VALUES (?,?,?,?,?)",
                                            ((period, table, str(r[link]), i, json.dumps({n: to_text(r[n]) for n in names},
                                                                                          ensure_ascii=False)) for i, r in enumerate(rows)))
            run_id = self.store.execute(
                "INSERT INTO runs(cycle_id, parent_id, reason, at, nodes, size, changed, kept) VALUES (?,?,?,?,?,?,?,?)",
                (period, None, "cycle new", now, json.dumps(node_names, ensure_ascii=False), len(keys), len(keys),
                 json.dumps(kept.spec, ensure_ascii=False))).lastrowid
            self.store.conn.executemany(
                "INSERT INTO results(run_id, employee_id, vals, terms) VALUES (?,?,?,?)",
                ((run_id, keys[i], json.dumps([cols[n][i] for n in node_names], ensure_ascii=False), terms[i])
                 for i in range(len(keys))))
            self._store_groups(run_id, kept)
            totals = cols[main]
            self.store.conn.executemany(
                "INSERT INTO appraisals(cycle_id, employee_id, name, team, manager_id, stage, entered_on, deadline, deadline_note, "
                "self_review_missing, returned, acknowledged, scored, open_appeals, total, total_sort, version) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                ((period, k, by_id[k].name, by_id[k].team, by_id[k].manager_id, "self_review", start.isoformat(),
                  first.due.isoformat() if first else None, first.note if first else "", 0, 0, 0, "{}", 0,
                  totals[i], sort_key(totals[i]), 1) for i, k in enumerate(keys)))
            self.store.execute("UPDATE cycles SET current_run = ? WHERE id = ?", (run_id, period))
            if demo:
                self.store.set_meta("demo", "1")
            self.store.append_event(now, self.actor, "cycle.new", {
                "period": period, "policy": str(policy), "policy_sha256": sha, "employees": len(keys), "run": run_id,
                "people": str(people), "data": str(data), "start": start.isoformat(),
                "self_review_deadline": first.due.isoformat() if first else None, "deadline_note": first.note if first else "",
                "process_declared": spec.declared}, cycle_id=period, operator=self.operator)
            test_hook("cycle_new")  # tests kill the process here: the transaction must leave nothing behind
        return self.cycle(period)

    # ---- actions on one appraisal -----------------------------------------------------------------

    def submit_self_review(self, employee_id: str, comment: str, evidence: str = "",
                           self_scores: dict[str, str] | None = None, cycle_id: str | None = None,
                           expected_version: int | None = None) -> ActionResult:
        """The employee's self-assessment (自评): comment, evidence, optional self-scores (recorded, not counted)."""
        c, a, me = self._begin("review.submit_self", employee_id, cycle_id, expected_version)
        lang = c["lang"]
        graph = self._graph(c)
        spec = self._spec(c)
        scores = {}
        for name, text in (self_scores or {}).items():
            allowed = spec.self_scores or spec.manager_scores
            if name not in allowed:
                raise BadInput(msg("'{name}' cannot be self-scored in this process (self-scores: {allowed})", name=name,
                                   allowed=joined(msg(", "), allowed) if allowed else msg("none")), lang)
            scores[name] = self._validated_text(c, graph, a["employee_id"], name, text)
        if not comment.strip():
            raise BadInput(msg("a self-assessment needs a comment (what you achieved, with evidence)"), lang)
        assessment = {"comment": comment, "evidence": evidence, "self_scores": scores, "submitted_on": self.clock.today().isoformat()}
        due = self._deadline(c, "manager_review")
        return self._update_appraisal(c, a, me, "review.submit_self", {
            "stage": "manager_review", "entered_on": self.clock.today().isoformat(),
            "deadline": due.due.isoformat() if due else None, "deadline_note": due.note if due else "",
            "self_assessment": json.dumps(assessment, ensure_ascii=False)},
            {"comment": comment, "evidence": evidence, "self_scores": scores, "to": "manager_review"},
            msg("self-assessment of {e} submitted; now with the manager for review (due {d})", e=a["employee_id"], d=due.due if due else "-"))

    def score(self, employee_id: str, scores: dict[str, str], comment: str = "", cycle_id: str | None = None,
              expected_version: int | None = None) -> ActionResult:
        """The manager enters scored inputs (validated as a data cell is). The figures are recomputed at publication
        (or by HR's correction); until then the cycle's figures are marked provisional."""
        c, a, me = self._begin("review.score", employee_id, cycle_id, expected_version)
        lang = c["lang"]
        spec = self._spec(c)
        graph = self._graph(c)
        if not scores:
            raise BadInput(msg("give at least one score: INPUT=VALUE ({a})",
                               a=", ".join(spec.manager_scores)), lang)
        unknown = [n for n in scores if n not in spec.manager_scores]
        if unknown:
            raise BadInput(msg("'{n}' is not scored by the manager in this process (the manager scores: {a})", n=unknown[0], a=", ".join(spec.manager_scores)), lang)
        texts = self._validated_cells(c, graph, a["employee_id"], scores)
        cells = self._cells(c, a["employee_id"])
        before = {n: cells.get(n, "") for n in texts}
        cells.update(texts)
        scored = json.loads(a["scored"] or "{}")
        scored.update(texts)
        return self._update_appraisal(c, a, me, "review.score", {
            "scored": json.dumps(scored, ensure_ascii=False), "manager_note": comment or a["manager_note"]},
            {"scores": {n: {"before": before[n], "after": texts[n]} for n in texts}, "comment": comment},
            msg("scores recorded for {e}: {s}; confirm with `review submit` when done", e=a["employee_id"],
                s=", ".join(f"{n}={str(scores[n]).strip()}" for n in texts)),
            inputs=cells, stale=True)

    def confirm(self, employee_id: str, comment: str = "", cycle_id: str | None = None,
                expected_version: int | None = None) -> ActionResult:
        """The manager confirms the result (上级评分 done): the appraisal goes to HR review."""
        c, a, me = self._begin("review.submit", employee_id, cycle_id, expected_version)
        due = self._deadline(c, "hr_review")
        return self._update_appraisal(c, a, me, "review.submit", {
            "stage": "hr_review", "entered_on": self.clock.today().isoformat(),
            "deadline": due.due.isoformat() if due else None, "deadline_note": due.note if due else "",
            "manager_note": comment or a["manager_note"]}, {"comment": comment, "to": "hr_review"},
            msg("{e} confirmed by the manager; now with HR for review", e=a["employee_id"]))

    def send_back(self, employee_id: str, reason: str, cycle_id: str | None = None,
                  expected_version: int | None = None) -> ActionResult:
        """The manager sends the self-assessment back once, with a reason; a new self-review deadline starts."""
        c, a, me = self._begin("review.return", employee_id, cycle_id, expected_version)
        if not reason.strip():
            raise BadInput(msg("say why it is sent back"), c["lang"])
        due = self._deadline(c, "self_review")
        return self._update_appraisal(c, a, me, "review.return", {
            "stage": "self_review", "returned": 1, "entered_on": self.clock.today().isoformat(),
            "deadline": due.due.isoformat() if due else None, "deadline_note": due.note if due else ""},
            {"reason": reason, "to": "self_review"},
            msg("{e}'s self-assessment sent back (once only); new deadline {d}",
                e=a["employee_id"], d=due.due if due else "-"))

    def correct(self, employee_id: str, values: dict[str, str], reason: str, cycle_id: str | None = None,
                expected_version: int | None = None) -> ActionResult:
        """HR corrects inputs (with a reason) during HR review; the population is evaluated again at once."""
        c, a, me = self._begin("hr.correct", employee_id, cycle_id, expected_version)
        lang = c["lang"]
        if not reason.strip():
            raise BadInput(msg("a correction needs a reason"), lang)
        graph = self._graph(c)
        texts = self._validated_cells(c, graph, a["employee_id"], values)
        before = self._cells(c, a["employee_id"])
        with self.store.transaction():  # the new run and the appraisal's event together, or neither
            self._check_version(c, a, expected_version)
            run = self._recompute(c, graph, {a["employee_id"]: texts}, f"hr correct {a['employee_id']}", a["employee_id"])
            change = run["change"]
            return self._update_appraisal(c, a, me, "hr.correct", {},
            {"corrections": {n: {"before": before.get(n, ""), "after": t} for n, t in texts.items()}, "reason": reason,
             "run": run["id"], "changed_employees": run["changed"], "before": change.get("before", {}),
             "after": change.get("after", {})},
            msg("{e} corrected ({s}); everyone evaluated again: {n} employees' figures changed (run {r})", e=a["employee_id"],
                s=", ".join(f"{n}={t}" for n, t in texts.items()), n=run["changed"], r=run["id"]),
                run_id=run["id"], changed=run["changed"])

    def acknowledge(self, employee_id: str, cycle_id: str | None = None, expected_version: int | None = None) -> ActionResult:
        """The employee acknowledges the published result (确认无异议)."""
        c, a, me = self._begin("acknowledge", employee_id, cycle_id, expected_version)
        return self._update_appraisal(c, a, me, "acknowledge", {"acknowledged": 1}, {},
                                      msg("{e} acknowledged the result", e=a["employee_id"]))

    # ---- appeals -----------------------------------------------------------------------------------

    def file_appeal(self, employee_id: str, target: str, reason: str, cycle_id: str | None = None) -> ActionResult:
        """The employee appeals (申诉) during publication, naming the disputed input or explanation node and a reason.
        An appeal filed after the publication period is recorded as late (HR then marks it inadmissible)."""
        c, a, me = self._begin("appeal.file", employee_id, cycle_id, None)
        lang = c["lang"]
        graph = self._graph(c)
        if target not in graph.nodes:
            from difflib import get_close_matches

            guess = get_close_matches(target, list(graph.nodes), n=1)
            raise BadInput(msg("an appeal names an input or a value of the explanation: '{t}' is not one (did you mean '{g}'?)",
                               t=target, g=guess[0]) if guess else
                           msg("an appeal names an input or a value of the explanation: '{t}' is not one", t=target), lang)
        if not reason.strip():
            raise BadInput(msg("an appeal needs a reason"), lang)
        today = self.clock.today()
        late = bool(c["publication_deadline"] and today.isoformat() > c["publication_deadline"])
        due = self._deadline(c, "appeal")
        now = self.clock.now()
        with self.store.transaction():
            self._check_version(c, a, None)
            appeal_id = self.store.execute(
                "INSERT INTO appeals(cycle_id, employee_id, target, reason, state, level, filed_on, late, deadline, "
                "deadline_note, corrections, history, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (c["id"], a["employee_id"], target, reason, "submitted", 0, today.isoformat(), int(late),
                 due.due.isoformat() if due else None, due.note if due else "", "{}", "[]", 1)).lastrowid
            self._bump(c, a, {"open_appeals": a["open_appeals"] + 1})
            seq = self.store.append_event(now, me.id, "appeal.file", {"target": target, "reason": reason, "late": late,
                                                                      "answer_due": due.due.isoformat() if due else None},
                                          c["id"], a["employee_id"], appeal_id, self.operator)
        values = dict(i=appeal_id, e=a["employee_id"], t=target, d=due.due if due else "-")
        text = (msg("appeal #{i} filed by {e} on {t}; HR answers by {d} (filed after the publication period: late)", **values)
                if late else msg("appeal #{i} filed by {e} on {t}; HR answers by {d}", **values))
        return ActionResult(text.in_(lang), seq, a["version"] + 1, appeal_id)

    def accept_appeal(self, appeal_id: int, note: str = "", expected_version: int | None = None) -> ActionResult:
        """HR accepts an admissible appeal (受理): it is then under review."""
        return self._appeal_step("appeal.accept", appeal_id, expected_version, {"state": "accepted"}, {"note": note},
                                 msg("appeal #{i} accepted; under review", i=appeal_id))

    def reject_appeal(self, appeal_id: int, reason: str, expected_version: int | None = None) -> ActionResult:
        """HR marks an appeal inadmissible (不予受理): late, or outside the employee's own result. It may be escalated."""
        if not reason.strip():
            raise BadInput(msg("say why it is inadmissible"))
        return self._appeal_step("appeal.reject", appeal_id, expected_version,
                                 {"state": "inadmissible", "decision": "inadmissible", "decision_reason": reason},
                                 {"reason": reason}, msg("appeal #{i} is inadmissible", i=appeal_id),
                                 decided=True)

    def request_info(self, appeal_id: int, question: str, expected_version: int | None = None) -> ActionResult:
        """The reviewer asks the appellant for information (补充材料)."""
        if not question.strip():
            raise BadInput(msg("say what information is needed"))
        return self._appeal_step("appeal.request_info", appeal_id, expected_version,
                                 {"state": "info_requested", "info_request": question}, {"question": question},
                                 msg("appeal #{i}: information requested from the employee", i=appeal_id))

    def answer_info(self, appeal_id: int, answer: str, expected_version: int | None = None) -> ActionResult:
        """The appellant answers the request; the appeal is under review again."""
        if not answer.strip():
            raise BadInput(msg("write the information asked for"))
        return self._appeal_step("appeal.answer", appeal_id, expected_version,
                                 {"state": "under_review", "info_answer": answer}, {"answer": answer},
                                 msg("appeal #{i}: information given; under review again", i=appeal_id))

    def decide_appeal(self, appeal_id: int, outcome: str, reason: str, corrections: dict[str, str] | None = None,
                      expected_version: int | None = None) -> ActionResult:
        """Decide an appeal at its current level: upheld or partly_upheld (inputs corrected, the population evaluated
        again, the appellant's before/after explanation diff stored) or dismissed."""
        outcome = {"partly": "partly_upheld", "partly-upheld": "partly_upheld", "rejected": "dismissed"}.get(outcome, outcome)
        row = self._appeal_row(appeal_id)
        c = self._cycle_row(row["cycle_id"])
        lang = c["lang"]
        if outcome not in ("upheld", "partly_upheld", "dismissed"):
            raise BadInput(msg("the outcome is upheld, partly_upheld or dismissed, not '{o}'", o=outcome), lang)
        if not reason.strip():
            raise BadInput(msg("a decision needs a reason"), lang)
        if outcome == "dismissed" and corrections:
            raise BadInput(msg("a dismissed appeal corrects no input: leave the inputs as they were, or uphold it"), lang)
        if outcome != "dismissed" and not corrections:
            raise BadInput(msg("an upheld appeal corrects at least one input: give its corrected value"), lang)
        a = self._appraisal_row(c, row["employee_id"])
        me = self._me(c)
        refusal = access.check("appeal.decide", me, self._ctx(c, a, row))
        if refusal:
            raise Refused(refusal, lang)
        if expected_version is not None and expected_version != row["version"]:
            raise Conflict(_conflict_msg(), lang)
        changes = {}
        updates = {"state": outcome, "decision": outcome, "decision_reason": reason, "decided_by": me.id}
        details: dict = {"outcome": outcome, "reason": reason, "level": row["level"]}
        run = None
        if corrections:
            graph = self._graph(c)
            texts = self._validated_cells(c, graph, a["employee_id"], corrections)
            before = self._cells(c, a["employee_id"])
            changes = {n: {"before": before.get(n, ""), "after": t} for n, t in texts.items()}
            with self.store.transaction():
                self._check_appeal_version(row)
                run = self._recompute(c, graph, {a["employee_id"]: texts}, f"appeal #{appeal_id} {outcome}", a["employee_id"])
                change = run["change"]
                updates.update({"corrections": json.dumps(changes, ensure_ascii=False), "run_id": run["id"],
                                "change": json.dumps(change, ensure_ascii=False), "change_text": "\n".join(change.get("lines", []))})
                details.update({"corrections": changes, "run": run["id"], "changed_employees": run["changed"],
                                "before": change.get("before", {}), "after": change.get("after", {})})
                result = self._appeal_step("appeal.decide", appeal_id, None, updates, details, None, decided=True, row=row)
        else:
            result = self._appeal_step("appeal.decide", appeal_id, None, updates, details, None, decided=True, row=row)
        graph = self._graph(c)
        main = graph.main_output()
        if run:
            before_total = run["change"].get("before", {}).get(main, "")
            after_total = run["change"].get("after", {}).get(main, "")
            text = msg("appeal #{i} {o}: {s}; everyone evaluated again (run {r}): {e}'s {m} {b} → {a}; "
                       "{n} employees' figures changed",
                       i=appeal_id, o=appeal_state_msg(outcome), s=", ".join(f"{k}={v['after']}" for k, v in changes.items()),
                       r=run["id"], e=a["employee_id"], m=main, b=self._fmt(graph, main, before_total, lang),
                       a=self._fmt(graph, main, after_total, lang), n=run["changed"])
            result.message = text.in_(lang)
            result.run_id = run["id"]
            result.changed_employees = run["changed"]
        else:
            text = msg("appeal #{i} dismissed at the level of {l}; the employee may escalate it", i=appeal_id,
                       l=level_msg(self._level(c, row["level"])))
            result.message = text.in_(lang)
        return result

    def withdraw_appeal(self, appeal_id: int, reason: str = "", expected_version: int | None = None) -> ActionResult:
        """The appellant withdraws an appeal that is not decided yet."""
        return self._appeal_step("appeal.withdraw", appeal_id, expected_version, {"state": "withdrawn"}, {"reason": reason},
                                 msg("appeal #{i} withdrawn", i=appeal_id), decided=True)

    def escalate_appeal(self, appeal_id: int, reason: str, expected_version: int | None = None) -> ActionResult:
        """The appellant escalates a decision to the next level (department → HR panel → executive, at most three)."""
        row = self._appeal_row(appeal_id)
        c = self._cycle_row(row["cycle_id"])
        if not reason.strip():
            raise BadInput(msg("say why the decision should be reviewed again"), c["lang"])
        level = row["level"] + 1
        name = self._level(c, level)
        due = self._deadline(c, "appeal")
        history = json.loads(row["history"] or "[]") + [{"level": row["level"], "decision": row["decision"],
                                                          "reason": row["decision_reason"], "by": row["decided_by"]}]
        text = msg("appeal #{i} escalated to {l} (level {n}); answer due {d}",
                   i=appeal_id, l=level_msg(name), n=level, d=due.due if due else "-")
        return self._appeal_step("appeal.escalate", appeal_id, expected_version, {
            "state": "under_review", "level": level, "decision": None, "decision_reason": None, "decided_by": None,
            "deadline": due.due.isoformat() if due else None, "deadline_note": due.note if due else "",
            "history": json.dumps(history, ensure_ascii=False)}, {"reason": reason, "to_level": level, "to": name}, text)

    # ---- the cycle -----------------------------------------------------------------------------------

    def advance(self, cycle_id: str | None = None) -> ActionResult:
        """Move on what the deadlines decide: self-reviews not submitted in time go to the manager marked missing."""
        c = self._cycle_row(cycle_id)
        me = self._me(c)
        refusal = access.check("cycle.advance", me, self._ctx(c, None))
        if refusal:
            raise Refused(refusal, c["lang"])
        today = self.clock.today().isoformat()
        due = self._deadline(c, "manager_review")
        now = self.clock.now()
        with self.store.transaction():
            late = [r[0] for r in self.store.execute(
                "SELECT employee_id FROM appraisals WHERE cycle_id = ? AND stage = 'self_review' AND deadline IS NOT NULL "
                "AND deadline < ? ORDER BY employee_id", (c["id"], today))]
            self.store.execute(
                "UPDATE appraisals SET stage = 'manager_review', self_review_missing = 1, entered_on = ?, deadline = ?, "
                "deadline_note = ?, version = version + 1 WHERE cycle_id = ? AND stage = 'self_review' AND deadline IS NOT NULL "
                "AND deadline < ?", (today, due.due.isoformat() if due else None, due.note if due else "", c["id"], today))
            moved = {"from": "self_review", "to": "manager_review", "self_review": "missing"}
            seq = self.store.append_events(now, me.id, "cycle.advance", [(moved, c["id"], eid, None) for eid in late]
                                           + [({"moved": len(late)}, c["id"], None, None)], self.operator)
        return ActionResult(msg("{n} self-review(s) past their deadline moved to manager review, marked missing", n=len(late)).in_(c["lang"]), seq,
                            changed_employees=len(late), details={"moved": late})

    def publish(self, cycle_id: str | None = None) -> ActionResult:
        """HR publishes the results (公示) for the publication period; inputs changed since the last evaluation
        (manager scores) are evaluated first."""
        c = self._cycle_row(cycle_id)
        me = self._me(c)
        refusal = access.check("cycle.publish", me, self._ctx(c, None))
        if refusal:
            raise Refused(refusal, c["lang"])
        today = self.clock.today()
        due = self._deadline(c, "publication")
        now = self.clock.now()
        with self.store.transaction():
            run = None
            if c["stale"]:
                reason = msg("publication (manager scores)")  # stored in the run: in the cycle's language
                run = self._recompute(c, self._graph(c), {}, reason.zh if c["lang"] == "zh" else reason.en, None)
            self.store.execute("UPDATE appraisals SET stage = 'published', entered_on = ?, deadline = ?, deadline_note = ?, "
                               "version = version + 1 WHERE cycle_id = ?",
                               (today.isoformat(), due.due.isoformat() if due else None, due.note if due else "", c["id"]))
            self.store.execute("UPDATE cycles SET state = 'published', published_on = ?, publication_deadline = ?, "
                               "publication_note = ?, version = version + 1 WHERE id = ?",
                               (today.isoformat(), due.due.isoformat() if due else None, due.note if due else "", c["id"]))
            seq = self.store.append_event(now, me.id, "cycle.publish", {
                "until": due.due.isoformat() if due else None, "deadline_note": due.note if due else "",
                "run": run["id"] if run else c["current_run"], "recomputed": bool(run)}, c["id"], None, None, self.operator)
        return ActionResult(msg("{c} published; the publication period ends {d}: employees may acknowledge or appeal until then", c=c["id"], d=due.due if due else "-").in_(c["lang"]),
                            seq, run_id=run["id"] if run else None)

    def finalize(self, cycle_id: str | None = None) -> ActionResult:
        """HR finalizes (定稿) after the publication period with no open appeal: results are locked and payable."""
        c = self._cycle_row(cycle_id)
        me = self._me(c)
        refusal = access.check("cycle.finalize", me, self._ctx(c, None))
        if refusal:
            raise Refused(refusal, c["lang"])
        today = self.clock.today()
        now = self.clock.now()
        with self.store.transaction():
            self.store.execute("UPDATE appraisals SET stage = 'final', entered_on = ?, deadline = NULL, deadline_note = '', "
                               "version = version + 1 WHERE cycle_id = ?", (today.isoformat(), c["id"]))
            self.store.execute("UPDATE cycles SET state = 'final', finalized_on = ?, version = version + 1 WHERE id = ?",
                               (today.isoformat(), c["id"]))
            seq = self.store.append_event(now, me.id, "cycle.finalize", {"run": c["current_run"]}, c["id"], None, None, self.operator)
        return ActionResult(msg("{c} is final: results are locked and payable; `cycle export` writes the payroll file", c=c["id"]).in_(c["lang"]), seq)

    def adjust(self, original_cycle: str, employee_id: str, values: dict[str, str], reason: str,
               into_cycle: str | None = None) -> ActionResult:
        """A correction of a final cycle: its results never change; the difference in each money output becomes an
        adjusting entry in a later cycle (default: the newest), linked to the original and paid with it."""
        orig = self._cycle_row(original_cycle)
        target = self._cycle_row(into_cycle)
        lang = orig["lang"]
        me = self._me(target)
        refusal = access.check("hr.adjust", me, {"cycle": orig, "target": target})
        if refusal:
            raise Refused(refusal, lang)
        if not reason.strip():
            raise BadInput(msg("an adjustment needs a reason"), lang)
        a = self._appraisal_row(orig, employee_id)
        if self.store.one("SELECT 1 AS x FROM appraisals WHERE cycle_id = ? AND employee_id = ?", (target["id"], a["employee_id"])) is None:
            raise Refused(msg("{e} is not in cycle {t}: the adjustment is paid with a cycle they are in", e=a["employee_id"], t=target["id"]), lang)
        graph = self._graph(orig)
        texts = self._validated_cells(orig, graph, a["employee_id"], values)
        before_results = self._stored_results(orig, orig["current_run"])
        after = self._evaluate_stored(orig, graph, {a["employee_id"]: texts})
        index_b = before_results.index_of(a["employee_id"])
        index_a = after.index_of(a["employee_id"])
        now = self.clock.now()
        entries = []
        with self.store.transaction():
            for node in api.money_outputs(graph):
                b = before_results.columns[node][index_b]
                x = after.columns[node][index_a]
                if b == x:
                    continue
                entries.append({"node": node, "before": to_text(b), "after": to_text(x), "amount": to_text(x - b)})
                self.store.execute("INSERT INTO adjustments(cycle_id, original_cycle_id, employee_id, node, amount, before, after, "
                                   "reason, created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                   (target["id"], orig["id"], a["employee_id"], node, to_text(x - b), to_text(b), to_text(x),
                                    reason, now, me.id))
            seq = self.store.append_event(now, me.id, "hr.adjust", {"original_cycle": orig["id"], "corrections": texts,
                                                                    "reason": reason, "entries": entries},
                                          target["id"], a["employee_id"], None, self.operator)
        if not entries:
            return ActionResult(msg("the correction changes no money output of {e} in {o}: nothing to adjust", e=a["employee_id"], o=orig["id"]).in_(lang), seq)
        shown = ", ".join(f"{e['node']} {e['amount']}" for e in entries)
        return ActionResult(msg("adjusting entry for {e}: {s} (correcting {o}), paid with {t}", e=a["employee_id"], s=shown, o=orig["id"],
                                t=target["id"]).in_(lang), seq, details={"entries": entries})

    def export(self, path: str | Path, cycle_id: str | None = None) -> ExportReport:
        """The payroll file of a final cycle (CSV or .xlsx): id, name, the policy's money outputs, adjustments from
        earlier cycles. Every export is recorded; exporting again says when it was done before."""
        from .export import write_payroll

        c = self._cycle_row(cycle_id)
        me = self._me(c)
        refusal = access.check("cycle.export", me, self._ctx(c, None))
        if refusal:
            raise Refused(refusal, c["lang"])
        previous = self.store.all("SELECT at, actor, path FROM exports WHERE cycle_id = ? ORDER BY id", (c["id"],))
        graph = self._graph(c)
        money = api.money_outputs(graph)
        rows = self._payroll_rows(c, graph, money)
        columns, digest = write_payroll(path, rows, money, c["lang"])
        now = self.clock.now()
        with self.store.transaction():
            self.store.execute("INSERT INTO exports(cycle_id, path, at, actor, rows, sha256) VALUES (?,?,?,?,?,?)",
                               (c["id"], str(path), now, me.id, len(rows), digest))
            self.store.append_event(now, me.id, "cycle.export", {"path": str(path), "rows": len(rows), "sha256": digest,
                                                                 "exported_before": len(previous)}, c["id"], None, None, self.operator)
        text = msg("wrote {n} rows to {p}", n=len(rows), p=path)
        if previous:
            last = previous[-1]
            text = msg("{t}. NOTE: this cycle was already exported {k} time(s), last on {at} by {who} to {p}: make sure it "
                       "is not paid twice",
                       t=text, k=len(previous), at=last["at"], who=last["actor"], p=last["path"])
        return ExportReport(str(path), len(rows), columns, previous, text.in_(c["lang"]))

    # ---- internals: rows, people, context --------------------------------------------------------

    def _latest_cycle_row(self) -> dict | None:
        return self.store.one("SELECT * FROM cycles ORDER BY created_at DESC, id DESC LIMIT 1")

    def _cycle_row(self, cycle_id: str | None) -> dict:
        if cycle_id is None:
            row = self._latest_cycle_row()
            if row is None:
                raise NotFound(msg("{p}: no cycle yet; create one with `pkrules cycle new POLICY --period P --people ORG --data DATA`",
                                   p=self.store.path))
            return row
        row = self.store.one("SELECT * FROM cycles WHERE id = ?", (cycle_id,))
        if row is None:
            known = ", ".join(r["id"] for r in self.store.all("SELECT id FROM cycles ORDER BY id")) or "none / 无"
            raise NotFound(msg("no cycle '{c}' in {p} (cycles: {k})", c=cycle_id,
                               p=self.store.path, k=known))
        return row

    def _person(self, cycle_id: str, pid: str | None) -> Person | None:
        if not pid:
            return None
        r = self.store.one("SELECT * FROM people WHERE cycle_id = ? AND id = ?", (cycle_id, pid))
        return Person(r["id"], r["name"], r["role"], r["manager_id"], r["team"], r["login"]) if r else None

    def _person_by_login(self, cycle_id: str, login: str | None) -> Person | None:
        if not login:
            return None
        r = self.store.one("SELECT id FROM people WHERE cycle_id = ? AND login = ?", (cycle_id, login))
        return self._person(cycle_id, r["id"]) if r else None

    def _me(self, c: dict) -> Person:
        me = self._person(c["id"], self.actor)
        if me is None:
            raise Refused(msg("{a} is not in the org table of cycle {c}: only people in it may act on it", a=self.actor or "?", c=c["id"]), c["lang"])
        return me

    def _chain(self, c: dict, employee_id: str) -> list[str]:
        """The managers above an employee, nearest first."""
        chain, current, seen = [], self._person(c["id"], employee_id), set()
        while current and current.manager_id and current.manager_id not in seen:
            seen.add(current.manager_id)
            chain.append(current.manager_id)
            current = self._person(c["id"], current.manager_id)
        return chain

    def _appraisal_row(self, c: dict, employee_id: str) -> dict:
        row = self.store.one("SELECT * FROM appraisals WHERE cycle_id = ? AND employee_id = ?", (c["id"], str(employee_id)))
        if row is None:
            raise NotFound(msg("no appraisal for '{e}' in cycle {c}", e=employee_id, c=c["id"]), c["lang"])
        return row

    def _appeal_row(self, appeal_id: int) -> dict:
        row = self.store.one("SELECT * FROM appeals WHERE id = ?", (int(appeal_id),))
        if row is None:
            raise NotFound(msg("no appeal #{i}", i=appeal_id))
        return row

    def _check_visible(self, c: dict, a: dict) -> None:
        me = self._me(c)
        if not access.may_see(me, a, self._chain(c, a["employee_id"])):
            raise Refused(msg("{me} may not see {e}'s appraisal: employees see their own, managers their direct reports, "
                              "HR everyone",
                              me=me.label(), e=a["employee_id"]), c["lang"])

    def _ctx(self, c: dict, a: dict | None, appeal: dict | None = None) -> dict:
        spec = self._spec(c)
        ctx = {"cycle": c, "appraisal": a, "appeal": appeal, "spec": spec, "today": self.clock.today().isoformat(),
               "lang": c["lang"]}
        if a is not None:
            ctx["chain"] = self._chain(c, a["employee_id"])
        if appeal is not None:
            ctx["level_name"] = self._level(c, appeal["level"])
        if a is None:
            ctx["not_at_hr"] = self.store.one("SELECT count(*) AS n FROM appraisals WHERE cycle_id = ? AND stage IN "
                                              "('self_review','manager_review')", (c["id"],))["n"]
            ctx["open_appeals"] = self.store.one("SELECT count(*) AS n FROM appeals WHERE cycle_id = ? AND state IN (?,?,?,?)",
                                                 (c["id"], *OPEN_APPEAL))["n"]
        return ctx

    def _level(self, c: dict, level: int) -> str:
        spec = self._spec(c)
        if level == 0:
            return spec.appeal_role
        return spec.escalation[level - 1] if level - 1 < len(spec.escalation) else "none"

    def _spec(self, c: dict) -> ProcessSpec:
        return ProcessSpec.from_data(json.loads(c["process"]))

    def _deadline(self, c: dict, kind: str) -> Deadline | None:
        spec = self._spec(c)
        days = spec.days(kind)
        if not days:
            return None
        return WorkCalendar(spec.calendar, spec.days_off).add_working_days(self.clock.today(), days, c["lang"])

    def _overdue(self, stage: str, deadline: dt.date | None) -> bool:
        return bool(deadline and stage != "final" and deadline < self.clock.today())

    def _graph(self, c: dict):
        graph = self._graphs.get(c["policy_id"])
        if graph is None:
            p = self.store.one("SELECT path, text FROM policy_versions WHERE id = ?", (c["policy_id"],))
            graph = api.compile_text(p["text"], p["path"])
            self._graphs[c["policy_id"]] = graph
        return graph

    def _fmt(self, graph, node: str, text: str, lang: str) -> str:
        if not text:
            return "—"
        type_ = graph.nodes[node].type
        return api.format_value(api.value_from_text(text, type_), type_, lang=lang)

    # ---- internals: acting ----------------------------------------------------------------------------

    def _begin(self, action: str, employee_id: str, cycle_id: str | None, expected_version: int | None):
        c = self._cycle_row(cycle_id)
        a = self._appraisal_row(c, employee_id)
        me = self._me(c)
        refusal = access.check(action, me, self._ctx(c, a))
        if refusal:
            raise Refused(refusal, c["lang"])
        if expected_version is not None and expected_version != a["version"]:
            raise Conflict(_conflict_msg(), c["lang"])
        test_hook("before_write")  # tests race two processes here
        return c, a, me

    def _check_version(self, c: dict, a: dict, expected: int | None) -> None:
        current = self.store.execute("SELECT version FROM appraisals WHERE cycle_id = ? AND employee_id = ?",
                                     (c["id"], a["employee_id"])).fetchone()[0]
        if current != a["version"] or (expected is not None and expected != current):
            raise Conflict(_conflict_msg(), c["lang"])

    def _bump(self, c: dict, a: dict, updates: dict) -> None:
        sets = ", ".join(f"{k} = ?" for k in updates)
        cur = self.store.execute(f"UPDATE appraisals SET {sets}{', ' if sets else ''}version = version + 1 "
                                 "WHERE cycle_id = ? AND employee_id = ? AND version = ?",
                                 (*updates.values(), c["id"], a["employee_id"], a["version"]))
        if cur.rowcount != 1:
            raise Conflict(_conflict_msg(), c["lang"])

    def _update_appraisal(self, c: dict, a: dict, me: Person, action: str, updates: dict, details: dict, text: Msg,
                          inputs: dict | None = None, stale: bool = False, run_id=None,
                          changed: int = 0) -> ActionResult:
        """Write one appraisal change and its event in one transaction, guarded by the version read before."""
        now = self.clock.now()
        with self.store.transaction():
            self._bump(c, a, updates)
            if inputs is not None:
                self.store.execute("UPDATE inputs SET cells = ? WHERE cycle_id = ? AND employee_id = ?",
                                   (json.dumps(inputs, ensure_ascii=False), c["id"], a["employee_id"]))
            if stale:
                self.store.execute("UPDATE cycles SET stale = 1 WHERE id = ?", (c["id"],))
            seq = self.store.append_event(now, me.id, action, details, c["id"], a["employee_id"], None, self.operator)
        return ActionResult(text.in_(c["lang"]), seq, a["version"] + 1, run_id=run_id, changed_employees=changed)

    def _check_appeal_version(self, row: dict) -> None:
        current = self.store.execute("SELECT version FROM appeals WHERE id = ?", (row["id"],)).fetchone()[0]
        if current != row["version"]:
            raise Conflict(_conflict_msg())

    def _appeal_step(self, action: str, appeal_id: int, expected_version: int | None, updates: dict, details: dict,
                     text: Msg | None, decided: bool = False, row: dict | None = None) -> ActionResult:
        row = row or self._appeal_row(appeal_id)
        c = self._cycle_row(row["cycle_id"])
        a = self._appraisal_row(c, row["employee_id"])
        me = self._me(c)
        if action != "appeal.decide":  # decide checked before its recomputation
            refusal = access.check(action, me, self._ctx(c, a, row))
            if refusal:
                raise Refused(refusal, c["lang"])
        if expected_version is not None and expected_version != row["version"]:
            raise Conflict(_conflict_msg(), c["lang"])
        test_hook("before_write")
        now = self.clock.now()
        was_open = row["state"] in OPEN_APPEAL
        is_open = updates.get("state", row["state"]) in OPEN_APPEAL
        with self.store.transaction():
            sets = ", ".join(f"{k} = ?" for k in updates)
            cur = self.store.execute(f"UPDATE appeals SET {sets}, version = version + 1 WHERE id = ? AND version = ?",
                                     (*updates.values(), row["id"], row["version"]))
            if cur.rowcount != 1:
                raise Conflict(_conflict_msg(), c["lang"])
            if was_open != is_open:
                self.store.execute("UPDATE appraisals SET open_appeals = open_appeals + ?, version = version + 1 "
                                   "WHERE cycle_id = ? AND employee_id = ?", (1 if is_open else -1, c["id"], a["employee_id"]))
            details = dict(details, state=updates.get("state", row["state"]))
            seq = self.store.append_event(now, me.id, action, details, c["id"], a["employee_id"], row["id"], self.operator)
        return ActionResult(text.in_(c["lang"]) if text else "", seq, row["version"] + 1, row["id"])

    def _cells(self, c: dict, employee_id: str) -> dict:
        return json.loads(self.store.one("SELECT cells FROM inputs WHERE cycle_id = ? AND employee_id = ?",
                                         (c["id"], employee_id))["cells"])

    def _input_sources(self, c: dict, employee_id: str) -> dict[str, str]:
        sources = {}
        for r in self.store.all("SELECT action, details FROM events WHERE cycle_id = ? AND employee_id = ? AND "
                                "action IN ('hr.correct', 'appeal.decide') ORDER BY seq", (c["id"], employee_id)):
            for name in json.loads(r["details"]).get("corrections", {}) or {}:
                sources[name] = "hr" if r["action"] == "hr.correct" else "appeal"
        return sources

    def _validated_cells(self, c: dict, graph, employee_id: str, values: dict[str, str]) -> dict[str, str]:
        """Corrected cells validated exactly as a data cell: the row with them must read without errors."""
        lang = c["lang"]
        names = {n.name: n for n in graph.inputs}
        columns = {(n.decl.column or n.name): n.name for n in graph.inputs}
        cells = self._cells(c, employee_id)
        wanted = {}
        for name, text in values.items():
            real = name if name in names else columns.get(name)
            if real is None:
                from difflib import get_close_matches

                guess = get_close_matches(name, list(names), n=1)
                raise BadInput(msg("'{n}' is not an input of the policy (did you mean '{g}'?)", n=name, g=guess[0]) if guess
                               else msg("'{n}' is not an input of the policy", n=name), lang)
            if real == graph.key:
                raise BadInput(msg("the key {k} cannot be changed", k=real), lang)
            wanted[real] = str(text)
        row = dict(cells, **wanted)
        population = api.population_from_rows(graph, [row], source=f"{employee_id}")
        if population.errors:
            problems = [msg("{column}: {value} — {expected}", column=e.column, expected=e.expected,
                            value=repr(e.value) if e.value != "" else msg("(empty)"))
                        for e in population.errors]
            raise BadInput(msg("not a valid value: {problems}", problems=joined(msg("; "), problems)), lang)
        validated = population.rows[0]
        return {name: to_text(validated[name]) for name in wanted}

    def _validated_text(self, c, graph, employee_id, name, text) -> str:
        return self._validated_cells(c, graph, employee_id, {name: text})[name]

    # ---- internals: evaluation and stored results ------------------------------------------------

    def _evaluate_stored(self, c: dict, graph, corrections: dict[str, dict[str, str]], cells: list | None = None):
        """The cycle's stored inputs, with corrections, evaluated: as a CSV file of the cells (the fast path reads
        a large one itself, no Python row per employee) unless the policy reads related tables; a bad cell is said
        by the row-by-row reader (BadInput). cells: the stored cells (_stored_cells), when already read."""
        if not graph.related:
            cells = self._stored_cells(c) if cells is None else cells
            results = api.evaluate_rows(graph, [dict(row, **corrections[eid]) if eid in corrections else row
                                                for eid, row in cells])
            if results is not None:
                return results
        return api.evaluate(graph, self._population(c, graph, corrections))

    def _stored_cells(self, c: dict) -> list[tuple[str, dict[str, str]]]:
        """Every employee's stored input cells, in the order of the data: (employee id, column → cell text)."""
        return [(r[0], json.loads(r[1])) for r in
                self.store.execute("SELECT employee_id, cells FROM inputs WHERE cycle_id = ? ORDER BY row", (c["id"],))]

    def _population(self, c: dict, graph, corrections: dict[str, dict[str, str]] | None = None) -> api.Population:
        rows = []
        for r in self.store.execute("SELECT employee_id, cells FROM inputs WHERE cycle_id = ? ORDER BY row", (c["id"],)):
            cells = json.loads(r[1])
            if corrections and r[0] in corrections:
                cells.update(corrections[r[0]])
            rows.append(cells)
        related = None
        if graph.related:
            related = {name: [] for name in graph.related}
            for r in self.store.execute("SELECT tbl, cells FROM related_inputs WHERE cycle_id = ? ORDER BY seq", (c["id"],)):
                related[r[0]].append(json.loads(r[1]))
        population = api.population_from_rows(graph, rows, related, source=f"cycle {c['id']}")
        if population.errors:
            problems = "; ".join(f"row {e.row}, {e.column}: {e.value!r} — {e.expected}" for e in population.errors[:5])
            raise BadInput(msg("the stored inputs no longer validate: {p}", p=problems), c["lang"])
        return population

    def _run_chain(self, run_id: int) -> list[int]:
        chain = []
        while run_id is not None:
            chain.append(run_id)
            run_id = self.store.execute("SELECT parent_id FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        return chain

    def _run_rows(self, run_id: int, with_terms: bool = False) -> dict:
        """Every employee's stored values of a run (JSON text; with_terms: (values, terms record)), following the
        chain of runs it builds on."""
        out: dict = {}
        for rid in reversed(self._run_chain(run_id)):
            for eid, vals, terms in self.store.execute("SELECT employee_id, vals, terms FROM results WHERE run_id = ?", (rid,)):
                out[eid] = (vals, terms) if with_terms else vals
        return out

    def _store_groups(self, run_id: int, kept) -> None:
        """Every group statistic of a kept run (a run stores them all: they are few, one per team and term)."""
        self.store.conn.executemany("INSERT INTO run_groups VALUES (?,?,?,?)",
                                    ((run_id, term, group, stat) for term, group, stat in kept.groups))

    def _employee_values(self, c: dict, employee_id: str, run_id: int | None = None) -> dict[str, str]:
        run_id = run_id or c["current_run"]
        nodes = json.loads(self.store.one("SELECT nodes FROM runs WHERE id = ?", (run_id,))["nodes"])
        for rid in self._run_chain(run_id):
            row = self.store.execute("SELECT vals FROM results WHERE run_id = ? AND employee_id = ?", (rid, employee_id)).fetchone()
            if row:
                return dict(zip(nodes, json.loads(row[0])))
        return {}

    def _stored_results(self, c: dict, run_id: int, whole: bool = False):
        """api.Results of a stored run (exact values, the policy of the cycle). For explaining, read one employee
        at a time from a kept run; whole (for views of everyone: hit counts, distributions, whose every value is
        read — one employee at a time that is a query per employee and column), and for a run stored before kept
        runs, rebuilt whole."""
        graph = self._graph(c)
        spec = self.store.one("SELECT kept FROM runs WHERE id = ?", (run_id,))["kept"]
        if spec and not whole and not graph.related:  # (a kept run holds no related table's rows: see below)
            return api.results_from_kept(graph, json.loads(spec), _StoredRun(self.store, c["id"], self._run_chain(run_id)))
        nodes = json.loads(self.store.one("SELECT nodes FROM runs WHERE id = ?", (run_id,))["nodes"])
        stored = self._run_rows(run_id)
        order = [r[0] for r in self.store.execute("SELECT employee_id FROM inputs WHERE cycle_id = ? ORDER BY row", (c["id"],))]
        from .values import column_values

        rows = [json.loads(stored[eid]) for eid in order]
        columns = {}
        for j, name in enumerate(nodes):
            columns[name] = column_values((r[j] for r in rows), graph.nodes[name].type)
        related = None
        if graph.related:
            related = self._population(c, graph).related
        return api.results_from_columns(graph, columns, list(range(1, len(order) + 1)), related)

    def _recompute(self, c: dict, graph, corrections: dict[str, dict[str, str]], reason: str, focus: str | None) -> dict:
        """Evaluate the whole population again (population terms — team pools, top 10% — can move others), store a
        new run holding the rows that changed, update the board, and the focus employee's explanation change."""
        # (before and after read the same stored cells: read once, 100,000 JSON rows take a second)
        cells = None if graph.related else self._stored_cells(c)
        after = self._evaluate_stored(c, graph, corrections, cells)
        if after.errors:
            problems = joined(msg("; "), [later(lambda e=e: e.describe(graph.source.path)) for e in after.errors[:5]])
            raise BadInput(msg("the correction makes rows fail: {p}; nothing was changed",
                               p=problems), c["lang"])
        change: dict = {}
        if focus is not None:
            before = self._evaluate_stored(c, graph, {}, cells)
            ch = api.explanation_change(before, after, focus)
            change = {"before": {k: to_text(v) for k, v in ch.before.items()},
                      "after": {k: to_text(v) for k, v in ch.after.items()},
                      "lines": ch.lines, "data": ch.data}
        nodes = list(graph.nodes)
        kept = api.keep_run(after)
        cols = [[t or "" for t in kept.texts(n)] for n in nodes]
        keys = cols[nodes.index(graph.key)]
        terms = _terms_records(kept)
        stored = self._run_rows(c["current_run"], with_terms=True)
        # a run stores the rows that changed from its parent; over a run stored before kept runs, every row
        parent_kept = self.store.one("SELECT kept FROM runs WHERE id = ?", (c["current_run"],))["kept"] is not None
        now = self.clock.now()
        main_index = nodes.index(graph.main_output())
        changed = []  # the rows stored: figures or terms records that changed
        moved = 0  # the employees whose figures changed (a terms record moves for a whole team: ranks, top N%)
        for i, key in enumerate(keys):
            vals = json.dumps([col[i] for col in cols], ensure_ascii=False)
            was = stored.get(key)
            if not parent_kept or was != (vals, terms[i]):
                figures = was is None or was[0] != vals
                changed.append((key, vals, cols[main_index][i], terms[i], figures))
                moved += figures
        with self.store.transaction():
            current = self.store.execute("SELECT current_run FROM cycles WHERE id = ?", (c["id"],)).fetchone()[0]
            if current != c["current_run"]:
                raise Conflict(_conflict_msg(), c["lang"])
            run_id = self.store.execute(
                "INSERT INTO runs(cycle_id, parent_id, reason, at, nodes, size, changed, kept) VALUES (?,?,?,?,?,?,?,?)",
                (c["id"], c["current_run"], reason, now, json.dumps(nodes, ensure_ascii=False), len(keys), len(changed),
                 json.dumps(kept.spec, ensure_ascii=False))).lastrowid
            self.store.conn.executemany("INSERT INTO results(run_id, employee_id, vals, terms) VALUES (?,?,?,?)",
                                        ((run_id, k, v, tr) for k, v, _, tr, _ in changed))
            self._store_groups(run_id, kept)
            self.store.conn.executemany("UPDATE appraisals SET total = ?, total_sort = ? WHERE cycle_id = ? AND employee_id = ?",
                                        ((t, sort_key(t), c["id"], k) for k, _, t, _, figures in changed if figures))
            for eid, texts in corrections.items():
                cells = dict(self._cells(c, eid), **texts)
                self.store.execute("UPDATE inputs SET cells = ? WHERE cycle_id = ? AND employee_id = ?",
                                   (json.dumps(cells, ensure_ascii=False), c["id"], eid))
            self.store.execute("UPDATE cycles SET current_run = ?, stale = 0 WHERE id = ?", (run_id, c["id"]))
            self.store.append_event(now, self.actor, "run", {"run": run_id, "reason": reason, "changed_employees": moved},
                                    c["id"], None, None, self.operator)
        c["current_run"] = run_id
        c["stale"] = 0
        return {"id": run_id, "changed": moved, "change": change}

    def _payroll_rows(self, c: dict, graph, money: list[str]) -> list[dict]:
        values = {eid: json.loads(v) for eid, v in self._run_rows(c["current_run"]).items()}
        nodes = json.loads(self.store.one("SELECT nodes FROM runs WHERE id = ?", (c["current_run"],))["nodes"])
        where = {n: nodes.index(n) for n in money}
        adjustments: dict[str, list[dict]] = {}
        for r in self.store.all("SELECT * FROM adjustments WHERE cycle_id = ? ORDER BY id", (c["id"],)):
            adjustments.setdefault(r["employee_id"], []).append(r)
        rows = []
        for a in self.store.all("SELECT employee_id, name FROM appraisals WHERE cycle_id = ? ORDER BY employee_id", (c["id"],)):
            vals = values[a["employee_id"]]
            adj = adjustments.get(a["employee_id"], [])
            total_adj = sum((Fraction(x["amount"]) for x in adj), Fraction(0))
            rows.append({"id": a["employee_id"], "name": a["name"], "money": {n: vals[where[n]] for n in money},
                         "adjustment": to_text(total_adj) if adj else "0",
                         "adjustment_note": "; ".join(f"{x['original_cycle_id']} {x['node']} {x['amount']}: {x['reason']}" for x in adj)})
        return rows

    # ---- internals: views ---------------------------------------------------------------------------

    def _appeal_view(self, c: dict, r: dict) -> AppealView:
        lang = c["lang"]
        deadline = _date(r["deadline"])
        level = self._level(c, r["level"])
        change = json.loads(r["change"]) if r["change"] else {}
        return AppealView(r["id"], r["cycle_id"], r["employee_id"], r["target"], r["reason"], r["state"],
                          appeal_state_name(r["state"], lang), r["level"], level_name(level, lang), _date(r["filed_on"]),
                          bool(r["late"]), deadline, r["deadline_note"] or "",
                          bool(deadline and r["state"] in OPEN_APPEAL and deadline < self.clock.today()),
                          r["decision"], r["decision_reason"], r["decided_by"], json.loads(r["corrections"] or "{}"),
                          (r["change_text"] or "").splitlines(), change, r["info_request"], r["info_answer"],
                          r["state"] in OPEN_APPEAL, r["version"])

    def _event_view(self, c: dict, r: dict) -> EventView:
        details = json.loads(r["details"])
        return EventView(r["seq"], r["at"], r["cycle_id"], r["employee_id"], r["appeal_id"], r["actor"], r["operator"],
                         r["action"], details, access.summarize(r["action"], details, c["lang"]))


def _terms_records(kept) -> list[str]:
    """Each employee's terms record of a kept run, in row order."""
    out: list[str] = []
    for chunk in kept.rows(50_000):
        out.extend(row[5] for row in chunk)
    return out


class _StoredRun:
    """A run kept in the store, read one employee at a time (api.KeptSource): values from `results` along the
    chain of runs, terms beside them, groups from `run_groups`, positions from `inputs`."""

    def __init__(self, store: Store, cycle_id: str, chain: list[int]):
        self.store = store
        self.cycle_id = cycle_id
        self.chain = chain  # the run first, then the runs it builds on

    def positions(self, key: str) -> list[int]:
        row = self.store.execute("SELECT pos FROM inputs WHERE cycle_id = ? AND employee_id = ?", (self.cycle_id, key)).fetchone()
        return [row[0]] if row and row[0] is not None else []

    def record(self, pos: int):
        row = self.store.execute("SELECT employee_id FROM inputs WHERE cycle_id = ? AND pos = ?", (self.cycle_id, pos)).fetchone()
        if row is None:
            return None
        for rid in self.chain:
            found = self.store.execute("SELECT vals, terms FROM results WHERE run_id = ? AND employee_id = ?",
                                       (rid, row[0])).fetchone()
            if found is not None:
                return pos + 1, json.loads(found[0]), found[1] or ""
        return None

    def group(self, term: str, group: str):
        row = self.store.execute("SELECT stat FROM run_groups WHERE run_id = ? AND term = ? AND grp = ?",
                                 (self.chain[0], term, group)).fetchone()
        return json.loads(row[0]) if row else None

    def errors(self) -> list[dict]:
        return []  # a run with row errors is never stored

    def keys(self) -> list[str]:
        return [r[0] for r in self.store.execute("SELECT employee_id FROM inputs WHERE cycle_id = ? ORDER BY pos", (self.cycle_id,))]


def _option(name: str, refusal: Msg | None, lang: str, employee_id: str | None, appeal_id: int | None = None) -> ActionOption:
    label, command, fields, what = access.describe(name, lang, employee_id, appeal_id)
    return ActionOption(name, label, refusal is None, refusal.in_(lang) if refusal else what, command, fields, appeal_id)


def _conflict_msg() -> Msg:
    return msg("changed by someone else since you loaded it: reload and try again")


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _stage_word(word: str) -> str:
    words = {"self-review": "self_review", "manager-review": "manager_review", "hr-review": "hr_review", "publication": "published",
             "自评": "self_review", "上级评分": "manager_review", "HR汇总": "hr_review", "公示": "published", "公示中": "published",
             "定稿": "final", "已定稿": "final"}
    return words.get(word, word)


def _os_login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment
        return ""


def _git_commit(path: str | Path) -> str | None:
    """The commit of HEAD when the policy file is tracked in a git repository and unchanged there; else None."""
    path = Path(path).resolve()
    try:
        top = subprocess.run(["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=5)
        if top.returncode != 0:
            return None
        commit = subprocess.run(["git", "-C", str(path.parent), "log", "-1", "--format=%H", "--", path.name],
                                capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(path.parent), "status", "--porcelain", "--", path.name],
                               capture_output=True, text=True, timeout=5)
        if commit.returncode != 0 or not commit.stdout.strip():
            return None
        return commit.stdout.strip() + ("+modified" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
