"""Static analysis of rule tables over the declared input ranges (part of `pkrules check`).

Interval analysis gives every numeric node a range (`min(x, 100%) * 100` lies
in 0..100; a weighted sum of such scores lies in 0..100) and, where known, a
grid its values lie on (whole numbers, cents after round(x, 0.01)). Tables
whose conditions test one value against constants are then checked for gaps,
overlaps under a unique hit policy, unreachable rows and non-monotonic bands,
each with a concrete witness value and the rows' lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from pkrules.language import ast
from pkrules.language.builtins import constant_value
from pkrules.language.diagnostics import Diagnostic, Note
from pkrules.values.numbers import format_exact
from pkrules.language.rule_graph import RuleGraph
from pkrules.values.types import WHOLE
from pkrules.messages import tr


# ---- sets of numbers: unions of intervals -------------------------------------------------


@dataclass(frozen=True)
class Interval:
    lo: Fraction | None  # None: unbounded
    lo_closed: bool
    hi: Fraction | None
    hi_closed: bool

    def is_empty(self) -> bool:
        if self.lo is None or self.hi is None:
            return False
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_closed and self.hi_closed))


EVERYTHING = (Interval(None, False, None, False),)


def _lo_key(i: Interval):
    return (-math.inf if i.lo is None else i.lo, 0 if i.lo_closed else 1)


def normalise(parts) -> tuple[Interval, ...]:
    items = sorted((p for p in parts if not p.is_empty()), key=_lo_key)
    merged: list[Interval] = []
    for item in items:
        if merged:
            last = merged[-1]
            touches = last.hi is None or item.lo is None or item.lo < last.hi or (
                item.lo == last.hi and (last.hi_closed or item.lo_closed))
            if touches:
                if last.hi is None or (item.hi is not None and (item.hi < last.hi or (item.hi == last.hi and not item.hi_closed))):
                    hi, hi_closed = last.hi, last.hi_closed
                elif item.hi == last.hi:
                    hi, hi_closed = last.hi, last.hi_closed or item.hi_closed
                else:
                    hi, hi_closed = item.hi, item.hi_closed
                merged[-1] = Interval(last.lo, last.lo_closed, hi, hi_closed)
                continue
        merged.append(item)
    return tuple(merged)


def intersect(a, b) -> tuple[Interval, ...]:
    out = []
    for x in a:
        for y in b:
            if x.lo is None:
                lo, lo_closed = y.lo, y.lo_closed
            elif y.lo is None or x.lo > y.lo:
                lo, lo_closed = x.lo, x.lo_closed
            elif x.lo == y.lo:
                lo, lo_closed = x.lo, x.lo_closed and y.lo_closed
            else:
                lo, lo_closed = y.lo, y.lo_closed
            if x.hi is None:
                hi, hi_closed = y.hi, y.hi_closed
            elif y.hi is None or x.hi < y.hi:
                hi, hi_closed = x.hi, x.hi_closed
            elif x.hi == y.hi:
                hi, hi_closed = x.hi, x.hi_closed and y.hi_closed
            else:
                hi, hi_closed = y.hi, y.hi_closed
            out.append(Interval(lo, lo_closed, hi, hi_closed))
    return normalise(out)


def union(a, b) -> tuple[Interval, ...]:
    return normalise(list(a) + list(b))


def complement(a) -> tuple[Interval, ...]:
    out = []
    lo, lo_closed = None, False
    for part in normalise(a):
        if part.lo is not None:
            out.append(Interval(lo, lo_closed, part.lo, not part.lo_closed))
        if part.hi is None:
            return normalise(out)
        lo, lo_closed = part.hi, not part.hi_closed
    out.append(Interval(lo, lo_closed, None, False))
    return normalise(out)


def witness(parts, grid: Fraction | None) -> Fraction | None:
    """A value in the set (on the grid, if one is given), or None if there is none."""
    for part in normalise(parts):
        candidate = _witness_in(part, grid)
        if candidate is not None:
            return candidate
    return None


def _witness_in(part: Interval, grid: Fraction | None) -> Fraction | None:
    if grid is not None:
        if part.lo is None:
            start = (part.hi // grid) * grid if part.hi is not None else Fraction(0)
            if part.hi is not None and start == part.hi and not part.hi_closed:
                start -= grid
            return start
        start = -((-part.lo) // grid) * grid  # first multiple >= lo
        if start == part.lo and not part.lo_closed:
            start += grid
        if part.hi is None or start < part.hi or (start == part.hi and part.hi_closed):
            return start
        return None
    if part.lo is None and part.hi is None:
        return Fraction(0)
    if part.lo is None:
        return part.hi if part.hi_closed else part.hi - 1
    if part.hi is None:
        return part.lo if part.lo_closed else part.lo + 1
    if part.lo_closed:
        return part.lo
    if part.hi_closed and part.hi != part.lo:
        mid = (part.lo + part.hi) / 2
        return mid
    return (part.lo + part.hi) / 2


# ---- ranges of nodes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    lo: Fraction | None
    hi: Fraction | None
    grid: Fraction | None = None  # every value is a multiple of grid

    def as_set(self) -> tuple[Interval, ...]:
        return (Interval(self.lo, self.lo is not None, self.hi, self.hi is not None),)


UNKNOWN = Range(None, None)


def _grid_gcd(a: Fraction | None, b: Fraction | None) -> Fraction | None:
    if a is None or b is None:
        return None
    if a == 0:
        return b
    if b == 0:
        return a
    return Fraction(math.gcd(a.numerator * b.denominator, b.numerator * a.denominator), a.denominator * b.denominator)


class RangeAnalysis:
    def __init__(self, graph: RuleGraph):
        self.graph = graph
        self.ranges: dict[str, Range] = {}
        for node in graph.inputs:
            self.ranges[node.name] = self._input_range(node)
        self.grown: list[str] = []  # definitions whose values may grow past MAX_VALUE_DIGITS (the first of a chain)
        for name in graph.order:
            try:
                self.ranges[name] = self._sane(name, self._declaration(graph.nodes[name].decl))
            except ArithmeticError:
                self.ranges[name] = UNKNOWN

    def _sane(self, name: str, r: Range) -> Range:
        """A range whose bounds have grown past what evaluation allows (values/numbers.py: MAX_VALUE_DIGITS) is
        noted, and unbounded from there on: a value squared 40 times must not make the analysis itself run for
        ever computing its bound."""
        from pkrules.values.numbers import too_large

        huge = [b for b in (r.lo, r.hi, r.grid) if b is not None and too_large(b)]
        if not huge:
            return r
        self.grown.append(name)
        return Range(None if r.lo is None or too_large(r.lo) else r.lo, None if r.hi is None or too_large(r.hi) else r.hi,
                     None if r.grid is None or too_large(r.grid) else r.grid)

    def _input_range(self, node) -> Range:
        if not node.type.numeric:
            return UNKNOWN
        decl = node.decl
        lo = constant_value(decl.low) if decl.low is not None else None
        hi = constant_value(decl.high) if decl.high is not None else None
        for op, bound in decl.compares:
            value = constant_value(bound)
            if value is None:
                continue
            if op in (">=", ">") and (lo is None or value > lo):
                lo = value
            elif op in ("<=", "<") and (hi is None or value < hi):
                hi = value
            elif op == "=":
                lo = hi = value
        return Range(lo, hi, Fraction(1) if node.type.kind == WHOLE else None)

    def expr(self, e) -> Range:
        if isinstance(e, (ast.Number, ast.Percent)):
            return Range(e.value, e.value, e.value if e.value else Fraction(0))
        if isinstance(e, ast.Name):
            ref = self.graph.refs.get(id(e))
            if ref is not None and ref.kind == "node":
                return self.ranges.get(e.name, UNKNOWN)
            return UNKNOWN
        if isinstance(e, ast.ValueOf):
            return self.ranges.get(e.name, UNKNOWN)
        if isinstance(e, ast.Neg):
            r = self.expr(e.operand)
            return Range(None if r.hi is None else -r.hi, None if r.lo is None else -r.lo, r.grid)
        if isinstance(e, ast.Binary):
            a, b = self.expr(e.left), self.expr(e.right)
            if e.op == "+":
                return Range(_add(a.lo, b.lo), _add(a.hi, b.hi), _grid_gcd(a.grid, b.grid))
            if e.op == "-":
                return Range(_add(a.lo, None if b.hi is None else -b.hi), _add(a.hi, None if b.lo is None else -b.lo),
                             _grid_gcd(a.grid, b.grid))
            if e.op == "*":
                return _times(a, b)
            if e.op == "/":
                if b.lo is not None and b.lo >= 0 and not (b.lo == 0 and self._may_be_zero(e.right, b)):
                    reciprocal = Range(None if b.hi is None else (1 / b.hi if b.hi else None), 1 / b.lo if b.lo else None)
                    if b.lo == 0:
                        reciprocal = Range(reciprocal.lo if b.hi else Fraction(0), None)
                    return _times(a, Range(reciprocal.lo if reciprocal.lo is not None else Fraction(0), reciprocal.hi))
                return UNKNOWN
        if isinstance(e, ast.Call):
            from pkrules.language.builtins import function_of

            func = function_of(e.func)
            args = [self.expr(a) for a in e.args]
            if func in ("min", "max"):
                pick = min if func == "min" else max
                los = [a.lo for a in args]
                his = [a.hi for a in args]
                if func == "min":
                    lo = None if any(x is None for x in los) else min(los)
                    hi = min((x for x in his if x is not None), default=None)
                else:
                    lo = max((x for x in los if x is not None), default=None)
                    hi = None if any(x is None for x in his) else max(his)
                del pick
                return Range(lo, hi)
            if func in ("round", "floor", "ceil"):
                step = constant_value(e.args[1]) if len(e.args) == 2 else Fraction(1)
                r = args[0]
                widen = lambda v, s: None if v is None else v + s * step  # noqa: E731
                return Range(widen(r.lo, -1), widen(r.hi, 1), step)
            if func == "previous":
                return args[0] if len(args) == 1 else _join(args[0], args[1])
            if func == "consecutive":
                return Range(Fraction(0), None, Fraction(1))
            if func == "abs":
                r = args[0]
                if r.lo is not None and r.lo >= 0:
                    return r
                return Range(Fraction(0), None if r.lo is None or r.hi is None else max(-r.lo, r.hi), r.grid)
            return UNKNOWN
        if isinstance(e, ast.IfExpr):
            return _join(self.expr(e.then), self.expr(e.else_))
        if isinstance(e, ast.Aggregate):
            if e.func == "count":
                return Range(Fraction(0), None, Fraction(1))
            r = self.expr(e.operand) if e.operand is not None else UNKNOWN
            if e.func in ("avg", "min", "max"):
                return Range(r.lo, r.hi, r.grid if e.func != "avg" else None)
            return Range(Fraction(0) if r.lo is not None and r.lo >= 0 else None,
                         Fraction(0) if r.hi is not None and r.hi <= 0 else None, r.grid)
        if isinstance(e, ast.Rank):
            return Range(Fraction(1), None, Fraction(1))
        if isinstance(e, ast.Split):
            pool = self.expr(e.pool)
            lo = min(Fraction(0), pool.lo) if pool.lo is not None else None
            hi = max(Fraction(0), pool.hi) if pool.hi is not None else None
            return Range(lo, hi, Fraction(1, 100))
        if isinstance(e, ast.Tiered):
            return self._tiered(e)
        return UNKNOWN

    def _may_be_zero(self, e, r: Range) -> bool:
        return r.lo == 0

    def _tiered(self, e: ast.Tiered) -> Range:
        from pkrules.language.builtins import tiers_of
        from pkrules.values.tiers import tier_parts, whole_amount_rate

        base = self.expr(e.base)
        bands = tiers_of(e)
        if base.lo is None or base.hi is None or any(rate is None for _, rate in bands):
            return UNKNOWN
        if e.kind == "marginal":
            f = lambda x: sum((part * rate for _, _, part, rate in tier_parts(bands, x)), Fraction(0))  # noqa: E731
            points = [base.lo, base.hi] + [u for u, _ in bands if u is not None and base.lo <= u <= base.hi]
        else:
            f = lambda x: x * whole_amount_rate(bands, x)  # noqa: E731
            points = [base.lo, base.hi] + [u for u, _ in bands if u is not None and base.lo <= u <= base.hi]
        values = [f(p) for p in points]
        if e.kind == "whole":
            return Range(min(values + [Fraction(0)]) if base.lo < 0 else min(values), max(values) * 2 if max(values) > 0 else max(values))
        return Range(min(values), max(values))

    def _declaration(self, decl) -> Range:
        if isinstance(decl, ast.Definition):
            return self.expr(decl.body)
        if isinstance(decl, ast.Table):
            result: Range | None = None
            for row in decl.rows:
                r = self.expr(row.value)
                result = r if result is None else _join(result, r)
            if decl.hit == "sum":
                return UNKNOWN
            return result or UNKNOWN
        if isinstance(decl, ast.Lookup) and decl.file is not None:
            values = [v for v in self.graph.lookup_tables.get(decl.name, ({}, {}))[0].values() if not isinstance(v, str)]
            return Range(min(values), max(values)) if values else UNKNOWN
        if isinstance(decl, ast.Lookup):
            result = None
            for entry in decl.entries:
                r = self.expr(entry.value)
                result = r if result is None else _join(result, r)
            return result or UNKNOWN
        if isinstance(decl, ast.Weighted):
            lo: Fraction | None = Fraction(0)
            hi: Fraction | None = Fraction(0)
            for row in decl.rows:
                r = self.expr(row.component)
                w = constant_value(row.weight) or Fraction(0)
                scaled = _times(r, Range(w, w))
                lo, hi = _add(lo, scaled.lo), _add(hi, scaled.hi)
            return Range(lo, hi)
        return UNKNOWN


def _add(a: Fraction | None, b: Fraction | None) -> Fraction | None:
    return None if a is None or b is None else a + b


def _times(a: Range, b: Range) -> Range:
    products = []
    unbounded = False
    for x in (a.lo, a.hi):
        for y in (b.lo, b.hi):
            if x is None or y is None:
                other = y if x is None else x
                if other is None or other != 0:
                    unbounded = True
                continue
            products.append(x * y)
    if unbounded:
        if _nonneg(a) and _nonneg(b):
            return Range(Fraction(0), None)
        return UNKNOWN
    if not products:  # an unbounded value times exactly 0
        return Range(Fraction(0), Fraction(0))
    grid = None
    if a.grid is not None and b.lo is not None and b.lo == b.hi and (b.lo.denominator == 1):
        grid = a.grid * abs(b.lo) if b.lo else None
    return Range(min(products), max(products), grid)


def _nonneg(r: Range) -> bool:
    return r.lo is not None and r.lo >= 0


def _join(a: Range, b: Range) -> Range:
    lo = None if a.lo is None or b.lo is None else min(a.lo, b.lo)
    hi = None if a.hi is None or b.hi is None else max(a.hi, b.hi)
    return Range(lo, hi, _grid_gcd(a.grid, b.grid))


# ---- tables ------------------------------------------------------------------------------------


def _condition_set(cond, subject: list[str], analysis: RangeAnalysis):
    """The set of values of one name for which a condition holds, or None if it is not that simple."""
    if isinstance(cond, ast.Compare):
        result = EVERYTHING
        for k, op in enumerate(cond.ops):
            left, right = cond.operands[k], cond.operands[k + 1]
            part = _comparison(left, op, right, subject)
            if part is None:
                return None
            result = intersect(result, part)
        return result
    if isinstance(cond, ast.Between):
        low = _comparison(cond.value, ">=", cond.low, subject)
        high = _comparison(cond.value, "<=", cond.high, subject)
        return None if low is None or high is None else intersect(low, high)
    if isinstance(cond, ast.Logic):
        a = _condition_set(cond.left, subject, analysis)
        b = _condition_set(cond.right, subject, analysis)
        if a is None or b is None:
            return None
        return intersect(a, b) if cond.op == "and" else union(a, b)
    if isinstance(cond, ast.Not):
        inner = _condition_set(cond.operand, subject, analysis)
        return None if inner is None else complement(inner)
    if isinstance(cond, ast.InList) and not cond.negated:
        points = []
        if not _is_subject(cond.value, subject):
            return None
        for option in cond.options:
            v = constant_value(option)
            if v is None:
                return None
            points.append(Interval(v, True, v, True))
        return normalise(points)
    return None


def _is_subject(e, subject: list[str]) -> bool:
    if not isinstance(e, ast.Name):
        return False
    if not subject:
        subject.append(e.name)
    return subject[0] == e.name


_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "=": "=", "!=": "!="}


def _comparison(left, op: str, right, subject: list[str]):
    if constant_value(left) is not None and isinstance(right, ast.Name):
        left, right, op = right, left, _FLIP[op]
    value = constant_value(right)
    if value is None or not _is_subject(left, subject):
        return None
    return {
        ">=": (Interval(value, True, None, False),),
        ">": (Interval(value, False, None, False),),
        "<=": (Interval(None, False, value, True),),
        "<": (Interval(None, False, value, False),),
        "=": (Interval(value, True, value, True),),
        "!=": complement((Interval(value, True, value, True),)),
    }[op]


def _show(value: Fraction, percent: bool = False) -> str:
    return f"{format_exact(value * 100)}%" if percent else format_exact(value)


def analyse_tables(graph: RuleGraph, analysis: RangeAnalysis) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for node in graph.definitions:
        table = node.decl
        if not isinstance(table, ast.Table) or not table.rows:
            continue
        subject: list[str] = []
        sets = []
        for row in table.rows:
            sets.append(EVERYTHING if row.cond is None else _condition_set(row.cond, subject, analysis))
        if any(s is None for s in sets) or not subject:
            continue
        name = subject[0]
        is_percent = graph.nodes[name].type.kind == "percent" if name in graph.nodes else False
        show = lambda v: _show(v, is_percent)  # noqa: E731
        domain_range = analysis.ranges.get(name, UNKNOWN)
        domain = domain_range.as_set()
        grid = domain_range.grid
        conditional = [(row, s) for row, s in zip(table.rows, sets) if row.cond is not None]
        has_otherwise = table.rows[-1].cond is None
        within = tr("{name}'s range {range}", name=name, range=_describe_range(domain_range))
        # gap: a value that matches no row
        if not has_otherwise and table.hit in ("first", "unique"):
            covered: tuple[Interval, ...] = ()
            for _, s in conditional:
                covered = union(covered, s)
            gaps = [g for g in intersect(domain, complement(covered)) if witness((g,), grid) is not None]
            if gaps:
                value = witness(gaps[:1], grid)
                first = gaps[0]
                beside = [row for row, s in conditional
                          if any(p.hi == first.lo or p.lo == first.hi for p in s if p.lo is not None or p.hi is not None)]
                found.append(Diagnostic(
                    "error", "table-gap", tr("{name} = {value} matches no row of {table}", name=name, value=show(value),
                                             table=table.name),
                    table.name_span,
                    hint=tr("no row covers {gaps} (checked over {within}); add an OTHERWISE row or close the gap",
                            gaps=tr(" or ").join(_describe_gap(g, name, is_percent) for g in gaps[:4]), within=within),
                    notes=tuple(Note(tr("row: {row}", row=_row_text(graph, r)), r.span) for r in beside)))
        # overlap under unique
        if table.hit == "unique":
            for i, (row_a, set_a) in enumerate(conditional):
                for row_b, set_b in conditional[i + 1:]:
                    value = witness(intersect(domain, intersect(set_a, set_b)), grid)
                    if value is not None:
                        found.append(Diagnostic(
                            "error", "table-overlap",
                            tr("{name} = {value} matches both the row on line {a} and the row on line {b} of {table}, "
                               "whose hit policy is unique", name=name, value=show(value), a=row_a.span.line,
                               b=row_b.span.line, table=table.name),
                            row_b.span, hint=tr("make the conditions exclusive, or use the first-match hit policy"),
                            notes=(Note(tr("the other row"), row_a.span),)))
        # unreachable rows under first match
        if table.hit == "first":
            earlier: tuple[Interval, ...] = ()
            for row, s in zip(table.rows, sets):
                reachable = intersect(intersect(domain, s), complement(earlier))
                if witness(reachable, grid) is None:
                    message = (tr("the OTHERWISE row of {table} can never apply: the rows above it match every {name} it would",
                                  table=table.name, name=name) if row.cond is None else
                               tr("this row of {table} can never apply: the rows above it match every {name} it would",
                                  table=table.name, name=name))
                    found.append(Diagnostic(
                        "warning", "table-unreachable", message,
                        row.span, hint=tr("checked over {within}; reorder or delete the row", within=within)))
                earlier = union(earlier, s)
            found.extend(_monotonic(graph, table, name, domain, grid, sets))
    return found


def _monotonic(graph, table: ast.Table, name: str, domain, grid, sets) -> list[Diagnostic]:
    """A ladder (bands on one value paying constants) whose pay goes down as the value goes up."""
    percent = name in graph.nodes and graph.nodes[name].type.kind == "percent"
    values = [constant_value(r.value) for r in table.rows]
    if any(v is None for v in values) or len(table.rows) < 3:
        return []
    # Where each row actually applies, after the rows above it.
    pieces: list[tuple[Fraction, Fraction, ast.Rule]] = []
    earlier: tuple[Interval, ...] = ()
    for row, s, v in zip(table.rows, sets, values):
        applies = intersect(intersect(domain, s), complement(earlier))
        earlier = union(earlier, s)
        point = witness(applies, grid)
        if point is not None:
            pieces.append((point, v, row))  # type: ignore[arg-type]
    pieces.sort(key=lambda p: p[0])
    steps = [b[1] - a[1] for a, b in zip(pieces, pieces[1:])]
    ups, downs = sum(1 for d in steps if d > 0), sum(1 for d in steps if d < 0)
    if not ups or not downs:
        return []
    rising = ups >= downs
    for (x1, v1, r1), (x2, v2, r2) in zip(pieces, pieces[1:]):
        if (v2 < v1) if rising else (v2 > v1):
            return [Diagnostic(
                "warning", "table-not-monotonic",
                tr("{table} is not monotonic: {name} = {high} pays {high_pay}, but the lower {name} = {low} pays {low_pay}",
                   table=table.name, name=name, high=_show(x2, percent), high_pay=format_exact(v2), low=_show(x1, percent),
                   low_pay=format_exact(v1)),
                r2.span, hint=tr("a higher band paying less is usually a typo; check the order of the values"),
                notes=(Note(tr("the band that pays more"), r1.span),))]
    return []


def _row_text(graph: RuleGraph, row: ast.Rule) -> str:
    return graph.source.snippet(row.span).split("\n")[0].split("#")[0].strip()


def _describe_gap(gap: Interval, name: str, percent: bool = False) -> str:
    if gap.lo is not None and gap.hi is not None and gap.lo == gap.hi:
        return f"{name} = {_show(gap.lo, percent)}"
    parts = []
    if gap.lo is not None:
        parts.append(f"{_show(gap.lo, percent)} {'<=' if gap.lo_closed else '<'} ")
    parts.append(name)
    if gap.hi is not None:
        parts.append(f" {'<=' if gap.hi_closed else '<'} {_show(gap.hi, percent)}")
    return "".join(parts)


def _describe_range(r: Range) -> str:
    lo = "-∞" if r.lo is None else format_exact(r.lo)
    hi = "∞" if r.hi is None else format_exact(r.hi)
    return tr("{lo}..{hi} (whole numbers)", lo=lo, hi=hi) if r.grid == 1 else f"{lo}..{hi}"


def dead_definitions(graph: RuleGraph) -> list[Diagnostic]:
    outputs = graph.policy_outputs()
    if not outputs:
        return []
    reached: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in reached or name not in graph.nodes:
            continue
        reached.add(name)
        stack.extend(graph.nodes[name].deps)
    return [Diagnostic("warning", "dead-definition", tr("{name} is defined but no output uses it", name=node.name),
                       node.decl.name_span, hint=tr("delete it, or add it to the output line"))
            for node in graph.definitions if node.name not in reached]


def percents_beside_scores(graph: RuleGraph, analysis: RangeAnalysis) -> list[Diagnostic]:
    """`score >= 90%` compares a 0–100 score with 0.9: almost always meant 90.

    Only where the range analysis shows the other side is on a points scale (its
    largest value above 1 and at most 1000); a ratio such as sales / target is fine.
    """
    from pkrules.language.builtins import expressions_of
    from pkrules.values.types import NUMBER

    found = []
    for node in graph.definitions:
        for expr in expressions_of(node.decl):
            for sub in ast.walk(expr):
                pairs = []
                if isinstance(sub, ast.Compare):
                    pairs = list(zip(sub.operands, sub.operands[1:]))
                    relation = "compare"
                elif isinstance(sub, ast.Binary) and sub.op in "+-":
                    pairs = [(sub.left, sub.right)]
                    relation = "plus" if sub.op == "+" else "minus"
                for a, b in pairs:
                    for literal, other in ((a, b), (b, a)):
                        other_type = graph.types.get(id(other))
                        if not isinstance(literal, ast.Percent) or other_type is None or other_type.kind not in (NUMBER, WHOLE):
                            continue
                        r = analysis.expr(other)
                        if r.hi is None or not (1 < r.hi <= 1000):
                            continue
                        plain = format_exact(literal.value * 100)
                        values = dict(score=graph.source.snippet(other.span), low=_show(r.lo) if r.lo is not None else "-∞",
                                      high=_show(r.hi), percent=literal.text, value=format_exact(literal.value))
                        message = {
                            "compare": lambda: tr("{score} is a score from {low} to {high}, compared with {percent} (= {value})",
                                                  **values),
                            "plus": lambda: tr("{score} is a score from {low} to {high}, plus {percent} (= {value})", **values),
                            "minus": lambda: tr("{score} is a score from {low} to {high}, minus {percent} (= {value})", **values),
                        }[relation]()
                        found.append(Diagnostic(
                            "warning", "percent-vs-number", message, literal.span,
                            hint=tr("if you meant {plain} points, write {plain}; a percentage is a fraction of 1", plain=plain)))
    return found


def magnitudes(graph: RuleGraph, analysis: RangeAnalysis) -> list[Diagnostic]:
    """Definitions whose values, by the declared ranges, can grow past what evaluation allows."""
    from pkrules.messages import tr
    from pkrules.values.numbers import MAX_VALUE_DIGITS

    return [Diagnostic("warning", "magnitude", tr(
        "{name} can grow past {limit} digits (by the ranges of its inputs); evaluation stops a row where it does",
        name=name, limit=MAX_VALUE_DIGITS), graph.nodes[name].decl.name_span,
        hint=tr("is a value multiplied by itself, again and again? No figure of pay is that large"))
        for name in analysis.grown]


def analyse(graph: RuleGraph) -> list[Diagnostic]:
    analysis = RangeAnalysis(graph)
    return (analyse_tables(graph, analysis) + dead_definitions(graph) + percents_beside_scores(graph, analysis)
            + magnitudes(graph, analysis))
