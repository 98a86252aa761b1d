"""A compiled program as a script: statements that materialise its relations, in any dialect.

The steps of compile.py form one long chain of queries. Where a step reads the
relation it extends a second time (a group's sum joined back to its members), a
chain of views would make each engine compute everything before it twice — and
twice again at the next such step. So the chain is cut there: the relation so
far is materialised (a temporary table in DuckDB, a cached table in Spark),
keeping only the columns that later steps or the result read, and the aggregate
reads the materialised relation. An aggregate whose columns all exist in an
earlier materialised relation reads that one and needs no new cut.

Each statement is (name, query): "make relation name from query". The printer
of a dialect turns the steps into the query text; the runner of the dialect
says how a relation is made (duckdb.py, spark.py), and `pkrules sql` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pkrules.engine.sql.tree as T
from pkrules.engine.sql.compile import CURRENT, Program
from pkrules.values.numbers import twos_and_fives


@dataclass
class Statement:
    name: str  # the relation it makes
    query: str
    columns: list  # the relation's columns


def _reads(step) -> set[str]:
    if isinstance(step, T.Project):
        return T.columns_of([e for _, e in step.columns])
    if isinstance(step, T.Join):
        return T.columns_of([e for e, _ in step.on]) | T.columns_of(step.right)
    return set()


def statements(program: Program, printer: T.Printer, prefix: str = "pk", cuts: bool = True) -> list[Statement]:
    """The program as statements, the last of which makes the result relation f"{prefix}_result".

    cuts=False: one statement (a WITH query whose later parts read earlier ones by name)."""
    steps = program.steps
    # which columns each step makes, and what every later step reads
    made: list[list[str]] = []
    for step in steps:
        if isinstance(step, T.Project):
            made.append([alias for alias, _ in step.columns])
        elif isinstance(step, T.Join):
            made.append([alias for _, alias in step.take])
        else:
            made.append([])
    later_reads: list[set[str]] = [set() for _ in steps]
    needed = set(program.output)
    for k in range(len(steps) - 1, -1, -1):
        later_reads[k] = set(needed)
        needed |= _reads(steps[k])

    base = program.input_relation
    base_columns: set[str] = set(_input_columns(program))
    available = set(base_columns)  # columns of the current relation
    out: list[Statement] = []
    pending: list = []
    count = 0

    def cut(upto: int) -> None:
        """Materialise the current relation (the steps pending since the last cut)."""
        nonlocal base, base_columns, count, pending
        count += 1
        name = f"{prefix}_{count}"
        live = [c for c in _ordered(available) if c in later_reads[upto] or c in ("_row", "_line")]
        out.append(Statement(name, _chain(printer, base, pending, live), live))
        base, base_columns, pending = name, set(live), []

    for k, step in enumerate(steps):
        if isinstance(step, T.Join) and cuts:
            wanted = T.current_reads(step.right)
            if pending and not wanted <= base_columns:
                cut(k - 1)
                available.intersection_update(base_columns)
            T.set_source(step.right, CURRENT, base)
        pending.append(step)
        available.update(made[k])
    result = f"{prefix}_result"
    out.append(Statement(result, _chain(printer, base, pending, list(program.output)), list(program.output)))
    return out


def _ordered(columns: set[str]) -> list[str]:
    return sorted(columns, key=lambda c: (not c.startswith("_row"), c))


def _input_columns(program: Program) -> list[str]:
    return ["_row", "_line"] + list(program.inputs)


def _chain(printer: T.Printer, base: str, steps: list, columns: list[str]) -> str:
    """WITH s1 AS (step 1 over base), s2 AS (step 2 over s1) … SELECT columns FROM the last."""
    ctes = []
    current = base
    for k, step in enumerate(steps, start=1):
        name = f"s{k}"
        ctes.append(f"{name} AS ({printer.step(step, current, {CURRENT: current})})")
        current = name
    select = f"SELECT {', '.join(printer.quote(c) for c in columns)} FROM {current}"
    if not ctes:
        return select
    return "WITH " + ",\n".join(ctes) + "\n" + select


def readable(program: Program, printer: T.Printer, relation: str, names: list[str]) -> str:
    """The result as people read it: each value exact — a DECIMAL where its denominator is a constant
    whose decimals end (money, rounded values), else its numerator and denominator side by side."""
    from pkrules.engine import plan as P

    columns: list[tuple[T.E, str]] = []
    for name in names:
        meta = program.meta[name]
        if meta.kind != P.NUM:
            columns.append((T.Col(meta.column), name))
            continue
        den = meta.den
        k = _decimal_places(den.c) if den.const else None
        bound = max(abs(meta.lo), abs(meta.hi))
        if k is not None and bound * (10**k // den.c) < 10 ** (36 - k):
            m = T.Bin("*", T.Col(meta.column), T.Int(10**k // den.c, True)) if 10**k != den.c else T.Col(meta.column)
            unit = T.Cast(T.Str("1" if k == 0 else "0." + "0" * (k - 1) + "1"), f"decimal({k + 1},{k})")
            columns.append((T.Bin("*", T.Cast(m, f"decimal({36 - k},0)"), unit), name))
            continue
        d: T.E = T.Int(den.c, True)
        for fid, mult in den.factors:
            for _ in range(mult):
                d = T.Bin("*", d, T.Cast(T.Col(program.factors[fid][0]), "i128"))
        columns += [(T.Cast(T.Col(meta.column), "i128"), f"{name}_numerator"), (d, f"{name}_denominator")]
    select = T.Select(columns, relation)
    return printer.select(select, {}) + f" ORDER BY {printer.quote('_row')}"


def _decimal_places(c: int) -> int | None:
    """k when c divides 10^k (the decimals of n/c end after k places), else None."""
    twos, fives, rest = twos_and_fives(c)
    return max(twos, fives) if rest == 1 else None
