"""Evaluating a rule graph over a population, exactly (rationals), node by node.

Each definition is compiled once into closures over row indices; population
terms (sums within a group, ranks, top N%, pool splits) compute their group
results on first use and keep them, so explanations can show them later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Protocol

from pkrules.language import ast
from pkrules.language.builtins import DATE_FUNCTIONS, aggregate_word, constant_value, function_of, tiers_of
from pkrules.values.split import NotWholeUnits, largest_remainder
from pkrules.values.tiers import marginal_amount, whole_amount
from pkrules.values.numbers import MAX_VALUE_DIGITS, ceil_to, floor_to, format_fraction, round_half_up, too_large
from pkrules.engine.population import Population, check_related, period_key
from pkrules.values.periods import PeriodLabelError
from pkrules.engine.results import Beyond, EvalError, GroupStat, RowError, RowIndex, Upstream, causes_of, row_of
from pkrules.language.rule_graph import RuleGraph
from pkrules.language.source import Span
from pkrules.messages import tr

_PENDING = object()  # a cell of a running total not computed yet: reading it is a bug, never a value


class _Blank:
    """The value of a definition where its `only if` does not hold: not an error, not a value (None in results)."""

    def __repr__(self) -> str:
        return "BLANK"


_BLANK = _Blank()

Fn = Callable[[int], object]


@dataclass
class ExactResults:
    """Every node's value for every employee, computed by the exact evaluator (the Results shape)."""

    graph: RuleGraph
    columns: dict[str, list]
    errors: list[EvalError]
    row_numbers: list[int]
    probe: "Compiled"
    backend: str = "exact"
    unneeded: list[EvalError] = field(default_factory=list)  # errors of values nothing needed (left blank)
    row_index: "tuple | None" = field(default=None, repr=False, compare=False)  # (keys it was built from, RowIndex)

    @property
    def size(self) -> int:
        return len(self.row_numbers)

    @property
    def keys(self) -> list:
        return self.columns[self.graph.key]

    def index_of(self, key: object, period: object = None) -> int | None:
        """The row of an employee (given as text or value); with periods, the latest unless one is named."""
        periods = self.columns[self.graph.period] if self.graph.period else None
        return row_of(self.keys, periods, key, period, self._index())

    def rows_of(self, key: object) -> list[int]:
        return self._index().rows(key)

    def _index(self) -> RowIndex:
        if self.row_index is None or self.row_index[0] is not self.keys:
            self.row_index = (self.keys, RowIndex(self.keys))
        return self.row_index[1]

    def failed_rows(self) -> set[int]:
        return set(self.probe.failed)

    def value(self, name: str, index: int) -> object:
        return self.columns[name][index]


class TermSource(Protocol):
    """Terms that read other rows, computed elsewhere (by a faster backend, or kept), read instead of recomputed.

    The terms: population terms (aggregates, ranks, top N%, splits), values of another row
    (score[partner]), previous() and consecutive(), aggregates over a related table.
    """

    def values(self, term: ast.Expr, fallback: "Callable[[ast.Expr], Fn]") -> "Fn | None":
        """Each row's value of the term (None: not available; compute it here)."""

    def group(self, term: ast.Expr, row: int) -> GroupStat | None:
        """The statistic of the row's group for the term."""

    def related(self, term: ast.Aggregate, row: int) -> tuple[int, int] | None:
        """For an aggregate over a related table: (rows counted, rows of this employee); None: not available."""


class Compiled:
    """Closures for every expression of a policy, bound to one population's columns.

    It is also the exact results' Probe (engine/results.py): value(expr, row),
    group(term, row), related(term, row). With a TermSource, population terms are
    read from it (a faster backend's columns) instead of recomputed.
    """

    def __init__(self, graph: RuleGraph, columns: dict[str, list], size: int, terms: TermSource | None = None):
        self.graph = graph
        self.columns = columns
        self.size = size
        self.terms = terms
        self.fns: dict[int, Fn] = {}
        self.failed: set[int] = set()
        self.related_rows: dict[str, list[dict]] = {}  # rows of related tables
        self.related_row: dict | None = None  # the related row an aggregate is evaluating its operand for
        self.terms_state: dict[int, _TermState] = {}  # id(population term) → its groups, computed lazily
        self.related_stats: dict[int, dict[int, tuple[int, int]]] = {}  # id(term) → row → (counted, rows)

    # -- the probe: what explanations ask
    def value(self, expr: ast.Expr, row: int) -> object:
        return self.expr(expr)(row)

    def group(self, term: ast.Expr, row: int) -> GroupStat | None:
        if self.terms is not None and self._stored(term) is not None:
            return self.terms.group(term, row)
        self.expr(term)  # builds the term (and its group state) if no value has needed it yet
        state = self.terms_state.get(id(term))
        return None if state is None else state.row_stat(row)

    def related(self, term: ast.Aggregate, row: int) -> tuple[int, int]:
        if self.terms is not None and self._stored(term) is not None:
            found = self.terms.related(term, row)
            if found is not None:
                return found
        if row not in self.related_stats.get(id(term), {}):
            try:
                self.expr(term)(row)
            except (RowError, Upstream, ArithmeticError):
                pass
        return self.related_stats.get(id(term), {}).get(row, (0, 0))

    def related_entries(self, term: ast.Aggregate, row: int) -> list[tuple[dict, bool, object]]:
        """The employee's rows of the table behind `… from TABLE`: (the row, whether it counted, its operand's value)."""
        table, table_columns = self.graph.related[term.source]  # type: ignore[index]
        period = self.graph.period if self.graph.period in table_columns else None
        key = self.columns[self.graph.key][row]
        here = self.columns[period][row] if period else None
        where = self.expr(term.where) if term.where is not None else None
        operand = self.expr(term.operand) if term.operand is not None else None
        out: list[tuple[dict, bool, object]] = []
        for r in self.related_rows.get(term.source, []):  # type: ignore[arg-type]
            if r[table.link] != key or (period and r[period] != here):
                continue
            self.related_row = r  # as the aggregate does: the row's columns are read from here
            try:
                chosen = where is None or bool(where(row))
                value = operand(row) if operand is not None else None
                if term.func == "count" and operand is not None:
                    chosen, value = chosen and bool(value), None
            except (RowError, Upstream, ArithmeticError):
                chosen, value = False, None
            finally:
                self.related_row = None
            out.append((r, chosen, value))
        return out

    def _stored(self, term: ast.Expr) -> Fn | None:
        """The term's values from the TermSource, if it has them."""
        if self.terms is None:
            return None
        cache = self.__dict__.setdefault("_stored_fns", {})
        if id(term) not in cache:
            builders = {ast.Aggregate: Compiled._aggregate, ast.Rank: Compiled._rank, ast.Top: Compiled._top,
                        ast.Split: Compiled._split, ast.ValueOf: Compiled._value_of, ast.Call: Compiled._period_call}
            build = builders.get(type(term))
            if isinstance(term, ast.Aggregate) and term.source is not None:
                build = Compiled._related_aggregate
            cache[id(term)] = None if build is None else self.terms.values(term, lambda e: build(self, e))
        return cache[id(term)]

    # -- expressions
    def expr(self, e: ast.Expr) -> Fn:
        fn = self.fns.get(id(e))
        if fn is None:
            fn = self._build(e)
            self.fns[id(e)] = fn
        return fn

    def _build(self, e: ast.Expr) -> Fn:
        if isinstance(e, (ast.Number, ast.Percent)):
            v = e.value
            return lambda i: v
        if isinstance(e, (ast.Text, ast.Date)):
            t = e.value
            return lambda i: t
        if isinstance(e, ast.Name):
            ref = self.graph.refs.get(id(e))
            if ref is not None and ref.kind == "related":
                return self._related_column(e.name)
            if ref is None or ref.kind != "node":
                v = ref.value if ref is not None else e.name
                return lambda i: v
            col = self.columns[e.name]
            name = e.name
            if self.graph.nodes[name].is_input:
                span = e.span

                def read_input(i: int) -> object:
                    value = col[i]
                    if value is None:  # an optional input left blank (the checker makes formulas say what then)
                        raise RowError(f"{name} is blank", span)
                    return value

                return read_input

            span = e.span

            def read(i: int) -> object:
                value = col[i]
                if value is None:
                    raise Upstream((name, i))
                if value is _BLANK:  # the checker makes formulas say what to do here; a safety net
                    raise RowError(f"{name} does not apply to this employee", span)
                if value is _PENDING:
                    raise AssertionError(f"{name} of row {i + 1} was read before it was computed")
                return value

            return read
        if isinstance(e, ast.Neg):
            f = self.expr(e.operand)
            return lambda i: -f(i)
        if isinstance(e, ast.Binary):
            return self._binary(e)
        if isinstance(e, ast.Compare):
            return self._compare(e)
        if isinstance(e, ast.Between):
            v, lo, hi = self.expr(e.value), self.expr(e.low), self.expr(e.high)
            return lambda i: lo(i) <= v(i) <= hi(i)
        if isinstance(e, ast.InList):
            v = self.expr(e.value)
            options = [self.expr(o) for o in e.options]
            negated = e.negated
            return lambda i: (any(v(i) == o(i) for o in options)) != negated
        if isinstance(e, ast.Logic):
            left, right = self.expr(e.left), self.expr(e.right)
            if e.op == "and":
                return lambda i: bool(left(i)) and bool(right(i))
            return lambda i: bool(left(i)) or bool(right(i))
        if isinstance(e, ast.Not):
            f = self.expr(e.operand)
            return lambda i: not f(i)
        if isinstance(e, ast.IfExpr):
            c, t, f = self.expr(e.cond), self.expr(e.then), self.expr(e.else_)
            return lambda i: t(i) if c(i) else f(i)
        if isinstance(e, ast.Call):
            return self._call(e)
        if isinstance(e, (ast.ValueOf, ast.Aggregate, ast.Rank, ast.Top, ast.Split)) and self.terms is not None:
            stored = self._stored(e)
            if stored is not None:
                return stored
        if isinstance(e, ast.ValueOf):
            return self._value_of(e)
        if isinstance(e, ast.Aggregate) and e.source is not None:
            return self._related_aggregate(e)
        if isinstance(e, ast.Aggregate):
            return self._aggregate(e)
        if isinstance(e, ast.Rank):
            return self._rank(e)
        if isinstance(e, ast.Top):
            return self._top(e)
        if isinstance(e, ast.Split):
            return self._split(e)
        if isinstance(e, ast.Tiered):
            return self._tiered(e)
        if isinstance(e, ast.Group):
            items = [self.expr(item) for item in e.items]
            return lambda i: tuple(f(i) for f in items)
        if isinstance(e, ast.WeightedSum):
            parts = [(self.expr(r.component), constant_value(r.weight)) for r in e.rows]
            return lambda i: sum((f(i) * w for f, w in parts), Fraction(0))
        raise AssertionError(type(e).__name__)

    def _binary(self, e: ast.Binary) -> Fn:
        left, right = self.expr(e.left), self.expr(e.right)
        kinds = (self.graph.types.get(id(e.left)), self.graph.types.get(id(e.right)))
        if any(t is not None and t.kind == "date" for t in kinds):
            return self._date_arithmetic(e, left, right, kinds)
        if e.op == "+":
            return lambda i: left(i) + right(i)
        if e.op == "-":
            return lambda i: left(i) - right(i)
        if e.op == "*":
            return lambda i: left(i) * right(i)
        divisor_text = self.graph.source.snippet(e.right.span)
        span = e.span

        def divide(i: int) -> object:
            d = right(i)
            if d == 0:
                raise RowError(tr("division by zero: {divisor} is 0", divisor=divisor_text), span)
            return Fraction(left(i)) / d

        return divide

    def _date_arithmetic(self, e: ast.Binary, left: Fn, right: Fn, kinds) -> Fn:
        from pkrules.values.dates import add_days

        if e.op == "-" and kinds[0].kind == kinds[1].kind == "date":
            return lambda i: Fraction((left(i) - right(i)).days)
        span = e.span
        date_first = kinds[0].kind == "date"
        sign = -1 if e.op == "-" else 1

        def move(i: int) -> object:
            day, days = (left(i), right(i)) if date_first else (right(i), left(i))
            if Fraction(days).denominator != 1:
                raise RowError(f"a date moves by whole days, not {days}", span)
            try:
                return add_days(day, sign * int(days))
            except ValueError as problem:
                raise RowError(str(problem), span) from None

        return move

    def _compare(self, e: ast.Compare) -> Fn:
        fns = [self.expr(o) for o in e.operands]
        ops = [_COMPARE[op] for op in e.ops]
        if len(ops) == 1:
            a, b, op = fns[0], fns[1], ops[0]
            return lambda i: op(a(i), b(i))

        def chain(i: int) -> bool:
            values = [f(i) for f in fns]
            return all(op(values[k], values[k + 1]) for k, op in enumerate(ops))

        return chain

    def _call(self, e: ast.Call) -> Fn:
        func = function_of(e.func)
        if func == "given":
            return self._given(e.args[0])  # type: ignore[arg-type]
        args = [self.expr(a) for a in e.args]
        if func == "min":
            return lambda i: min(a(i) for a in args)
        if func == "max":
            return lambda i: max(a(i) for a in args)
        if func == "abs":
            a = args[0]
            return lambda i: abs(a(i))
        if func in ("week", "month", "quarter"):
            label, d = _DATE_LABELS[func], args[0]
            return lambda i: label(d(i))
        if func in DATE_FUNCTIONS or func == "year":
            return self._date_function(e, func, args)
        if func in ("previous", "consecutive"):
            stored = self._stored(e) if self.terms is not None else None
            return stored if stored is not None else self._period_call(e)
        step = constant_value(e.args[1]) if len(e.args) == 2 else Fraction(1)
        rounder = {"round": round_half_up, "floor": floor_to, "ceil": ceil_to}[func]
        x = args[0]
        return lambda i: rounder(Fraction(x(i)), step)

    def _date_function(self, e: ast.Call, func: str, args: list[Fn]) -> Fn:
        from pkrules.values import dates

        compute = {"year": dates.year_of, "months_between": dates.months_between, "years_between": dates.years_between,
                   "month_start": dates.month_start, "month_end": dates.month_end, "period_start": dates.period_start,
                   "period_end": dates.period_end, "days_in": dates.period_days, "month_of_year": dates.month_of_year,
                   "quarter_of_year": dates.quarter_of_year, "day_of_month": dates.day_of_month}[func]
        span, number = e.span, DATE_FUNCTIONS.get(func, (1, "whole"))[1] == "whole"

        def call(i: int) -> object:
            try:
                value = compute(*(a(i) for a in args))
            except ValueError as problem:
                raise RowError(f"{self.graph.source.snippet(span)}: {problem}", span) from None
            return Fraction(value) if number else value

        return call

    def _given(self, name: ast.Name) -> Fn:
        """Whether an optional input has a value, or a definition applies (its `only if` holds)."""
        node = self.graph.nodes[name.name]
        if node.is_input:
            col = self.columns[name.name]
            return lambda i: col[i] is not None
        guard = getattr(node.decl, "guard", None)
        if guard is None:
            return lambda i: True
        return self.expr(guard)

    def _period_call(self, e: ast.Call) -> Fn:
        """previous(x[, default]) or consecutive(cond): values from the employee's other periods."""
        args = [self.expr(a) for a in e.args]
        if function_of(e.func) == "previous":
            return self._previous(e, args)
        return self._consecutive(e, args[0])

    # -- related tables (several rows per employee)
    def _related_column(self, name: str) -> Fn:
        """A column of a related table inside `… from table`: read from the row being aggregated.

        An aggregate over a related table evaluates its operand and condition once per
        related row; it puts the row in self.related_row first. (The checker allows no
        population term inside `… from`, so these never nest.)
        """
        def read(i: int) -> object:
            row = self.related_row
            if row is None:
                raise RowError(tr("{name} is a column of a related table: it has a value only inside '… from' that table",
                                  name=name))
            return row[name]

        return read

    def _related_aggregate(self, e: ast.Aggregate) -> Fn:
        table, table_columns = self.graph.related[e.source]  # type: ignore[index]
        rows = self.related_rows.get(e.source, [])  # type: ignore[arg-type]
        operand = self.expr(e.operand) if e.operand is not None else None
        where = self.expr(e.where) if e.where is not None else None
        keys = self.columns[self.graph.key]
        # With several periods, a table that has the period column is matched period by period.
        period = self.graph.period if self.graph.period in table_columns else None
        periods = self.columns[period] if period else None
        by_owner: dict[object, list[dict]] = {}
        stats = self.related_stats.setdefault(id(e), {})
        func, span, source = e.func, e.span, e.source

        def owner_of(i: int) -> object:
            return (keys[i], periods[i]) if periods is not None else keys[i]

        def each(i: int, rows: list[dict], fn: Fn) -> list:
            out = []
            try:
                for r in rows:
                    self.related_row = r
                    out.append(fn(i))
            finally:
                self.related_row = None
            return out

        def aggregate(i: int) -> object:
            if not by_owner and rows:
                for r in rows:
                    by_owner.setdefault((r[table.link], r[period]) if period else r[table.link], []).append(r)
            mine = by_owner.get(owner_of(i), [])
            chosen = mine if where is None else [r for r, keep in zip(mine, each(i, mine, where)) if keep]
            stats[i] = (len(chosen), len(mine))
            if func == "count":
                if operand is not None:
                    chosen = [r for r, keep in zip(chosen, each(i, chosen, operand)) if keep]
                    stats[i] = (len(chosen), len(mine))
                return Fraction(len(chosen))
            values = each(i, chosen, operand)  # type: ignore[arg-type]
            if func == "sum":
                return sum(values, Fraction(0))
            if not values:
                raise RowError(tr("{func} of no rows: this employee has no matching rows in {table}",
                                  func=aggregate_word(func), table=source), span)
            if func == "avg":
                return Fraction(sum(values, Fraction(0))) / len(values)
            return min(values) if func == "min" else max(values)

        return aggregate

    # -- several periods
    def _period_index(self) -> tuple[dict[tuple[object, object], int], list[object], dict[object, int]]:
        """(key, period) → row; the periods in order; period → its position."""
        if "_periods" not in self.__dict__:
            keys, periods = self.columns[self.graph.key], self.columns[self.graph.period]  # type: ignore[index]
            try:
                ordered = sorted(set(periods), key=period_key(self.graph, periods))
            except PeriodLabelError as problem:  # rows given straight to evaluate(), not read by a Population
                raise RowError(str(problem)) from None
            self._periods = ({(k, p): j for j, (k, p) in enumerate(zip(keys, periods))}, ordered,
                             {p: n for n, p in enumerate(ordered)})
        return self._periods

    def _previous(self, e: ast.Call, args: list[Fn]) -> Fn:
        name = e.args[0].name  # type: ignore[union-attr]
        column = self.columns[name]
        default = args[1] if len(args) == 2 else None
        span = e.span

        def previous(i: int) -> object:
            index, ordered, position = self._period_index()
            here = self.columns[self.graph.period][i]  # type: ignore[index]
            at = position[here]
            j = index.get((self.columns[self.graph.key][i], ordered[at - 1])) if at > 0 else None
            if j is None:
                if default is not None:
                    return default(i)
                if at == 0:
                    raise RowError(tr("previous({name}): this is the first period; give a default: previous({name}, 0)",
                                      name=name), span)
                raise RowError(tr("previous({name}): no row for this employee in {period}; give a default: previous({name}, 0)",
                                  name=name, period=ordered[at - 1]), span)
            if column[j] is None:
                raise RowError(tr("previous({name}): the row for {period} has an error", name=name, period=ordered[at - 1]),
                               span, ((name, j),))
            return column[j]

        return previous

    def _consecutive(self, e: ast.Call, cond: Fn) -> Fn:
        # Row by row, looking back only at this employee's earlier periods (so that a running total
        # computed period by period can use it).
        streaks: dict[int, int | RowError] = {}
        span = e.span

        def earlier_row(i: int) -> int | None:
            index, ordered, position = self._period_index()
            keys, periods = self.columns[self.graph.key], self.columns[self.graph.period]  # type: ignore[index]
            at = position[periods[i]]
            return index.get((keys[i], ordered[at - 1])) if at > 0 else None

        def streak(i: int) -> int | RowError:
            chain = []
            j: int | None = i
            while j is not None and j not in streaks:
                chain.append(j)
                j = earlier_row(j)
            for k in reversed(chain):
                before = streaks.get(earlier_row(k), 0) if earlier_row(k) is not None else 0  # type: ignore[arg-type]
                try:
                    holds = bool(cond(k))
                except (Upstream, RowError) as failure:
                    streaks[k] = RowError(tr("consecutive(…): an earlier period of this employee has an error"), span,
                                          causes_of(failure))
                    continue
                if not holds:
                    streaks[k] = 0
                elif isinstance(before, RowError):
                    streaks[k] = before
                else:
                    streaks[k] = before + 1
            return streaks[i]

        def consecutive(i: int) -> Fraction:
            found = streak(i)
            if isinstance(found, RowError):
                raise found
            return Fraction(found)

        return consecutive

    def _value_of(self, e: ast.ValueOf) -> Fn:
        key = self.expr(e.key)
        column = self.columns[e.name]
        key_text = self.graph.source.snippet(e.key.span)
        span = e.span
        if e.group is None:
            key_name = self.graph.key
            keys = self.columns[key_name]

            period = self.graph.period

            def other_employee(i: int) -> object:
                if "index" not in self.__dict__:
                    if period is None:
                        self.index = {k: j for j, k in enumerate(keys)}
                    else:  # the other employee in the same period
                        self.index = {(k, p): j for j, (k, p) in enumerate(zip(keys, self.columns[period]))}
                k = key(i)
                j = self.index.get(k if period is None else (k, self.columns[period][i]))
                if j is None:
                    raise RowError(tr("no employee with {key_name} '{key}' ({code})", key_name=key_name, key=k,
                                      code=key_text), span)
                if column[j] is None:
                    raise RowError(tr("{name} of employee {key} ({code}) could not be computed", name=e.name, key=k,
                                      code=key_text), span, ((e.name, j),))
                return column[j]

            return other_employee
        groups = self.columns[e.group]
        members: dict[object, list[int]] = {}
        periods = self.columns[self.graph.period] if self.graph.period else None

        def group_value(i: int) -> object:
            if not members:
                for j, g in enumerate(groups):
                    members.setdefault(g if periods is None else (periods[j], g), []).append(j)
            g = key(i)
            rows = members.get(g if periods is None else (periods[i], g))
            if not rows:
                raise RowError(tr("no one has {group} '{value}' ({code})", group=e.group, value=g, code=key_text), span)
            bad = [j for j in rows if column[j] is None]
            if bad:
                raise RowError(tr("{name} of {group} '{value}' could not be computed: row {row} has an error", name=e.name,
                                  group=e.group, value=g, row=bad[0] + 1), span,
                               tuple((e.name, j) for j in bad))
            values = {column[j] for j in rows}
            if len(values) != 1:
                raise RowError(tr("{name} differs between the members of {group} '{value}'; "
                                  "{name}[{group} = …] needs one value per {group}", name=e.name, group=e.group, value=g),
                               span)
            return next(iter(values))

        return group_value

    # -- population terms
    def _groups(self, term: ast.Expr, within: ast.Expr | None) -> tuple[list[object], dict[object, list[int]]]:
        """Each row's group and the rows of each group (everyone is one group without `within`)."""
        key = self.expr(within) if within is not None else (lambda i: None)
        if self.graph.period is not None and not getattr(term, "across", False):
            # Population terms compare people within the same period.
            periods, inner = self.columns[self.graph.period], key
            key = lambda i: (periods[i], inner(i))  # noqa: E731
        of_row: list[object] = []
        members: dict[object, list[int]] = {}
        for i in range(self.size):
            try:
                g = key(i)
            except (Upstream, RowError) as failure:
                g = _NoGroup(failure)  # the row joins no group; the term fails for it, reporting why
            of_row.append(g)
            if not isinstance(g, _NoGroup):
                members.setdefault(g, []).append(i)
        return of_row, members

    def _member_reader(self, term: ast.Expr) -> Callable[[Fn, int], object]:
        what, span = self.graph.source.snippet(term.span), term.span
        return lambda fn, j: self._member(fn, j, what, span)

    def _member(self, fn: Fn, j: int, what: str, span: Span) -> object:
        """A group member's value; a member whose value failed makes the group's result fail."""
        try:
            return fn(j)
        except (Upstream, RowError) as failure:
            key = self.columns[self.graph.key][j]
            raise RowError(tr("{what} includes row {row} ({key}), which has an error", what=what, row=j + 1, key=key),
                           span, causes_of(failure)) from None

    def _population(self, term: ast.Expr, within: ast.Expr | None, compute: Callable[[list[int]], GroupStat],
                    per_row: Callable[[int, GroupStat], object],
                    row_detail: Callable[[int, GroupStat], dict] | None = None) -> Fn:
        """A population term: each group's statistic computed once, when a member first needs it.

        Evaluating everyone computes every group; explaining one employee computes theirs only; a running
        total computed period by period reaches each period's groups in turn.
        """
        state = _TermState(self, term, within, compute, row_detail)
        self.terms_state[id(term)] = state

        def fn(i: int) -> object:
            stat = state.stat_of_row(i)
            if isinstance(stat, _NoGroup):
                raise stat.failure  # the row has no group: why is the failure of its `within`
            if isinstance(stat, RowError):
                raise stat
            return per_row(i, stat)

        return fn

    def _aggregate(self, e: ast.Aggregate) -> Fn:
        if e.to_date is not None:
            return self._to_date(e)
        operand = self.expr(e.operand) if e.operand is not None else None
        where = self.expr(e.where) if e.where is not None else None
        func = e.func
        span = e.span
        member = self._member_reader(e)

        def compute(rows: list[int]) -> GroupStat:
            chosen = [i for i in rows if where is None or member(where, i)]
            if func == "count":
                if operand is not None:
                    chosen = [i for i in chosen if member(operand, i)]
                return GroupStat(None, len(rows), Fraction(len(chosen)), {"counted": len(chosen)})
            values = [member(operand, i) for i in chosen]
            if func == "sum":
                value = sum(values, Fraction(0))
            elif not values:
                raise RowError(tr("{func} of nobody: no one in the group matches", func=aggregate_word(func)), span)
            elif func == "avg":
                value = Fraction(sum(values, Fraction(0))) / len(values)
            elif func == "min":
                value = min(values)
            else:
                value = max(values)
            return GroupStat(None, len(rows), value, {"counted": len(chosen)})

        return self._population(e, e.within, compute, lambda i, stat: stat.value)

    def _period_times(self) -> list:
        """Each row's period as a Period (what time it names), or None when the periods are not times."""
        if "_times" not in self.__dict__:
            from pkrules.values.periods import Period, parse_period

            periods = self.columns[self.graph.period]  # type: ignore[index]
            kind = self.graph.nodes[self.graph.period].type.kind  # type: ignore[index]
            times: list = []
            for value in periods:
                if kind == "date":
                    times.append(Period("date", value.toordinal(), value, value))
                elif kind == "text":
                    times.append(parse_period(value))
                else:
                    times.append(None)
            self._times = times
        return self._times

    def _to_date(self, e: ast.Aggregate) -> Fn:
        """sum/avg/count/min/max over the periods up to this one (of its year, quarter, month, since a date),
        of this employee or of their group; `earlier`: only the periods before this one."""
        operand = self.expr(e.operand) if e.operand is not None else None
        where = self.expr(e.where) if e.where is not None else None
        keys = self.columns[self.graph.key]
        within = self.expr(e.within) if e.within is not None else (lambda i: keys[i])
        since = self.expr(e.since) if e.since is not None else None
        func, span, earlier, kind = e.func, e.span, e.earlier, e.to_date
        member = self._member_reader(e)
        stats = _LazyStats()  # what explanations show: each row's periods, built only when asked
        self.terms_state[id(e)] = stats  # type: ignore[assignment]
        state: dict[str, object] = {}
        what = self.graph.source.snippet(e.span)

        def span_of(i: int) -> object:
            if kind in ("all", "since"):
                return None
            time = self._period_times()[i]
            if time is None or time.kind == "number":
                raise RowError(f"{what}: the period {self.columns[self.graph.period][i]} is not a time "  # type: ignore[index]
                               "(write periods as 2025-03, 2025年3月, 2025Q3 or dates)", span)
            whole = {"year": ("year", "half", "quarter", "month", "week", "date"), "quarter": ("quarter", "month", "week", "date"),
                     "month": ("month", "week", "date")}[kind]
            if time.kind not in whole:
                raise RowError(f"{what}: a {time.kind} is longer than a {kind}", span)
            year = time.start.isocalendar()[0] if time.kind == "week" else time.start.year
            if kind == "year":
                return year
            if kind == "quarter":
                return (year, (time.start.month - 1) // 3)
            return (year, time.start.month)

        def index() -> dict:
            if "by" not in state:
                _, ordered, position = self._period_index()
                periods = self.columns[self.graph.period]  # type: ignore[index]
                by: dict[object, list[int]] = {}
                place: list = []
                for i in range(self.size):
                    try:
                        at = (within(i), span_of(i))
                    except (Upstream, RowError) as failure:
                        at = _NoGroup(failure)
                    place.append(at)
                    if not isinstance(at, _NoGroup):
                        by.setdefault(at, []).append(i)
                for rows in by.values():
                    rows.sort(key=lambda j: position[periods[j]])
                state["by"], state["place"], state["position"] = by, place, position
            return state  # type: ignore[return-value]

        def members_of(i: int) -> list[int]:
            """The rows this row's value is over (for explanations, and for `since`)."""
            found = index()
            at = found["place"][i]  # type: ignore[index]
            periods = self.columns[self.graph.period]  # type: ignore[index]
            position = found["position"]  # type: ignore[index]
            here = position[periods[i]]
            rows = [j for j in found["by"][at] if (position[periods[j]] < here if earlier else position[periods[j]] <= here)]  # type: ignore[index]
            if since is not None:
                start = since(i)
                times = self._period_times()
                rows = [j for j in rows if times[j] is not None and times[j].end >= start]
            return rows

        def total(chosen: list[int]) -> object:
            if func == "count":
                if operand is not None:
                    chosen = [j for j in chosen if member(operand, j)]
                return Fraction(len(chosen))
            values = [member(operand, j) for j in chosen]
            if func == "sum":
                return sum(values, Fraction(0))
            if not values:
                raise RowError(f"{func} of no periods: no earlier period matches", span)
            if func == "avg":
                return Fraction(sum(values, Fraction(0))) / len(values)
            return min(values) if func == "min" else max(values)

        # The usual case, without `since`: running totals block by block (a block: the group's rows of one
        # period), each block read once and only when a row needs it — so a running total computed period
        # by period reads only the periods already computed.
        running: dict[object, list] = {}  # group → [(count, sum, lowest, highest) after each block, or a RowError]

        def blocks_of(at) -> list[list[int]]:
            found = index()
            if "blocks" not in found:
                periods, position = self.columns[self.graph.period], found["position"]  # type: ignore[index]
                grouped: dict[object, list[list[int]]] = {}
                block_of: dict[int, int] = {}
                for key, rows in found["by"].items():  # type: ignore[union-attr]
                    blocks: list[list[int]] = []
                    for j in rows:
                        if blocks and position[periods[blocks[-1][0]]] == position[periods[j]]:  # type: ignore[index]
                            blocks[-1].append(j)
                        else:
                            blocks.append([j])
                        block_of[j] = len(blocks) - 1
                    grouped[key] = blocks
                found["blocks"], found["block_of"] = grouped, block_of
            return found["blocks"][at]  # type: ignore[index]

        def through(at, upto: int) -> object:
            """The running (count, sum, lowest, highest) of the group's blocks 0…upto (-1: none yet)."""
            acc = running.setdefault(at, [])
            blocks = blocks_of(at)
            while len(acc) <= upto:
                before = acc[-1] if acc else (0, Fraction(0), None, None)
                if isinstance(before, RowError):
                    acc.append(before)
                    continue
                try:
                    chosen = [j for j in blocks[len(acc)] if where is None or member(where, j)]
                    if func == "count" and operand is not None:
                        chosen = [j for j in chosen if member(operand, j)]
                    values = [member(operand, j) for j in chosen] if func != "count" else []
                except RowError as failure:
                    acc.append(failure)
                    continue
                count, summed, lowest, highest = before
                for v in values:
                    summed += v
                    lowest = v if lowest is None or v < lowest else lowest
                    highest = v if highest is None or v > highest else highest
                acc.append((count + len(chosen), summed, lowest, highest))
            return acc[upto] if upto >= 0 else (0, Fraction(0), None, None)

        def to_date(i: int) -> object:
            found = index()
            at = found["place"][i]  # type: ignore[index]
            if isinstance(at, _NoGroup):
                raise at.failure
            if since is not None:
                value = total([j for j in members_of(i) if where is None or member(where, j)])
            else:
                blocks_of(at)
                k = found["block_of"][i]  # type: ignore[index]
                acc = through(at, k - 1 if earlier else k)
                if isinstance(acc, RowError):
                    raise acc
                count, summed, lowest, highest = acc
                if func == "count":
                    value = Fraction(count)
                elif func == "sum":
                    value = summed
                elif count == 0:
                    raise RowError(f"{func} of no periods: no earlier period matches", span)
                elif func == "avg":
                    value = summed / count
                else:
                    value = lowest if func == "min" else highest
            stats.later(i, lambda: _stat(i, at, value))
            return value

        def _stat(i: int, at, value) -> GroupStat:
            rows = members_of(i)
            periods = self.columns[self.graph.period]  # type: ignore[index]
            counted = sum(1 for j in rows if where is None or member(where, j))
            return GroupStat(at, len(rows), value, {"counted": counted, "periods": [periods[j] for j in rows], "rows": rows})

        stats.fn = to_date
        return to_date

    def _rank(self, e: ast.Rank) -> Fn:
        operand = self.expr(e.operand)
        ascending = e.ascending
        member = self._member_reader(e)

        def compute(rows: list[int]) -> GroupStat:
            distinct = sorted({member(operand, i) for i in rows}, reverse=not ascending)
            return GroupStat(None, len(rows), None, {"ranks": {v: n + 1 for n, v in enumerate(distinct)}})

        return self._population(e, e.within, compute, lambda i, stat: Fraction(stat.detail["ranks"][operand(i)]))

    def _top(self, e: ast.Top) -> Fn:
        operand = self.expr(e.operand)
        amount = constant_value(e.amount)
        amount_type = self.graph.types.get(id(e.amount))
        is_share = amount_type is not None and amount_type.kind == "percent"  # top 10%, or top share (a named 10%)
        bottom = e.bottom
        member = self._member_reader(e)

        def compute(rows: list[int]) -> GroupStat:
            values = _Ascending(member(operand, i) for i in rows)
            places = math.ceil(amount * len(rows)) if is_share else int(amount)  # type: ignore[operator]
            return GroupStat(None, len(rows), None, {"sorted": values, "places": places})

        def better(i: int, stat: GroupStat) -> int:
            """How many members have a strictly better value (higher; lower for bottom N)."""
            return stat.detail["sorted"].beyond(operand(i), bottom)

        def per_row(i: int, stat: GroupStat) -> bool:
            return better(i, stat) < stat.detail["places"]

        return self._population(e, e.within, compute, per_row, lambda i, stat: {"better": better(i, stat)})

    def _split(self, e: ast.Split) -> Fn:
        pool_fn, weight_fn = self.expr(e.pool), self.expr(e.weight)
        keys = self.columns[self.graph.key]
        span = e.span
        pool_text = self.graph.source.snippet(e.pool.span)
        weight_text = self.graph.source.snippet(e.weight.span)

        member = self._member_reader(e)

        def compute(rows: list[int]) -> GroupStat:
            pools = {member(pool_fn, i) for i in rows}
            if len(pools) != 1:
                raise RowError(tr("the pool ({pool}) differs between members of the group", pool=pool_text), span)
            pool = Fraction(pools.pop())
            weights = {i: Fraction(member(weight_fn, i)) for i in rows}
            negative = [i for i in rows if weights[i] < 0]
            if negative:
                # Every member of the group gets this error (the pool cannot be split for anyone):
                # it names whose weight is negative, which is usually not the reader's own.
                first = negative[0]
                raise RowError(tr("the split weight ({weight}) of {key} is {value}, below 0{others}: the group's pool cannot "
                                  "be split; a weight must be 0 or more", weight=weight_text, key=keys[first],
                                  value=format_fraction(weights[first]),
                                  others=tr(" (and of {count} more)", count=len(negative) - 1) if len(negative) > 1 else ""),
                               span)
            total = sum(weights.values(), Fraction(0))
            try:
                shares = largest_remainder(pool, [weights[i] for i in rows], [keys[i] for i in rows]) if total else [Fraction(0)] * len(rows)
            except NotWholeUnits as problem:
                raise RowError(str(problem), span) from None
            return GroupStat(None, len(rows), pool, {"weight_total": total, "shares": dict(zip(rows, shares))})

        return self._population(e, e.within, compute, lambda i, stat: stat.detail["shares"][i])

    def _tiered(self, e: ast.Tiered) -> Fn:
        base = self.expr(e.base)
        bands = tiers_of(e)
        amount = marginal_amount if e.kind == "marginal" else whole_amount
        return lambda i: amount(bands, Fraction(base(i)))

    # -- declarations
    def declaration(self, decl) -> Fn:
        if isinstance(decl, ast.Definition) and decl.guard is not None:
            body, guard = self.expr(decl.body), self.expr(decl.guard)
            return lambda i: body(i) if guard(i) else _BLANK
        if isinstance(decl, ast.Definition):
            return self.expr(decl.body)
        if isinstance(decl, ast.Table):
            return self._table(decl)
        if isinstance(decl, ast.Lookup):
            return self._lookup(decl)
        if isinstance(decl, ast.Weighted):
            parts = [(self.expr(r.component), constant_value(r.weight)) for r in decl.rows]
            return lambda i: sum((f(i) * w for f, w in parts), Fraction(0))
        raise AssertionError(type(decl).__name__)

    def _table(self, table: ast.Table) -> Fn:
        rows = [(self.expr(r.cond) if r.cond is not None else None, self.expr(r.value)) for r in table.rows]
        name = table.name
        span = table.name_span
        describe = self._describe_inputs(table)
        if table.hit == "first":
            def first(i: int) -> object:
                for cond, value in rows:
                    if cond is None or cond(i):
                        return value(i)
                raise RowError(tr("no row of {name} applies ({inputs})", name=name, inputs=describe(i)), span)
            return first
        if table.hit == "unique":
            def unique(i: int) -> object:
                hits = [k for k, (cond, _) in enumerate(rows) if cond is not None and cond(i)]
                if len(hits) > 1:
                    lines = tr(" and ").join(str(table.rows[k].span.line) for k in hits)
                    raise RowError(tr("rows on lines {lines} of {name} both apply, but its hit policy is unique ({inputs})",
                                      lines=lines, name=name, inputs=describe(i)), span)
                if hits:
                    return rows[hits[0]][1](i)
                if rows and rows[-1][0] is None:
                    return rows[-1][1](i)
                raise RowError(tr("no row of {name} applies ({inputs})", name=name, inputs=describe(i)), span)
            return unique

        def collect_sum(i: int) -> object:
            hits = [value(i) for cond, value in rows if cond is not None and cond(i)]
            if not hits and rows and rows[-1][0] is None:
                return rows[-1][1](i)
            return sum(hits, Fraction(0))
        return collect_sum

    def _describe_inputs(self, table: ast.Table) -> Callable[[int], str]:
        names: list[str] = []
        for row in table.rows:
            if row.cond is None:
                continue
            for sub in ast.walk(row.cond):
                ref = self.graph.refs.get(id(sub)) if isinstance(sub, ast.Name) else None
                if ref is not None and ref.kind == "node" and sub.name not in names:
                    names.append(sub.name)
        from pkrules.values.format import format_value

        def describe(i: int) -> str:
            return tr(", ").join(f"{n} = {format_value(self.columns[n][i], self.graph.nodes[n].type)}" for n in names)

        return describe

    def _lookup(self, lookup: ast.Lookup) -> Fn:
        key = self.expr(lookup.key)
        if lookup.file is not None:
            table = self.graph.lookup_tables[lookup.name][0]
            key_text = self.graph.source.snippet(lookup.key.span)

            def from_file(i: int) -> object:
                k = key(i)
                if k not in table:
                    raise RowError(tr("{file} has no row for {code} '{key}'", file=lookup.file, code=key_text, key=k),
                                   lookup.name_span)
                return table[k]

            return from_file
        entries = {e.key: self.expr(e.value) for e in lookup.entries if e.key is not None}
        default = next((self.expr(e.value) for e in lookup.entries if e.key is None), None)
        key_text = self.graph.source.snippet(lookup.key.span)
        span = lookup.name_span

        def find(i: int) -> object:
            k = key(i)
            fn = entries.get(k)
            if fn is None:
                if default is None:
                    raise RowError(tr("no value of {name} for {code} '{key}'", name=lookup.name, code=key_text, key=k), span)
                fn = default
            return fn(i)

        return find


class _TermState:
    """One population term's groups: each row's group, and each group's statistic, both computed lazily."""

    def __init__(self, compiled: "Compiled", term: ast.Expr, within: ast.Expr | None,
                 compute: Callable[[list[int]], GroupStat], row_detail: Callable[[int, GroupStat], dict] | None):
        self.compiled, self.term, self.within = compiled, term, within
        self.compute, self.row_detail = compute, row_detail
        self._of_row: list[object] | None = None
        self._members: dict[object, list[int]] = {}
        self._stats: dict[object, GroupStat | RowError] = {}

    def of_row(self) -> list[object]:
        if self._of_row is None:
            self._of_row, self._members = self.compiled._groups(self.term, self.within)
        return self._of_row

    def stat(self, group: object) -> GroupStat | RowError:
        if group not in self._stats:
            try:
                stat = self.compute(self._members[group])
                stat.group = group
                self._stats[group] = stat
            except RowError as err:
                self._stats[group] = err
        return self._stats[group]

    def stat_of_row(self, i: int) -> "GroupStat | RowError | _NoGroup":
        group = self.of_row()[i]
        return group if isinstance(group, _NoGroup) else self.stat(group)

    def row_stat(self, i: int) -> GroupStat | None:
        """The row's group statistic as an explanation shows it (None: the row has no group, or the group failed)."""
        stat = self.stat_of_row(i)
        if not isinstance(stat, GroupStat):
            return None
        if self.row_detail is None:
            return stat
        return GroupStat(stat.group, stat.members, stat.value, {**stat.detail, **self.row_detail(i, stat)})


class _Ascending(list):
    """A top N%'s group values, sorted ascending, that count how many are strictly above (below) a value."""

    def __init__(self, values) -> None:
        super().__init__(sorted(values))
        self.beyond = Beyond(self)


class _LazyStats(dict):
    """Group statistics of a sum over earlier periods, one per row, made when an explanation asks."""

    def __init__(self) -> None:
        super().__init__()
        self.makers: dict[int, Callable[[], GroupStat]] = {}
        self.fn: Fn | None = None  # the term's value for a row (which registers its maker)

    def later(self, row: int, make: Callable[[], GroupStat]) -> None:
        self.makers[row] = make

    def get(self, row, default=None):  # type: ignore[override]
        if row not in self and row in self.makers:
            try:
                self[row] = self.makers.pop(row)()
            except (RowError, Upstream):
                return default
        return super().get(row, default)

    def row_stat(self, row: int) -> GroupStat | None:
        """The statistic of a row (as _TermState.row_stat), computing the row's value first if needed."""
        if row not in self and row not in self.makers and self.fn is not None:
            try:
                self.fn(row)
            except (RowError, Upstream, ArithmeticError):
                return None
        return self.get(row)


class _NoGroup:
    """A row whose group could not be found (its `within` failed): it joins no group."""

    def __init__(self, failure: Exception):
        self.failure = failure


_COMPARE = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def _week(d) -> str:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


_DATE_LABELS = {
    "week": _week,
    "month": lambda d: f"{d.year}-{d.month:02d}",
    "quarter": lambda d: f"{d.year}Q{(d.month - 1) // 3 + 1}",
    "year": lambda d: str(d.year),
}


def evaluate(graph: RuleGraph, rows: list[dict[str, object]], row_numbers: list[int] | None = None,
             related: dict[str, list[dict]] | None = None,
             progress: Callable[[int, int, str], None] | None = None,
             known: dict[str, list] | None = None, params: dict[str, object] | None = None) -> ExactResults:
    """Fill every node for every row. Row errors are collected, never raised.

    An error is reported where it matters: in a value the policy outputs (its output line, or
    a definition nothing else uses), or in a value one of those needs for that row. A value
    that only an untaken branch would use (a manager's team average for someone who manages
    nobody) is left blank without an error.

    related: the rows of each related table (several per employee), linked by its link column.
    progress: called after each definition with (done, total, name), for a progress bar.
    known: definitions' columns already computed, without errors, on these same rows: taken as they are.
    params: the parameters of the run (each the same for every row); missing ones take their defaults.
    """
    check_related(graph, related or {})  # a missing table would silently count 0 rows for everyone
    size = len(rows)
    known = known or {}
    columns: dict[str, list] = {n.name: known.get(n.name) or [r.get(n.name) for r in rows] for n in graph.inputs}
    if graph.parameters:
        from pkrules.engine.population import complete_params

        for name, value in complete_params(graph, params or {}).items():
            columns[name] = [value] * size
    compiled = Compiled(graph, columns, size)
    compiled.related_rows = related or {}
    numbers = row_numbers or list(range(1, size + 1))
    keys = columns[graph.key]
    own: dict[tuple[str, int], tuple[EvalError, tuple]] = {}  # a cell's own error, and the cells it reports
    blocked: dict[tuple[str, int], tuple[str, int] | None] = {}  # a cell that could not be read, and why

    def fill(name: str, fn: Fn, values: list, i: int) -> None:
        try:
            value = fn(i)
            if type(value) is Fraction and too_large(value):
                raise RowError(tr("the value grew past {limit} digits ({digits} digits); no figure of pay is that large: "
                                  "is something multiplied by itself, again and again?", limit=MAX_VALUE_DIGITS,
                                  digits=f"~{int(max(value.numerator.bit_length(), value.denominator.bit_length()) * 0.30103):,}"),
                               graph.nodes[name].decl.name_span)
            values[i] = value
        except Upstream as failure:
            values[i] = None
            blocked[(name, i)] = failure.cause
        except RowError as err:
            values[i] = None
            own[(name, i)] = (EvalError(numbers[i], keys[i], name, err.message, err.span or graph.nodes[name].span),
                              err.causes)
        except (ZeroDivisionError, ArithmeticError) as err:  # defensive: reported, never a crash
            values[i] = None
            own[(name, i)] = (EvalError(numbers[i], keys[i], name, str(err), graph.nodes[name].span), ())

    done = 0
    for name in graph.order:
        if name in known:
            columns[name] = known[name]  # the same list: nothing copied, nothing recomputed
            continue
        group = graph.recursive.get(name)
        if group is not None:
            if name == group[0]:
                _evaluate_recursive(compiled, group, fill)
                done += len(group)
                if progress is not None:
                    progress(done, len(graph.order), name)
            continue
        fn = compiled.declaration(graph.nodes[name].decl)
        values: list[object] = [None] * size
        for i in range(size):
            try:  # the common case inline (a million rows): only a failing or too large value goes to fill()
                value = fn(i)
                if type(value) is Fraction and too_large(value):
                    raise RowError("")
                values[i] = value
            except (Upstream, RowError, ArithmeticError):
                fill(name, fn, values, i)
        columns[name] = values
        done += 1
        if progress is not None:
            progress(done, len(graph.order), name)
    for name in graph.order:  # where a definition does not apply it has no value, as a blank input has none
        if getattr(graph.nodes[name].decl, "guard", None) is not None and name not in known:
            column = columns[name]
            for i, value in enumerate(column):
                if value is _BLANK:
                    column[i] = None
    reported = _needed_errors(graph, own, blocked)
    compiled.failed = {i for _, i in reported}
    place = {name: n for n, name in enumerate(graph.order)}
    errors = sorted(reported.values(), key=lambda e: (place.get(e.node, -1), e.row))
    unneeded = [own[cell][0] for cell in own if cell not in reported]
    return ExactResults(graph, columns, errors, numbers, compiled, unneeded=unneeded)


def _evaluate_recursive(compiled: Compiled, group: tuple[str, ...], fill) -> None:
    """A running total and the definitions it goes round with, period after period, each period's rows
    after the earlier periods' (total = previous(total, 0) + sales reads the finished month before)."""
    graph, columns, size = compiled.graph, compiled.columns, compiled.size
    for name in group:
        columns[name] = [_PENDING] * size
    fns = {name: compiled.declaration(graph.nodes[name].decl) for name in group}
    try:
        _, ordered, position = compiled._period_index()
    except RowError as err:  # periods that cannot be put in order: every row fails
        problem = err

        def fail(i: int) -> object:
            raise problem

        for name in group:
            for i in range(size):
                fill(name, fail, columns[name], i)
        return
    periods = columns[graph.period]  # type: ignore[index]
    rows_of: list[list[int]] = [[] for _ in ordered]
    for i in range(size):
        rows_of[position[periods[i]]].append(i)
    for rows in rows_of:
        for name in group:
            for i in rows:
                fill(name, fns[name], columns[name], i)


def _needed_errors(graph: RuleGraph, own: dict, blocked: dict) -> dict[tuple[str, int], EvalError]:
    """The errors that matter: of the policy's outputs, and of the cells those outputs could not do without."""
    if not own:
        return {}
    roots = set(graph.policy_outputs()) | set(graph.sinks())
    reported: dict[tuple[str, int], EvalError] = {}
    seen: set[tuple[str, int]] = set()
    stack = [(name, i) for (name, i) in list(own) + list(blocked) if name in roots]
    while stack:
        cell = stack.pop()
        if cell in seen or cell is None:
            continue
        seen.add(cell)
        if cell in own:
            reported[cell] = own[cell][0]
            stack.extend(c for c in own[cell][1] if c is not None)
        elif cell in blocked:
            stack.append(blocked[cell])  # type: ignore[arg-type]
    return reported


class ExactBackend:
    """The reference evaluator: exact rationals, row by row; never declines."""

    name = "exact"

    def __init__(self, known: dict[str, list] | None = None):
        self.known = known

    def evaluate(self, graph: RuleGraph, population: Population,
                 progress: Callable[[int, int, str], None] | None = None) -> ExactResults:
        return evaluate(graph, population.rows, population.row_numbers, related=population.related, progress=progress,
                        known=self.known, params=population.params)


def results_from_values(graph: RuleGraph, columns: dict[str, list], row_numbers: list[int],
                        related: dict[str, list[dict]] | None = None) -> ExactResults:
    """Results of values already computed (every node's column, exact Python values): what was stored, or what
    another backend computed, held as the exact evaluator holds them; a group statistic an explanation asks
    for is computed again from them."""
    cols = {name: list(columns[name]) for name in graph.nodes}
    compiled = Compiled(graph, cols, len(row_numbers))
    compiled.related_rows = related or {}
    return ExactResults(graph, cols, [], list(row_numbers), compiled)
