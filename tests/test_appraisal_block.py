"""The appraisal / 考核流程 block: read in both languages, printed canonically, checked at the words, diffed,
and taken by the workflow (the shipped policy's manager scores visits and the on-time rate)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pkrules import api
from pkrules.language.compile import check_source
from pkrules.language.fmt import format_text
from pkrules.language.parse import parse_text
from pkrules.language.source import SourceFile
from pkrules.review.diff import diff_policies, render_text
from pkrules.workflow.process import process_from_policy, validate_process

ROOT = Path(__file__).resolve().parents[1]

EN = """input
  id: text key
  visits: whole >= 0
  on_time_rate: percent

score = visits * on_time_rate

appraisal
  self review: 3 working days, by employee
  manager review: 5 working days, by manager, scores visits, on_time_rate
  hr review: by hr
  publication: 3 working days
  appeal: 5 working days, by hr, escalate to department, hr panel, executive
  calendar: china, days off 2025-10-10
"""

ZH = """输入
  id：文本 主键
  visits：整数 ≥ 0
  on_time_rate：百分比

score = visits × on_time_rate

考核流程
  自评：3 个工作日，由 员工
  上级评分：5 个工作日，由 上级，评分 visits, on_time_rate
  HR审核：由 HR
  公示：3 个工作日
  申诉：5 个工作日，由 HR，升级 部门, HR委员会, 高管
  日历：中国，休息日 2025-10-10
"""


def diagnostics(text: str) -> list[tuple[str, str, int, int, str | None]]:
    graph, found = check_source(SourceFile("p.pk", text))
    return [(d.code, d.message, d.span.line, d.span.column, d.hint) for d in found]


def test_the_handbook_process_reads_the_same_in_both_languages():
    en, zh = parse_text(EN).appraisal, parse_text(ZH).appraisal
    assert en == zh
    assert [(s.kind, s.days, s.role, s.scores, s.escalation) for s in en.stages] == [
        ("self_review", 3, "employee", (), ()),
        ("manager_review", 5, "manager", ("visits", "on_time_rate"), ()),
        ("hr_review", None, "hr", (), ()),
        ("publication", 3, None, (), ()),
        ("appeal", 5, "hr", (), ("department", "hr_panel", "executive"))]
    assert (en.calendar, en.days_off) == ("china", (dt.date(2025, 10, 10),))
    assert diagnostics(EN) == [] and diagnostics(ZH) == []


def test_fmt_writes_the_block_canonically_in_the_policys_language():
    assert format_text(EN).endswith(EN[EN.index("appraisal"):])  # already canonical
    assert format_text(ZH).endswith("""考核流程
  自评：3 个工作日，由 员工
  上级评分：5 个工作日，由 上级，评分 visits、on_time_rate
  HR审核：由 HR
  公示：3 个工作日
  申诉：5 个工作日，由 HR，升级 部门、HR委员会、高管
  日历：中国，休息日 2025-10-10
""")
    messy = EN.replace("self review: 3 working days, by employee", "Self-Review :3 working day ,By Employee")
    assert parse_text(format_text(messy)).appraisal == parse_text(messy).appraisal
    assert format_text(format_text(ZH)) == format_text(ZH)


@pytest.mark.parametrize("line, expected", [
    ("  self reviw: 3 working days", ("appraisal", "unknown stage 'self reviw'", 9, 3, "did you mean 'self review'?")),
    ("  self review: 3 working days, by employe", ("appraisal", "unknown role 'employe'", 9, 35, "did you mean 'employee'?")),
    ("  manager review: 0 working days", ("appraisal", "a deadline of 0 working days is not positive", 9, 19,
                                          "write 1 working day or more")),
    ("  publication: no deadline", ("appraisal", "a publication without a deadline never ends", 9, 16,
                                    "give it a number of working days, e.g. 3 working days")),
    ("  appeal: 5 working days, escalate to department, hr panel, executive, board",
     ("appraisal", "4 escalation levels; at most 3", 9, 3, None)),
    ("  manager review: 5 working days, scores vists", ("appraisal", "scores 'vists', which is not an input", 9, 42,
                                                        "did you mean 'visits'?")),
    ("  calendar: chna", ("appraisal", "unknown calendar 'chna'", 9, 13, "did you mean 'china'?")),
    ("  manager review: 5 days, quickly", ("syntax", "'quickly' is not a deadline, a role, scores or an escalation",
                                           9, 27, "a stage reads: manager review: 5 working days, by manager, scores visits")),
    ("  publication: 3 working days, by hr, 4 working days", ("syntax", "a stage has one deadline: remove one of the two",
                                                              9, 39, None)),
    ("  publication: 3 working days, by hr, by manager", ("syntax", "a stage has one role: remove one of the two", 9, 39, None)),
])
def test_each_problem_is_a_diagnostic_at_its_words(line, expected):
    text = EN[:EN.index("appraisal")] + "appraisal\n" + line + "\n"
    found = [d for d in diagnostics(text) if d[1].startswith(expected[1])]
    assert len(found) == 1, diagnostics(text)
    code, message, row, column, hint = found[0]
    assert (code, row, column, hint) == (expected[0], expected[2], expected[3], expected[4])


def test_diff_reports_the_process_changing():
    new = EN.replace("manager review: 5 working days", "manager review: 7 working days").replace(
        "days off 2025-10-10", "days off 2025-10-10, 2025-12-24")
    text = render_text(diff_policies(parse_text(EN), parse_text(new)))
    assert "~ appraisal: `manager review: 7 working days, by manager, scores visits, on_time_rate` " \
           "(was `manager review: 5 working days, by manager, scores visits, on_time_rate`)" in text
    assert "`calendar: china, days off 2025-10-10, 2025-12-24` (was `calendar: china, days off 2025-10-10`)" in text


@pytest.mark.parametrize("policy, scores", [("sales_incentive.pk", ["visits", "on_time_rate"]),
                                            ("sales_incentive.zh.pk", ["客户拜访量", "方案提交及时率"])])
def test_the_shipped_policies_declare_the_documents_process_with_manager_scores(policy, scores):
    graph = api.compile_file(ROOT / "policies" / policy)
    spec = process_from_policy(graph)
    assert spec.declared and spec.manager_scores == scores
    assert [(s.kind, s.days, s.role) for s in spec.stages] == [
        ("self_review", 3, "employee"), ("manager_review", 5, "manager"), ("hr_review", None, "hr"), ("publication", 3, "hr")]
    assert (spec.appeal_days, spec.escalation, spec.calendar) == (5, ["department", "hr_panel", "executive"], "china")
    assert validate_process(spec, graph) == []


def test_the_demo_has_the_managers_score_the_declared_inputs(tmp_path):
    from pkrules.workflow.demo import build_demo
    from pkrules.workflow.service import Workflow
    from pkrules.workflow.store import Store

    path = build_demo(tmp_path / "demo.db", today=dt.date(2025, 10, 20))
    wf = Workflow(Store(path), "H01")
    try:
        view = wf.appraisal("E013")
        assert set(view.scored) == {"visits", "on_time_rate"}
        assert {f.name: f.source for f in view.inputs}["on_time_rate"] == "manager"
    finally:
        wf.close()


@pytest.mark.parametrize("line, message, column, hint", [
    ("  self review: 3 working days, by manager", "self review cannot be done by manager", 35, "write by employee"),
    ("  appeal: 5 working days, by employee", "appeal cannot be done by employee", 30, "write by hr or executive"),
    ("  publication: 3 working days, by manager", "publication cannot be done by manager", 35, "write by hr"),
])
def test_a_role_that_cannot_act_at_a_stage_is_refused_not_ignored(line, message, column, hint):
    text = EN[:EN.index("appraisal")] + "appraisal\n" + line + "\n"
    found = [d for d in diagnostics(text) if d[1] == message]
    assert [(code, row, col, h) for code, _, row, col, h in found] == [("appraisal", 9, column, hint)], diagnostics(text)


def test_the_role_check_speaks_the_policys_language():
    text = ZH.replace("自评：3 个工作日，由 员工", "自评：3 个工作日，由 上级")
    found = [(d[1], d[4]) for d in diagnostics(text) if d[0] == "appraisal"]
    assert found == [("自评不能由上级来做", "请写 由 员工")]


def test_a_process_where_hr_scores_instead_of_the_manager(tmp_path):
    """`manager review: by hr` (an org without line managers): HR scores and confirms; the manager may not."""
    from workflow_helpers import DATA, ORG, SHIPPED, START

    from pkrules.workflow.clock import FixedClock
    from pkrules.workflow.messages import Refused
    from pkrules.workflow.service import Workflow
    from pkrules.workflow.store import Store

    policy = tmp_path / "hr_scores.pk"
    policy.write_text(SHIPPED.read_text(encoding="utf-8").replace(
        "manager review: 5 working days, by manager,", "manager review: 5 working days, by hr,"), encoding="utf-8")
    wf = Workflow(Store(tmp_path / "s.db"), "H01", clock=FixedClock(START))
    try:
        wf.create_cycle(policy, "2025Q3", ORG, DATA, demo=True)
        wf.as_("E013").submit_self_review("E013", "done")
        manager = wf.appraisal("E013").manager_id
        with pytest.raises(Refused, match="only HR may enter the scores, during manager review: this process has HR "
                                          "score instead of the manager"):
            wf.as_(manager).score("E013", {"visits": "30"})
        wf.score("E013", {"visits": "30", "on_time_rate": "95%"})  # H01 is HR
        wf.confirm("E013")
        assert wf.appraisal("E013").stage == "hr_review"
    finally:
        wf.close()


def test_a_stage_without_a_way_out_is_named_in_the_policys_language():
    text = ZH.replace("申诉：5 个工作日，由 HR，升级 部门, HR委员会, 高管", "申诉：不设期限，由 HR")
    found = [d[1] for d in diagnostics(text) if d[0] == "appraisal"]
    assert found == ["申诉 需要期限，流程才能往下走：请给出工作日数"]


def test_a_process_where_an_executive_answers_appeals(tmp_path):
    """`appeal: 5 working days, by executive`: the first answer is the executive's, not HR's."""
    from workflow_helpers import DATA, ORG, SHIPPED, START, everyone_to_hr_review, without_appraisal_block

    from pkrules.workflow.clock import FixedClock
    from pkrules.workflow.messages import Refused
    from pkrules.workflow.service import Workflow
    from pkrules.workflow.store import Store

    policy = tmp_path / "exec.pk"
    policy.write_text(without_appraisal_block(SHIPPED).read_text(encoding="utf-8")
                      + "\nappraisal\n  appeal: 5 working days, by executive\n", encoding="utf-8")
    wf = Workflow(Store(tmp_path / "s.db"), "H01", clock=FixedClock(START))
    try:
        wf.create_cycle(policy, "2025Q3", ORG, DATA, demo=True)
        everyone_to_hr_review(wf)
        wf.publish()
        appeal = wf.as_("E013").file_appeal("E013", "visits", "Two visits are missing").appeal_id
        wf.accept_appeal(appeal)
        with pytest.raises(Refused, match="only an executive may act on it now"):
            wf.decide_appeal(appeal, "dismissed", "HR would dismiss it")
        wf.as_("X01").decide_appeal(appeal, "dismissed", "The CRM shows 20 visits")
        assert wf.appeal(appeal).state == "dismissed"
    finally:
        wf.close()


def test_manager_scores_given_on_the_command_line_may_not_contradict_the_block(tmp_path):
    from workflow_helpers import DATA, ORG, SHIPPED, START

    from pkrules.workflow.clock import FixedClock
    from pkrules.workflow.messages import BadInput
    from pkrules.workflow.service import Workflow
    from pkrules.workflow.store import Store

    wf = Workflow(Store(tmp_path / "s.db"), "H01", clock=FixedClock(START))
    try:
        with pytest.raises(BadInput, match=r"the policy's appraisal block already names what the manager scores "
                                           r"\(visits, on_time_rate\); change the block, or leave out"):
            wf.create_cycle(SHIPPED, "2025Q3", ORG, DATA, manager_scores=["visits"], demo=True)
        wf.create_cycle(SHIPPED, "2025Q3", ORG, DATA, manager_scores=["visits", "on_time_rate"], demo=True)  # the same: fine
    finally:
        wf.close()
