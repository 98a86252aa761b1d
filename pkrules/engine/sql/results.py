"""The SQL backends' results, usable wherever the exact evaluator's are: values stay in the engine until asked for.

`SqlResults` has the Results shape (engine/results.py) of the columnar path's
results, whose reading it reuses: the same exact integer columns, denominators
and stored population terms, described in polars terms (engine/columnar/results.py).
What it reads, it reads from the engine, and only that: a whole column when
someone iterates one; one employee's row for an explanation (the exact
evaluator's closures over that row, `probe`); a group's members for the
statistic of that group (a team's sum, the values behind a top 10%, a pool's
split). So explaining one figure of a million rows on Spark reads one row and
one group, and the population terms come from the engine, not recomputed here.
"""

from __future__ import annotations

import math
from collections.abc import Set
from fractions import Fraction

import polars as pl

from pkrules.engine import plan as P
from pkrules.engine.columnar.numeric import Den, IntE
from pkrules.engine.columnar.results import (ColumnarResults, ColumnarTerms, LazyColumns, LazyDict, LazyList,
                                             RowMap, SortedValues)
from pkrules.engine.columnar.values import ColMeta, Factor, NumV, PlainV, TermInfo
from pkrules.engine.exact import Compiled
from pkrules.engine.results import GroupStat, same_key
import pkrules.engine.sql.tree as T
from pkrules.language import ast

PREFIX = "#"  # columns of the engine's internals, in local frames (a definition may be called _t3)
# Up to this many rows, reading one whole column reads them all at once (one query instead of one per column).
WHOLE_FRAME_ROWS = 100_000


class SqlResults(ColumnarResults):
    """Every definition of a population as the engine computed it (no row errors: the backend declines on any)."""

    def __init__(self, engine, graph, plan: P.Plan, program, relation: str, relations: list[str]):
        self.engine = engine
        self.graph = graph
        self.plan = plan
        self.program = program
        self.relation = relation
        self.relations = relations
        self.backend = engine.printer.name
        self.errors: list = []
        self.exact_nodes: list[str] = []
        self.local_name: dict[str, str] = {}  # engine column → local frame column
        for name, m in program.meta.items():
            self.local_name[m.column] = name
        self.meta = {name: _col_meta(m) for name, m in program.meta.items()}
        self.factors = {fid: Factor(IntE(pl.col(self.local(col)), lo, hi)) for fid, (col, lo, hi) in program.factors.items()}
        self.terms = {key: self._term_info(t) for key, t in program.terms.items()}
        self.columns = LazyColumns(self)
        self._probe = None
        self._frame: pl.DataFrame | None = None
        self._rows: dict[int, dict] = {}
        self._row_numbers: list[int] | None = None

    def local(self, column: str) -> str:
        return self.local_name.get(column, PREFIX + column)

    def _term_info(self, t) -> TermInfo:
        parts = {}
        for key, value in t.parts.items():
            parts[key] = self._part(key, value)
        meta = _col_meta(t.meta)
        return TermInfo(t.expr, self.local(t.meta.column), meta, parts,
                        self.local(t.err_column) if t.err_column else None)

    def _part(self, key: str, value):
        if value is None:
            return None
        if key == "better":
            return value
        if key in ("group", "period", "chosen"):
            if isinstance(value, list):
                return [pl.col(self.local(c)) for c in value]
            return pl.col(self.local(value))
        if key in ("group_meta", "period_meta"):
            if isinstance(value, list):
                return [_col_meta(m) for m in value]
            return _col_meta(value)
        if key == "keys":
            return [pl.col(self.local(c)) for c in value]
        if isinstance(value, dict) and "plain" in value:
            return PlainV(pl.col(self.local(value["plain"])), P.BOOL)
        if isinstance(value, dict):
            if value.get("n") is None:  # a literal numerator
                return NumV(IntE(pl.lit(value["const"], dtype=pl.Int128), value["lo"], value["hi"], True), _den(value["den"]))
            return NumV(IntE(pl.col(self.local(value["n"])), value["lo"], value["hi"]), _den(value["den"]))
        return value

    # -- reading from the engine
    def _select(self, columns: list[str], where: T.E | None = None, order: bool = True) -> str:
        printer = self.engine.printer
        cols = ", ".join(f"{printer.quote(c)} AS {printer.quote(self.local(c))}" for c in columns)
        text = f"SELECT {cols} FROM {self.relation}"
        if where is not None:
            text += f" WHERE {printer.expr(where)}"
        if order:
            text += f" ORDER BY {printer.quote('_row')}"
        return text

    def fetch(self, columns: list[str], where: T.E | None = None) -> pl.DataFrame:
        """Some columns of some rows (in the order of the data) as a local frame."""
        return self.engine.frame(self._select(list(dict.fromkeys(columns)), where))

    @property
    def frame(self) -> pl.DataFrame:
        """The whole result as a local frame (only when something needs every column of every row)."""
        if self._frame is None:
            self._frame = self.fetch(self.program.output)
        return self._frame

    def for_output(self, names: list[str]) -> None:
        """Read the columns an output writes (and their denominators' factors) as the local frame, not all."""
        if self._frame is not None:
            return
        columns = ["_row"]
        for name in names:
            columns.append(self.program.meta[name].column)
            columns += self._factor_columns(self.meta[name].den)
        self._frame = self.fetch(columns)

    @property
    def size(self) -> int:
        return self.program.size

    @property
    def row_numbers(self) -> list[int]:
        if self._row_numbers is None:
            self._row_numbers = [int(v) for v in self.fetch(["_line"]).get_column(PREFIX + "_line").to_list()]
        return self._row_numbers

    @row_numbers.setter
    def row_numbers(self, value) -> None:
        self._row_numbers = value

    def _factor_columns(self, den) -> list[str]:
        return [self.program.factors[fid][0] for fid, _ in den.factors] if den is not None else []

    def _engine_column(self, local: str) -> str:
        if local in self.program.meta:
            return self.program.meta[local].column
        return local[len(PREFIX):] if local.startswith(PREFIX) else local

    def python_column(self, name: str) -> list:
        if self._frame is not None or self.size <= WHOLE_FRAME_ROWS:
            return super().python_column(name)
        meta = self.meta[name]
        cols = [self.program.meta[name].column] + self._factor_columns(meta.den)
        from pkrules.engine.columnar.values import python_values

        return python_values(self.fetch(cols), name, meta, self.factors)

    def row(self, index: int) -> dict:
        """One row, every column (as the local frame would have it), read once."""
        found = self._rows.get(index)
        if found is None:
            if self._frame is not None or self.size <= WHOLE_FRAME_ROWS:
                frame = self.frame.slice(index, 1)
            else:
                frame = self.fetch(self.program.output, T.Bin("=", T.Col("_row"), T.Int(index)))
            found = {"frame": frame}
            self._rows[index] = found
        return found

    def _value_in(self, frame: pl.DataFrame, column: str, meta) -> object:
        raw = frame.get_column(column)[0]
        if meta.kind != P.NUM:
            return raw
        if meta.den.const:
            return Fraction(raw, meta.den.c)
        d = frame.select(_den_of(meta.den, self.factors).alias("d")).item()
        return Fraction(raw, d)

    def python_part(self, part, spec: dict, index: int) -> object:
        """A number part of a term (a pool, a weight) for one row."""
        if spec.get("n") is None:
            return Fraction(int(spec["const"]), spec["den"].c)
        return self._value_in(self.row(index)["frame"], self.local(spec["n"]), ColMeta(P.NUM, _den(spec["den"])))

    def python_value(self, name: str, index: int) -> object:
        return self._value_in(self.row(index)["frame"], name, self.meta[name])

    def term_value(self, info, index: int) -> object:
        return self._value_in(self.row(index)["frame"], info.column, info.meta)

    def column_sum(self, name: str) -> Fraction:
        return sum(self.python_column(name), Fraction(0))

    def index_of(self, key: object, period: object = None) -> int | None:
        key_meta = self.program.meta[self.graph.key]
        where = None
        if key_meta.kind == P.TEXT and isinstance(key, str):
            where = T.Bin("=", T.Col(key_meta.column), T.Str(key))
        cols = ["_row", key_meta.column]
        period_name = getattr(self.graph, "period", None)
        if period_name:
            cols += [self.program.meta[period_name].column] + self._factor_columns(self.meta[period_name].den)
        frame = self.fetch(cols, where)
        if frame.height == 0 and where is not None:
            frame = self.fetch(cols)
        rows = frame.get_column(PREFIX + "_row").to_list()
        keys = python_values_of(frame, self.graph.key, self.meta[self.graph.key], self.factors)
        hits = [r for r, k in zip(rows, keys) if same_key(k, key)]
        if period_name is None or not hits:
            return hits[0] if hits else None
        periods = dict(zip(rows, python_values_of(frame, period_name, self.meta[period_name], self.factors)))
        if period is not None:
            return next((i for i in hits if same_key(periods[i], period)), None)
        return max(hits, key=lambda i: periods[i])

    @property
    def probe(self) -> Compiled:
        if self._probe is None:
            self._probe = Compiled(self.graph, self.columns, self.size, terms=SqlTerms(self))
        return self._probe

    def close(self) -> None:
        self.engine.close()


def python_values_of(frame: pl.DataFrame, name: str, meta, factors: dict) -> list:
    from pkrules.engine.columnar.values import python_values

    return python_values(frame, name, meta, factors)


def _den(den) -> Den:
    return Den(den.c, den.factors)


def _col_meta(m) -> ColMeta:
    if m.kind == P.NUM:
        return ColMeta(P.NUM, _den(m.den), m.lo, m.hi)
    return ColMeta(m.kind)


def _den_of(den: Den, factors: dict) -> pl.Expr:
    expr = pl.lit(den.c, dtype=pl.Int128)
    for fid, m in den.factors:
        for _ in range(m):
            expr = expr * factors[fid].n.expr.cast(pl.Int128)
    return expr


# ---- explanations -------------------------------------------------------------------------------


class SqlTerms(ColumnarTerms):
    """The engine's population terms for the exact closures of an explanation: each row's value read
    from its row, a group's statistic by a few aggregate queries over the group's members (the values
    behind a rank or a top N% only if someone asks for them)."""

    def values(self, term, fallback):
        info = self.info(term)
        if info is None:
            return None
        results = self.results

        def read(i: int) -> object:
            return results.term_value(info, i)

        return read

    def group(self, term, row: int) -> GroupStat | None:
        info = self.info(term)
        within = getattr(term, "within", None)
        probe = self.results.probe
        inner = None if within is None else probe.value(within, row)
        period = self.results.graph.period if not getattr(term, "across", False) else None
        group = (self.results.columns[period][row], inner) if period else inner
        key = (id(term), group)
        if key not in self._groups:
            self._groups[key] = group_stat(self.results, term, info, group, row)
        stat = self._groups[key]
        if stat is not None and isinstance(term, ast.Top):  # how many are better than this row: the engine counted
            t = self.results.program.terms[id(info.expr)]
            better = int(self.results.row(row)["frame"].get_column(self.results.local(t.parts["better"]))[0])
            stat = GroupStat(stat.group, stat.members, stat.value, {**stat.detail, "better": better})
        return stat


def _equals(column: str, meta, value) -> T.E | None:
    """The SQL condition "column holds this group value" (None: no row can)."""
    if meta is not None and meta.kind == P.NUM:
        if not isinstance(value, (int, Fraction)) or isinstance(value, bool):
            return None
        scaled = Fraction(value) * meta.den.c
        if scaled.denominator != 1:
            return None
        return T.Bin("=", T.Col(column), T.Int(int(scaled), True))
    if isinstance(value, bool):
        return T.Bin("=", T.Col(column), T.Bool(value))
    if isinstance(value, str):
        return T.Bin("=", T.Col(column), T.Str(value))
    if value is None:
        return None
    import datetime as dt

    if isinstance(value, dt.date):
        return T.Bin("=", T.Col(column), T.Date(value))
    return None


def _group_where(results: SqlResults, t, group) -> T.E | None | bool:
    """The rows of a group, as an SQL condition (None: everyone; False: nobody)."""
    parts = t.parts
    conds: list[T.E] = []
    if parts.get("period") is not None:
        if not isinstance(group, tuple) or len(group) != 2:
            return False
        period, group = group
        c = _equals(parts["period"], parts.get("period_meta"), period)
        if c is None:
            return False
        conds.append(c)
    g = parts.get("group")
    if g is not None:
        metas = parts.get("group_meta")
        if isinstance(g, list):
            if not isinstance(group, tuple) or len(group) != len(g):
                return False
            pairs = list(zip(g, metas, group))
        else:
            pairs = [(g, metas, group)]
        for column, meta, value in pairs:
            c = _equals(column, meta, value)
            if c is None:
                return False
            conds.append(c)
    out = None
    for c in conds:
        out = c if out is None else T.Bin("AND", out, c)
    return out


def _part_expr(part: dict) -> T.E:
    """A number part of a term (its numerator) as an SQL expression: its column, or its literal value."""
    if part.get("n") is not None:
        return T.Cast(T.Col(part["n"]), "i128")
    return T.Int(int(part["const"]), True)


def group_stat(results: SqlResults, term, info, group, row: int) -> GroupStat | None:
    """The statistic of one group for a population term, for an explanation of one of its members (row):
    counted by the engine, never by reading every member here."""
    plan_term = info.expr
    t = results.program.terms[id(plan_term)]
    where = _group_where(results, t, group)
    if where is False:
        return None
    parts = info.parts
    aggs: list = [(T.Cast(T.Agg("count"), "i64"), "members")]
    chosen = t.parts.get("chosen")
    if isinstance(term, ast.Aggregate) and chosen:
        aggs.append((T.Cast(T.Agg("sum", T.Case(((T.Col(chosen), T.Int(1)),), T.Int(0))), "i64"), "counted"))
    if isinstance(term, ast.Split):
        aggs.append((T.Agg("sum", _part_expr(t.parts["weight"])), "weights"))
    found = results.engine.one(T.Select(aggs, results.relation, where=where))
    members = int(found["members"] or 0)
    if not members:
        return None
    rows_where = where

    def members_frame() -> pl.DataFrame:
        columns = ["_row", t.meta.column] + results._factor_columns(t.meta.den) + _term_columns(results, t)
        return results.fetch(columns, rows_where)

    factors = results.factors
    if isinstance(term, ast.Aggregate):
        value = results.term_value(info, row)
        if term.func == "count":
            counted = int(value)
        else:
            counted = int(found["counted"]) if "counted" in found else members
        return GroupStat(group, members, value, {"counted": counted})
    if isinstance(term, ast.Rank):
        operand, keys = parts["operand"], parts["keys"]

        def ranks() -> dict:
            ordered = SortedValues(members_frame(), operand, keys, factors)
            distinct: list = []
            for v in ordered:
                if not distinct or distinct[-1] != v:
                    distinct.append(v)
            if not term.ascending:
                distinct.reverse()
            return {v: n + 1 for n, v in enumerate(distinct)}

        return GroupStat(group, members, None, {"ranks": LazyDict(ranks)})
    if isinstance(term, ast.Top):
        places = math.ceil(plan_term.share * members) if plan_term.share is not None else int(plan_term.count)
        sorted_values = LazyList(lambda: SortedValues(members_frame(), parts["operand"], parts["keys"], factors))
        return GroupStat(group, members, None, {"sorted": sorted_values, "places": places})
    if isinstance(term, ast.Split):
        pool = results.python_part(parts["pool"], t.parts["pool"], row)
        total = Fraction(int(found["weights"] or 0), t.parts["weight"]["den"].c)
        shares = RowMap(_MemberRows(results, rows_where, members), lambda i: results.term_value(info, i))
        return GroupStat(group, members, pool, {"weight_total": total, "shares": shares})
    return GroupStat(group, members, results.term_value(info, row), {})


class _MemberRows(Set):
    """The rows of a group, as a set: membership asked of the engine one row at a time."""

    def __init__(self, results: SqlResults, where, members: int):
        self._results, self._where, self._members = results, where, members
        self._known: dict[int, bool] = {}
        self._all: list[int] | None = None

    def __contains__(self, i) -> bool:
        if i not in self._known:
            cond = T.Bin("=", T.Col("_row"), T.Int(int(i)))
            where = cond if self._where is None else T.Bin("AND", self._where, cond)
            found = self._results.engine.one(T.Select([(T.Cast(T.Agg("count"), "i64"), "n")], self._results.relation,
                                                      where=where))
            self._known[i] = bool(found["n"])
        return self._known[i]

    def __len__(self) -> int:
        return self._members

    def __iter__(self):
        if self._all is None:
            frame = self._results.fetch(["_row"], self._where)
            self._all = [int(v) for v in frame.get_column(PREFIX + "_row").to_list()]
        return iter(self._all)


def _term_columns(results: SqlResults, t) -> list[str]:
    """The engine columns a term's parts read (with the factors of their denominators)."""
    out = []
    parts = t.parts
    for key in ("chosen",):
        if isinstance(parts.get(key), str):
            out.append(parts[key])
    for key in ("operand", "pool", "weight"):
        value = parts.get(key)
        if isinstance(value, dict):
            if isinstance(value.get("n"), str):
                out.append(value["n"])
            if isinstance(value.get("plain"), str):
                out.append(value["plain"])
            out += results._factor_columns(value.get("den"))
    out += parts.get("keys") or []
    return out
