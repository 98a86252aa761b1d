"""Random actions by random people never reach an invalid state, never lose an event, and the chain verifies."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pkrules.workflow.clock import FixedClock
from pkrules.workflow.messages import WorkflowError
from pkrules.workflow.service import OPEN_APPEAL, STAGES, Workflow
from pkrules.workflow.store import Store

from workflow_helpers import DATA, ORG, POLICY, START

SUBJECTS = ["E013", "E014", "E020"]  # E011's reports: every role has something to do with them
# Who acts, relative to the employee concerned: the right person often, a wrong one as often.
ROLES = {"self": None, "manager": "E011", "department": "D01", "hr": "H01", "hr2": "H02", "executive": "X01",
         "colleague": "E016", "other manager": "E001"}
PEOPLE = st.sampled_from(["self", "manager", "hr", "self", "manager", "hr", "department", "hr2", "executive",
                          "colleague", "other manager"])


def person(role: str, subject: str) -> str:
    return subject if role == "self" else ROLES[role]
_TEMPLATE: dict = {}


def _template() -> Path:
    """One cycle created once; each example starts from a copy of it (creating it evaluates the population)."""
    if "path" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="pkrules-wf-"))
        wf = Workflow(Store(folder / "template.db"), "H01", clock=FixedClock(START))
        wf.create_cycle(POLICY, "2025Q3", ORG, DATA, demo=True)
        wf.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wf.close()
        _TEMPLATE["path"] = folder / "template.db"
    return _TEMPLATE["path"]


class AppraisalMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="pkrules-wf-run-"))
        shutil.copy(_template(), self.folder / "w.db")
        self.clock = FixedClock(START)
        self.wf = Workflow(Store(self.folder / "w.db"), "H01", clock=self.clock)
        self.events = self._event_count()

    def teardown(self):
        self.wf.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    @initialize(published=st.booleans())
    def start(self, published):
        """Half the runs start at publication, so that appeals get as many random steps as the review stages."""
        if published:
            from workflow_helpers import everyone_to_hr_review

            everyone_to_hr_review(self.wf)
            self.wf.publish()
            self.events = self._event_count()

    def _event_count(self) -> int:
        return self.wf.store.conn.execute("SELECT count(*) FROM events").fetchone()[0]

    def _snapshot(self):
        conn = self.wf.store.conn
        return (conn.execute("SELECT * FROM appraisals ORDER BY employee_id").fetchall(),
                conn.execute("SELECT * FROM appeals ORDER BY id").fetchall(),
                conn.execute("SELECT * FROM cycles").fetchall())

    def _act(self, action):
        """Run an action; a refusal must leave everything as it was, a success must add events."""
        before = self._snapshot()
        count = self._event_count()
        try:
            action()
        except WorkflowError:
            assert self._snapshot() == before, "a refused action changed the store"
            assert self._event_count() == count, "a refused action wrote an event"
            return
        assert self._event_count() > count, "an action succeeded without an event"

    def _appeals(self):
        return [r[0] for r in self.wf.store.conn.execute("SELECT id FROM appeals ORDER BY id")] or [1]

    @rule(who=PEOPLE, subject=st.sampled_from(SUBJECTS))
    def self_review(self, who, subject):
        self._act(lambda: self.wf.as_(person(who, subject)).submit_self_review(subject, "done"))

    @rule(who=PEOPLE, subject=st.sampled_from(SUBJECTS))
    def confirm(self, who, subject):
        self._act(lambda: self.wf.as_(person(who, subject)).confirm(subject))

    @rule(who=PEOPLE, subject=st.sampled_from(SUBJECTS))
    def send_back(self, who, subject):
        self._act(lambda: self.wf.as_(person(who, subject)).send_back(subject, "more evidence"))

    @rule(who=PEOPLE, subject=st.sampled_from(SUBJECTS), visits=st.sampled_from(["18", "25", "-1"]))
    def correct(self, who, subject, visits):
        self._act(lambda: self.wf.as_(person(who, subject)).correct(subject, {"visits": visits}, "checked"))

    @rule(who=PEOPLE)
    def advance(self, who):
        self._act(lambda: self.wf.as_(person(who, 'E013')).advance())

    @rule(who=PEOPLE, push=st.booleans())
    def publish(self, who, push):
        # the other 37 employees (and with push, the three subjects) are moved along by their own people
        for row in self.wf.board(stage="self_review", limit=100).rows + self.wf.board(stage="manager_review", limit=100).rows:
            if push or row.employee_id not in SUBJECTS:
                v = self.wf.appraisal(row.employee_id)
                if v.stage == "self_review":
                    self.wf.as_(row.employee_id).submit_self_review(row.employee_id, "ok")
                self.wf.as_(v.manager_id).confirm(row.employee_id)
        self.events = self._event_count()
        self._act(lambda: self.wf.as_(person(who, 'E013')).publish())

    @rule(who=PEOPLE, subject=st.sampled_from(SUBJECTS), disputed=st.sampled_from(["visits", "coef", "nope"]))
    def file_appeal(self, who, subject, disputed):
        self._act(lambda: self.wf.as_(person(who, subject)).file_appeal(subject, disputed, "I disagree"))

    @rule(who=PEOPLE, step=st.sampled_from(["accept", "reject", "info", "answer", "withdraw", "escalate",
                                                              "upheld", "dismissed"]), pick=st.integers(0, 3))
    def appeal_step(self, who, step, pick):
        ids = self._appeals()
        a = ids[pick % len(ids)]
        row = self.wf.store.conn.execute("SELECT employee_id FROM appeals WHERE id = ?", (a,)).fetchone()
        w = self.wf.as_(person(who, row[0] if row else "E013"))
        do = {"accept": lambda: w.accept_appeal(a), "reject": lambda: w.reject_appeal(a, "late"),
              "info": lambda: w.request_info(a, "which?"), "answer": lambda: w.answer_info(a, "these"),
              "withdraw": lambda: w.withdraw_appeal(a), "escalate": lambda: w.escalate_appeal(a, "review again"),
              "upheld": lambda: w.decide_appeal(a, "upheld", "right", {"visits": "26"}),
              "dismissed": lambda: w.decide_appeal(a, "dismissed", "wrong")}[step]
        self._act(do)

    @rule(who=PEOPLE)
    def finalize(self, who):
        self._act(lambda: self.wf.as_(person(who, 'E013')).finalize())

    @rule(days=st.integers(1, 6))
    def time_passes(self, days):
        self.clock.advance(days)

    @invariant()
    def states_are_valid(self):
        conn = self.wf.store.conn
        cycle_state = conn.execute("SELECT state FROM cycles").fetchone()[0]
        for stage, open_appeals, employee in conn.execute("SELECT stage, open_appeals, employee_id FROM appraisals"):
            assert stage in STAGES
            counted = conn.execute("SELECT count(*) FROM appeals WHERE employee_id = ? AND state IN (?,?,?,?)",
                                   (employee, *OPEN_APPEAL)).fetchone()[0]
            assert open_appeals == counted
            if cycle_state == "final":
                assert stage == "final" and counted == 0
            if counted:
                assert stage == "published"
        for state, level in conn.execute("SELECT state, level FROM appeals"):
            assert 0 <= level <= 3

    @invariant()
    def no_event_is_lost_and_the_chain_verifies(self):
        count = self._event_count()
        assert count >= self.events
        self.events = count
        report = self.wf.verify()
        assert report.ok, report.text()


AppraisalMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
test_appraisal_state_machine = AppraisalMachine.TestCase
