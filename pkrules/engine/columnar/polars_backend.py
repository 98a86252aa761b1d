"""Executing a plan (pkrules/plan.py) with polars, exactly.

Numbers are integer numerators over denominators (numeric.py); text, yes/no and
dates are plain polars columns. Every plan expression becomes a polars
expression plus, where the row could fail, a boolean "error" expression that is
true exactly when the exact evaluator would raise a row error for that row (it
follows the evaluator's order of evaluation: an `if` only evaluates its chosen
branch, and so on). Any row error anywhere makes the fast path decline
(Declined): the exact evaluator then reports it in its own words.

Population terms are window expressions over the group (`within`): sums and
counts are exact integer sums; ranks, top N% and min/max order the exact
values by an exact integer key (for values with a row-dependent denominator D,
floor(x × S) with S ≥ D_max² separates any two distinct values); pools are split
by integer division with remainders, largest remainder first, ties by key.

A definition whose numbers could exceed 128 bits, or a construct this backend
does not do in columns (a split by weights with row-dependent denominators; a
group key with one), is evaluated for that definition only by the exact
evaluator's own closures, and its values brought back into columns.
"""

from __future__ import annotations

import math
from fractions import Fraction

import polars as pl

from pkrules.engine.columnar.results import ColumnarResults
from pkrules.engine.results import Declined, RowError, Upstream
from pkrules.values.split import SPLIT_UNIT

from pkrules.engine import plan as P
from pkrules.engine.columnar.values import ColMeta, Factor, NumV, PlainV, TermInfo
from pkrules.engine.columnar.numeric import Den, IntE, Overflow, absolute, add, den_lcm, den_mul, dtype_for, extreme, floordiv, lit, make, mod, mul, mul_const, neg, select, sub

TRUE = pl.lit(True)


_STORED = P.ACROSS_ROWS


class NotColumnar(Exception):
    """This term is not done in columns here; evaluate its definition exactly instead."""


def _or(*errs):
    out = None
    for e in errs:
        if e is None:
            continue
        out = e if out is None else (out | e)
    return out


def _and(cond: pl.Expr, err):
    return None if err is None else (cond & err)


class Evaluator:
    def __init__(self, plan: P.Plan, graph, table):
        self.plan = plan
        self.graph = graph
        self.size = table.size
        self.lf: pl.LazyFrame = table.frame.lazy()
        self.meta: dict[str, ColMeta] = dict(table.meta)
        self.factors: dict[object, Factor] = {}
        self.cache: dict[int, object] = {}
        self.errors: list[str] = []  # error columns
        self.err_of: dict[str, str] = {}  # definition → its error column (true where it fails, read or not)
        self.counter = 0
        self._group_meta = None
        self._metas: dict[int, tuple] = {}  # id(term) → (its group's meta, its period's meta)
        self._scalar: dict[int, bool] = {}
        self._keys: dict[int, list] = {}
        self._positions: dict[int, str] = {}
        self._constant: dict[tuple, bool] = {}
        self._node_expr = {n.name: n.expr for n in plan.nodes}
        self.exact_nodes: list[str] = []  # definitions done by the exact evaluator (reported)
        self.terms: dict[int, TermInfo] = {}  # id(plan term) → its stored column (for explanations)
        self.parts: dict[int, dict] = {}  # id(plan term) → what it was computed from

    # ------------------------------------------------------------------ running the plan
    def run(self):
        pending: list[pl.Expr] = []
        pending_names: set[str] = set()
        for node in self.plan.nodes:
            if any(dep in pending_names for dep in self.graph.nodes[node.name].deps) or self._needs_collect(node):
                self._flush(pending)
                pending, pending_names = [], set()
            try:
                value = self.value(node.expr)
                exprs = self._materialize(node.name, value)
            except (Overflow, NotColumnar):
                self._flush(pending)
                pending, pending_names = [], set()
                exprs = self._exact_node(node)
            pending.extend(exprs)
            pending_names.add(node.name)
        self._flush(pending)
        df = self.lf.collect()
        # As the exact evaluator: an error matters in an output (its output line, or a definition nothing
        # uses), and so in whatever an output read (an error column includes the errors of what it read).
        if not self.err_of:
            return df
        roots = set(self.graph.policy_outputs()) | set(self.graph.sinks())
        # Which error columns hold an error at all, in one pass over the booleans: most hold none (a lookup
        # of an enum that lists every value), and blanking a column without one would copy it for nothing.
        found = df.select([pl.col(col).fill_null(True).any().alias(name) for name, col in self.err_of.items()]).row(
            0, named=True)
        if any(found[name] for name in roots if name in self.err_of):
            raise Declined("some rows cannot be computed (a row error): the exact evaluator reports them")
        blank = [pl.when(pl.col(col)).then(None).otherwise(pl.col(name)).alias(name)
                 for name, col in self.err_of.items() if found[name]]
        return df.with_columns(blank) if blank else df

    def _needs_collect(self, node) -> bool:
        return False

    def _flush(self, exprs: list[pl.Expr]) -> None:
        if exprs:
            self.lf = self.lf.with_columns(exprs)

    def _checkpoint(self) -> pl.DataFrame:
        df = self.lf.collect()
        self.lf = df.lazy()
        return df

    def _fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"#{prefix}{self.counter}"

    def _materialize(self, name: str, value) -> list[pl.Expr]:
        """Columns for a definition's value; factor columns that are expressions are stored too."""
        exprs: list[pl.Expr] = []
        if isinstance(value, NumV):
            den = self._store_factors(value.den, exprs)
            exprs.append(value.n.expr.alias(name))
            self.meta[name] = ColMeta(P.NUM, den, value.n.lo, value.n.hi)
        else:
            exprs.append(value.expr.alias(name))
            self.meta[name] = ColMeta(value.kind)
        if value.err is not None:
            col = f"#err:{name}"
            exprs.append(value.err.fill_null(True).alias(col))
            self.errors.append(col)
            self.err_of[name] = col
        return exprs

    def _store_factors(self, den: Den, exprs: list[pl.Expr]) -> Den:
        # Factor columns go into the frame at once (they use only columns already there),
        # so that any later definition can refer to them.
        for fid, _ in den.factors:
            factor = self.factors[fid]
            if not _is_plain_col(factor.n.expr):
                col = self._fresh("f")
                self.lf = self.lf.with_columns(factor.n.expr.alias(col))
                self.factors[fid] = Factor(IntE(pl.col(col), factor.n.lo, factor.n.hi))
        return den

    # ------------------------------------------------------------------ values
    def value(self, e: P.PExpr):
        found = self.cache.get(id(e))
        if found is None:
            method = getattr(self, "_" + type(e).__name__, None)
            if method is None:
                raise P.PlanError(f"the polars backend does not know the plan operator {type(e).__name__}")
            found = method(e)
            if isinstance(e, _STORED):
                found = self._store_term(e, found)
            self.cache[id(e)] = found
        return found

    def _store_term(self, e: P.PExpr, v):
        """A population term's (or another row's) values as a column of their own: computed once,
        and what explanations of the fast path's results read."""
        name = self._fresh("t")
        err_column = None
        if v.err is not None:  # rows where the term itself fails (explanations then ask the exact closure)
            err_column = name + "e"
            self.lf = self.lf.with_columns(v.err.fill_null(True).alias(err_column))
        if isinstance(v, NumV):
            self._store_factors(v.den, [])
            self.lf = self.lf.with_columns(v.n.expr.alias(name))
            stored = NumV(IntE(pl.col(name), v.n.lo, v.n.hi), v.den, v.err)
            meta = ColMeta(P.NUM, v.den, v.n.lo, v.n.hi)
        else:
            self.lf = self.lf.with_columns(v.expr.alias(name))
            stored = PlainV(pl.col(name), v.kind, v.err)
            meta = ColMeta(v.kind)
        self.terms[id(e)] = TermInfo(e, name, meta, self.parts.get(id(e), {}), err_column)
        return stored

    def num(self, e: P.PExpr) -> NumV:
        v = self.value(e)
        if not isinstance(v, NumV):
            raise P.PlanError(f"expected a number from {P.show(e)}")
        return v

    def factor(self, fid) -> IntE:
        return self.factors[fid].n

    def den_expr(self, den: Den) -> IntE:
        out = lit(den.c)
        for fid, m in den.factors:
            for _ in range(m):
                out = mul(out, self.factor(fid))
        return out

    def rescale(self, v: NumV, target: Den) -> IntE:
        """v's numerator over the (multiple) denominator target."""
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
            return PlainV(pl.lit(e.value, dtype=pl.String), P.TEXT)
        if e.kind == P.BOOL:
            return PlainV(pl.lit(bool(e.value), dtype=pl.Boolean), P.BOOL)
        return PlainV(pl.lit(e.value, dtype=pl.Date), P.DATE)

    def _Col(self, e: P.Col):
        meta = self.meta.get(e.name)
        if meta is None:
            raise P.PlanError(f"column {e.name} is used before it is computed")
        err = pl.col(self.err_of[e.name]) if e.name in self.err_of else None  # where it failed, reading it fails
        if meta.kind == P.NUM:
            return NumV(IntE(pl.col(e.name), meta.lo, meta.hi), meta.den, err)
        return PlainV(pl.col(e.name), meta.kind, err)

    # -- arithmetic
    def _Arith(self, e: P.Arith):
        if e.op == "*":
            for const, other in ((e.right, e.left), (e.left, e.right)):
                if isinstance(const, P.Lit):
                    v = self.num(other)
                    return self.mul_fraction(v, Fraction(const.value))
            a, b = self.num(e.left), self.num(e.right)
            return NumV(mul(a.n, b.n), den_mul(a.den, b.den), _or(a.err, b.err))
        a, b = self.num(e.left), self.num(e.right)
        den, (na, nb) = self.common([a, b])
        n = add(na, nb) if e.op == "+" else sub(na, nb)
        return NumV(n, den, _or(a.err, b.err))

    def mul_fraction(self, v: NumV, f: Fraction) -> NumV:
        p, q = f.numerator, f.denominator
        if p == 0:  # zero, still one value per row where v is (a literal would rank and count as one row)
            return NumV(mul_const(v.n, 0), Den(1), v.err)
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
                return NumV(mul_const(a.n, 0), Den(1), _or(err, TRUE))
            return NumV(*self._with_err(self.mul_fraction(a, 1 / f), err))
        nb = b.n
        if nb.lo >= 1:
            divisor, sign, zero = nb, 1, None
        elif nb.hi <= -1:
            divisor, sign, zero = neg(nb), -1, None
        else:
            zero = nb.expr == 0
            divisor = IntE(pl.when(zero).then(pl.lit(1, dtype=nb.dtype)).otherwise(nb.expr.abs()), 1, max(1, nb.bound))
            sign = 0  # row-dependent
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
        self.factors.setdefault(fid, Factor(divisor))
        new_factors[fid] = new_factors.get(fid, 0) + 1
        if sign == -1:
            n = neg(n)
        elif sign == 0:
            n = IntE(pl.when(nb.expr < 0).then(neg(n).expr).otherwise(n.expr), -n.bound, n.bound)
        den = Den(a.den.c // g, tuple(sorted(new_factors.items(), key=lambda kv: repr(kv[0]))))
        return NumV(n, den, _or(err, zero))

    @staticmethod
    def _with_err(v: NumV, err):
        return v.n, v.den, _or(v.err, err)

    def _Extreme(self, e: P.Extreme):
        values = [self.num(a) for a in e.args]
        den, ns = self.common(values)
        return NumV(extreme(e.func, ns), den, _or(*(v.err for v in values)))

    def _Step(self, e: P.Step):
        x = self.num(e.operand)
        p, q = e.step.numerator, e.step.denominator
        # k = x / step = (n × q) / (D × p), then round/floor/ceil; the value is k × p / q.
        big_n = mul_const(x.n, q)
        m = mul_const(self.den_expr(x.den), p)
        if m.const is not None:
            g = math.gcd(q, m.const)
            big_n, m = mul_const(x.n, q // g), lit(m.const // g)
        if m.const == 1:
            k = big_n
        elif e.mode == "floor":
            k = floordiv(big_n, m)
        elif e.mode == "ceil":
            k = neg(floordiv(neg(big_n), m))
        else:
            a = absolute(big_n)
            twice = add(mul_const(a, 2), m)
            k_abs = floordiv(twice, mul_const(m, 2))
            if big_n.lo >= 0:
                k = k_abs
            else:
                k = IntE(pl.when(big_n.expr < 0).then(neg(k_abs).expr).otherwise(k_abs.expr), -k_abs.hi, k_abs.hi)
        return NumV(mul_const(k, p), Den(q), x.err)

    # -- comparisons and logic
    def compare_pair(self, op: str, a, b) -> pl.Expr:
        if isinstance(a, NumV) and isinstance(b, NumV):
            den, (na, nb) = self.common([a, b])
            dt = dtype_for(max(na.bound, nb.bound))
            left, right = na.as_(dt), nb.as_(dt)
        else:
            left, right = a.expr, b.expr
        return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right,
                "=": left == right, "!=": left != right}[op]

    def _Compare(self, e: P.Compare):
        values = [self.value(o) for o in e.operands]
        out = None
        for k, op in enumerate(e.ops):
            c = self.compare_pair(op, values[k], values[k + 1])
            out = c if out is None else (out & c)
        return PlainV(out, P.BOOL, _or(*(v.err for v in values)))

    def equal(self, a, b) -> pl.Expr:
        if isinstance(a, NumV) != isinstance(b, NumV):
            return pl.lit(False)
        if isinstance(a, PlainV) and a.kind != b.kind:
            return pl.lit(False)
        return self.compare_pair("=", a, b)

    def _InList(self, e: P.InList):
        v = self.value(e.value)
        options = [self.value(o) for o in e.options]
        matched = None
        err = v.err if options else None
        for o in options:
            m = self.equal(v, o)
            if o.err is not None:
                err = _or(err, o.err if matched is None else (~matched & o.err))
            matched = m if matched is None else (matched | m)
        result = matched if matched is not None else pl.lit(False)
        if e.negated:
            result = ~result
        return PlainV(result, P.BOOL, err)

    def _And(self, e: P.And):
        a, b = self.value(e.left), self.value(e.right)
        return PlainV(a.expr & b.expr, P.BOOL, _or(a.err, _and(a.expr, b.err)))

    def _Or(self, e: P.Or):
        a, b = self.value(e.left), self.value(e.right)
        return PlainV(a.expr | b.expr, P.BOOL, _or(a.err, _and(~a.expr, b.err)))

    def _Not(self, e: P.Not):
        a = self.value(e.operand)
        return PlainV(~a.expr, P.BOOL, a.err)

    # -- choices
    def choose(self, cases: list[tuple[pl.Expr, object]], otherwise, kind: str):
        """The value of the first case whose condition holds (conditions already exact)."""
        values = [v for _, v in cases] + ([otherwise] if otherwise is not None else [])
        if kind == P.NUM:
            nums = [v for v in values]
            den, ns = self.common(nums)
            if otherwise is None:
                return NumV(select([(c, n) for (c, _), n in zip(cases, ns)], lit(0)), den)
            return NumV(select([(c, n) for (c, _), n in zip(cases, ns[:-1])], ns[-1]), den)
        if not cases:
            return PlainV(otherwise.expr, kind)
        chain = pl.when(cases[0][0]).then(cases[0][1].expr)
        for c, v in cases[1:]:
            chain = chain.when(c).then(v.expr)
        return PlainV(chain.otherwise(otherwise.expr if otherwise is not None else _GARBAGE[kind]()), kind)

    def _If(self, e: P.If):
        c = self.value(e.cond)
        t, f = self.value(e.then), self.value(e.else_)
        out = self.choose([(c.expr, t)], f, e.kind)
        out.err = _or(c.err, _and(c.expr, t.err), _and(~c.expr, f.err))
        return out

    def _Table(self, e: P.Table):
        conds = [self.value(c) for c, _ in e.rows]
        values = [self.value(v) for _, v in e.rows]
        other = self.value(e.otherwise) if e.otherwise is not None else None
        if e.hit == "first":
            err = None
            reach: pl.Expr | None = None  # None: every row gets here
            for c, v in zip(conds, values):
                err = _or(err, _reach(reach, c.err), _reach(reach, _and(c.expr, v.err)))
                reach = ~c.expr if reach is None else (reach & ~c.expr)
            tail = other.err if other is not None else TRUE
            err = _or(err, _reach(reach, tail))
            out = self.choose([(c.expr, v) for c, v in zip(conds, values)], other, e.kind)
            out.err = err
            return out
        hits = pl.sum_horizontal([c.expr.cast(pl.Int32) for c in conds]) if conds else pl.lit(0)
        err = _or(*(c.err for c in conds))
        if e.hit == "unique":
            err = _or(err, hits > 1, *(_and(c.expr, v.err) for c, v in zip(conds, values)))
            err = _or(err, _and(hits == 0, other.err if other is not None else TRUE))
            out = self.choose([(c.expr, v) for c, v in zip(conds, values)], other, e.kind)
            out.err = err
            return out
        # collect sum
        err = _or(err, *(_and(c.expr, v.err) for c, v in zip(conds, values)))
        nums = list(values) + ([other] if other is not None else [])
        if not nums:
            return NumV(lit(0), Den(1), err)
        den, ns = self.common(nums)
        total = lit(0)
        for c, n in zip(conds, ns):
            total = add(total, select([(c.expr, n)], lit(0)))
        if other is not None:
            total = select([(hits == 0, ns[-1])], total)
            err = _or(err, _and(hits == 0, other.err))
        return NumV(total, den, err)

    def _Lookup(self, e: P.Lookup):
        key = self.value(e.key)
        if len(e.entries) > 16 and all(isinstance(v, P.Lit) for _, v in e.entries):
            return self._lookup_table(e, key)
        cases = []
        err = key.err
        matched = None
        for entry_key, value_expr in e.entries:
            v = self.value(value_expr)
            if isinstance(entry_key, Fraction) and isinstance(key, NumV):
                m = self.compare_pair("=", key, NumV(lit(entry_key.numerator), Den(entry_key.denominator)))
            elif isinstance(entry_key, str) and isinstance(key, PlainV) and key.kind == P.TEXT:
                m = key.expr == pl.lit(entry_key, dtype=pl.String)
            else:
                continue  # never equal (a text key against a number, a date …)
            cases.append((m, v))
            err = _or(err, _and(m, v.err))
            matched = m if matched is None else (matched | m)
        default = self.value(e.default) if e.default is not None else None
        none = ~matched if matched is not None else TRUE
        err = _or(err, _reach(none, default.err if default is not None else TRUE))
        out = self.choose(cases, default, e.kind)
        out.err = err
        return out

    def _lookup_table(self, e: P.Lookup, key):
        """A long lookup of constants (a lookup file): one replace of key by value, not a chain of whens."""
        if isinstance(key, NumV):
            if not key.den.const:
                raise NotColumnar("a lookup key with a row-dependent denominator")
            c = key.den.c
            pairs = [(int(k * c), v) for k, v in e.entries if isinstance(k, Fraction) and (k * c).denominator == 1]
            key_expr = key.n.as_(pl.Int128)
            key_dtype = pl.Int128
        elif key.kind == P.TEXT:
            pairs = [(k, v) for k, v in e.entries if isinstance(k, str)]
            key_expr, key_dtype = key.expr, pl.String
        else:
            pairs = []
            key_expr, key_dtype = key.expr, None
        values = [self.value(v) for _, v in pairs]
        default = self.value(e.default) if e.default is not None else None
        if not pairs:
            found = pl.lit(False)
            out = self.choose([], default, e.kind) if default is not None else (
                NumV(lit(0), Den(1)) if e.kind == P.NUM else PlainV(_GARBAGE[e.kind](), e.kind))
        else:
            keys = pl.Series([k for k, _ in pairs], dtype=key_dtype)
            if e.kind == P.NUM:
                den, ns = self.common(values)
                assert all(n.literal for n in ns)
                lo, hi = min(n.lo for n in ns), max(n.hi for n in ns)
                dt = dtype_for(max(abs(lo), abs(hi)))
                mapped = key_expr.replace_strict(keys, pl.Series([n.lo for n in ns], dtype=dt), default=None)
                found = mapped.is_not_null()
                n = IntE(mapped.fill_null(pl.lit(0, dtype=dt)), min(lo, 0), max(hi, 0))
                hit = NumV(n, den)
            else:
                dtype = {P.TEXT: pl.String, P.BOOL: pl.Boolean, P.DATE: pl.Date}[e.kind]
                mapped = key_expr.replace_strict(keys, pl.Series([_lit_value(v) for v in values], dtype=dtype),
                                                 default=None)
                found = mapped.is_not_null()
                hit = PlainV(mapped, e.kind)
            out = self.choose([(found, hit)], default, e.kind) if default is not None else hit
        out.err = _or(key.err, _reach(~found, default.err if default is not None else TRUE))
        return out

    # ------------------------------------------------------------------ other rows' values
    def _ValueOf(self, e: P.ValueOf):
        key = self.value(e.key)
        target = self.value(e.column)
        by = self.value(e.by)
        if isinstance(key, NumV) and isinstance(by, NumV):
            den = den_lcm(key.den, by.den)
            if not den.const:
                raise NotColumnar("a key with a row-dependent denominator")
            left = self.rescale(key, den).as_(pl.Int128)
            right = self.rescale(by, den).as_(pl.Int128)
        elif isinstance(key, PlainV) and isinstance(by, PlainV) and key.kind == by.kind:
            left, right = key.expr, by.expr
        else:  # never equal: every row that gets here fails
            garbage = NumV(lit(0), target.den) if isinstance(target, NumV) else PlainV(_GARBAGE[target.kind](), target.kind)
            garbage.err = _or(key.err, TRUE)
            return garbage
        kname, bname, vname, dname, okname, ename = (self._fresh(x) for x in ("k", "b", "v", "d", "ok", "e"))
        numeric = isinstance(target, NumV)
        rational = numeric and not target.den.const
        cols = [right.alias(bname), (target.n.expr if numeric else target.expr).alias(vname)]
        if target.err is not None:  # the other row's value failed: reading it fails
            cols.append(target.err.fill_null(True).alias(ename))
        left_on, right_on = [kname], [bname]
        if e.period is not None:  # the row of the same period
            pname = self._fresh("p")
            cols.append(self._plain(e.period).alias(pname))
            self.lf = self.lf.with_columns(self._plain(e.period).alias(pname + "l"))
            left_on, right_on = [kname, pname + "l"], [bname, pname]
        if rational:
            d = self.den_expr(target.den)
            dtype_for(target.n.bound * d.hi)  # values are compared by cross-multiplication
            cols.append(d.expr.alias(dname))
        lookup = self.lf.select(cols)
        if e.group:
            if rational:  # one value per group: n/d equal to the first member's, exactly
                dt = dtype_for(target.n.bound * d.hi)
                same = (pl.col(vname).cast(dt) * pl.col(dname).first().cast(dt)
                        == pl.col(vname).first().cast(dt) * pl.col(dname).cast(dt)).all()
                aggs = [pl.col(vname).first(), pl.col(dname).first(), same.alias(okname)]
            else:
                aggs = [pl.col(vname).first(), (pl.col(vname).n_unique() == 1).alias(okname)]
            if target.err is not None:
                aggs.append(pl.col(ename).any())
            lookup = lookup.group_by(right_on).agg(aggs)
        else:
            lookup = lookup.with_columns(pl.lit(True).alias(okname))
        self.lf = self.lf.with_columns(self.column(left, e.key).alias(kname)).join(
            lookup, left_on=left_on, right_on=right_on, how="left", maintain_order="left")
        found = pl.col(okname).fill_null(False)
        err = _or(key.err, ~found, pl.col(ename).fill_null(False) if target.err is not None else None)
        if not numeric:
            return PlainV(pl.when(found).then(pl.col(vname)).otherwise(_GARBAGE[target.kind]()), target.kind, err)
        filled = pl.col(vname).fill_null(pl.lit(0, dtype=target.n.dtype))
        n = IntE(filled, min(target.n.lo, 0), max(target.n.hi, 0))
        if not rational:
            return NumV(n, target.den, err)
        fid = ("other", id(e))
        self.factors[fid] = Factor(IntE(pl.col(dname).fill_null(pl.lit(1, dtype=d.dtype)), 1, d.hi))
        return NumV(n, Den(1, ((fid, 1),)), err)

    def _plain(self, e: P.PExpr) -> pl.Expr:
        """A column to join or group on: text, yes/no and dates as they are, numbers by numerator."""
        v = self.value(e)
        if isinstance(v, NumV):
            if not v.den.const:
                raise NotColumnar("a key with a row-dependent denominator")
            return self.column(v.n.as_(pl.Int128), e)
        return self.column(v.expr, e)

    def period_position(self, period: P.PExpr) -> pl.Expr:
        """Each row's period as its place among all the periods of the data (0, 1, 2 … in order)."""
        name = self._positions.get(id(period))
        if name is None:
            name = self._fresh("pos")
            self.lf = self.lf.with_columns((self._period_order(period).rank("dense").cast(pl.Int64) - 1).alias(name))
            self._positions[id(period)] = name
        return pl.col(name)

    def _period_order(self, period: P.PExpr) -> pl.Expr:
        """The period column as something that sorts in time: text labels (2024年9月) by the time they name,
        a one-of by its declared order, numbers and dates as they are."""
        plain = self._plain(period)
        node = self.graph.nodes.get(self.graph.period) if self.graph.period else None
        if node is None or node.type.kind not in ("text", "enum"):
            return plain
        from pkrules.engine.population import period_key
        from pkrules.values.periods import PeriodLabelError

        labels = self.lf.select(plain.unique()).collect().to_series().to_list()
        try:
            key = period_key(self.graph, labels)
            order = sorted(labels, key=key)
        except PeriodLabelError as problem:
            raise Declined(f"a period label cannot be put in order: {problem}") from None
        return plain.replace_strict(order, list(range(len(order))), return_dtype=pl.Int64)

    def _Previous(self, e: P.Previous):
        target = self.value(e.column)
        default = self.value(e.default) if e.default is not None else None
        key = self._plain(e.key)
        pos = self.period_position(e.period)
        kname, bname, pname, vname, dname, okname = (self._fresh(x) for x in ("k", "b", "p", "v", "d", "ok"))
        numeric = isinstance(target, NumV)
        rational = numeric and not target.den.const
        ename = self._fresh("e")
        cols = [key.alias(bname), pos.alias(pname), (target.n.expr if numeric else target.expr).alias(vname),
                pl.lit(True).alias(okname)]
        if target.err is not None:  # the earlier period's value failed: reading it fails
            cols.append(target.err.fill_null(True).alias(ename))
        if rational:
            d = self.den_expr(target.den)
            cols.append(d.expr.alias(dname))
        lookup = self.lf.select(cols)
        self.lf = self.lf.with_columns(key.alias(kname), (pos - 1).alias(kname + "p")).join(
            lookup, left_on=[kname, kname + "p"], right_on=[bname, pname], how="left", maintain_order="left")
        found = pl.col(okname).fill_null(False)
        if numeric:
            earlier_n = IntE(pl.col(vname).fill_null(pl.lit(0, dtype=target.n.dtype)), min(target.n.lo, 0), max(target.n.hi, 0))
            if rational:
                fid = ("previous", id(e))
                self.factors[fid] = Factor(IntE(pl.col(dname).fill_null(pl.lit(1, dtype=d.dtype)), 1, d.hi))
                earlier = NumV(earlier_n, Den(1, ((fid, 1),)))
            else:
                earlier = NumV(earlier_n, target.den)
        else:
            earlier = PlainV(pl.col(vname), target.kind)
        out = self.choose([(found, earlier)], default, e.kind)
        earlier_err = pl.col(ename).fill_null(False) if target.err is not None else None
        out.err = _or(_and(found, earlier_err), _reach(~found, default.err if default is not None else TRUE))
        return out

    def _Consecutive(self, e: P.Consecutive):
        cond = self.value(e.cond)
        key = self._plain(e.key)
        pos = self.period_position(e.period)
        idx, k, p, h = self._fresh("i"), self._fresh("k"), self._fresh("p"), self._fresh("h")
        sname = self._fresh("streak")
        rows = self.lf.select(pl.int_range(pl.len(), dtype=pl.Int64).alias(idx), key.alias(k), pos.alias(p),
                              self.column(cond.expr, e.cond).alias(h))
        runs = rows.sort([k, p]).with_columns(
            start=pl.col(h) & ((pl.col(k) != pl.col(k).shift(1)).fill_null(True)
                               | (pl.col(p) != pl.col(p).shift(1) + 1).fill_null(True)
                               | ~pl.col(h).shift(1).fill_null(False)),
            at=pl.int_range(pl.len(), dtype=pl.Int64),
        ).with_columns(run=pl.col("start").cast(pl.Int64).cum_sum()).with_columns(
            pl.when(pl.col(h)).then(pl.col("at") - pl.col("at").min().over("run") + 1)
            .otherwise(0).cast(pl.Int64).alias(sname)).select(idx, sname)
        self.lf = self.lf.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(idx)).join(
            runs, on=idx, how="left", maintain_order="left")
        err = cond.err.any() if cond.err is not None else None  # every row's condition is evaluated
        return NumV(IntE(pl.col(sname), 0, max(self.size, 1)), Den(1), err)

    def _DatePart(self, e: P.DatePart):
        d = self.value(e.operand)
        x = d.expr
        part = {"year": x.dt.year(), "month_of_year": x.dt.month(), "quarter_of_year": x.dt.quarter(),
                "day_of_month": x.dt.day()}[e.part]
        return NumV(IntE(part.cast(pl.Int64), 0, 9999), Den(1), d.err)

    def _DateDiff(self, e: P.DateDiff):
        a, b = self.value(e.left), self.value(e.right)
        days = (a.expr - b.expr).dt.total_days().cast(pl.Int64)
        return NumV(IntE(days, -3_700_000, 3_700_000), Den(1), _or(a.err, b.err))

    def _DateAdd(self, e: P.DateAdd):
        d, n = self.value(e.date), self.num(e.days)
        if n.den.c != 1 or not n.den.const or n.n.bound > 100_000:
            raise NotColumnar("a date moved by days that may not be whole")
        moved = d.expr + pl.duration(days=n.n.as_(pl.Int64))
        return PlainV(moved, P.DATE, _or(d.err, n.err))

    def _DateLabel(self, e: P.DateLabel):
        d = self.value(e.operand)
        x = d.expr
        year = x.dt.year().cast(pl.String)
        if e.part == "week":
            label = pl.format("{}-W{}", x.dt.iso_year().cast(pl.String), x.dt.week().cast(pl.String).str.pad_start(2, "0"))
        elif e.part == "month":
            label = pl.format("{}-{}", year, x.dt.month().cast(pl.String).str.pad_start(2, "0"))
        elif e.part == "quarter":
            label = pl.format("{}Q{}", year, x.dt.quarter().cast(pl.String))
        else:
            label = year
        return PlainV(label, P.TEXT, d.err)

    # ------------------------------------------------------------------ population terms
    def group(self, term) -> tuple[list | None, pl.Expr | None]:
        """The term's group keys (None: everyone) and an error if any row's key fails.

        The keys are `within`, and with several periods also the period (unless across periods).
        """
        keys: list[pl.Expr] = []
        err = None
        self._group_meta = None
        self._period_meta = None
        period = getattr(term, "period", None)
        if period is not None:
            pv = self.value(period)
            keys.append(self.column(pv.n.expr if isinstance(pv, NumV) else pv.expr, period))
            self._period_meta = ColMeta(P.NUM, pv.den, pv.n.lo, pv.n.hi) if isinstance(pv, NumV) else ColMeta(pv.kind)
            if isinstance(pv, NumV) and not pv.den.const:
                raise NotColumnar("a period with a row-dependent denominator")
        within = term.within
        if within is not None:
            items = list(within.items) if isinstance(within, P.Tuple) else [within]
            metas = []
            for item in items:
                g = self.value(item)
                if isinstance(g, NumV):
                    if not g.den.const:
                        raise NotColumnar("a group key with a row-dependent denominator")
                    keys.append(self.column(g.n.expr, item))
                    metas.append(ColMeta(P.NUM, g.den, g.n.lo, g.n.hi))
                else:
                    keys.append(self.column(g.expr, item))
                    metas.append(ColMeta(g.kind))
                err = _or(err, g.err.any() if g.err is not None else None)
            self._group_meta = metas if isinstance(within, P.Tuple) else metas[0]
        # kept per term: a term's operands, computed between its group() and its _record(), may be population
        # terms of their own, whose group() sets the attributes again
        self._metas[id(term)] = (self._group_meta, self._period_meta)
        return (keys or None), err

    def _record(self, e, g, **parts) -> None:
        has_period = getattr(e, "period", None) is not None
        inner = g[1:] if has_period else g
        if e.within is None:
            group = None
        else:
            group = list(inner) if isinstance(e.within, P.Tuple) else inner[0]
        group_meta, period_meta = self._metas.get(id(e), (self._group_meta, self._period_meta))
        self.parts[id(e)] = dict(group=group, group_meta=group_meta,
                                 period=(g[0] if has_period else None), period_meta=period_meta, **parts)

    @staticmethod
    def over(expr: pl.Expr, g: pl.Expr | None) -> pl.Expr:
        return expr.over(g) if g is not None else expr

    def constant_within(self, e: P.PExpr, within: P.PExpr | None, period: P.PExpr | None = None) -> bool:
        """Whether e has one value for all the rows of each group (within, period), proved from the plan."""
        key = (id(e), id(within), id(period))
        found = self._constant.get(key)
        if found is None:
            if isinstance(e, P.Lit) or e is within or (period is not None and e is period):
                found = True
            elif isinstance(e, P.Col):
                node_expr = self._node_expr.get(e.name)
                found = node_expr is not None and self.constant_within(node_expr, within, period)
            elif isinstance(e, P.Aggregate):  # a total over a group that contains ours
                found = (e.within is None or e.within is within) and (e.period is None or e.period is period)
            elif isinstance(e, P.ACROSS_ROWS):
                found = False
            else:
                found = all(self.constant_within(c, within, period) for c in e.children())
            self._constant[key] = found
        return found

    def is_scalar(self, e: P.PExpr | None) -> bool:
        """Whether polars computes e as one value (a literal, a total over everyone) rather than a column."""
        if e is None:
            return False
        found = self._scalar.get(id(e))
        if found is None:
            if isinstance(e, P.Lit):
                found = True
            elif isinstance(e, P.Col):
                found = False
            elif isinstance(e, P.Aggregate):
                found = e.within is None and e.period is None
            elif isinstance(e, P.ACROSS_ROWS + (P.DateLabel,)):
                found = False
            else:
                found = all(self.is_scalar(c) for c in e.children())
            self._scalar[id(e)] = found
        return found

    def column(self, expr: pl.Expr, e: P.PExpr | None) -> pl.Expr:
        """expr as a full column (one value per row) when e is a single value, before it is aggregated."""
        if e is None or not (self.is_scalar(e) or _is_literal(expr)):
            return expr
        return pl.when(pl.col(self.plan.key).is_not_null()).then(expr)

    def col_num(self, v: NumV, e: P.PExpr) -> NumV:
        if not (self.is_scalar(e) or v.n.literal):
            return v
        return NumV(IntE(self.column(v.n.expr, e), v.n.lo, v.n.hi), v.den, v.err)

    def keys_of(self, e: P.PExpr, v: NumV) -> list[IntE]:
        """order_keys of a term's operand, computed once per operand and kept as columns."""
        found = self._keys.get(id(e))
        if found is None:
            found = self.order_keys(v)
            if not (len(found) == 1 and found[0] is v.n):
                stored = []
                for k in found:
                    name = self._fresh("key")
                    self.lf = self.lf.with_columns(k.expr.alias(name))
                    stored.append(IntE(pl.col(name), k.lo, k.hi))
                found = stored
            self._keys[id(e)] = found
        return found

    def order_keys(self, v: NumV) -> list[IntE]:
        """Integer keys (compared left to right) in the exact order of v's values."""
        if v.den.const:
            return [v.n]
        d = self.den_expr(v.den)
        # Two distinct values a/(c·F1) and b/(c·F2) differ by at least 1/(c·F1·F2) ≥ 1/(c·F_max²),
        # so with S ≥ c·F_max² the integers floor(x·S) are in the same order as the values, and
        # equal only for equal values.
        f_max = d.hi // v.den.c
        s = 1 << (v.den.c * f_max * f_max).bit_length()
        if v.n.bound * s < (1 << 125):
            return [floordiv(mul_const(v.n, s), d)]
        if d.hi * s < (1 << 125):
            whole = floordiv(v.n, d)
            rest = mod(v.n, d)
            return [whole, floordiv(mul_const(rest, s), d)]
        return [self._verified_order(v, d)]

    def _verified_order(self, v: NumV, d: IntE) -> IntE:
        """A class number per distinct value, in order: sorted by floating point, then checked exactly.

        The values are sorted by n/d in floating point; every pair of neighbours is then compared
        exactly (n1·d2 against n2·d1). If floating point put any pair in the wrong order, this
        way is given up (Overflow: the definition is evaluated exactly instead).
        """
        dt = dtype_for(v.n.bound * d.hi)
        df = self._checkpoint()
        work = df.select(v.n.as_(dt).alias("n"), d.as_(dt).alias("d")).with_row_index("i").with_columns(
            (pl.col("n").cast(pl.Float64) / pl.col("d").cast(pl.Float64)).alias("f")).sort("f")
        step = work.select((pl.col("n") * pl.col("d").shift(1) - pl.col("n").shift(1) * pl.col("d")).alias("s"))
        if step.select((pl.col("s") < 0).any()).item():
            raise Overflow("floating point could not order these values")
        classes = work.select(pl.col("i"), (step.get_column("s") > 0).fill_null(False).cast(pl.Int64).cum_sum().alias("c"))
        name = self._fresh("o")
        order = classes.sort("i").get_column("c").alias(name)
        self.lf = df.with_columns(order).lazy()
        return IntE(pl.col(name), 0, max(df.height, 1))

    @staticmethod
    def key_expr(keys: list[IntE]) -> pl.Expr:
        return keys[0].expr if len(keys) == 1 else pl.struct([k.expr.alias(f"k{i}") for i, k in enumerate(keys)])

    def _Aggregate(self, e: P.Aggregate):
        g, within_err = self.group(e)
        where = self.value(e.where) if e.where is not None else None
        chosen = self.column(where.expr, e.where) if where is not None else None
        n_rows = max(self.size, 1)
        self._record(e, g, chosen=chosen, operand=self.value(e.operand) if e.operand is not None else None)
        if e.func == "count":
            sel = chosen
            op = self.value(e.operand) if e.operand is not None else None
            if op is not None:
                op_expr = self.column(op.expr, e.operand)
                sel = op_expr if sel is None else (sel & op_expr)
            count = (sel.cast(pl.Int64).sum() if sel is not None else pl.len().cast(pl.Int64))
            group_err = _or(where.err if where is not None else None, _maybe(chosen, op.err if op is not None else None))
            value = NumV(IntE(self.over(count, g).cast(pl.Int64), 0, n_rows), Den(1))
            value.err = _or(self.over(group_err.any(), g) if group_err is not None else None, within_err)
            return value
        op = self.col_num(self.num(e.operand), e.operand)
        group_err = _or(where.err if where is not None else None, _maybe(chosen, op.err))
        count = self.over(chosen.cast(pl.Int64).sum() if chosen is not None else pl.len().cast(pl.Int64), g)
        nobody = (count == 0) if e.func in ("avg", "min", "max") else None
        err = _or(self.over(group_err.any(), g) if group_err is not None else None, nobody, within_err)
        if e.func in ("sum", "avg"):
            if not op.den.const:
                value = self._sum_rational(e, op, chosen, g)
            else:
                total_lo, total_hi = min(0, op.n.lo * n_rows), max(0, op.n.hi * n_rows)
                dt = dtype_for(max(abs(total_lo), abs(total_hi), op.n.bound))
                masked = op.n.as_(dt) if chosen is None else pl.when(chosen).then(op.n.as_(dt)).otherwise(pl.lit(0, dtype=dt))
                value = NumV(make(self.over(masked.sum(), g), total_lo, total_hi, dt), op.den)
            if e.func == "avg":
                fid = ("count", id(e))
                self.factors[fid] = Factor(IntE(pl.when(count == 0).then(pl.lit(1, dtype=pl.Int64)).otherwise(count), 1, n_rows))
                value = NumV(value.n, den_mul(value.den, Den(1, ((fid, 1),))))
            value.err = err
            return value
        # min / max
        if op.den.const:
            masked = op.n.expr if chosen is None else pl.when(chosen).then(op.n.expr)
            agg = masked.min() if e.func == "min" else masked.max()
            filled = self.over(agg, g).fill_null(pl.lit(0, dtype=op.n.dtype))
            return NumV(IntE(filled, min(op.n.lo, 0), max(op.n.hi, 0)), op.den, err)
        keys = self.order_keys(op)
        d = self.den_expr(op.den)
        key_cols = [k.expr if chosen is None else pl.when(chosen).then(k.expr) for k in keys]
        descending = e.func == "max"
        n_sel = self.over(op.n.expr.sort_by(key_cols, descending=descending, nulls_last=True).first(), g)
        d_sel = self.over(d.expr.sort_by(key_cols, descending=descending, nulls_last=True).first(), g)
        fid = ("sel", id(e))
        self.factors[fid] = Factor(IntE(d_sel.fill_null(pl.lit(1, dtype=d.dtype)), 1, max(1, d.hi)))
        return NumV(IntE(n_sel.fill_null(pl.lit(0, dtype=op.n.dtype)), min(op.n.lo, 0), max(op.n.hi, 0)),
                    Den(1, ((fid, 1),)), err)

    def _sum_rational(self, e: P.Aggregate, op: NumV, chosen, g) -> NumV:
        """Σ n_i / D_i within each group, exactly: numerators summed per distinct denominator, then Fractions."""
        d = self.den_expr(op.den)
        df = self._checkpoint()
        n_rows = max(self.size, 1)
        dt = dtype_for(max(op.n.bound * n_rows, d.bound))
        gnames = [self._fresh("g") for _ in (g or [])]
        cols = [op.n.as_(dt).alias("#n"), d.as_(dt).alias("#d")] + [k.alias(name) for k, name in zip(g or [], gnames)]
        if chosen is not None:
            cols.append(chosen.alias("#chosen"))
        part = df.select(cols)
        if chosen is not None:
            part = part.filter(pl.col("#chosen"))
        sums = part.group_by(gnames + ["#d"]).agg(pl.col("#n").sum()).rows()
        totals: dict[tuple, Fraction] = {}
        for row in sums:
            gkey = tuple(row[:len(gnames)])
            totals[gkey] = totals.get(gkey, Fraction(0)) + Fraction(row[-1], row[-2])
        if not totals and not gnames:
            totals[()] = Fraction(0)
        nums = [v.numerator for v in totals.values()]
        dens = [v.denominator for v in totals.values()]
        lo_n, hi_n = min(nums + [0]), max(nums + [0])
        hi_d = max(dens + [1])
        if max(abs(lo_n), abs(hi_n), hi_d) >= (1 << 120):
            raise Overflow("a group sum with a very large denominator")
        ndt, ddt = dtype_for(max(abs(lo_n), abs(hi_n))), dtype_for(hi_d)
        if not gnames:
            only = next(iter(totals.values()))
            n_expr, d_expr = pl.lit(only.numerator, dtype=ndt), pl.lit(only.denominator, dtype=ddt)
        else:
            nname, dname = self._fresh("sn"), self._fresh("sd")
            keys = list(totals.keys())
            table = pl.DataFrame({name: pl.Series([k[i] for k in keys], dtype=df.select(gk).dtypes[0])
                                  for i, (name, gk) in enumerate(zip(gnames, g))})
            table = table.with_columns(pl.Series(nname, nums, dtype=ndt), pl.Series(dname, dens, dtype=ddt))
            df = df.with_columns([k.alias(name) for k, name in zip(g, gnames)])
            table = table.with_columns([pl.col(name).cast(df.schema[name]) for name in gnames])
            df = df.join(table, on=gnames, how="left", maintain_order="left")
            self.lf = df.lazy()
            n_expr = pl.col(nname).fill_null(pl.lit(0, dtype=ndt))
            d_expr = pl.col(dname).fill_null(pl.lit(1, dtype=ddt))
        fid = ("sum", id(e))
        self.factors[fid] = Factor(IntE(d_expr, 1, hi_d))
        return NumV(IntE(n_expr, lo_n, hi_n), Den(1, ((fid, 1),)))

    def _Rank(self, e: P.Rank):
        g, within_err = self.group(e)
        op = self.col_num(self.num(e.operand), e.operand)
        keys = self.keys_of(e.operand, op)
        self._record(e, g, operand=op, keys=[k.expr for k in keys])
        rank = self.over(self.key_expr(keys).rank("dense", descending=not e.ascending), g).cast(pl.Int64)
        err = _or(self.over(op.err.any(), g) if op.err is not None else None, within_err)
        return NumV(IntE(rank, 1, max(self.size, 1)), Den(1), err)

    def _Top(self, e: P.Top):
        g, within_err = self.group(e)
        op = self.col_num(self.num(e.operand), e.operand)
        keys = self.keys_of(e.operand, op)
        self._record(e, g, operand=op, keys=[k.expr for k in keys])
        key = self.key_expr(keys)
        size = self.over(pl.len(), g).cast(pl.Int64)
        if e.bottom:
            better = self.over(key.rank("min"), g).cast(pl.Int64) - 1  # strictly lower
        else:
            better = size - self.over(key.rank("max"), g).cast(pl.Int64)  # strictly higher
        if e.share is not None:
            p, q = e.share.numerator, e.share.denominator
            places = (size * p + (q - 1)) // q  # ceil(share × size)
        else:
            places = pl.lit(e.count, dtype=pl.Int64)
        err = _or(self.over(op.err.any(), g) if op.err is not None else None, within_err)
        return PlainV(better < places, P.BOOL, err)

    def _Split(self, e: P.Split):
        g, within_err = self.group(e)
        pool, weight = self.col_num(self.num(e.pool), e.pool), self.col_num(self.num(e.weight), e.weight)
        key = self.value(e.key)
        self._record(e, g, pool=pool, weight=weight)
        if not pool.den.const or not weight.den.const:
            raise NotColumnar("a split with a row-dependent denominator")
        n_rows = max(self.size, 1)
        c = pool.den.c
        units_abs = absolute(pool.n)
        per_one = SPLIT_UNIT.denominator  # units in 1: the pool is split to the cent, as values/split.py does
        scaled = mul_const(units_abs, per_one)  # |pool| / 0.01 = |n| × 100 / c
        units = floordiv(scaled, lit(c))
        whole_cents = (mod(scaled, lit(c)).expr == 0) if c != 1 else TRUE
        w_total_hi = max(weight.n.hi, 0) * n_rows
        wdt = dtype_for(max(w_total_hi, weight.n.bound))
        # (a constant weight or pool is a literal: summed as one value unless spread over the rows first; a weight
        # that is a column has a value per row, and so has each member's floor below: spreading it again costs a
        # column of zeros per sum, 4 times the sum itself)
        spread = _rows_of if not _is_plain_col(weight.n.expr) else (lambda expr, dtype: expr)
        total = IntE(self.over(spread(weight.n.as_(wdt), wdt).sum(), g), min(0, weight.n.lo * n_rows), w_total_hi)
        # The checks of values.split.largest_remainder, unless the plan or the ranges prove them:
        # one pool per group, no negative weight, a pool of whole cents.
        differs = None if self.constant_within(e.pool, e.within, e.period) else (self.over(pool.n.expr.n_unique(), g) != 1)
        negative = None if weight.n.lo >= 0 else self.over((weight.n.expr < 0).any(), g)
        nonzero = total.expr != 0
        fractional = None if per_one % c == 0 else (nonzero & ~whole_cents)
        group_err = _or(pool.err, weight.err)
        err = _or(self.over(group_err.any(), g) if group_err is not None else None, within_err,
                  differs, negative, fractional)
        # exact share of member k: units × w_k / W = floor_k + rem_k / W (W > 0 where used)
        safe_total = IntE(pl.when(total.expr > 0).then(total.expr).otherwise(pl.lit(1, dtype=total.dtype)), 1, max(1, w_total_hi))
        w_pos = IntE(pl.when(weight.n.expr > 0).then(weight.n.expr).otherwise(pl.lit(0, dtype=weight.n.dtype)), 0, max(0, weight.n.hi))
        prod = mul(units, w_pos)
        floor_k = floordiv(prod, safe_total)
        rem_k = mod(prod, safe_total)
        fdt = dtype_for(floor_k.hi * n_rows)
        left = sub(units, IntE(self.over(spread(floor_k.as_(fdt), fdt).sum(), g), 0, floor_k.hi * n_rows))
        key_expr = key.n.expr if isinstance(key, NumV) else key.expr
        order = pl.struct(neg(rem_k).expr.alias("r"), key_expr.alias("k")).rank("ordinal")
        position = self.over(order, g).cast(pl.Int64)  # 1-based: largest remainder first, ties by key
        dt = dtype_for(max(floor_k.bound + 1, left.bound))
        extra = pl.when(position <= left.as_(dt)).then(pl.lit(1, dtype=dt)).otherwise(pl.lit(0, dtype=dt))
        share = floor_k.as_(dt) + extra
        share = pl.when(nonzero).then(share).otherwise(pl.lit(0, dtype=dt))
        signed = pl.when(pool.n.expr < 0).then(pl.lit(0, dtype=dt) - share).otherwise(share)
        hi = max(floor_k.hi + 1, 0)
        return NumV(make(signed, -hi, hi, dt), Den(per_one), err)

    # ------------------------------------------------------------------ exact, one definition
    def _exact_node(self, node: P.PlanNode) -> list[pl.Expr]:
        """Evaluate one definition with the exact evaluator's closures; bring its values back as columns."""
        from pkrules.engine.exact import Compiled

        df = self._checkpoint()
        graph = self.graph
        needed = set(graph.nodes[node.name].deps) | {graph.key}
        from pkrules.engine.columnar.values import python_values

        columns = {name: python_values(df, name, self.meta[name], self.factors) for name in needed}
        for name in needed & set(self.err_of):  # a failed value reads as failed (None), as in the exact evaluator
            failed = df.get_column(self.err_of[name]).to_list()
            columns[name] = [None if bad else v for v, bad in zip(columns[name], failed)]
        compiled = Compiled(graph, columns, self.size)
        fn = compiled.declaration(graph.nodes[node.name].decl)
        values: list = []
        errors: list[bool] = []
        for i in range(self.size):
            try:
                values.append(fn(i))
                errors.append(False)
            except (RowError, Upstream, ZeroDivisionError, ArithmeticError):
                values.append(None)
                errors.append(True)
        self.exact_nodes.append(node.name)
        exprs: list[pl.Expr] = []
        if node.kind == P.NUM:
            fractions = [Fraction(v) if v is not None else Fraction(0) for v in values]
            n_col, den, lo, hi = self._fractions_to_columns(fractions, node.name)
            exprs.append(n_col.alias(node.name))
            self.meta[node.name] = ColMeta(P.NUM, den, lo, hi)
        else:
            dtype = {P.BOOL: pl.Boolean, P.TEXT: pl.String, P.DATE: pl.Date}[node.kind]
            exprs.append(pl.lit(pl.Series(values, dtype=dtype)).alias(node.name))
            self.meta[node.name] = ColMeta(node.kind)
        if any(errors):
            col = f"#err:{node.name}"
            exprs.append(pl.lit(pl.Series(errors, dtype=pl.Boolean)).alias(col))
            self.errors.append(col)
            self.err_of[node.name] = col
        self.cache.clear()  # cached values may refer to the columns being replaced
        return exprs

    def _fractions_to_columns(self, values: list[Fraction], name: str):
        try:
            return self._fractions_to_columns_(values, name)
        except Overflow:
            raise Declined(f"the values of {name} do not fit 128-bit columns") from None

    def _fractions_to_columns_(self, values: list[Fraction], name: str):
        dens = {v.denominator for v in values}
        common = 1
        for d in dens:
            common = math.lcm(common, d)
            if common >= (1 << 60):
                break
        if common < (1 << 60):
            nums = [v.numerator * (common // v.denominator) for v in values]
            lo, hi = (min(nums), max(nums)) if nums else (0, 0)
            series = pl.Series(nums, dtype=dtype_for(max(abs(lo), abs(hi))))
            return pl.lit(series), Den(common), lo, hi
        nums = [v.numerator for v in values]
        ds = [v.denominator for v in values]
        lo, hi = min(nums), max(nums)
        if max(abs(lo), abs(hi), max(ds)) >= (1 << 120):
            raise Declined(f"the values of {name} do not fit 128-bit columns")
        fcol = self._fresh("f")
        self.lf = self.lf.with_columns(pl.lit(pl.Series(ds, dtype=dtype_for(max(ds)))).alias(fcol))
        fid = ("exact", name)
        self.factors[fid] = Factor(IntE(pl.col(fcol), 1, max(ds)))
        return pl.lit(pl.Series(nums, dtype=dtype_for(max(abs(lo), abs(hi))))), Den(1, ((fid, 1),)), lo, hi

def _lit_value(v: PlainV):
    """The Python value of a plain literal (built by _Lit)."""
    return pl.select(v.expr).item()


_GARBAGE = {  # the value of a row that fails (never used: such a row makes the fast path decline)
    P.TEXT: lambda: pl.lit("", dtype=pl.String),
    P.BOOL: lambda: pl.lit(False, dtype=pl.Boolean),
    P.DATE: lambda: pl.lit(0).cast(pl.Date),
}


def _reach(reach: pl.Expr | None, err):
    if err is None:
        return None
    return err if reach is None else (reach & err)


def _maybe(cond: pl.Expr | None, err):
    if err is None:
        return None
    return err if cond is None else (cond & err)


def _is_literal(expr: pl.Expr) -> bool:
    """Whether expr is a bare literal (a folded constant: one value, not a column)."""
    try:
        return expr.meta.is_literal(allow_aliasing=True)
    except Exception:  # pragma: no cover - older polars
        return False


def _is_plain_col(expr: pl.Expr) -> bool:
    try:
        return expr.meta.is_column()
    except Exception:  # pragma: no cover - older polars
        return False


def evaluate_plan(plan: P.Plan, graph, table):
    if table.size == 0:
        raise Declined("no rows to evaluate")
    evaluator = Evaluator(plan, graph, table)
    df = evaluator.run()
    return ColumnarResults(graph, plan, df, evaluator.meta, evaluator.factors, table.row_numbers,
                           evaluator.exact_nodes, evaluator.terms)


def _rows_of(expr: pl.Expr, dtype) -> pl.Expr:
    """expr as one value per row (a literal is one value: its sum would not count the rows)."""
    return pl.int_range(pl.len()).cast(dtype) * 0 + expr
