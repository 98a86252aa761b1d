"""The dialect-neutral SQL compiler: a policy's plan (engine/plan.py) as the steps of one exact SQL query.

It mirrors the columnar path (engine/columnar/polars_backend.py) operator for
operator, over the tree of tree.py instead of polars expressions:

- a number is an integer numerator over a denominator (numeric.py); every
  intermediate's range is known here, at compile time, from the data's own
  minimum and maximum, so a value that could exceed 38 digits is an Overflow
  and the backend declines naming the definition, before any SQL runs;
- where the exact evaluator would raise a row error, an error flag says so
  (following its order of evaluation); the backend declines when any row has
  one, and the exact evaluator then reports it in its own words;
- population terms are group-bys joined back (`sum … within team`), windows
  partitioned by their group (`rank … within team`), and — for terms over the
  whole population, which a window without PARTITION BY would send to one Spark
  task — ranks, top-N% places and largest-remainder positions counted in
  buckets of the order key (counts per bucket, a running count over the few
  buckets, then a window within each bucket), all exact;
- values of other rows (score[partner], previous, consecutive) are joins.

A construct it does not do (a sum of values whose denominators differ by row,
say) is a PlanError naming it. The compiler chooses no dialect: `caps` says the
one limit that differs (how large a quotient the engine divides exactly).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction

from pkrules.engine import plan as P
from pkrules.engine.results import Declined
import pkrules.engine.sql.tree as T
from pkrules.messages import tr
from pkrules.engine.sql.numeric import (LIMIT, IntE, Overflow, absolute, add, compare, extreme, floordiv, lit, mod,
                                        mul, mul_const, neg, select, sub, wide_for)
from pkrules.values.split import SPLIT_UNIT

CURRENT = "@current"  # a Select reading the relation as it is at this step (the printer names it)
BUCKETS = 64  # buckets of the order key for ranks over a whole population


class NotSQL(P.PlanError):
    """A construct the SQL backends do not compute exactly (named); the exact evaluator runs instead."""


class TooWide(Declined):
    """A value (or an order key) that could exceed 38 digits for the inputs' ranges: smaller ranges may fit."""

    def __init__(self, reason: str):
        super().__init__(reason, notable=True)


# ---- what values and columns hold ---------------------------------------------------------------


@dataclass(frozen=True)
class Den:
    """c × Π factor^mult: a positive constant and factor columns (by id, each ≥ 1)."""

    c: int = 1
    factors: tuple = ()  # ((fid, mult), …)

    @property
    def const(self) -> bool:
        return not self.factors


def _fid_key(item) -> str:
    return repr(item[0])


def den_lcm(a: Den, b: Den) -> Den:
    merged = dict(a.factors)
    for fid, m in b.factors:
        merged[fid] = max(merged.get(fid, 0), m)
    return Den(math.lcm(a.c, b.c), tuple(sorted(merged.items(), key=_fid_key)))


def den_mul(a: Den, b: Den) -> Den:
    merged = dict(a.factors)
    for fid, m in b.factors:
        merged[fid] = merged.get(fid, 0) + m
    return Den(a.c * b.c, tuple(sorted(merged.items(), key=_fid_key)))


@dataclass
class NumV:
    n: IntE
    den: Den
    err: T.E | None = None


@dataclass
class PlainV:
    expr: T.E
    kind: str
    err: T.E | None = None


@dataclass
class ColMeta:
    """A column of the result: the SQL column, its kind and, for numbers, denominator and range."""

    column: str
    kind: str
    den: Den | None = None
    lo: int = 0
    hi: int = 0


@dataclass
class InputColumn:
    """An input as the source provides it: a column of numerators over 10^k (numbers), or plain values."""

    name: str
    column: str
    kind: str
    den: int = 1
    lo: int = 0
    hi: int = 0


@dataclass
class TermMeta:
    """A population term (or another row's value) stored as a column, with what explanations need."""

    expr: object
    meta: ColMeta
    err_column: str | None
    parts: dict  # group, group_meta, period, period_meta, chosen, operand, keys, pool, weight (column names / metas)


@dataclass
class Caps:
    """What differs between engines that the compiler must know (the printers know the rest)."""

    quotient_limit: int = LIMIT  # the largest quotient tree.Div computes exactly
    # From this many rows, a rank over a whole population is counted in buckets (Spark: a window
    # without PARTITION BY runs in one task); None: never (DuckDB runs such a window in parallel).
    buckets_from: int | None = None


@dataclass
class Program:
    """The compiled query: steps over the input relation, and how to read the result."""

    steps: list
    output: list  # the result's columns
    meta: dict  # node name → ColMeta
    factors: dict  # fid → (column, lo, hi)
    terms: dict  # id(plan term) → TermMeta
    err: str  # the column that is true where a row fails
    size: int
    key: str
    period: str | None
    inputs: list = field(default_factory=list)  # the input relation's columns (besides _row, _line)
    input_relation: str = "pk_input"


def _or(*errs):
    out = None
    for e in errs:
        if e is None:
            continue
        out = e if out is None else T.Bin("OR", out, e)
    return out


def _and(cond: T.E, err):
    return None if err is None else T.Bin("AND", cond, err)


def _not(e: T.E) -> T.E:
    return T.Not(e)


TRUE, FALSE = T.Bool(True), T.Bool(False)
# the value of a row that fails (never used: such a row makes the backend decline)
_GARBAGE = {P.TEXT: lambda: T.Str(""), P.BOOL: lambda: FALSE, P.DATE: lambda: T.Date(dt.date(1970, 1, 1))}


class Compiler:
    def __init__(self, plan: P.Plan, graph, inputs: dict[str, InputColumn], size: int, caps: Caps | None = None):
        self.plan = plan
        self.graph = graph
        self.size = max(size, 1)
        self.caps = caps or Caps()
        self.steps: list = []
        self.defined: dict[str, int] = {}  # column → index of the step that made it (-1: the input)
        self.meta: dict[str, ColMeta] = {}
        self.factors: dict[object, IntE] = {}
        self.cache: dict[int, object] = {}
        self.errors: list[str] = []
        self.err_of: dict[str, str] = {}  # definition → its error flag (true where it fails, read or not)
        self.terms: dict[int, TermMeta] = {}
        self.parts: dict[int, dict] = {}
        self._used: set[str] = set()
        self.counter = 0
        self._keys: dict[int, list] = {}
        self._positions: dict[int, str] = {}
        self.period_order: list | None = None  # labels of a text period in time order (compile_sql)
        self._constant: dict[tuple, bool] = {}
        self._node_expr = {n.name: n.expr for n in plan.nodes}
        self.input_columns = [spec.column for spec in inputs.values()]
        for name in ("_row", "_line"):
            self._claim(name)
            self.defined[name] = -1
        for spec in inputs.values():
            self._claim(spec.column)
            self.defined[spec.column] = -1
            if spec.kind == P.NUM:
                self.meta[spec.name] = ColMeta(spec.column, P.NUM, Den(spec.den), spec.lo, spec.hi)
            else:
                self.meta[spec.name] = ColMeta(spec.column, spec.kind)

    # ------------------------------------------------------------------ names and steps
    def _claim(self, name: str) -> str:
        self._used.add(name.lower())
        return name

    def column_name(self, wanted: str) -> str:
        """A column name for a definition: its own, unless taken (SQL compares names without case)."""
        name, k = wanted, 1
        while name.lower() in self._used:
            k += 1
            name = f"{wanted}_{k}"
        return self._claim(name)

    def fresh(self, prefix: str) -> str:
        while True:
            self.counter += 1
            name = f"_{prefix}{self.counter}"
            if name.lower() not in self._used:
                return self._claim(name)

    def project(self, columns: list[tuple[str, T.E]]) -> None:
        """Add columns; merged into the previous projection when they do not read its columns."""
        last = self.steps[-1] if self.steps else None
        if isinstance(last, T.Project):
            made = {alias for alias, _ in last.columns}
            if not (T.columns_of([e for _, e in columns]) & made):
                last.columns.extend(columns)
                for alias, _ in columns:
                    self.defined[alias] = len(self.steps) - 1
                return
        self.steps.append(T.Project(list(columns)))
        for alias, _ in columns:
            self.defined[alias] = len(self.steps) - 1

    def bind(self, e: T.E, prefix: str = "v") -> T.Col:
        """An expression as a column of its own (so that it is computed once and can be grouped or joined on)."""
        if isinstance(e, T.Col):
            return e
        name = self.fresh(prefix)
        self.project([(name, e)])
        return T.Col(name)

    def bind_int(self, v: IntE, prefix: str = "v") -> IntE:
        if isinstance(v.expr, T.Col) or v.literal:
            return v
        return IntE(self.bind(v.expr, prefix), v.lo, v.hi)

    def join(self, right: T.Select, on: list, take: list, kind: str = "left") -> None:
        """Join the current relation with a query over it; the joined columns become columns."""
        self.steps.append(T.Join(right, on, take, kind))
        for _, alias in take:
            self._claim(alias)
            self.defined[alias] = len(self.steps) - 1

    def aggregate(self, keys: list[T.Col] | None, aggs: list[tuple[str, T.E]], where: T.E | None = None) -> dict[str, T.Col]:
        """Aggregates per group (keys) or of everyone (None), joined back to every row: name → column."""
        names = {name: self.fresh("a") for name, _ in aggs}
        group_cols = [self.fresh("g") for _ in (keys or [])]
        columns = [(k, g) for k, g in zip(keys or [], group_cols)] + [(e, names[n]) for n, e in aggs]
        right = T.Select(columns, CURRENT, where=where, group_by=list(keys or []))
        take = [(names[n], names[n]) for n, _ in aggs]
        if keys:
            self.join(right, list(zip(keys, group_cols)), take)
        else:
            self.join(right, [], take, kind="cross")
        return {n: T.Col(names[n]) for n, _ in aggs}

    def any_row(self, err: T.E | None) -> T.E | None:
        """True on every row when err holds on any row."""
        if err is None:
            return None
        flag = self.aggregate(None, [("any", T.Agg("any", err))])["any"]
        return T.Fn("coalesce", (flag, FALSE))

    # ------------------------------------------------------------------ compiling
    def compile(self) -> Program:
        for node in self.plan.nodes:
            try:
                value = self.value(node.expr)
                self.materialize(node.name, value)
            except Overflow as e:
                raise TooWide(tr("{name}: {problem}; the SQL backends keep every value within 38 digits", name=node.name,
                                 problem=str(e))) from None
        # As the exact evaluator: an error matters in an output (its output line, or a definition nothing
        # uses), and so in whatever an output read (a flag includes the flags of what it read). A value that
        # failed where nothing needed it reads as blank (NULL), without an error.
        roots = set(self.graph.policy_outputs()) | set(self.graph.sinks())
        err = self.fresh("err")
        flags = [T.Col(self.err_of[n.name]) for n in self.plan.nodes if n.name in roots and n.name in self.err_of]
        self.project([(err, _or(*flags) if flags else FALSE)])
        shown = []
        for name, flag in self.err_of.items():
            meta = self.meta[name]
            column = self.fresh("s")
            shown.append((column, T.Case(((T.Col(flag), T.Null()),), T.Col(meta.column))))
            self.meta[name] = ColMeta(column, meta.kind, meta.den, meta.lo, meta.hi)
        if shown:
            self.project(shown)
        output = ["_row", "_line"] + [m.column for m in self.meta.values()]
        used = {fid for m in list(self.meta.values()) + [t.meta for t in self.terms.values()] + _part_metas(self.terms)
                if m.den is not None for fid, _ in m.den.factors}
        factors = {fid: (f.expr.name, f.lo, f.hi) for fid, f in self.factors.items() if fid in used}
        output.extend(c for c, _, _ in factors.values())
        for term in self.terms.values():
            output.append(term.meta.column)
            if term.err_column:
                output.append(term.err_column)
            output.extend(_part_columns(term.parts))
        output.append(err)
        seen: set[str] = set()
        output = [c for c in output if not (c in seen or seen.add(c))]
        return Program(self.steps, output, self.meta, factors, self.terms, err, self.size, self.plan.key,
                       self.plan.period, self.input_columns)

    def materialize(self, name: str, value) -> None:
        column = self.column_name(name)
        if isinstance(value, NumV):
            self.store_factors(value.den)
            self.project([(column, value.n.as_(value.n.wide))])
            self.meta[name] = ColMeta(column, P.NUM, value.den, value.n.lo, value.n.hi)
        else:
            self.project([(column, value.expr)])
            self.meta[name] = ColMeta(column, value.kind)
        if value.err is not None:
            flag = self.fresh("e")
            self.project([(flag, T.Fn("coalesce", (value.err, TRUE)))])
            self.errors.append(flag)
            self.err_of[name] = flag
        self.cache.clear()  # later definitions read the stored column

    def store_factors(self, den: Den) -> None:
        for fid, _ in den.factors:
            f = self.factors[fid]
            if not isinstance(f.expr, T.Col):
                self.factors[fid] = IntE(self.bind(f.as_(f.wide), "f"), f.lo, f.hi)

    # ------------------------------------------------------------------ values
    def value(self, e: P.PExpr):
        found = self.cache.get(id(e))
        if found is None:
            method = getattr(self, "_" + type(e).__name__, None)
            if method is None:
                raise NotSQL(tr("the SQL backends do not know the plan operator {operator}", operator=type(e).__name__))
            found = method(e)
            if isinstance(e, P.ACROSS_ROWS):
                found = self.store_term(e, found)
            self.cache[id(e)] = found
        return found

    def store_term(self, e: P.PExpr, v):
        """A population term's values as a column: computed once, and what explanations read."""
        column = self.fresh("t")
        err_column = None
        if v.err is not None:
            err_column = column + "e"
            self._claim(err_column)
            self.project([(err_column, T.Fn("coalesce", (v.err, TRUE)))])
        if isinstance(v, NumV):
            self.store_factors(v.den)
            self.project([(column, v.n.as_(v.n.wide))])
            stored = NumV(IntE(T.Col(column), v.n.lo, v.n.hi), v.den, T.Col(err_column) if err_column else None)
            meta = ColMeta(column, P.NUM, v.den, v.n.lo, v.n.hi)
        else:
            self.project([(column, v.expr)])
            stored = PlainV(T.Col(column), v.kind, T.Col(err_column) if err_column else None)
            meta = ColMeta(column, v.kind)
        self.terms[id(e)] = TermMeta(e, meta, err_column, self.parts.get(id(e), {}))
        return stored

    def num(self, e: P.PExpr) -> NumV:
        v = self.value(e)
        if not isinstance(v, NumV):
            raise NotSQL(tr("expected a number from {expression}", expression=P.show(e)))
        return v

    def factor(self, fid) -> IntE:
        return self.factors[fid]

    def den_expr(self, den: Den) -> IntE:
        out = lit(den.c)
        for fid, m in den.factors:
            for _ in range(m):
                out = mul(out, self.factor(fid))
        return out

    def rescale(self, v: NumV, target: Den) -> IntE:
        n = v.n
        if target.c != v.den.c:
            n = mul_const(n, target.c // v.den.c)
        have = dict(v.den.factors)
        for fid, m in target.factors:
            for _ in range(m - have.get(fid, 0)):
                n = mul(n, self.factor(fid))
        return n

    def common(self, values: list[NumV]) -> tuple[Den, list[IntE]]:
        den = values[0].den
        for v in values[1:]:
            den = den_lcm(den, v.den)
        return den, [self.rescale(v, den) for v in values]

    # -- leaves
    def _Lit(self, e: P.Lit):
        if e.kind == P.NUM:
            f = Fraction(e.value)
            return NumV(lit(f.numerator), Den(f.denominator))
        if e.kind == P.TEXT:
            return PlainV(T.Str(e.value), P.TEXT)
        if e.kind == P.BOOL:
            return PlainV(T.Bool(bool(e.value)), P.BOOL)
        return PlainV(T.Date(e.value), P.DATE)

    def _Col(self, e: P.Col):
        meta = self.meta.get(e.name)
        if meta is None:
            raise NotSQL(tr("column {name} is used before it is computed", name=e.name))
        err = T.Col(self.err_of[e.name]) if e.name in self.err_of else None  # where it failed, reading it fails
        if meta.kind == P.NUM:
            return NumV(IntE(T.Col(meta.column), meta.lo, meta.hi), meta.den, err)
        return PlainV(T.Col(meta.column), meta.kind, err)

    # -- arithmetic
    def _Arith(self, e: P.Arith):
        if e.op == "*":
            for const, other in ((e.right, e.left), (e.left, e.right)):
                if isinstance(const, P.Lit):
                    return self.mul_fraction(self.num(other), Fraction(const.value))
            a, b = self.num(e.left), self.num(e.right)
            return NumV(mul(a.n, b.n), den_mul(a.den, b.den), _or(a.err, b.err))
        a, b = self.num(e.left), self.num(e.right)
        den, (na, nb) = self.common([a, b])
        return NumV(add(na, nb) if e.op == "+" else sub(na, nb), den, _or(a.err, b.err))

    def mul_fraction(self, v: NumV, f: Fraction) -> NumV:
        p, q = f.numerator, f.denominator
        if p == 0:
            return NumV(lit(0), Den(1), v.err)
        g = math.gcd(abs(p), v.den.c)
        return NumV(mul_const(v.n, p // g), Den(v.den.c // g * q, v.den.factors), v.err)

    def _Neg(self, e: P.Neg):
        v = self.num(e.operand)
        return NumV(neg(v.n), v.den, v.err)

    def _Abs(self, e: P.Abs):
        v = self.num(e.operand)
        return NumV(absolute(v.n), v.den, v.err)

    def _Div(self, e: P.Div):
        a, b = self.num(e.left), self.num(e.right)
        err = _or(a.err, b.err)
        if isinstance(e.right, P.Lit):
            f = Fraction(e.right.value)
            if f == 0:
                return NumV(lit(0), Den(1), _or(err, TRUE))
            v = self.mul_fraction(a, 1 / f)
            return NumV(v.n, v.den, _or(v.err, err))
        nb = b.n
        zero = None
        if nb.lo >= 1:
            divisor, sign = nb, 1
        elif nb.hi <= -1:
            divisor, sign = neg(nb), -1
        else:
            nb = self.bind_int(nb, "d")
            zero = compare("=", nb, lit(0))
            divisor = IntE(T.Case(((zero, T.Int(1, nb.wide)),), absolute(nb).as_(nb.wide)), 1, max(1, nb.bound))
            sign = 0
        # a / b = (na × Db) / (Da × |nb|) × sign(nb); common factors of Da and Db cancel.
        da, db = dict(a.den.factors), dict(b.den.factors)
        g = math.gcd(a.den.c, b.den.c)
        n = mul_const(a.n, b.den.c // g)
        new_factors = dict(da)
        for fid, m in db.items():
            common = min(m, new_factors.get(fid, 0))
            if common:
                new_factors[fid] -= common
                if not new_factors[fid]:
                    del new_factors[fid]
            for _ in range(m - common):
                n = mul(n, self.factor(fid))
        fid = ("div", id(e.right))
        self.factors.setdefault(fid, divisor)
        new_factors[fid] = new_factors.get(fid, 0) + 1
        if sign == -1:
            n = neg(n)
        elif sign == 0:
            n = select([(compare("<", nb, lit(0)), neg(n))], n)
        den = Den(a.den.c // g, tuple(sorted(new_factors.items(), key=_fid_key)))
        return NumV(n, den, _or(err, zero))

    def _Extreme(self, e: P.Extreme):
        values = [self.num(a) for a in e.args]
        den, ns = self.common(values)
        return NumV(extreme(e.func, ns), den, _or(*(v.err for v in values)))

    def _Step(self, e: P.Step):
        x = self.num(e.operand)
        p, q = e.step.numerator, e.step.denominator
        # k = x / step = (n × q) / (D × p), then round / floor / ceil; the value is k × p / q.
        big_n = mul_const(x.n, q)
        m = mul_const(self.den_expr(x.den), p)
        if m.const is not None:
            g = math.gcd(q, m.const)
            big_n, m = mul_const(x.n, q // g), lit(m.const // g)
        if m.const == 1:
            k = big_n
        else:
            big_n, m = self.bind_int(big_n, "s"), self.bind_int(m, "m")
            limit = self.caps.quotient_limit
            if e.mode == "floor":
                k = floordiv(big_n, m, limit)
            elif e.mode == "ceil":
                k = neg(floordiv(neg(big_n), m, limit))
            else:  # half-up, away from zero: sign × floor((2|N| + M) / 2M)
                twice = add(mul_const(absolute(big_n), 2), m)
                k_abs = floordiv(twice, mul_const(m, 2), limit)
                k = k_abs if big_n.lo >= 0 else select([(compare("<", big_n, lit(0)), neg(k_abs))], k_abs)
        return NumV(mul_const(k, p), Den(q), x.err)

    # -- comparisons and logic
    def compare_pair(self, op: str, a, b) -> T.E:
        if isinstance(a, NumV) and isinstance(b, NumV):
            _, (na, nb) = self.common([a, b])
            return compare(_SQL_OP[op], na, nb)
        return T.Bin(_SQL_OP[op], a.expr, b.expr)

    def _Compare(self, e: P.Compare):
        values = [self.value(o) for o in e.operands]
        out = None
        for k, op in enumerate(e.ops):
            c = self.compare_pair(op, values[k], values[k + 1])
            out = c if out is None else T.Bin("AND", out, c)
        return PlainV(out, P.BOOL, _or(*(v.err for v in values)))

    def equal(self, a, b) -> T.E:
        if isinstance(a, NumV) != isinstance(b, NumV):
            return FALSE
        if isinstance(a, PlainV) and a.kind != b.kind:
            return FALSE
        return self.compare_pair("=", a, b)

    def _InList(self, e: P.InList):
        v = self.value(e.value)
        options = [self.value(o) for o in e.options]
        matched = None
        err = v.err if options else None
        for o in options:
            m = self.equal(v, o)
            if o.err is not None:
                err = _or(err, o.err if matched is None else T.Bin("AND", _not(matched), o.err))
            matched = m if matched is None else T.Bin("OR", matched, m)
        result = matched if matched is not None else FALSE
        if e.negated:
            result = _not(result)
        return PlainV(result, P.BOOL, err)

    def _And(self, e: P.And):
        a, b = self.value(e.left), self.value(e.right)
        return PlainV(T.Bin("AND", a.expr, b.expr), P.BOOL, _or(a.err, _and(a.expr, b.err)))

    def _Or(self, e: P.Or):
        a, b = self.value(e.left), self.value(e.right)
        return PlainV(T.Bin("OR", a.expr, b.expr), P.BOOL, _or(a.err, _and(_not(a.expr), b.err)))

    def _Not(self, e: P.Not):
        a = self.value(e.operand)
        return PlainV(_not(a.expr), P.BOOL, a.err)

    # -- choices
    def choose(self, cases: list, otherwise, kind: str):
        """The value of the first case whose condition holds (conditions already exact)."""
        values = [v for _, v in cases] + ([otherwise] if otherwise is not None else [])
        if kind == P.NUM:
            den, ns = self.common(values)
            if otherwise is None:
                return NumV(select([(c, n) for (c, _), n in zip(cases, ns)], lit(0)), den)
            return NumV(select([(c, n) for (c, _), n in zip(cases, ns[:-1])], ns[-1]), den)
        if not cases:
            return PlainV(otherwise.expr, kind)
        fallback = otherwise.expr if otherwise is not None else _GARBAGE[kind]()
        return PlainV(T.Case(tuple((c, v.expr) for c, v in cases), fallback), kind)

    def _If(self, e: P.If):
        c = self.value(e.cond)
        t, f = self.value(e.then), self.value(e.else_)
        out = self.choose([(c.expr, t)], f, e.kind)
        out.err = _or(c.err, _and(c.expr, t.err), _and(_not(c.expr), f.err))
        return out

    def _Table(self, e: P.Table):
        conds = [self.value(c) for c, _ in e.rows]
        values = [self.value(v) for _, v in e.rows]
        other = self.value(e.otherwise) if e.otherwise is not None else None
        if e.hit == "first":
            err = None
            reach = None  # None: every row gets here
            for c, v in zip(conds, values):
                err = _or(err, _here(reach, c.err), _here(reach, _and(c.expr, v.err)))
                reach = _not(c.expr) if reach is None else T.Bin("AND", reach, _not(c.expr))
            tail = other.err if other is not None else TRUE
            err = _or(err, _here(reach, tail))
            out = self.choose([(c.expr, v) for c, v in zip(conds, values)], other, e.kind)
            out.err = err
            return out
        hits = None
        for c in conds:
            one = T.Case(((c.expr, T.Int(1)),), T.Int(0))
            hits = one if hits is None else T.Bin("+", hits, one)
        hits = hits if hits is not None else T.Int(0)
        err = _or(*(c.err for c in conds))
        if e.hit == "unique":
            err = _or(err, T.Bin(">", hits, T.Int(1)), *(_and(c.expr, v.err) for c, v in zip(conds, values)))
            err = _or(err, _and(T.Bin("=", hits, T.Int(0)), other.err if other is not None else TRUE))
            out = self.choose([(c.expr, v) for c, v in zip(conds, values)], other, e.kind)
            out.err = err
            return out
        err = _or(err, *(_and(c.expr, v.err) for c, v in zip(conds, values)))
        nums = list(values) + ([other] if other is not None else [])
        if not nums:
            return NumV(lit(0), Den(1), err)
        den, ns = self.common(nums)
        total = lit(0)
        for c, n in zip(conds, ns):
            total = add(total, select([(c.expr, n)], lit(0)))
        if other is not None:
            total = select([(T.Bin("=", hits, T.Int(0)), ns[-1])], total)
            err = _or(err, _and(T.Bin("=", hits, T.Int(0)), other.err))
        return NumV(total, den, err)

    def _Lookup(self, e: P.Lookup):
        key = self.value(e.key)
        cases = []
        err = key.err
        matched = None
        for entry_key, value_expr in e.entries:
            v = self.value(value_expr)
            if isinstance(entry_key, Fraction) and isinstance(key, NumV):
                m = self.compare_pair("=", key, NumV(lit(entry_key.numerator), Den(entry_key.denominator)))
            elif isinstance(entry_key, str) and isinstance(key, PlainV) and key.kind == P.TEXT:
                m = T.Bin("=", key.expr, T.Str(entry_key))
            else:
                continue  # never equal (a text key against a number, a date …)
            cases.append((m, v))
            err = _or(err, _and(m, v.err))
            matched = m if matched is None else T.Bin("OR", matched, m)
        default = self.value(e.default) if e.default is not None else None
        none = _not(matched) if matched is not None else TRUE
        err = _or(err, _here(none, default.err if default is not None else TRUE))
        if not cases and default is None:
            out = NumV(lit(0), Den(1)) if e.kind == P.NUM else PlainV(_GARBAGE[e.kind](), e.kind)
        else:
            out = self.choose(cases, default, e.kind)
        out.err = err
        return out

    # ------------------------------------------------------------------ other rows' values
    def plain(self, e: P.PExpr) -> T.Col:
        """A column to join or group on: text, yes/no and dates as they are, numbers by numerator."""
        v = self.value(e)
        if isinstance(v, NumV):
            if not v.den.const:
                raise NotSQL(tr("a group or key whose denominator differs by row is not done in SQL"))
            return self.bind(v.n.as_(v.n.wide), "k")
        return self.bind(v.expr, "k")

    def _ValueOf(self, e: P.ValueOf):
        key = self.value(e.key)
        target = self.value(e.column)
        by = self.value(e.by)
        if isinstance(key, NumV) and isinstance(by, NumV):
            den = den_lcm(key.den, by.den)
            if not den.const:
                raise NotSQL(tr("a group or key whose denominator differs by row is not done in SQL"))
            left_n, right_n = self.rescale(key, den), self.rescale(by, den)
            w = wide_for(max(left_n.bound, right_n.bound))
            left, right = left_n.as_(w), right_n.as_(w)
        elif isinstance(key, PlainV) and isinstance(by, PlainV) and key.kind == by.kind:
            left, right = key.expr, by.expr
        else:  # never equal: every row that gets here fails
            garbage = NumV(lit(0), target.den) if isinstance(target, NumV) else PlainV(_GARBAGE[target.kind](), target.kind)
            garbage.err = _or(key.err, TRUE)
            return garbage
        left_col = self.bind(left, "k")
        right_col = self.bind(right, "b")
        numeric = isinstance(target, NumV)
        rational = numeric and not target.den.const
        on = [left_col]
        group = [right_col]
        if e.period is not None:
            p = self.plain(e.period)
            on.append(p)
            group.append(p)
        value_col = self.bind(target.n.as_(target.n.wide) if numeric else target.expr, "v")
        if rational:
            d = self.den_expr(target.den)
            d_col = self.bind(d.as_(d.wide), "dv")
            okey = self.order_keys(NumV(IntE(value_col, target.n.lo, target.n.hi), target.den))[0]
        if e.group:
            if rational:
                okey = self.bind_int(okey, "o")
                pair = T.ArgMin((("n", value_col), ("d", d_col)), okey.expr)
                aggs = [("n", T.Field(pair, "n")), ("d", T.Field(pair, "d")),
                        ("ok", T.Bin("=", T.Agg("min", okey.expr), T.Agg("max", okey.expr)))]
            else:
                aggs = [("n", T.Agg("min", value_col)), ("ok", T.Bin("=", T.Agg("min", value_col), T.Agg("max", value_col)))]
        else:
            aggs = [("n", T.Agg("min", value_col)), ("ok", TRUE)]
            if rational:
                aggs.insert(1, ("d", T.Agg("min", d_col)))
        if target.err is not None:  # the other row's value failed: reading it fails
            aggs.append(("e", T.Agg("any", self.bind(T.Fn("coalesce", (target.err, TRUE)), "ev"))))
        # one row per key (per period): the key is unique there, so min() is that row's value
        names = {name: self.fresh("o") for name, _ in aggs}
        group_cols = [self.fresh("g") for _ in group]
        right_sel = T.Select([(g, c) for g, c in zip(group, group_cols)] + [(x, names[n]) for n, x in aggs],
                             CURRENT, group_by=list(group))
        self.join(right_sel, list(zip(on, group_cols)), [(names[n], names[n]) for n, _ in aggs])
        found = T.Fn("coalesce", (T.Col(names["ok"]), FALSE))
        other_err = T.Fn("coalesce", (T.Col(names["e"]), FALSE)) if "e" in names else None
        err = _or(key.err, _not(found), other_err)
        if not numeric:
            return PlainV(T.Case(((found, T.Col(names["n"])),), _GARBAGE[target.kind]()), target.kind, err)
        w = target.n.wide
        n = IntE(T.Fn("coalesce", (T.Col(names["n"]), T.Int(0, w))), min(target.n.lo, 0), max(target.n.hi, 0))
        if not rational:
            return NumV(n, target.den, err)
        fid = ("other", id(e))
        self.factors[fid] = IntE(T.Fn("coalesce", (T.Col(names["d"]), T.Int(1, d.wide))), 1, d.hi)
        return NumV(n, Den(1, ((fid, 1),)), err)

    def period_position(self, period: P.PExpr) -> T.Col:
        """Each row's period as its place among all the periods of the data (0, 1, 2 … in order):
        the distinct periods (few) numbered in order, joined back."""
        name = self._positions.get(id(period))
        if name is None and self.meta[self.graph.period].kind == P.TEXT:
            # labels sort by the time they name, not as text: their order comes from the data (few labels)
            if self.period_order is None:
                raise NotSQL(tr("periods named by text are put in order from the data's labels: give the data"))
            p = self.plain(period)
            cases = tuple((T.Bin("=", p, T.Str(label)), T.Int(n)) for n, label in enumerate(self.period_order))
            name = self.bind(T.Case(cases, T.Int(-1)), "pos").name
            self._positions[id(period)] = name
        if name is None:
            p = self.plain(period)
            pos, key = self.fresh("pos"), self.fresh("pk")
            distinct = T.Select([(p, key)], CURRENT, group_by=[p])
            numbered = T.Select([(T.Col(key), key), (T.Bin("-", T.Win("row_number", None, (), ((T.Col(key), False),)),
                                                            T.Int(1)), pos)], distinct)
            self.join(numbered, [(p, key)], [(pos, pos)])
            name = pos
            self._positions[id(period)] = name
        return T.Col(name)

    def _Previous(self, e: P.Previous):
        target = self.value(e.column)
        default = self.value(e.default) if e.default is not None else None
        key = self.plain(e.key)
        pos = self.period_position(e.period)
        numeric = isinstance(target, NumV)
        rational = numeric and not target.den.const
        value_col = self.bind(target.n.as_(target.n.wide) if numeric else target.expr, "v")
        aggs = [("n", value_col)]
        if rational:
            d = self.den_expr(target.den)
            aggs.append(("d", self.bind(d.as_(d.wide), "dv")))
        if target.err is not None:  # the earlier period's value failed: reading it fails
            aggs.append(("e", self.bind(T.Fn("coalesce", (target.err, TRUE)), "ev")))
        earlier = self.bind(T.Bin("-", pos, T.Int(1)), "pp")
        names = {n: self.fresh("o") for n, _ in aggs}
        kb, pb = self.fresh("g"), self.fresh("g")
        right = T.Select([(key, kb), (pos, pb)] + [(x, names[n]) for n, x in aggs] + [(TRUE, names.setdefault("ok", self.fresh("o")))],
                         CURRENT)
        self.join(right, [(key, kb), (earlier, pb)], [(c, c) for c in names.values()])
        found = T.Fn("coalesce", (T.Col(names["ok"]), FALSE))
        if numeric:
            w = target.n.wide
            earlier_n = IntE(T.Fn("coalesce", (T.Col(names["n"]), T.Int(0, w))), min(target.n.lo, 0), max(target.n.hi, 0))
            if rational:
                fid = ("previous", id(e))
                self.factors[fid] = IntE(T.Fn("coalesce", (T.Col(names["d"]), T.Int(1, d.wide))), 1, d.hi)
                value = NumV(earlier_n, Den(1, ((fid, 1),)))
            else:
                value = NumV(earlier_n, target.den)
        else:
            value = PlainV(T.Fn("coalesce", (T.Col(names["n"]), _GARBAGE[target.kind]())), target.kind)
        out = self.choose([(found, value)], default, e.kind)
        earlier_err = T.Fn("coalesce", (T.Col(names["e"]), FALSE)) if "e" in names else None
        out.err = _or(_and(found, earlier_err), _here(_not(found), default.err if default is not None else TRUE))
        return out

    def _Consecutive(self, e: P.Consecutive):
        cond = self.value(e.cond)
        key = self.plain(e.key)
        pos = self.period_position(e.period)
        holds = self.bind(cond.expr, "h")
        # runs of consecutive periods where the condition holds: pos − (its number among the
        # employee's rows where it holds) is the same along a run, and changes at a gap or a miss
        run = self.bind(T.Bin("-", pos, T.Win("row_number", None, (key, holds), ((pos, False),))), "run")
        streak = T.Case(((holds, T.Win("row_number", None, (key, holds, run), ((pos, False),))),), T.Int(0))
        n = IntE(self.bind(T.Cast(streak, "i64"), "streak"), 0, self.size)
        return NumV(n, Den(1), self.any_row(cond.err))

    def _DateLabel(self, e: P.DateLabel):
        d = self.value(e.operand)
        x = d.expr

        def pad(v: T.E) -> T.E:
            return T.Fn("lpad", (T.Cast(v, "text"), T.Int(2), T.Str("0")))

        if e.part == "week":
            label = T.Fn("concat", (T.Cast(T.Fn("iso_year", (x,)), "text"), T.Str("-W"), pad(T.Fn("iso_week", (x,)))))
        elif e.part == "month":
            label = T.Fn("concat", (T.Cast(T.Fn("year", (x,)), "text"), T.Str("-"), pad(T.Fn("month", (x,)))))
        elif e.part == "quarter":
            label = T.Fn("concat", (T.Cast(T.Fn("year", (x,)), "text"), T.Str("Q"), T.Cast(T.Fn("quarter", (x,)), "text")))
        else:
            label = T.Cast(T.Fn("year", (x,)), "text")
        return PlainV(label, P.TEXT, d.err)

    # ------------------------------------------------------------------ population terms
    def group(self, term) -> tuple[list[T.Col], T.E | None, bool]:
        """The term's group columns (period first), an error if any row's key fails, and
        whether the term has a `within` (else: everyone, or everyone of a period)."""
        keys: list[T.Col] = []
        err = None
        self._group_meta = None
        self._period_meta = None
        period = getattr(term, "period", None)
        if period is not None:
            pv = self.value(period)
            keys.append(self.plain(period))
            self._period_meta = _meta_of(pv, keys[-1].name)
        within = term.within
        if within is not None:
            items = list(within.items) if isinstance(within, P.Tuple) else [within]
            metas = []
            for item in items:
                g = self.value(item)
                keys.append(self.plain(item))
                metas.append(_meta_of(g, keys[-1].name))
                err = _or(err, g.err)
            self._group_meta = metas if isinstance(within, P.Tuple) else metas[0]
        return keys, self.any_row(err), within is not None

    def record(self, e, group_cols: list[T.Col], **parts) -> None:
        has_period = getattr(e, "period", None) is not None
        keys = group_cols
        inner = keys[1:] if has_period else keys
        if e.within is None:
            group = None
        else:
            group = [k.name for k in inner] if isinstance(e.within, P.Tuple) else inner[0].name
        self.parts[id(e)] = dict(group=group, group_meta=self._group_meta,
                                 period=(keys[0].name if has_period else None), period_meta=self._period_meta, **parts)

    def stored_num(self, v: NumV, prefix: str) -> NumV:
        """A number whose numerator and denominator factors are columns (to aggregate, and to explain)."""
        self.store_factors(v.den)
        return NumV(self.bind_int(v.n, prefix), v.den, v.err)

    def num_part(self, v: NumV) -> dict:
        return {"n": v.n.expr.name if isinstance(v.n.expr, T.Col) else None, "lo": v.n.lo, "hi": v.n.hi,
                "den": v.den, "const": v.n.const}

    def group_err(self, keys: list[T.Col], err: T.E | None) -> T.E | None:
        """True on every row of a group when err holds on any of its members."""
        if err is None:
            return None
        flag = self.aggregate(keys or None, [("any", T.Agg("any", err))])["any"]
        return T.Fn("coalesce", (flag, TRUE))

    def _Aggregate(self, e: P.Aggregate):
        keys, within_err, _ = self.group(e)
        where = self.value(e.where) if e.where is not None else None
        chosen = self.bind(where.expr, "w") if where is not None else None
        operand = self.value(e.operand) if e.operand is not None else None
        if isinstance(operand, NumV):
            operand = self.stored_num(operand, "x")
        parts = {"chosen": chosen.name if chosen is not None else None}
        if isinstance(operand, NumV):
            parts["operand"] = self.num_part(operand)
        elif operand is not None:
            parts["operand"] = {"plain": self.bind(operand.expr, "x").name}
        self.record(e, keys, **parts)
        n_rows = self.size
        if e.func == "count":
            sel = chosen
            if operand is not None:
                sel = operand.expr if sel is None else T.Bin("AND", sel, operand.expr)
            counted = T.Agg("sum", T.Case(((sel, T.Int(1)),), T.Int(0))) if sel is not None else T.Agg("count")
            group_err = _or(where.err if where is not None else None,
                            _maybe(chosen, operand.err if operand is not None else None))
            aggs = [("count", T.Cast(counted, "i64"))]
            if group_err is not None:
                aggs.append(("err", T.Agg("any", group_err)))
            got = self.aggregate(keys or None, aggs)
            value = NumV(IntE(T.Fn("coalesce", (got["count"], T.Int(0))), 0, n_rows), Den(1))
            value.err = _or(T.Fn("coalesce", (got["err"], TRUE)) if "err" in got else None, within_err)
            return value
        op = operand
        group_err = _or(where.err if where is not None else None, _maybe(chosen, op.err))
        count_expr = T.Agg("sum", T.Case(((chosen, T.Int(1)),), T.Int(0))) if chosen is not None else T.Agg("count")
        aggs = [("count", T.Cast(count_expr, "i64"))]
        if group_err is not None:
            aggs.append(("err", T.Agg("any", group_err)))
        if e.func in ("sum", "avg"):
            if not op.den.const:
                raise NotSQL(tr("{func} of values whose denominators differ by row ({operand}) is not done in SQL",
                                func=e.func, operand=P.show(e.operand)))
            total_lo, total_hi = min(0, op.n.lo * n_rows), max(0, op.n.hi * n_rows)
            w = wide_for(max(abs(total_lo), abs(total_hi), op.n.bound))
            masked = op.n.as_(w) if chosen is None else T.Case(((chosen, op.n.as_(w)),), T.Int(0, w))
            aggs.append(("sum", T.Cast(T.Agg("sum", masked), "i128" if w else "i64")))
        elif op.den.const:
            masked = op.n.expr if chosen is None else T.Case(((chosen, op.n.expr),), T.Null())
            aggs.append(("ext", T.Agg(e.func, masked)))
        else:
            okey = self.bind_int(self.order_keys(op)[0], "o")
            d = self.den_expr(op.den)
            d_col = self.bind(d.as_(d.wide), "dv")
            masked_key = okey.expr if chosen is None else T.Case(((chosen, okey.expr),), T.Null())
            pair = T.ArgMin((("n", op.n.expr), ("d", d_col)), masked_key, max=e.func == "max")
            aggs += [("n", T.Field(pair, "n")), ("d", T.Field(pair, "d"))]
        got = self.aggregate(keys or None, aggs)
        count = T.Fn("coalesce", (got["count"], T.Int(0)))
        nobody = T.Bin("=", count, T.Int(0)) if e.func in ("avg", "min", "max") else None
        err = _or(T.Fn("coalesce", (got["err"], TRUE)) if "err" in got else None, nobody, within_err)
        if e.func in ("sum", "avg"):
            value = NumV(IntE(T.Fn("coalesce", (got["sum"], T.Int(0, w))), total_lo, total_hi), op.den)
            if e.func == "avg":
                fid = ("count", id(e))
                self.factors[fid] = IntE(T.Case(((T.Bin("=", count, T.Int(0)), T.Int(1)),), count), 1, n_rows)
                value = NumV(value.n, den_mul(value.den, Den(1, ((fid, 1),))))
            value.err = err
            return value
        if op.den.const:
            w = op.n.wide
            filled = T.Fn("coalesce", (got["ext"], T.Int(0, w)))
            return NumV(IntE(filled, min(op.n.lo, 0), max(op.n.hi, 0)), op.den, err)
        fid = ("sel", id(e))
        self.factors[fid] = IntE(T.Fn("coalesce", (got["d"], T.Int(1, d.wide))), 1, max(1, d.hi))
        n = IntE(T.Fn("coalesce", (got["n"], T.Int(0, op.n.wide))), min(op.n.lo, 0), max(op.n.hi, 0))
        return NumV(n, Den(1, ((fid, 1),)), err)

    def order_keys(self, v: NumV) -> list[IntE]:
        """Integer keys (compared left to right) in the exact order of v's values."""
        if v.den.const:
            return [v.n]
        d = self.den_expr(v.den)
        # Two distinct values a/(c·F1) and b/(c·F2) differ by at least 1/(c·F1·F2) ≥ 1/(c·F_max²),
        # so with S ≥ c·F_max² the integers floor(x·S) are in the order of the values, and equal
        # only for equal values.
        f_max = d.hi // v.den.c
        s = 1 << (v.den.c * f_max * f_max).bit_length()
        limit = self.caps.quotient_limit
        try:
            return [floordiv(mul_const(v.n, s), d, limit)]
        except Overflow:
            pass
        # Too many digits for one key: the digits of x = n/d, a few at a time. k0 = floor(x × 10^g0),
        # then each next key the next g digits of the remainder (r < d, so r × 10^g fits); the keys
        # compared in turn are floor(x × 10^G) compared, and 10^G ≥ S separates distinct values.
        d = self.bind_int(d, "dv")
        needed = len(str(s))
        g0 = _digits_room(v.n.bound, d.lo, limit)
        keys: list[IntE] = []
        scaled = mul_const(v.n, 10**g0) if g0 else v.n
        got = g0
        known = None  # after the first key, each is below 10^g: the remainder is below d
        try:
            while True:
                k = self.bind_int(floordiv(scaled, d, limit, known), "key")
                keys.append(k)
                if got >= needed:
                    return keys
                # scaled − k·d is in [0, d); k·d itself is within |scaled| + d, which the ranges of k and
                # d alone would not show
                if scaled.bound + d.hi > LIMIT:
                    break
                rest = IntE(T.Bin("-", scaled.as_(True), T.Bin("*", k.as_(True), d.as_(True))), 0, d.hi - 1)
                g = 0
                while d.hi * 10 ** (g + 1) <= LIMIT and 10 ** (g + 1) <= limit:
                    g += 1
                if g == 0 or len(keys) >= 12:
                    break
                scaled = mul_const(self.bind_int(rest, "rest"), 10**g)
                known = (0, 10**g - 1)
                got += g
        except Overflow:
            pass
        raise TooWide(tr("ordering these values exactly needs more than 38 digits"))

    def keys_of(self, e: P.PExpr, v: NumV) -> list[IntE]:
        found = self._keys.get(id(e))
        if found is None:
            found = []
            for k in self.order_keys(v):
                k = self.bind_int(k, "key")
                if not isinstance(k.expr, T.Col):  # a constant (x * 0): a column still, explanations read it
                    k = IntE(self.bind(k.expr, "key"), k.lo, k.hi)
                found.append(k)
            self._keys[id(e)] = found
        return found

    def ranked(self, keys: list[T.Col], has_within: bool, order: list[tuple[IntE | T.E, bool]],
               count_rows: bool = False) -> dict[str, T.E]:
        """For every row, within its group: "better", how many rows come strictly before it in the
        order; "distinct", how many distinct order values do; and "size" (count_rows), the group's size.

        With a `within` (or a small population), windows partitioned by the group. Otherwise (everyone,
        or everyone of a period) never one window over the whole population: the first order key is cut into
        buckets (a monotone function of it), rows are counted per bucket and per distinct value,
        a running count over the few buckets gives what comes before each bucket, and a window
        within each bucket the rest.
        """
        exprs = [(k.expr if isinstance(k, IntE) else k, desc) for k, desc in order]
        if has_within or self.caps.buckets_from is None or self.size < self.caps.buckets_from:
            part = tuple(keys)
            better = T.Bin("-", T.Win("rank", None, part, tuple(exprs)), T.Int(1))
            distinct = T.Bin("-", T.Win("dense_rank", None, part, tuple(exprs)), T.Int(1))
            out = {"better": self.bind(T.Cast(better, "i64"), "r"), "distinct": self.bind(T.Cast(distinct, "i64"), "r")}
            if count_rows:
                out["size"] = self.bind(T.Cast(T.Win("count", None, part), "i64"), "n")
            return out
        first = order[0][0]
        assert isinstance(first, IntE)
        stats = self.aggregate(keys or None, [("lo", T.Agg("min", first.expr)), ("hi", T.Agg("max", first.expr)),
                                              ("n", T.Cast(T.Agg("count"), "i64"))])
        lo_col = IntE(stats["lo"], first.lo, first.hi)
        span = sub(IntE(first.expr, first.lo, first.hi), lo_col)
        width = add(sub(IntE(stats["hi"], first.lo, first.hi), lo_col), lit(1))
        scaled = T.Bin("*", T.Cast(span.expr, "f64"),
                       T.Bin("/", T.Dbl(float(BUCKETS)), T.Cast(width.expr, "f64")))
        bucket = self.bind(T.Fn("least", (T.Int(BUCKETS - 1), T.Fn("greatest", (T.Int(0), T.Fn("floor_f64", (scaled,)))))), "bk")
        # the buckets come in the order of the first key: later buckets are better when it is descending
        bucket_desc = order[0][1]
        part_cols = [self.fresh("g") for _ in keys]
        order_cols = [self.fresh("k") for _ in exprs]
        b_col, c_col = self.fresh("b"), self.fresh("c")
        per_value = T.Select([(k, n) for k, n in zip(keys, part_cols)] + [(bucket, b_col)]
                             + [(x, n) for (x, _), n in zip(exprs, order_cols)] + [(T.Cast(T.Agg("count"), "i64"), c_col)],
                             CURRENT, group_by=list(keys) + [bucket] + [x for x, _ in exprs])
        pk = tuple(T.Col(n) for n in part_cols)
        rows_b, vals_b = self.fresh("rb"), self.fresh("vb")
        per_bucket = T.Select([(T.Col(n), n) for n in part_cols] + [(T.Col(b_col), b_col),
                              (T.Cast(T.Agg("sum", T.Col(c_col)), "i64"), rows_b), (T.Cast(T.Agg("count"), "i64"), vals_b)],
                              per_value, group_by=list(pk) + [T.Col(b_col)])
        rows_before, vals_before = self.fresh("ra"), self.fresh("va")
        border = ((T.Col(b_col), bucket_desc),)
        before = T.Select([(T.Col(n), n) for n in part_cols] + [(T.Col(b_col), b_col),
                          (T.Win("sum", T.Col(rows_b), pk, border, "before"), rows_before),
                          (T.Win("sum", T.Col(vals_b), pk, border, "before"), vals_before)], per_bucket)
        local_rows, local_vals = self.fresh("rl"), self.fresh("vl")
        vorder = tuple((T.Col(n), d) for n, (_, d) in zip(order_cols, exprs))
        local = T.Select([(T.Col(n), n) for n in part_cols + [b_col] + order_cols]
                         + [(T.Win("sum", T.Col(c_col), pk + (T.Col(b_col),), vorder, "before"), local_rows),
                            (T.Bin("-", T.Win("row_number", None, pk + (T.Col(b_col),), vorder), T.Int(1)), local_vals)],
                         per_value)
        better_name, distinct_name = self.fresh("r"), self.fresh("r")
        joined = T.Joined(local, before, [(n, n) for n in part_cols + [b_col]])
        zero = T.Int(0)
        combined = T.Select([(T.Col(n, "l"), n) for n in part_cols + order_cols]
                            + [(T.Cast(T.Bin("+", T.Fn("coalesce", (T.Col(rows_before, "r"), zero)),
                                             T.Fn("coalesce", (T.Col(local_rows, "l"), zero))), "i64"), better_name),
                               (T.Cast(T.Bin("+", T.Fn("coalesce", (T.Col(vals_before, "r"), zero)),
                                             T.Col(local_vals, "l")), "i64"), distinct_name)], joined)
        self.join(combined, list(zip(keys, part_cols)) + [(x, n) for (x, _), n in zip(exprs, order_cols)],
                  [(better_name, better_name), (distinct_name, distinct_name)])
        out = {"better": T.Col(better_name), "distinct": T.Col(distinct_name)}
        if count_rows:
            out["size"] = stats["n"]
        return out

    def _Rank(self, e: P.Rank):
        keys, within_err, has_within = self.group(e)
        op = self.stored_num(self.num(e.operand), "x")
        okeys = self.keys_of(e.operand, op)
        self.record(e, keys, operand=self.num_part(op), keys=[k.expr.name for k in okeys])
        got = self.ranked(keys, has_within, [(k, not e.ascending) for k in okeys])
        rank = IntE(T.Bin("+", got["distinct"], T.Int(1)), 1, self.size)
        err = _or(self.group_err(keys, op.err), within_err)
        return NumV(rank, Den(1), err)

    def _Top(self, e: P.Top):
        keys, within_err, has_within = self.group(e)
        op = self.stored_num(self.num(e.operand), "x")
        okeys = self.keys_of(e.operand, op)
        self.record(e, keys, operand=self.num_part(op), keys=[k.expr.name for k in okeys])
        # top: fewer than `places` members strictly higher; bottom: strictly lower
        got = self.ranked(keys, has_within, [(k, not e.bottom) for k in okeys], count_rows=True)
        self.parts[id(e)]["better"] = got["better"].name  # what an explanation of one row says
        size = IntE(got["size"], 0, self.size)
        if e.share is not None:
            p, q = e.share.numerator, e.share.denominator
            places = floordiv(add(mul_const(size, p), lit(q - 1)), lit(q))  # ceil(share × size)
        else:
            places = lit(e.count)
        better = IntE(got["better"], 0, self.size)
        err = _or(self.group_err(keys, op.err), within_err)
        return PlainV(compare("<", better, places), P.BOOL, err)

    def _Split(self, e: P.Split):
        keys, within_err, has_within = self.group(e)
        pool = self.stored_num(self.num(e.pool), "pool")
        weight = self.stored_num(self.num(e.weight), "wt")
        key = self.value(e.key)
        self.record(e, keys, pool=self.num_part(pool), weight=self.num_part(weight))
        if not pool.den.const or not weight.den.const:
            raise NotSQL(tr("a split by weights or of a pool whose denominators differ by row is not done in SQL"))
        n_rows = self.size
        c = pool.den.c
        per_one = SPLIT_UNIT.denominator  # the pool is split to the cent, as values/split.py does
        scaled = mul_const(absolute(pool.n), per_one)  # |pool| / 0.01 = |n| × 100 / c
        units = self.bind_int(floordiv(scaled, lit(c)), "u")
        whole_cents = compare("=", mod(scaled, lit(c)), lit(0)) if per_one % c != 0 else TRUE
        # the checks of values.split.largest_remainder, unless the plan or the ranges prove them:
        # one pool per group, no negative weight, a pool of whole cents
        w_pos = select([(compare(">", weight.n, lit(0)), weight.n)], lit(0))
        w_pos = self.bind_int(IntE(w_pos.expr, 0, max(0, weight.n.hi)), "wp")
        w_total_hi = w_pos.hi * n_rows
        ww = wide_for(max(w_total_hi, w_pos.bound))
        aggs = [("total", T.Cast(T.Agg("sum", w_pos.as_(ww)), "i128" if ww else "i64"))]
        if not self.constant_within(e.pool, e.within, e.period):
            aggs.append(("differs", T.Bin("<>", T.Agg("min", pool.n.expr), T.Agg("max", pool.n.expr))))
        if weight.n.lo < 0:
            aggs.append(("negative", T.Agg("any", compare("<", weight.n, lit(0)))))
        group_err = _or(pool.err, weight.err)
        if group_err is not None:
            aggs.append(("err", T.Agg("any", group_err)))
        got = self.aggregate(keys or None, aggs)
        # the weights' total (their positive parts: a negative weight makes the group fail anyway)
        total = IntE(self.bind(T.Fn("coalesce", (got["total"], T.Int(0, ww))), "wtot"), 0, w_total_hi)
        nonzero = compare("<>", total, lit(0))
        fractional = None if per_one % c == 0 else T.Bin("AND", nonzero, _not(whole_cents))
        err = _or(T.Fn("coalesce", (got["err"], TRUE)) if "err" in got else None, within_err,
                  T.Fn("coalesce", (got["differs"], TRUE)) if "differs" in got else None,
                  T.Fn("coalesce", (got["negative"], TRUE)) if "negative" in got else None, fractional)
        # the exact share of member k: units × w_k / W = floor_k + rem_k / W, and floor_k ≤ units
        safe_total = IntE(T.Case(((compare(">", total, lit(0)), total.as_(ww)),), T.Int(1, ww)), 1, max(1, w_total_hi))
        safe_total = self.bind_int(safe_total, "wt")
        prod = self.bind_int(mul(units, w_pos), "pr")
        floor_k = self.bind_int(floordiv(prod, safe_total, self.caps.quotient_limit, known=(0, max(units.hi, 0))), "fl")
        rem_k = self.bind_int(mod(prod, safe_total), "rm")
        fw = wide_for(max(units.hi, 0) * 2)
        floors = self.aggregate(keys or None, [("sum", T.Cast(T.Agg("sum", floor_k.as_(fw)), "i128" if fw else "i64"))])
        left = sub(units, IntE(T.Fn("coalesce", (floors["sum"], T.Int(0, fw))), 0, max(units.hi, 0)))
        key_expr = key.n.expr if isinstance(key, NumV) else key.expr
        key_col = self.bind(key_expr, "key")
        # largest remainder first, ties by key (then by row, as Python's stable sort)
        got = self.ranked(keys, has_within, [(rem_k, True), (key_col, False), (T.Col("_row"), False)])
        position = IntE(T.Bin("+", got["better"], T.Int(1)), 1, n_rows)
        extra = select([(compare("<=", position, left), lit(1))], lit(0))
        share = add(floor_k, extra)
        share = select([(nonzero, share)], lit(0))
        hi = max(floor_k.hi + 1, 0)
        signed = select([(compare("<", pool.n, lit(0)), neg(share))], share)
        return NumV(IntE(signed.expr, -hi, hi), Den(per_one), err)

    def constant_within(self, e: P.PExpr, within, period=None) -> bool:
        """Whether e has one value for all the rows of each group (within, period), proved from the plan."""
        key = (id(e), id(within), id(period))
        found = self._constant.get(key)
        if found is None:
            if isinstance(e, P.Lit) or e is within or (period is not None and e is period):
                found = True
            elif isinstance(e, P.Col):
                node_expr = self._node_expr.get(e.name)
                found = node_expr is not None and self.constant_within(node_expr, within, period)
            elif isinstance(e, P.Aggregate):
                found = (e.within is None or e.within is within) and (e.period is None or e.period is period)
            elif isinstance(e, P.ACROSS_ROWS):
                found = False
            else:
                found = all(self.constant_within(c, within, period) for c in e.children())
            self._constant[key] = found
        return found


_SQL_OP = {">=": ">=", "<=": "<=", ">": ">", "<": "<", "=": "=", "!=": "<>"}


def _here(reach, err):
    if err is None:
        return None
    return err if reach is None else T.Bin("AND", reach, err)


def _maybe(cond, err):
    if err is None:
        return None
    return err if cond is None else T.Bin("AND", cond, err)


def _meta_of(v, column: str) -> ColMeta:
    if isinstance(v, NumV):
        return ColMeta(column, P.NUM, v.den, v.n.lo, v.n.hi)
    return ColMeta(column, v.kind)


def _part_metas(terms: dict) -> list:
    """The denominators the parts of stored terms are over (as ColMeta-like records)."""
    out = []
    for term in terms.values():
        for name in ("operand", "pool", "weight"):
            value = term.parts.get(name)
            if isinstance(value, dict) and value.get("den") is not None:
                out.append(ColMeta("", P.NUM, value["den"]))
        for name in ("group_meta", "period_meta"):
            value = term.parts.get(name)
            for m in (value if isinstance(value, list) else [value]):
                if isinstance(m, ColMeta):
                    out.append(m)
    return out


def _part_columns(parts: dict) -> list[str]:
    out = []
    for name in ("group", "period", "chosen", "better"):
        value = parts.get(name)
        if isinstance(value, list):
            out.extend(value)
        elif isinstance(value, str):
            out.append(value)
    for name in ("operand", "pool", "weight"):
        value = parts.get(name)
        if isinstance(value, dict):
            for k in ("n", "plain"):
                if isinstance(value.get(k), str):
                    out.append(value[k])
    out.extend(parts.get("keys") or [])
    return out


def compile_sql(plan: P.Plan, graph, inputs: dict[str, InputColumn], size: int, caps: Caps | None = None,
                period_order: list | None = None) -> Program:
    """The SQL program of a plan over inputs of these ranges (raises Declined / PlanError when it cannot).

    period_order: with a period column of text or one-of values, its labels in time order (2024年9月 before
    2024年10月; a one-of in its declared order), as the exact evaluator orders them (population.period_key)."""
    if plan.nodes is None:
        raise NotSQL(tr("an empty plan"))
    compiler = Compiler(plan, graph, inputs, size, caps)
    compiler.period_order = period_order
    return compiler.compile()


def _digits_room(bound: int, divisor_lo: int, quotient_limit: int) -> int:
    """The most decimal digits g such that bound × 10^g stays within 38 digits and its quotient by
    a divisor of at least divisor_lo within what the engine divides exactly."""
    g = 0
    while bound * 10 ** (g + 1) <= LIMIT and bound * 10 ** (g + 1) // max(divisor_lo, 1) <= quotient_limit:
        g += 1
    return g
