"""The TUI's data layer (tui.model): the engine-only preview and the model over the workflow service,
checked against the engine's and the workflow's own answers. No Textual here."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pkrules import api
from tui.model import BoardQuery, CycleModel, ModelError
from tui_data import APPEAL, DATA, POLICY, POLICY_ZH, DATA_ZH, TODAY, preview, store


@pytest.fixture(scope="module")
def engine_results():
    graph = api.compile_file(POLICY)
    return api.evaluate(graph, api.read_population(graph, DATA))


# ---- the preview --------------------------------------------------------------------------------


def test_preview_board_shows_everyone_with_the_engines_totals(engine_results):
    model = preview()
    assert isinstance(model, CycleModel)
    view = model.board(BoardQuery())
    assert len(view) == view.population == 40
    totals = {r.key: r.total for r in view.rows}
    for i, key in enumerate(engine_results.keys):
        assert totals[key] == engine_results.columns["total"][i]
    assert view.cost == sum(engine_results.columns["total"])
    e013 = next(r for r in view.rows if r.key == "E013")
    assert (e013.name, e013.team, e013.stage, e013.appeal_open) == ("邓浩", "华东二组", "published", True)
    assert e013.total_text == "16,162.29"
    assert view.open_appeals == 1


def test_preview_board_filters_sorts_and_searches():
    model = preview(stage="mixed")
    everyone = model.board(BoardQuery()).rows
    team = model.board(BoardQuery(team="华南组")).rows
    assert team and all(r.team == "华南组" for r in team) and len(team) == sum(r.team == "华南组" for r in everyone)
    late = model.board(BoardQuery(overdue=True)).rows
    assert late and all(r.overdue and r.deadline < TODAY for r in late)
    assert len(late) == sum(r.overdue for r in everyone)
    stage = model.board(BoardQuery(stage="manager_review")).rows
    assert stage and all(r.stage == "manager_review" for r in stage)
    by_total = [r.total for r in model.board(BoardQuery(sort="total", descending=True)).rows]
    assert by_total == sorted(by_total, reverse=True)
    assert [r.key for r in model.board(BoardQuery(search="邓浩")).rows] == ["E013", "E026"]
    assert [r.key for r in model.board(BoardQuery(search="e040")).rows] == ["E040"]
    assert not model.board(BoardQuery(search="nobody")).rows


def test_preview_employee_and_explanation_are_the_engines(engine_results):
    model = preview()
    view = model.employee("E013")
    assert view.stage == "published" and view.open_appeal.node == "visits"
    figures = {f.name: f for f in view.inputs + view.results}
    assert figures["visits"].value == 20 and figures["visits"].description == "客户拜访量"
    assert figures["coef"].text == "1" and figures["total"].text == "16,162.29"
    explanation = model.explain("E013", "coef")
    assert explanation.root.value == 1
    assert [s.outcome for s in explanation.root.steps] == ["not met", "fired", "not reached", "not reached"]
    assert "0.22 points short of coef 1.2 (score >= 90)" in explanation.root.hints
    expected = api.explain(engine_results, "E013", "coef")
    assert api.render_tree(explanation) == api.render_tree(expected)


def test_preview_refuses_with_reasons_and_validates_with_the_engines_messages():
    model = preview()
    actions = {a.code: a for a in model.actions("E013")}
    assert actions["appeal.decide"].allowed
    assert not actions["appeal.file"].allowed and "only E013 (the employee)" in actions["appeal.file"].reason
    assert not actions["hr.correct"].allowed and "goes through an appeal" in actions["hr.correct"].reason
    refused = model.perform("E013", "appeal.file", {"target": "visits", "reason": "x"})
    assert not refused.ok and "only E013" in refused.message
    appeal = actions["appeal.decide"].appeal_id
    bad = model.perform("E013", "appeal.decide", {"outcome": "upheld", "reason": "CRM log", "visits": "3x"}, appeal)
    assert not bad.ok and bad.errors == {"visits": "'3x' — expected a whole number"}
    unchanged = model.perform("E013", "appeal.decide", {"outcome": "upheld", "reason": "CRM log"}, appeal)
    assert not unchanged.ok and "corrects inputs" in unchanged.errors["outcome"]
    missing = model.perform("E013", "appeal.decide", {"outcome": "upheld", "reason": " ", "visits": "30"}, appeal)
    assert not missing.ok and "reason" in missing.errors


def test_preview_upheld_appeal_recomputes_everyone_and_keeps_the_change():
    model = preview()
    appeal = next(a for a in model.actions("E013") if a.code == "appeal.decide").appeal_id
    before = {r.key: r.total for r in model.board(BoardQuery()).rows}
    done = model.perform("E013", "appeal.decide", {"outcome": "upheld", "reason": "CRM log shows 30", "visits": "30"}, appeal)
    assert done.ok, done
    assert done.change.before["total"] == "16,162.29" and done.change.after["total"] == "17,919.09"
    assert any("visits: 20 → 30" in line for line in done.change.lines)
    after = {r.key: r.total for r in model.board(BoardQuery()).rows}
    assert after["E013"] == Fraction("17919.09")
    assert {k for k in after if after[k] != before[k]} == {"E013"}  # team_rank moves, totals do not
    untouched = preview()
    ranks = {k: next(f.value for f in m.employee(k).results if f.name == "team_rank")
             for m, k in ((m, k) for m in (model, untouched) for k in ("E011", "E012", "E013", "E014", "E015"))}
    moved = [k for k in ("E011", "E012", "E014", "E015")
             if next(f.value for f in model.employee(k).results if f.name == "team_rank")
             != next(f.value for f in untouched.employee(k).results if f.name == "team_rank")]
    assert moved and ranks  # E013 passed colleagues: their ranks in the team moved, not their pay
    [decided] = model.appeals()
    assert (decided.status, decided.upheld, decided.is_open) == ("upheld", True, False)
    assert model.appeal_change(decided.id).after["total"] == "17,919.09"
    assert model.history("E013")[-1].summary.startswith("appeal #1 upheld")
    assert done.event == model.history("E013")[-1]


def test_preview_manager_scores_and_the_cycle_actions():
    hr = preview(stage="mixed")
    key = next(r.key for r in hr.board(BoardQuery(stage="manager_review", team="华东一组")).rows)
    score = next(a for a in hr.actions(key) if a.code == "review.score")
    assert not score.allowed and "only the manager of 华东一组" in score.reason
    publish = next(a for a in hr.cycle_actions() if a.code == "cycle.publish")
    assert not publish.allowed and "still at self-review or manager review" in publish.reason
    manager = preview(stage="mixed", person="manager:华东一组")
    score = next(a for a in manager.actions(key) if a.code == "review.score")
    assert score.allowed
    values = {f.name: f.default for f in score.fields}
    assert values["collection_rate"].endswith("%")  # percentages as people type them
    confirm = manager.perform(key, "review.submit", {})
    assert not confirm.ok and "enter the scores first" in confirm.message
    assert manager.perform(key, "review.score", dict(values, visits="-1")).errors == {"visits": "'-1' — expected >= 0"}
    assert manager.perform(key, "review.score", values).ok
    assert manager.perform(key, "review.submit", {}).ok
    assert manager.employee(key).stage == "hr_review"


def test_preview_publish_and_finalize():
    model = preview(stage="hr_review")
    done = model.perform(None, "cycle.publish", {})
    assert done.ok and {r.stage for r in model.board(BoardQuery()).rows} == {"published"}
    finalize = next(a for a in model.cycle_actions() if a.code == "cycle.finalize")
    assert not finalize.allowed and "publication period runs until" in finalize.reason


def test_preview_pictures_and_hit_counts(engine_results):
    model = preview()
    distribution = model.distribution()
    assert distribution.name == "score" and len(distribution.values) == 40
    assert [b.threshold for b in distribution.bands] == [90, 80, 70]
    costs = dict(model.cost_by_team())
    assert sum(costs.values()) == sum(engine_results.columns["total"])
    hits = {h.what: h.count for h in model.policy().hits if h.node == "coef"}
    assert hits == {"coef (computed)": 40, "IF score >= 90 THEN coef 1.2": 26, "IF score >= 80 THEN coef 1.0": 5,
                    "IF score >= 70 THEN coef 0.8": 8, "OTHERWISE coef 0": 1}


def test_preview_diff_with_a_proposal(tmp_path, engine_results):
    proposal = tmp_path / "proposal.pk"
    proposal.write_text(open(POLICY, encoding="utf-8").read().replace("IF score >= 90", "IF score >= 85"), encoding="utf-8")
    model = preview(versions=(str(proposal),))
    versions = model.policy_versions()
    assert versions[0].id == POLICY and versions[1].id == str(proposal)
    view = model.diff(versions[0], versions[1])
    assert [c.description for c in view.changes] == ["coef: row 1 now `IF score >= 85` (was `IF score >= 90`), still paying 1.2"]
    assert (view.impact.gain, view.impact.lose) == (2, 0)
    scores = dict(zip(engine_results.keys, engine_results.columns["score"]))
    assert sorted(r.key for r in view.impact.rows if r.delta) == sorted(k for k, v in scores.items() if 85 <= v < 90)
    assert view.impact.cost_after - view.impact.cost_before == sum(r.delta for r in view.impact.rows)


def test_preview_speaks_the_policys_language():
    from tui.model import open_preview

    model = open_preview(POLICY_ZH, DATA_ZH, today=TODAY, stage="published")
    assert model.info.lang == "zh"
    row = model.board(BoardQuery()).rows[0]
    assert row.stage_label == "公示"
    assert model.info.main_output == "应发合计"


def test_preview_errors_in_the_users_words(tmp_path):
    from tui.model import open_preview

    bad = tmp_path / "bad.csv"
    bad.write_text(open(DATA, encoding="utf-8").read().replace("E001,任艳,华东一组,经理,926000", "E001,任艳,华东一组,经理,lots"),
                   encoding="utf-8")
    with pytest.raises(ModelError, match="Excel row 2, column sales: 'lots' — expected an amount"):
        open_preview(POLICY, str(bad), today=TODAY)
    with pytest.raises(ModelError, match="who is 'nobody'"):
        open_preview(POLICY, DATA, person="nobody", today=TODAY)


# ---- the workflow store ----------------------------------------------------------------------------


def test_store_board_pages_and_filters(tmp_path):
    model = store(tmp_path)
    assert isinstance(model, CycleModel)
    info = model.info
    assert (info.person.name, info.person.role, info.preview, info.cycle) == ("刘芳", "hr", False, "2024Q3")
    view = model.board(BoardQuery())
    assert len(view) == view.population == 40 and view.open_appeals == 1 and view.overdue == 0
    assert view.rows[39].key == "E040" and view.rows[12].appeal_open
    assert [r.key for r in model.board(BoardQuery(appeal=True)).rows] == ["E013"]
    assert all(r.team == "华北组" for r in model.board(BoardQuery(team="华北组")).rows)
    assert [r.key for r in model.board(BoardQuery(search="邓浩")).rows] == ["E013", "E026"]
    totals = [r.total for r in model.board(BoardQuery(sort="total", descending=True)).rows]
    assert totals == sorted(totals, reverse=True)


def test_store_decides_an_appeal_through_the_service(tmp_path):
    model = store(tmp_path)
    actions = {a.code: a for a in model.actions("E013")}
    assert actions["appeal.accept"].allowed
    assert not actions["appeal.decide"].allowed and "accepted or under review" in actions["appeal.decide"].reason
    appeal = actions["appeal.accept"].appeal_id
    assert model.perform("E013", "appeal.accept", {"note": ""}, appeal).ok
    bad = model.perform("E013", "appeal.decide", {"outcome": "upheld", "reason": "CRM log", "visits": "3x"}, appeal)
    assert bad.errors == {"visits": "'3x' — expected a whole number"}
    done = model.perform("E013", "appeal.decide", {"outcome": "upheld", "reason": "CRM log shows 30", "visits": "30",
                                                   "on_time_rate": "76%"}, appeal)
    assert done.ok, done
    assert "E013's total 16,162.29 → 17,919.09" in done.message
    assert done.event.action == "appeal.decide" and "visits 20→30" in done.event.summary  # on_time_rate unchanged
    assert done.change.after["total"] == "17,919.09" and done.change.lines
    assert model.board(BoardQuery(search="E013")).rows[0].total == Fraction("17919.09")
    [decided] = model.appeals()
    assert decided.status == "upheld" and not decided.is_open and decided.upheld
    assert model.appeal_change(decided.id).before["total"] == "16,162.29"
    assert model.explain("E013", "visits").root.value == 30


def test_store_refusals_come_from_the_service(tmp_path):
    employee = store(tmp_path, person="E013")
    assert employee.info.person.role == "employee"
    assert [r.key for r in employee.board(BoardQuery()).rows] == ["E013"]  # employees see their own line
    file_again = next(a for a in employee.actions("E013") if a.code == "appeal.file")
    assert not file_again.allowed and "already has an open appeal" in file_again.reason
    assert not employee.perform("E013", "appeal.file", {"target": "visits", "reason": "again"}).ok
    assert employee.policy().hits == []  # the whole cycle's hit counts are for HR and executives


def test_store_policy_pictures_and_diff(tmp_path, engine_results):
    model = store(tmp_path)
    hits = {h.what: h.count for h in model.policy().hits if h.node == "coef"}
    assert hits["IF score >= 90 THEN coef 1.2"] == 26
    assert sum(v for _, v in model.cost_by_team()) == sum(engine_results.columns["total"])
    assert len(model.distribution("score").values) == 40
    proposal = tmp_path / "sales_incentive.pk"
    proposal.write_text(open(POLICY, encoding="utf-8").read().replace("IF score >= 90", "IF score >= 85"), encoding="utf-8")
    from tui.model import PolicyVersion

    view = model.diff(model.policy_versions()[0], PolicyVersion(str(proposal), "proposal"))
    assert (view.impact.gain, view.impact.lose) == (2, 0)


def test_store_unknown_person_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="nobody with that id"):
        store(tmp_path, person="Z99")
    with pytest.raises(ModelError, match="no such store"):
        from tui.model import open_store

        open_store(str(tmp_path / "missing.db"), "H01")


def test_sample_appeal_is_the_documents_case():
    assert APPEAL[0] == "E013"


def test_preview_shows_people_what_the_workflow_would():
    assert [r.key for r in preview(person="E022").board(BoardQuery()).rows] == ["E022"]
    assert preview(person="E022").appeals() == []  # E013's appeal is not theirs to see
    team = preview(person="manager:华南组").board(BoardQuery()).rows
    assert team and {r.team for r in team} == {"华南组"}
    assert len(preview(person="exec").board(BoardQuery()).rows) == 40
