"""The appraisal process: defaults from the HR documents, the policy's appraisal block, validation; working days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from pkrules import api
from pkrules.workflow.calendar import WorkCalendar
from pkrules.workflow.process import ProcessSpec, StageSpec, default_process, process_from_policy, validate_process

from workflow_helpers import POLICY

D = dt.date


@dataclass
class AppraisalStage:  # the shape of the parser's AST node (graph.policy.appraisal.stages[i])
    kind: str
    days: int | None = None
    role: str | None = None
    scores: list = field(default_factory=list)
    escalation: list = field(default_factory=list)
    span: object = None


@dataclass
class Appraisal:
    stages: list
    calendar: str | None = None
    days_off: list = field(default_factory=list)
    span: object = None


class _Policy:
    def __init__(self, appraisal):
        self.appraisal = appraisal


class _Graph:
    """A compiled graph whose policy carries a hand-built appraisal block."""

    def __init__(self, appraisal):
        real = api.compile_file(POLICY)
        self.inputs = real.inputs
        self.key = real.key
        self.policy = _Policy(appraisal)


def test_a_policy_without_an_appraisal_block_gets_the_documents_process():
    spec = process_from_policy(api.compile_file(POLICY))
    assert [(s.kind, s.days, s.role) for s in spec.stages] == [
        ("self_review", 3, "employee"), ("manager_review", 5, "manager"), ("hr_review", None, "hr"), ("publication", 3, "hr")]
    assert (spec.appeal_days, spec.appeal_role, spec.escalation) == (5, "hr", ["department", "hr_panel", "executive"])
    assert spec.calendar == "china" and not spec.declared
    assert validate_process(spec) == []


def test_a_declared_block_overrides_what_it_says_and_defaults_the_rest():
    block = Appraisal([AppraisalStage("manager_review", 7, None, ["visits", "on_time_rate"]),
                       AppraisalStage("appeal", 10, None, [], ["hr_panel", "executive"])],
                      calendar="weekdays", days_off=[D(2025, 12, 24)])
    spec = process_from_policy(_Graph(block))
    assert spec.declared
    assert spec.days("self_review") == 3 and spec.days("manager_review") == 7 and spec.role("manager_review") == "manager"
    assert spec.manager_scores == ["visits", "on_time_rate"]
    assert spec.appeal_days == 10 and spec.escalation == ["hr_panel", "executive"]
    assert spec.calendar == "weekdays" and spec.days_off == [D(2025, 12, 24)]
    assert validate_process(spec, _Graph(block)) == []


@pytest.mark.parametrize("block, expected", [
    (Appraisal([AppraisalStage("self_review", 3, "boss")]), "unknown role 'boss'"),
    (Appraisal([AppraisalStage("calibration", 2)]), "unknown stage 'calibration'"),
    (Appraisal([AppraisalStage("manager_review", 0)]), "a deadline of 0 working days is not positive"),
    (Appraisal([AppraisalStage("manager_review", 5, None, ["vists"])]), "scores 'vists', which is not an input"),
    (Appraisal([AppraisalStage("appeal", 5, None, [], ["department", "hr_panel", "executive", "board"])]), "4 escalation levels; at most 3"),
])
def test_validation_names_each_problem(block, expected):
    graph = _Graph(block)
    problems = [str(p) for p in validate_process(process_from_policy(graph), graph)]
    assert any(expected in p for p in problems), problems


def test_a_publication_without_a_deadline_never_ends():
    spec = default_process()
    spec.stages[-1] = StageSpec("publication", None, "hr")
    assert [p.code for p in validate_process(spec)] == ["no-way-out"]


def test_a_process_round_trips_through_its_stored_form():
    spec = process_from_policy(_Graph(Appraisal([AppraisalStage("manager_review", 4, None, ["visits"])], days_off=[D(2025, 5, 6)])))
    assert ProcessSpec.from_data(spec.to_data()) == spec


# ---- working days on real holiday weeks --------------------------------------------------------

CHINA = WorkCalendar("china")


def test_national_day_2025_is_skipped_and_the_make_up_days_count():
    # 1–8 October 2025 are off; Sunday 28 September and Saturday 11 October are make-up working days.
    assert CHINA.is_working_day(D(2025, 9, 28)) == (True, False)
    assert CHINA.is_working_day(D(2025, 10, 11)) == (True, False)
    assert not any(CHINA.is_working_day(D(2025, 10, d))[0] for d in range(1, 9))
    # Self-review entered on Tuesday 30 September: 3 working days are 9, 10 and (Saturday) 11 October.
    assert CHINA.add_working_days(D(2025, 9, 30), 3).due == D(2025, 10, 11)
    # Entered on Friday 26 September: Sunday 28 (make-up), Monday 29, Tuesday 30.
    assert CHINA.add_working_days(D(2025, 9, 26), 3).due == D(2025, 9, 30)
    # Manager review, 5 working days from 30 September: 9, 10, 11 (Sat), 13, 14 October.
    assert CHINA.add_working_days(D(2025, 9, 30), 5).due == D(2025, 10, 14)


def test_spring_festival_2026_is_skipped_and_its_make_up_saturdays_count():
    # chinesecalendar: 15–23 February 2026 off; Saturday 14 February and Saturday 28 February are working days.
    assert CHINA.is_working_day(D(2026, 2, 14)) == (True, False)
    assert CHINA.is_working_day(D(2026, 2, 28)) == (True, False)
    assert not any(CHINA.is_working_day(D(2026, 2, d))[0] for d in range(15, 24))
    # Published on Friday 13 February: 3 working days are Sat 14, Tue 24, Wed 25 February.
    assert CHINA.add_working_days(D(2026, 2, 13), 3).due == D(2026, 2, 25)
    # On weekdays only, the same 3 days would end on Wednesday 18 February, in the middle of the holiday.
    assert WorkCalendar("weekdays").add_working_days(D(2026, 2, 13), 3).due == D(2026, 2, 18)


def test_a_year_the_calendar_does_not_know_is_counted_on_weekdays_and_flagged():
    due = CHINA.add_working_days(D(2026, 12, 30), 3)
    assert due.due == D(2027, 1, 4) and due.flagged and "2027" in due.note
    assert not CHINA.add_working_days(D(2026, 12, 1), 3).flagged


def test_company_days_off_are_not_working_days():
    calendar = WorkCalendar("weekdays", [D(2025, 12, 24), D(2025, 12, 25)])
    assert calendar.add_working_days(D(2025, 12, 23), 2).due == D(2025, 12, 29)
