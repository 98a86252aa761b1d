"""The limits of what a policy may be (nesting, chains of definitions, digits), and the stack to work within them.

Parsing, checking, formatting, explaining and diffing walk expressions recursively.
Within these limits they need more than Python's default 1,000 frames, so every
command (cli) and every public API call (api.py) runs `deep`: in a thread with a
large stack and a recursion limit to match. Beyond them, `check` says which limit
was reached, where — a policy never meets a RecursionError.

    MAX_NESTING   500 levels of one expression: a sum of 500 terms, 500 nested ifs, 500 minus signs
    MAX_CHAIN     1,000 definitions each using the one before (a chain of dependencies)
    MAX_DIGITS    30 digits in a number written in a policy (values/numbers.py: 10^30 is far beyond any pay)
"""

from __future__ import annotations

import contextvars
import functools
import sys
import threading
from typing import Callable, TypeVar

MAX_NESTING = 500
MAX_CHAIN = 1_000
MAX_DIGITS = 30

# Measured: the deepest recursion within the limits is about 12 Python frames per level of nesting
# (the lark transformer, the checker, the printer, the explainer); the stack must hold that many,
# also where the recursion passes through C (comparisons, isinstance), which costs stack.
RECURSION = 60_000
STACK_BYTES = 512 * 1024 * 1024  # reserved, not used: pages are touched only as deep as the work goes

_inside = threading.local()
T = TypeVar("T")


def deep(function: Callable[..., T]) -> Callable[..., T]:
    """Run function (a command, an API call) with the stack the limits need; nested calls run in place."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        return run_deep(function, *args, **kwargs)

    return run


def run_deep(function: Callable[..., T], *args, **kwargs) -> T:
    """function(*args, **kwargs) in a thread with a large stack (or here, when already in one)."""
    if getattr(_inside, "deep", False):
        return function(*args, **kwargs)
    if sys.getrecursionlimit() < RECURSION:
        sys.setrecursionlimit(RECURSION)  # raised once, never lowered: other threads may be deep too
    outcome: dict[str, object] = {}
    # The caller's context (the language spoken, the lookup folders allowed) goes with the work;
    # what the work sets in it stays there.
    context = contextvars.copy_context()

    done = threading.Event()

    def work() -> None:
        _inside.deep = True
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as e:  # handed back to the caller's thread as it is
            outcome["error"] = e
        finally:
            done.set()

    with _STACK_LOCK:  # threading.stack_size is process-wide: set it only for this thread's start
        previous = threading.stack_size(STACK_BYTES)
        try:
            worker = threading.Thread(target=context.run, args=(work,), name=f"pkrules:{getattr(function, '__name__', 'work')}", daemon=True)
            worker.start()
        finally:
            threading.stack_size(previous)
    try:
        _wait_for(done)
    except KeyboardInterrupt:
        # Ctrl-C reached this thread (or a thread polars or the work started, which only marks it: the
        # timed wait sees it). The work stops too, as if it had been interrupted itself: its cleanup runs
        # (a half-written file removed, a scratch folder, a forked copy) before the caller says so.
        if not done.is_set():
            _interrupt(worker)
        _wait_for(done)  # (a second Ctrl-C leaves at once)
        raise
    if "error" in outcome:
        error = outcome["error"]
        raise error.with_traceback(error.__traceback__)  # type: ignore[union-attr]
    return outcome.get("value")  # type: ignore[return-value]


def _wait_for(done: threading.Event) -> None:
    # In slices: a signal another thread received is handled here only when this thread wakes. (Not with
    # Thread.join: interrupted, Python 3.11's join marks the thread stopped while it still runs.)
    while not done.wait(0.2):
        pass


def _interrupt(worker: threading.Thread) -> None:
    """KeyboardInterrupt raised in the worker at its next step (after the library call it is in, if any)."""
    import ctypes

    if worker.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(KeyboardInterrupt))


_STACK_LOCK = threading.Lock()
