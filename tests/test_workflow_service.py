"""The workflow service as HR, managers and employees use it: stages, refusals, appeals, audit, migrations."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from fractions import Fraction

import pytest

from pkrules import api
from pkrules.workflow.messages import BadInput, Conflict, Refused
from pkrules.workflow.org import OrgError, read_org
from pkrules.workflow.service import Workflow
from pkrules.workflow.store import SCHEMA_VERSION, Store, _v1

from workflow_helpers import DATA, ORG, POLICY, everyone_to_hr_review, new_cycle

D = dt.date


@pytest.fixture
def wf(tmp_path):
    w = new_cycle(tmp_path / "t.db")
    yield w
    w.close()


def test_a_new_cycle_evaluates_everyone_and_stores_exact_results(wf):
    info = wf.cycle()
    assert (info.employees, info.state, info.stages["self_review"]) == (40, "open", 40)
    expected = api.evaluate(api.compile_file(POLICY), api.read_population(api.compile_file(POLICY), DATA))
    i = expected.index_of("E022")
    view = wf.appraisal("E022")
    stored = {f.name: f.exact for f in view.results}
    assert Fraction(stored["score"]) == expected.columns["score"][i]  # 869/9, kept as a fraction
    assert stored["bonus"] == "9216" and view.total == "14,016.00"
    # every row of the board has the self-review deadline: Friday 26 Sept + 3 working days (Sunday 28 is a make-up day)
    assert {r.deadline for r in wf.board(limit=100).rows} == {D(2025, 9, 30)}


def test_the_whole_process_for_one_employee(wf):
    e, m, hr = wf.as_("E013"), wf.as_("E011"), wf.as_("H01")
    e.submit_self_review("E013", "Targets met", "CRM export")
    view = wf.appraisal("E013")
    # entered on Friday 26 Sept: 5 working days are Sun 28 (make-up), Mon 29, Tue 30, then 9 and 10 October
    assert (view.stage, view.deadline) == ("manager_review", D(2025, 10, 10))
    assert view.self_assessment["evidence"] == "CRM export"
    m.send_back("E013", "Add the visit reports")
    assert wf.appraisal("E013").stage == "self_review"
    e.submit_self_review("E013", "Visit reports added")
    with pytest.raises(Refused, match="already sent back once"):
        m.send_back("E013", "again")
    m.confirm("E013", "Agreed")
    assert wf.appraisal("E013").stage == "hr_review"
    result = hr.correct("E013", {"visits": "22"}, "Two visits logged under a colleague")
    assert result.run_id == 2 and result.changed_employees >= 1
    assert wf.appraisal("E013").total == "17,919.09"
    assert [f.source for f in wf.appraisal("E013").inputs if f.name == "visits"] == ["hr"]


def test_refusals_say_who_may_act_and_when(wf):
    with pytest.raises(Refused, match=r"only E013 \(the employee\) may submit the self-assessment, during self-review"):
        wf.as_("E014").submit_self_review("E013", "not mine")
    with pytest.raises(Refused, match="only E011, E013's direct manager, may confirm the result, during manager review"):
        wf.as_("E001").confirm("E013")
    with pytest.raises(Refused, match="this is done during manager review; E013's appraisal is at self-review"):
        wf.as_("E011").confirm("E013")
    with pytest.raises(Refused, match="only HR may publish"):
        wf.as_("E011").publish()
    with pytest.raises(Refused, match="40 appraisals are still at self-review or manager review"):
        wf.publish()
    options = {o.name: o for o in wf.as_("E013").actions("E013")}
    assert options["review.submit_self"].allowed
    assert not options["hr.correct"].allowed and "only HR may correct inputs" in options["hr.correct"].reason


def test_a_refused_action_changes_nothing(wf):
    before = (wf.appraisal("E013"), len(wf.events()))
    with pytest.raises(Refused):
        wf.as_("E014").submit_self_review("E013", "not mine")
    assert (wf.appraisal("E013"), len(wf.events())) == before


def test_messages_are_in_chinese_for_a_chinese_policy(tmp_path):
    wf = new_cycle(tmp_path / "zh.db", zh=True)
    with pytest.raises(Refused) as refused:
        wf.as_("E014").submit_self_review("E013", "不是我的")
    assert str(refused.value) == "只有员工本人（E013）可以提交自评，在自评阶段"
    assert wf.board(limit=1).rows[0].stage_label == "自评"
    with pytest.raises(BadInput, match="自评需要填写说明"):
        wf.as_("E013").submit_self_review("E013", " ")
    with pytest.raises(BadInput, match="'visits' 不能自评打分（可自评的项：无）"):
        wf.as_("E013").submit_self_review("E013", "好", self_scores={"visits": "3"})
    wf.close()


def test_employees_see_only_themselves_and_managers_their_reports(wf):
    assert [r.employee_id for r in wf.as_("E013").board().rows] == ["E013"]
    assert {r.employee_id for r in wf.as_("E011").board().rows} == {f"E0{n}" for n in range(11, 21)}
    assert wf.as_("H01").board().total_count == 40
    with pytest.raises(Refused, match="may not see E014's appraisal"):
        wf.as_("E013").appraisal("E014")
    with pytest.raises(Refused):
        wf.as_("E013").explain("E014")
    wf.as_("E014").submit_self_review("E014", "mine")
    events = wf.as_("E013").events()
    assert all(e.employee_id in (None, "E013") for e in events)
    assert not any(e.employee_id == "E014" for e in events)


def test_whole_cycle_figures_hold_only_the_people_one_may_see(wf):
    everyone = wf.as_("H01").results()
    assert everyone.size == 40
    mine = wf.as_("E013").results()
    assert [str(k) for k in mine.keys] == ["E013"]
    assert mine.columns["total"][0] == everyone.columns["total"][everyone.index_of("E013")]
    reports = wf.as_("E011").results()  # the lead of 华东二组 sees their direct reports
    board = {r.employee_id for r in wf.as_("E011").board(limit=100).rows}
    assert {str(k) for k in reports.keys} == board and "E001" not in board and len(board) > 1


def test_board_filters_sorts_and_pages_in_sql(wf):
    wf.as_("E013").submit_self_review("E013", "done")
    page = wf.board(team="华东二组", stage="manager_review")
    assert [r.employee_id for r in page.rows] == ["E013"] and page.total_count == 1
    top = wf.board(sort="total", descending=True, limit=3)
    assert [r.employee_id for r in top.rows] == ["E021", "E011", "E001"] and top.total_count == 40
    assert wf.board(offset=38, limit=5).rows[-1].employee_id == "E040"
    assert [r.employee_id for r in wf.board(search="邓浩").rows] == ["E013", "E026"]
    wf.clock.set(D(2025, 10, 1))
    assert wf.board(overdue=True).total_count == 39 and wf.cycle().overdue == 39


def test_a_missed_self_review_moves_on_marked_missing(wf):
    wf.as_("E013").submit_self_review("E013", "done")
    wf.clock.set(D(2025, 10, 9))
    before = wf.verify().events
    result = wf.advance()
    assert result.changed_employees == 39
    # one audit event per appraisal moved, then the summary, chained as if appended one by one
    report = wf.verify()
    assert report.ok and report.events == before + 40
    view = wf.appraisal("E020")
    assert view.stage == "manager_review" and view.self_review_missing
    assert view.deadline == D(2025, 10, 15)  # from Thursday 9 Oct: 10, Saturday 11 (make-up), 13, 14, 15
    with pytest.raises(Refused, match="nothing to send back"):
        wf.as_("E011").send_back("E020", "why")


def _published(wf):
    everyone_to_hr_review(wf)
    wf.publish()
    return wf


def test_an_upheld_appeal_recomputes_the_population_and_stores_the_diff(wf):
    _published(wf)
    filed = wf.as_("E013").file_appeal("E013", "visits", "Two visits logged under a colleague")
    wf.accept_appeal(filed.appeal_id)
    elite_before = {r.employee_id for r in wf.board(limit=100).rows}
    result = wf.decide_appeal(filed.appeal_id, "upheld", "CRM confirms", {"visits": "22"})
    assert "16,162.29 → 17,919.09" in result.message
    appeal = wf.appeal(filed.appeal_id)
    assert appeal.state == "upheld" and appeal.corrections == {"visits": {"before": "20", "after": "22"}}
    assert appeal.change["before"]["total"] == "16162.29" and appeal.change["after"]["total"] == "17919.09"
    assert any("coef: 1 → 1.2" in line for line in appeal.change_lines)
    # the stored results of the new run explain the new figure, with the policy of the time
    tree = api.render_tree(wf.explain("E013", "coef"))
    assert "coef = 1.2" in tree
    # the old run is kept: the figure before the appeal can be explained again
    old = wf.explain("E013", "coef", run_id=1)
    assert "coef = 1 " in api.render_tree(old) or "coef = 1\n" in api.render_tree(old)
    assert elite_before  # the board still lists everyone


def test_a_dismissed_appeal_escalates_up_to_three_levels_then_stops(wf):
    _published(wf)
    a = wf.as_("E022").file_appeal("E022", "coef", "93.2 should give 1.2").appeal_id
    wf.accept_appeal(a)
    wf.decide_appeal(a, "dismissed", "exact score used")
    e = wf.as_("E022")
    e.escalate_appeal(a, "department please")
    assert wf.appeal(a).level_name == "the department"
    with pytest.raises(Refused, match="only HR .* may act on it now|may act on it now"):
        wf.as_("E023").decide_appeal(a, "dismissed", "not my call")
    wf.as_("D01").decide_appeal(a, "dismissed", "department agrees with HR")
    e.escalate_appeal(a, "HR panel please")
    wf.as_("H02").decide_appeal(a, "dismissed", "panel agrees")
    e.escalate_appeal(a, "executive please")
    with pytest.raises(Refused, match="an executive"):
        wf.decide_appeal(a, "dismissed", "HR cannot decide at the last level")
    wf.as_("X01").decide_appeal(a, "dismissed", "final word")
    with pytest.raises(Refused, match="decided at the last level"):
        e.escalate_appeal(a, "again")


def test_appeal_information_late_filing_and_withdrawal(wf):
    _published(wf)
    a = wf.as_("E031").file_appeal("E031", "visits", "wrong period").appeal_id
    wf.accept_appeal(a)
    wf.request_info(a, "Which visits are missing?")
    with pytest.raises(Refused, match="information requested"):
        wf.decide_appeal(a, "dismissed", "no answer yet")
    wf.as_("E031").answer_info(a, "The 3 visits of 30 September")
    wf.as_("E031").withdraw_appeal(a)
    assert wf.appeal(a).state == "withdrawn" and not wf.appraisal("E031").appeals[0].open
    with pytest.raises(BadInput, match="did you mean 'visits'"):
        wf.as_("E032").file_appeal("E032", "visit", "typo")
    wf.clock.set(D(2025, 10, 20))  # after the publication period
    late = wf.as_("E032").file_appeal("E032", "visits", "late one").appeal_id
    with pytest.raises(Refused, match="after the publication period ended"):
        wf.accept_appeal(late)
    wf.reject_appeal(late, "filed after the publication period")
    assert wf.appeal(late).state == "inadmissible"


def test_final_results_never_change_a_correction_is_an_adjusting_entry(tmp_path):
    wf = _published(new_cycle(tmp_path / "f.db"))
    with pytest.raises(Refused, match="publication period runs until 2025-09-30"):
        wf.finalize()
    wf.clock.set(D(2025, 10, 13))
    wf.finalize()
    with pytest.raises(Refused, match="result is final and never changes"):
        wf.correct("E013", {"visits": "22"}, "too late")
    first = wf.export(tmp_path / "pay.csv")
    assert "already exported" not in first.message
    rows = list(csv.DictReader(open(tmp_path / "pay.csv", encoding="utf-8")))
    assert rows[12]["id"] == "E013" and rows[12]["total"] == "16162.29"
    again = wf.export(tmp_path / "pay2.csv")
    assert "already exported 1 time(s)" in again.message
    # the next quarter pays the correction of the last one
    wf.create_cycle(POLICY, "2025Q4", ORG, DATA)
    result = wf.adjust("2025Q3", "E013", {"visits": "22"}, "Two visits found after payment", into_cycle="2025Q4")
    assert "total 1756.8" in result.message
    assert wf.appraisal("E013", "2025Q3").total == "16,162.29"  # the final cycle is untouched
    _published(wf)
    wf.clock.set(D(2025, 10, 30))
    wf.finalize("2025Q4")
    wf.export(tmp_path / "q4.csv", "2025Q4")
    q4 = {r["id"]: r for r in csv.DictReader(open(tmp_path / "q4.csv", encoding="utf-8"))}
    assert q4["E013"]["adjustment"] == "1756.80" and "2025Q3" in q4["E013"]["adjustment_note"]
    assert q4["E014"]["adjustment"] == "0.00"
    assert wf.verify().ok
    wf.close()


def test_a_stale_version_is_a_conflict(wf):
    version = wf.appraisal("E013").version
    wf.as_("E013").submit_self_review("E013", "first", expected_version=version)
    with pytest.raises(Conflict, match="changed by someone else"):
        wf.as_("E011").send_back("E013", "why", expected_version=version)


def test_manager_scores_are_validated_like_data_cells(tmp_path):
    wf = new_cycle(tmp_path / "s.db", manager_scores=["visits", "on_time_rate"])
    wf.as_("E013").submit_self_review("E013", "done", self_scores={"visits": "25"})
    m = wf.as_("E011")
    with pytest.raises(BadInput, match=r"on_time_rate: '120%' — .*"):
        m.score("E013", {"on_time_rate": "120%"})
    with pytest.raises(Refused, match="score on_time_rate first"):
        m.score("E013", {"visits": "22"}) and m.confirm("E013")
    m.score("E013", {"on_time_rate": "80%"})
    m.confirm("E013")
    assert wf.appraisal("E013").scored == {"visits": "22", "on_time_rate": "0.8"}
    assert wf.cycle().provisional
    wf.close()


def test_org_tables_with_a_manager_loop_or_an_unknown_manager_are_refused(tmp_path):
    path = tmp_path / "org.csv"
    path.write_text("id,name,role,manager_id,team\nA,甲,manager,B,t\nB,乙,manager,A,t\nC,丙,employee,Z,t\nD,丁,boss,A,t\n",
                    encoding="utf-8")
    with pytest.raises(OrgError) as error:
        read_org(path)
    text = str(error.value)
    assert "row 2: the manager chain goes round in a circle: A → B → A" in text
    assert "row 4: C's manager Z is not in the org table" in text
    assert "row 5, column role: 'boss' is not a role" in text


def test_a_bad_data_file_creates_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    rows = list(csv.DictReader(open(DATA, encoding="utf-8")))
    rows[4]["collection_rate"] = "190%"
    with open(bad, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    wf = Workflow(Store(tmp_path / "b.db"), "H01")
    with pytest.raises(BadInput, match="Excel row 6, column collection_rate"):
        wf.create_cycle(POLICY, "2025Q3", ORG, bad)
    assert wf.store.all("SELECT * FROM cycles") == [] and wf.store.all("SELECT * FROM events") == []
    with pytest.raises(Refused, match="only HR creates a cycle"):
        Workflow(Store(tmp_path / "b.db"), "E013").create_cycle(POLICY, "2025Q3", ORG, DATA)


# ---- the audit chain ----------------------------------------------------------------------------


def _tamper(path, sql, *params):
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def _busy_store(tmp_path):
    wf = new_cycle(tmp_path / "a.db")
    for eid in ("E013", "E014", "E015"):
        wf.as_(eid).submit_self_review(eid, "done")
    assert wf.verify().ok and wf.verify().events == 4
    wf.close()
    return tmp_path / "a.db"


def _verify(path):
    wf = Workflow(Store(path, create=False), None)
    try:
        return wf.verify()
    finally:
        wf.close()


def test_an_edited_event_is_named(tmp_path):
    path = _busy_store(tmp_path)
    _tamper(path, "UPDATE events SET actor = 'H02' WHERE seq = 3")
    report = _verify(path)
    assert not report.ok and report.first_bad == 3 and "changed after it was written" in report.text()


def test_a_deleted_event_is_named(tmp_path):
    path = _busy_store(tmp_path)
    _tamper(path, "DELETE FROM events WHERE seq = 2")
    report = _verify(path)
    assert (report.ok, report.first_bad) == (False, 2) and "missing" in report.text()


def test_a_deleted_last_event_is_named(tmp_path):
    path = _busy_store(tmp_path)
    _tamper(path, "DELETE FROM events WHERE seq = 4")
    report = _verify(path)
    assert (report.ok, report.first_bad) == (False, 4)


def test_reordered_events_are_named(tmp_path):
    path = _busy_store(tmp_path)
    conn = sqlite3.connect(path)
    rows = {r[0]: r[1:] for r in conn.execute("SELECT seq, at, cycle_id, employee_id, appeal_id, actor, operator, action, "
                                              "details, prev_hash, hash FROM events WHERE seq IN (2, 3)")}
    cols = "at=?, cycle_id=?, employee_id=?, appeal_id=?, actor=?, operator=?, action=?, details=?, prev_hash=?, hash=?"
    conn.execute(f"UPDATE events SET {cols} WHERE seq = 2", rows[3])
    conn.execute(f"UPDATE events SET {cols} WHERE seq = 3", rows[2])
    conn.commit()
    conn.close()
    report = _verify(path)
    assert (report.ok, report.first_bad) == (False, 2) and "does not follow" in report.text()


# ---- migrations -----------------------------------------------------------------------------------


def test_a_store_at_schema_v1_is_upgraded_on_open_and_keeps_its_data(tmp_path):
    import sqlite_utils

    path = tmp_path / "v1.db"
    db = sqlite_utils.Database(path)
    db["schema_version"].create({"version": int, "applied_at": str}, pk="version")
    _v1(db)
    db.execute("INSERT INTO schema_version VALUES (1, '2024-01-01T00:00:00')")
    db.execute("INSERT INTO meta VALUES ('marker', 'kept')")
    db.conn.commit()
    db.close()
    store = Store(path, create=False)
    assert store.schema_version() == SCHEMA_VERSION == 3
    assert "exports" in store.db.table_names() and "adjustments" in store.db.table_names()
    assert store.meta("marker") == "kept"
    assert [r["version"] for r in store.all("SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3]
    store.close()


def test_a_store_from_a_newer_pkrules_is_refused_not_recreated(tmp_path):
    store = Store(tmp_path / "n.db")
    with store.transaction():
        store.execute("INSERT INTO schema_version VALUES (99, 'future')")
    store.close()
    from pkrules.workflow.messages import StoreError

    with pytest.raises(StoreError, match="newer pkrules"):
        Store(tmp_path / "n.db")


# ---- explaining from kept runs --------------------------------------------------------------------


def _explanations_by_evaluation(policy=POLICY, data=DATA, corrections=None) -> dict:
    graph = api.compile_file(policy)
    population = api.read_population(graph, data)
    if corrections:
        rows = [dict(r) for r in population.rows]
        for r in rows:
            r.update(corrections.get(r["id"], {}))
        population = api.Population(graph, rows, population.row_numbers)
    results = api.evaluate(graph, population)
    return {(k, n.name): api.render_json(api.explain(results, k, n.name))
            for k in ("E001", "E013", "E022", "E040") for n in graph.definitions}


def test_explaining_from_the_store_reads_one_employee_and_equals_an_evaluation(wf, monkeypatch):
    from pkrules.workflow import service

    read: list[int] = []
    original = service._StoredRun.record
    monkeypatch.setattr(service._StoredRun, "record", lambda self, pos: (read.append(pos), original(self, pos))[1])
    want = _explanations_by_evaluation()
    for (key, name), text in want.items():
        read.clear()
        assert api.render_json(wf.explain(key, name)) == text, (key, name)
        assert set(read) <= {int(key[1:]) - 1}, f"explaining {name} of {key} read rows {sorted(set(read))}"


def test_runs_after_a_correction_are_kept_and_explained_with_the_figures_of_their_time(wf):
    everyone_to_hr_review(wf)
    wf.correct("E013", {"visits": "22"}, "late CRM entry")
    want_now = _explanations_by_evaluation(corrections={"E013": {"visits": Fraction(22)}})
    want_before = _explanations_by_evaluation()
    for (key, name), text in want_now.items():
        assert api.render_json(wf.explain(key, name)) == text, (key, name)
        assert api.render_json(wf.explain(key, name, run_id=1)) == want_before[(key, name)], (key, name)


def test_a_run_stored_before_kept_runs_is_still_explained_and_the_next_run_stores_everyone(wf):
    # a store upgraded from schema 2: its runs have no kept terms and no groups
    with wf.store.transaction():
        wf.store.execute("UPDATE runs SET kept = NULL")
        wf.store.execute("UPDATE results SET terms = NULL")
        wf.store.execute("DELETE FROM run_groups")
    want = _explanations_by_evaluation()
    assert api.render_json(wf.explain("E013", "total")) == want[("E013", "total")]
    everyone_to_hr_review(wf)
    result = wf.correct("E013", {"visits": "22"}, "late CRM entry")
    stored = wf.store.one("SELECT count(*) AS n FROM results WHERE run_id = ?", (result.run_id,))["n"]
    assert stored == 40  # over a run without kept terms, a run keeps every employee
    want_now = _explanations_by_evaluation(corrections={"E013": {"visits": Fraction(22)}})
    assert api.render_json(wf.explain("E022", "team_fund")) == want_now[("E022", "team_fund")]


def test_the_v3_migration_gives_every_employee_their_position(tmp_path):
    import sqlite_utils

    from pkrules.workflow.store import _v2

    path = tmp_path / "v2.db"
    db = sqlite_utils.Database(path)
    db["schema_version"].create({"version": int, "applied_at": str}, pk="version")
    _v1(db)
    _v2(db)
    db.execute("INSERT INTO schema_version VALUES (1, '2024-01-01T00:00:00'), (2, '2024-01-02T00:00:00')")
    db.execute("INSERT INTO cycles(id, period, policy_id, state, version) VALUES ('Q1', 'Q1', 1, 'open', 1)")
    for eid, row in (("B", 7), ("A", 3), ("C", 12)):
        db.execute("INSERT INTO inputs VALUES ('Q1', ?, ?, '{}')", (eid, row))
    db.conn.commit()
    db.close()
    store = Store(path, create=False)
    positions = {r["employee_id"]: r["pos"] for r in store.all("SELECT employee_id, pos FROM inputs")}
    assert positions == {"A": 0, "B": 1, "C": 2}
    assert "run_groups" in store.db.table_names()
    store.close()


def test_a_correction_counts_the_employees_whose_figures_changed_not_the_rows_stored_again(wf):
    # a team's ranks and top-N% counts move in everyone's terms record (stored again); only figures count
    everyone_to_hr_review(wf)
    result = wf.correct("E013", {"visits": "22"}, "Two visits logged under a colleague")
    graph = api.compile_file(POLICY)
    rows = list(csv.DictReader(open(DATA, encoding="utf-8")))
    before = api.evaluate(graph, api.population_from_rows(graph, rows))
    after = api.evaluate(graph, api.population_from_rows(graph, [dict(r, visits="22") if r["id"] == "E013" else r
                                                                 for r in rows]))
    moved = [k for i, k in enumerate(before.keys) if any(before.columns[n][i] != after.columns[n][i] for n in graph.nodes)]
    assert "E013" in moved and result.changed_employees == len(moved)
