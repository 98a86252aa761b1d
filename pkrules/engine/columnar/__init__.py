"""The columnar fast path: a policy's plan (pkrules/plan.py) executed over whole columns.

    from pkrules.columnar import evaluate_columnar, read_table, table_from_rows

Results are exactly those of the row-by-row evaluator (pkrules/evaluate.py), or
the fast path declines by raising NeedsExact, and the caller runs the exact
evaluator instead (which then also reports bad cells and row errors in its own
words). Importing this package does not import polars; its functions do.
"""

from __future__ import annotations


class NeedsExact(Exception):
    """The fast path cannot give the exact evaluator's answer by itself: run the exact evaluator."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def evaluate_columnar(graph, table, plan=None):
    from pkrules.engine.columnar.polars_backend import evaluate_plan
    from pkrules.engine.plan import compile_plan

    return evaluate_plan(plan or compile_plan(graph), graph, table)


def read_table(graph, path, plan=None):
    from pkrules.engine.columnar.io import read_table as _read
    from pkrules.engine.plan import compile_plan

    return _read(plan or compile_plan(graph), graph, path)


def table_from_rows(graph, rows, plan=None):
    from pkrules.engine.columnar.io import table_from_rows as _from_rows
    from pkrules.engine.plan import compile_plan

    return _from_rows(plan or compile_plan(graph), rows)


def run_file(graph, path):
    """Read a data file and evaluate it on the fast path (raises NeedsExact when it declines)."""
    from pkrules.engine.plan import compile_plan

    plan = compile_plan(graph)
    return evaluate_columnar(graph, read_table(graph, path, plan), plan)


__all__ = ["NeedsExact", "evaluate_columnar", "read_table", "table_from_rows", "run_file"]
