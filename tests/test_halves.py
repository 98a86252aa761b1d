"""Explanations made in two processes (outputs/halves.py) are the ones made in one, and a copy that fails costs only time.

- every shipped sample, on the exact evaluator and the fast path: the workbook's explanations sheet
  and every statement, made with the second half in a forked copy (forced even for 40 employees),
  equal those made in one process, byte for byte;
- a copy that fails, sends something else, or hangs has its half made here: the same outputs;
- where forking is not worth it (one core, few employees, not Linux) nothing forks.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from shipped import SHIPPED_ALONE

from pkrules import api
from pkrules.messages import speaking
from pkrules.outputs import excel, halves
from pkrules.outputs.results import write_statements

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "policies" / "sample"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forking is used on Linux only")


@pytest.fixture
def always_fork(monkeypatch):
    monkeypatch.setattr(halves, "MINIMUM_ROWS", 1)
    monkeypatch.setattr(halves, "cores", lambda: 2)


def made_both_ways(monkeypatch, tmp_path, policy: Path, sample: Path, engine: str):
    graph = api.compile_file(policy)
    results = api.evaluate(graph, api.read_population(graph, sample), engine)
    rows = list(range(len(results.keys)))
    outputs = []
    real_fork = os.fork
    for minimum, name in ((10**9, "one"), (1, "two")):
        monkeypatch.setattr(halves, "MINIMUM_ROWS", minimum)
        monkeypatch.setattr(halves, "cores", lambda: 2)
        forks = []
        monkeypatch.setattr(os, "fork", lambda: forks.append(1) or real_fork())
        with speaking(graph.policy.language):
            sheet = excel.explanation_records(graph, results, rows)
            folder = tmp_path / name
            write_statements(graph, results, rows, folder)
        statements = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
        outputs.append((sheet, statements, len(forks)))
    return outputs


@pytest.mark.parametrize("policy, sample", SHIPPED_ALONE, ids=[p.name for p, _ in SHIPPED_ALONE])
@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_two_processes_make_what_one_makes(monkeypatch, tmp_path, policy, sample, engine):
    (sheet, statements, none), (sheet2, statements2, forks) = made_both_ways(monkeypatch, tmp_path, policy, sample, engine)
    assert none == 0 and forks == 2  # one fork for the sheet, one for the statements
    assert sheet2 == sheet and len(sheet) > 0
    assert statements2 == statements and len(statements) > 0


def test_the_reference_policy_on_the_fast_path_forks_with_plain_values(always_fork):
    graph = api.compile_file(ROOT / "policies" / "sales_incentive.pk")
    results = api.evaluate(graph, api.read_population(graph, SAMPLES / "employees.csv"), "fast")
    copy = halves.python_results(results)
    assert type(copy).__name__ == "ExactResults" and copy is not results
    assert all(type(v) is not object for v in copy.columns["total"])
    assert copy.columns["total"] == list(results.columns["total"])


@pytest.mark.parametrize("how", ["raises", "exits", "sends garbage", "sends too few", "hangs"])
def test_a_copy_that_fails_costs_time_not_outputs(monkeypatch, how, always_fork):
    monkeypatch.setattr(halves, "PATIENCE", 0.5)
    parent = os.getpid()
    rows = list(range(200))

    def work(part):
        if os.getpid() != parent:  # the copy
            if how == "raises":
                raise RuntimeError("the copy fails")
            if how == "exits":
                os._exit(3)
            if how == "sends garbage":
                return "not a list"
            if how == "sends too few":
                return [f"row {i}" for i in part[:-1]]
            if how == "hangs":
                time.sleep(60)
        return [f"row {i}" for i in part]

    started = time.monotonic()
    assert halves.in_halves(work, rows) == [f"row {i}" for i in rows]
    assert time.monotonic() - started < 10  # a hanging copy is stopped
    assert not _children_left()


def _children_left() -> bool:
    try:
        return os.waitpid(-1, os.WNOHANG) != (0, 0)
    except ChildProcessError:
        return False


def test_an_error_here_stops_the_copy(always_fork):
    parent = os.getpid()

    def work(part):
        if os.getpid() == parent:
            raise ValueError("this half fails")
        time.sleep(60)
        return part

    with pytest.raises(ValueError, match="this half fails"):
        halves.in_halves(work, list(range(10)))
    assert not _children_left()


def test_nothing_forks_where_it_is_not_worth_it(monkeypatch):
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    monkeypatch.setattr(halves, "cores", lambda: 1)
    assert halves.in_halves(lambda part: [i * 2 for i in part], list(range(5000))) == [i * 2 for i in range(5000)]
    monkeypatch.setattr(halves, "cores", lambda: 4)
    assert halves.in_halves(lambda part: list(part), list(range(10))) == list(range(10))  # too few
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not halves.worth_forking(10**6)


def test_the_copy_does_its_half_when_the_command_runs(monkeypatch, tmp_path, always_fork, capsys):
    """pkrules run works in a thread of its own (language/limits.py: run_deep): the copy forked from it
    makes its half (its result is used, not made again here)."""
    from pkrules.cli import main

    received = []
    real = halves._receive
    monkeypatch.setattr(halves, "_receive", lambda *args: received.append(real(*args)) or received[-1])
    main(["run", str(ROOT / "policies" / "sales_incentive.pk"), str(SAMPLES / "employees.csv"),
          "--out", str(tmp_path / "r.xlsx"), "--statements", str(tmp_path / "st")])
    assert len(received) == 2 and all(r is not None and len(r) == 20 for r in received)
