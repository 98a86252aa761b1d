"""The workflow from the command line, as HR runs it; two processes at once; a process killed mid-way."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time


from workflow_helpers import DATA, DATA_ZH, ORG, POLICY, POLICY_ZH, ROOT

PKRULES = [sys.executable, "-m", "pkrules.cli"]


def run(*args, db, today="2025-09-26", who=None, env=None, check=True):
    # the OS user is HR's 刘芳 (login liu.fang): --as is HR acting on that person's behalf
    environment = dict(os.environ, PKRULES_TODAY=today, NO_COLOR="1", LOGNAME="liu.fang", USER="liu.fang", **(env or {}))
    environment.pop("PKRULES_TEST_PAUSE", None) if not env or "PKRULES_TEST_PAUSE" not in env else None
    command = PKRULES + list(args) + ["--db", str(db)] + (["--as", who] if who else [])
    done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=ROOT)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} → {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def _everyone_else_to_hr_review(db):
    """The other 39 reviews, through the service (one process instead of 78)."""
    from pkrules.workflow.clock import FixedClock
    from pkrules.workflow.service import Workflow
    import datetime as dt

    from workflow_helpers import everyone_to_hr_review

    wf = Workflow.open(db, as_person="H01", login="liu.fang", clock=FixedClock(dt.date(2025, 9, 26)))
    everyone_to_hr_review(wf)
    wf.close()


def test_a_full_cycle_from_the_command_line(tmp_path):
    db = tmp_path / "w.db"
    out = run("cycle", "new", str(POLICY), "--period", "2025Q3", "--people", str(ORG), "--data", str(DATA), db=db, who="H01").stdout
    assert "cycle 2025Q3 created" in out and "40 employees" in out and "self-review is open until 2025-09-30" in out
    run("review", "submit", "E013", "--comment", "Targets met", "--evidence", "CRM export", db=db, who="E013")
    run("review", "submit", "E013", "--comment", "Agreed", db=db, who="E011")
    _everyone_else_to_hr_review(db)
    shown = run("cycle", "show", "E013", db=db, who="E013").stdout
    assert "self-assessment: Targets met  [CRM export]" in shown and "✗ Correct an input: only HR may correct inputs" in shown
    status = run("cycle", "status", "--team", "华东二组", db=db, who="H01").stdout
    assert "HR review" in status and "E013  邓浩" in status
    run("cycle", "publish", db=db, who="H01")
    run("appeal", "file", "E013", "visits", "--reason", "two visits missing", db=db, who="E013")
    run("appeal", "accept", "1", db=db, who="H01")
    decided = run("appeal", "decide", "1", "upheld", "--set", "visits=22", "--reason", "CRM confirms", db=db, who="H01").stdout
    assert "E013's total 16,162.29 → 17,919.09" in decided
    shown = run("appeal", "show", "1", db=db, who="E013").stdout
    assert "coef: 1 → 1.2" in shown
    run("appeal", "file", "E022", "coef", "--reason", "93.2 should pay 1.2", db=db, who="E022")
    run("appeal", "accept", "2", db=db, who="H01")
    run("appeal", "decide", "2", "dismissed", "--reason", "exact score", db=db, who="H01")
    run("appeal", "escalate", "2", "--reason", "department please", db=db, who="E022")
    run("appeal", "decide", "2", "dismissed", "--reason", "department agrees", db=db, who="D01")
    early = run("cycle", "finalize", db=db, who="H01", check=False)
    assert early.returncode == 1 and "publication period runs until 2025-09-30" in early.stderr
    run("cycle", "finalize", db=db, who="H01", today="2025-10-09")
    run("cycle", "export", str(tmp_path / "pay.csv"), db=db, who="H01", today="2025-10-09")
    assert "E013,邓浩,17919.09" in (tmp_path / "pay.csv").read_text(encoding="utf-8")
    again = run("cycle", "export", str(tmp_path / "pay.csv"), db=db, who="H01", today="2025-10-09").stdout
    assert "already exported 1 time(s)" in again
    explained = run("explain", "--cycle", "2025Q3", "E013", "coef", db=db, who="E013").stdout
    assert "coef = 1.2" in explained
    assert run("audit", "verify", db=db).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET details = replace(details, 'CRM confirms', 'HR agrees') WHERE action = 'appeal.decide'")
    conn.commit()
    conn.close()
    bad = run("audit", "verify", db=db, check=False)
    assert bad.returncode == 1 and "FAILED at event #" in bad.stderr and "changed after it was written" in bad.stderr


def test_mistakes_get_a_message_and_an_exit_code_never_a_traceback(tmp_path):
    db = tmp_path / "w.db"
    missing = run("cycle", "status", db=db, who="H01", check=False)
    assert missing.returncode == 2 and "no such store" in missing.stderr
    nofile = run("cycle", "new", str(POLICY), "--period", "Q", "--people", "nope.csv", "--data", str(DATA), db=db, who="H01", check=False)
    assert nofile.returncode == 2 and "--people nope.csv: no such file" in nofile.stderr
    run("cycle", "new", str(POLICY), "--period", "2025Q3", "--people", str(ORG), "--data", str(DATA), db=db, who="H01")
    cases = [
        (("review", "submit", "E999", "--comment", "x"), "E013", "no appraisal for 'E999'"),
        (("review", "submit", "E014", "--comment", "x"), "E013", "may not see E014's appraisal"),
        (("hr", "correct", "E013", "visits=-3", "--reason", "x"), "H01", "HR corrects inputs during HR review"),
        (("cycle", "publish"), "E011", "only HR may publish"),
        (("cycle", "status"), "NOBODY", "--as NOBODY: nobody with that id or login"),
    ]
    for args, who, expected in cases:
        done = run(*args, db=db, who=who, check=False)
        assert done.returncode in (1, 2) and expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    outsider = run("cycle", "status", db=db, check=False, env={})
    outsider = subprocess.run(PKRULES + ["cycle", "status", "--db", str(db)], capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, LOGNAME="stranger", USER="stranger"))
    assert outsider.returncode == 1 and "not in the org table" in outsider.stderr


def test_a_chinese_policy_speaks_chinese(tmp_path):
    db = tmp_path / "zh.db"
    out = run("cycle", "new", str(POLICY_ZH), "--period", "2025Q3", "--people", str(ORG), "--data", str(DATA_ZH), db=db, who="H01").stdout
    assert "已在" in out and "自评截止 2025-09-30" in out
    status = run("cycle", "status", "--limit", "3", db=db, who="H01").stdout
    assert "工号  姓名  小组      阶段  截止日期" in status and "第 1–3 条，共 40 条" in status
    refused = run("review", "submit", "E013", db=db, who="E011", check=False)
    assert refused.returncode == 1 and "错误：这一操作只能在上级评分阶段进行" in refused.stderr


def test_two_processes_acting_on_the_same_appraisal_cannot_both_succeed(tmp_path):
    db = tmp_path / "w.db"
    run("cycle", "new", str(POLICY), "--period", "2025Q3", "--people", str(ORG), "--data", str(DATA), db=db, who="H01")
    run("review", "submit", "E013", "--comment", "done", db=db, who="E013")
    # Both read version 2 of E013's appraisal, pause, then write: the manager confirms while HR… acts as the manager too.
    env = dict(os.environ, PKRULES_TODAY="2025-09-26", PKRULES_TEST_PAUSE="before_write:1.0", LOGNAME="liu.fang")
    first = subprocess.Popen(PKRULES + ["review", "submit", "E013", "--db", str(db), "--as", "E011"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(PKRULES + ["review", "return", "E013", "--reason", "more", "--db", str(db), "--as", "E011"],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [(p.wait(timeout=60), p.stdout.read(), p.stderr.read()) for p in (first, second)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert "changed by someone else since you loaded it: reload and try again" in loser
    assert run("audit", "verify", db=db).returncode == 0


def test_a_killed_cycle_new_leaves_no_partial_cycle(tmp_path):
    db = tmp_path / "w.db"
    env = dict(os.environ, PKRULES_TODAY="2025-09-26", PKRULES_TEST_PAUSE="cycle_new:30", LOGNAME="liu.fang")
    process = subprocess.Popen(PKRULES + ["cycle", "new", str(POLICY), "--period", "2025Q3", "--people", str(ORG), "--data",
                                          str(DATA), "--db", str(db), "--as", "H01"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    # wait until the transaction has written its rows (the write lock is held), then kill it
    while time.time() < deadline:
        if db.exists() and os.path.exists(str(db) + "-wal") and os.path.getsize(str(db) + "-wal") > 100_000:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    conn = sqlite3.connect(db)
    counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("cycles", "people", "inputs", "runs", "results", "appraisals", "events", "policy_versions")]
    conn.close()
    assert counts == [0] * 8
    again = run("cycle", "new", str(POLICY), "--period", "2025Q3", "--people", str(ORG), "--data", str(DATA), db=db, who="H01")
    assert "40 employees" in again.stdout


def test_demo_builds_a_store_in_publication_with_three_appeals(tmp_path):
    db = tmp_path / "demo.db"
    done = subprocess.run(PKRULES + ["demo", "--db", str(db), "--no-tui"], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PKRULES_TODAY="2025-10-20"))
    assert done.returncode == 0, done.stderr
    assert "published" in done.stdout
    lines = [line for line in done.stdout.splitlines() if line.startswith("#")]
    assert [line.split()[3] for line in lines] == ["upheld", "under", "submitted"]
    assert run("audit", "verify", db=db).returncode == 0
