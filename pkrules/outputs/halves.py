"""Explanations for many employees made in two processes: the second half by a forked copy of this one.

Explaining is Python, one employee after another (about 0.2 ms each for the workbook's sheet, 1 ms for a
statement), so a second core sits idle while a person waits for 20,000 of them. On Linux with two cores
or more, for enough employees, this process forks: the copy makes the second half's texts and sends them
back through a pipe while this process makes the first half. The copy works on the values as plain
Python (python_results): it never calls polars (whose threads a forked copy does not have) nor a database
connection; the exact evaluator recomputes any group statistic an explanation asks for, the same text
(tests/test_halves.py compares every statement and sheet row both ways). Whatever goes wrong in the copy,
or if it takes far longer than this half did, its half is made here: the copy saves time, never changes
an output.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import time
from collections.abc import Callable

MINIMUM_ROWS = 1_000  # below this a fork (tens of ms) saves too little
PATIENCE = 10.0  # seconds the copy may take beyond three times this process's half, before its half is made here


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worth_forking(rows: int, minimum: int | None = None) -> bool:
    """Whether to share: Linux (fork there is cheap and safe for this; macOS and Windows start processes
    afresh), two cores or more, at least `minimum` employees."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and cores() > 1
            and rows >= (MINIMUM_ROWS if minimum is None else minimum))


def python_results(results):
    """The results with every value a Python value (the exact evaluator's Results), for a forked copy;
    None when they cannot be made so faithfully (rows that failed, related tables: kept as they are)."""
    from pkrules.engine.exact import ExactResults, results_from_values

    if isinstance(results, ExactResults):
        return results
    if results.errors or results.graph.related:
        return None
    return results_from_values(results.graph, results.columns, results.row_numbers)


def in_halves(work: Callable[[list[int]], list], rows: list[int], minimum: int | None = None) -> list:
    """work(rows) (a list with one entry per row, in order), the second half made by a forked copy of
    this process where worth_forking says so. work must only compute: it runs in both processes."""
    if not worth_forking(len(rows), minimum):
        return work(rows)
    half = (len(rows) + 1) // 2
    first, second = rows[:half], rows[half:]
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy: compute, send, leave at once (no exit handlers, no buffers of the parent's)
        status = 1
        try:
            os.close(read_end)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            data = pickle.dumps(work(second), protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view):]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        started = time.monotonic()
        mine = work(first)
        patience = PATIENCE + 3 * (time.monotonic() - started)  # (the copy's half is about as long as this one)
        theirs = _receive(read_end, pid, len(second), patience)
    except BaseException:
        _stop(pid)
        raise
    finally:
        os.close(read_end)
    if theirs is None:
        theirs = work(second)
    return mine + theirs


def _receive(read_end: int, pid: int, count: int, patience: float) -> list | None:
    """The copy's list, or None when it failed, sent something else, or took longer than patience."""
    chunks = []
    deadline = time.monotonic() + patience
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read_end], [], [], left)[0]:
            _stop(pid)
            return None
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    try:
        made = pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001 - a copy that died mid-send: its half is made here
        return None
    return made if isinstance(made, list) and len(made) == count else None


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
