"""The fast path's results, usable wherever the exact evaluator's Results are.

`ColumnarResults` holds one polars frame with every definition (and every
population term) as exact integer columns. It answers like evaluate.Results:
`columns[name]` is a sequence of exact values (Fractions, bools, str, dates)
converted on demand — one value at a time for an explanation, the whole column
when someone iterates; `compiled` is the exact evaluator's own `Compiled`, whose
population terms read the stored columns instead of recomputing the population,
and whose group statistics (a group's sum, members, the pool of a split …) are
computed for one group when an explanation asks. So `explain` gives the exact
path's trace, from the fast path's results, in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

import polars as pl

from pkrules.language import ast
from pkrules.engine import plan as P
from pkrules.engine.columnar.values import NumV, den_expr, group_keys, python_values, value_list
from pkrules.engine.exact import Compiled
from pkrules.engine.results import Beyond, GroupStat, row_of, same_key


class ColumnarResults:
    """Every definition's column for a population, computed on the fast path (no row errors)."""

    def __init__(self, graph, plan: P.Plan, frame: pl.DataFrame, meta: dict, factors: dict,
                 row_numbers: list[int], exact_nodes: list[str], terms: dict):
        self.graph = graph
        self.plan = plan
        self.frame = frame
        self.meta = meta
        self.factors = factors
        self.row_numbers = row_numbers
        self.exact_nodes = exact_nodes  # definitions the fast path left to the exact evaluator
        self.terms = terms
        self.errors: list = []  # the fast path only returns results without row errors
        self.backend = "fast"
        self.columns = LazyColumns(self)
        self._probe: Compiled | None = None
        self._term_reads: dict[str, int] = {}  # a stored term's column → how many single values were read
        self._term_lists: dict[str, list] = {}  # … and its exact values, once many were

    @property
    def probe(self) -> Compiled:
        """The exact evaluator's closures over these columns, reading stored population terms (engine/results.py: Probe)."""
        if self._probe is None:
            self._probe = Compiled(self.graph, self.columns, self.size, terms=ColumnarTerms(self))
        return self._probe

    @property
    def size(self) -> int:
        return self.frame.height

    @property
    def keys(self):
        return self.columns[self.graph.key]

    def failed_rows(self) -> set[int]:
        return set()

    def value(self, name: str, index: int) -> object:
        return self.columns[name][index]

    def index_of(self, key: object, period: object = None) -> int | None:
        """The row of an employee (as evaluate.Results.index_of: with periods, the latest unless one is named)."""
        if self.meta[self.graph.key].kind == P.TEXT and isinstance(key, str):
            hits = self.frame.select(pl.arg_where(pl.col(self.graph.key) == key)).to_series().to_list()
            if not hits:
                hits = [i for i, k in enumerate(self.keys) if same_key(k, key)]
        else:
            hits = [i for i, k in enumerate(self.keys) if same_key(k, key)]
        period_name = getattr(self.graph, "period", None)
        if period_name is None or not hits:
            return hits[0] if hits else None
        periods = self.columns[period_name]
        found = row_of([self.keys[i] for i in hits], [periods[i] for i in hits], key, period)
        return None if found is None else hits[found]

    def rows_of(self, key: object) -> list[int]:
        """The rows of one employee (one per period), by key (the key as stored)."""
        meta = self.meta[self.graph.key]
        if meta.kind == P.TEXT and isinstance(key, str):
            return self.frame.select(pl.arg_where(pl.col(self.graph.key) == key)).to_series().to_list()
        return [i for i, k in enumerate(self.keys) if k == key]

    def keep(self, terms):
        """A kept run of these results (engine/kept.py), made with column expressions."""
        from pkrules.engine.columnar.keep import keep_columnar

        return keep_columnar(self, terms)

    # -- exact values
    def python_column(self, name: str) -> list:
        return python_values(self.frame, name, self.meta[name], self.factors)

    def python_value(self, name: str, index: int) -> object:
        meta = self.meta[name]
        raw = self.frame.get_column(name)[index]
        if meta.kind != P.NUM or raw is None:  # None: a blank (an optional input, a failed value nothing needed)
            return raw
        if meta.den.const:
            return Fraction(raw, meta.den.c)
        expr, _ = den_expr(meta.den, self.factors)
        return Fraction(raw, self.frame.slice(index, 1).select(expr.alias("d")).item())

    def python_rows(self, names: list[str], positions: list[int]) -> dict[str, list]:
        """The exact values of some rows of some columns (one gather, whatever the population's size)."""
        if not positions:
            return {name: [] for name in names}
        part = self.frame[positions]
        return {name: python_values(part, name, self.meta[name], self.factors) for name in names}

    def column_sum(self, name: str) -> Fraction:
        """The exact sum of a numeric column, without converting it."""
        meta = self.meta[name]
        if meta.kind == P.NUM and meta.den.const:
            total = self.frame.select(pl.col(name).cast(pl.Int128).sum()).item() if self.size else 0
            return Fraction(total, meta.den.c)
        if meta.kind == P.BOOL:
            return Fraction(self.frame.get_column(name).sum())
        return sum(self.python_column(name), Fraction(0))

    def term_value(self, info, index: int) -> object:
        found = self._term_lists.get(info.column)
        if found is not None:
            return found[index]
        reads = self._term_reads[info.column] = self._term_reads.get(info.column, 0) + 1
        if reads > _READS_BEFORE_LIST:  # many rows explained (a workbook row each): the whole column, once (as _Column)
            found = self._term_lists[info.column] = python_values(self.frame, info.column, info.meta, self.factors)
            return found[index]
        meta = info.meta
        raw = self.frame.get_column(info.column)[index]
        if meta.kind != P.NUM:
            return raw
        if meta.den.const:
            return Fraction(raw, meta.den.c)
        expr, _ = den_expr(meta.den, self.factors)
        return Fraction(raw, self.frame.slice(index, 1).select(expr.alias("d")).item())


class _Column(Sequence):
    """One column's exact values: single values converted when read, the whole column when iterated."""

    def __init__(self, results: ColumnarResults, name: str):
        self._results = results
        self._name = name
        self._values: list | None = None
        self._reads = 0  # single reads so far: past a few, converting the whole column is cheaper

    def _all(self) -> list:
        if self._values is None:
            self._values = self._results.python_column(self._name)
        return self._values

    def __getitem__(self, index):
        values = self._values
        if values is not None:  # (read for every value of every explanation: the shortest way first)
            return values[index]
        if isinstance(index, slice):
            return self._all()[index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        self._reads += 1
        if self._reads > 64:
            return self._all()[index]
        return self._results.python_value(self._name, index)

    def __len__(self) -> int:
        return self._results.size

    def __iter__(self):
        return iter(self._all())

    def __eq__(self, other) -> bool:
        if isinstance(other, (list, tuple, _Column)):
            return self._all() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<column {self._name} of {len(self)} rows>"


class LazyColumns(dict):
    """name → _Column, made on first use."""

    def __init__(self, results: ColumnarResults):
        super().__init__()
        self._results = results

    def __missing__(self, name: str) -> _Column:
        if name not in self._results.meta:
            raise KeyError(name)
        column = _Column(self._results, name)
        self[name] = column
        return column

    def __contains__(self, name: object) -> bool:
        return name in self._results.meta

    def get(self, name, default=None):
        return self[name] if name in self else default


# ---- explanations -------------------------------------------------------------------------------


class ColumnarTerms:
    """The fast path's population terms, for the exact evaluator's closures (engine/exact.py: TermSource).

    An explanation evaluates sub-expressions of one row with the exact closures;
    population terms (sums within a group, ranks, top N%, splits, values of
    another employee) are read from the columns the fast path stored instead of
    recomputing the population, and a group's statistic is computed for the one
    group asked about.
    """

    def __init__(self, results: "ColumnarResults"):
        self.results = results
        self._groups: dict[tuple[int, object], GroupStat | None] = {}
        self._probe: Compiled | None = None
        self._asked: dict[int, int] = {}  # id(term) → how many of its groups were asked about
        self._bulk: dict[int, _Bulk] = {}  # id(term) → every group's members, once many groups are asked about

    def info(self, term) -> object:
        """The stored term of an AST population term (or value of another row), if the fast path kept one."""
        found = self.results.plan.by_origin.get(id(term))
        if found is None or found[0] is not term:
            return None
        return self.results.terms.get(id(found[1]))

    def values(self, term, fallback):
        info = self.info(term)
        if info is None:
            return None
        results = self.results
        if info.err_column is None:
            return lambda i: results.term_value(info, i)
        failing = results.frame.get_column(info.err_column)
        exact: list = []
        reads = [0, failing]  # (single reads of the polars column; past many, it is read as one list)

        def read(i: int) -> object:
            reads[0] += 1
            if reads[0] == _READS_BEFORE_LIST:
                reads[1] = reads[1].to_list()
            if reads[1][i]:  # (only where the term is not reached: the fast path has no row errors)
                if not exact:
                    exact.append(fallback(term))
                return exact[0](i)
            return results.term_value(info, i)

        return read

    def related(self, term, row: int):
        return None  # related tables are not on the fast path

    def group(self, term, row: int) -> GroupStat | None:
        info = self.info(term)
        within = getattr(term, "within", None)
        probe = self.results.probe
        inner = None if within is None else probe.value(within, row)
        period = self.results.graph.period if not getattr(term, "across", False) else None
        group = (self.results.columns[period][row], inner) if period else inner
        key = (id(term), group)
        if key not in self._groups:
            bulk = self._bulk_of(term, info)
            members = bulk.members.get(row) if bulk is not None else None
            self._groups[key] = _group_stat(self.results, term, info, group, members, bulk)
        stat = self._groups[key]
        if stat is not None and isinstance(term, ast.Top):  # how many are better than this row
            values = stat.detail["sorted"]
            if values.sorted or values.counted >= _COUNTS_BEFORE_SORTING:
                better = values.beyond(probe.value(term.operand, row), term.bottom)
            else:
                better = values.better_than(row, term.bottom)
            stat = GroupStat(stat.group, stat.members, stat.value, {**stat.detail, "better": better})
        return stat


    def _bulk_of(self, term, info) -> "_Bulk | None":
        """Every group's members of a term, made once the term has been asked about many of its groups (a statement
        or a workbook row for every employee): one group_by over the group's columns instead of a query per group."""
        found = self._bulk.get(id(term))
        if found is not None:
            return found
        asked = self._asked[id(term)] = self._asked.get(id(term), 0) + 1
        if asked < _GROUPS_BEFORE_BULK or info is None:
            return None
        keys = [k for k, _ in group_keys(info)]
        if not keys:  # everyone is one group: asked about once
            return None
        found = self._bulk[id(term)] = _Bulk(self.results, info, keys)
        return found


# Groups of one term asked about, each with a query over every row, before every group's members are found at once.
_GROUPS_BEFORE_BULK = 16


class _Bulk:
    """Every group of a term at once: row → the positions of its group's members (rows whose group values are
    all there), and the term's parts as Python values for every row, read when first needed."""

    def __init__(self, results: "ColumnarResults", info, keys: list[pl.Expr]):
        self.results, self.info = results, info
        names = [f"#g{j}" for j in range(len(keys))]
        found = (results.frame.select([k.alias(n) for k, n in zip(keys, names)]).with_row_index("#i")
                 .filter(pl.all_horizontal([pl.col(n).is_not_null() for n in names]))
                 .group_by(names).agg(pl.col("#i")))
        self.members: dict[int, list[int]] = {}
        for positions in found.get_column("#i").to_list():
            positions.sort()
            for i in positions:
                self.members[i] = positions
        self._lists: dict[str, list] = {}

    def values(self, part: str) -> list:
        """A part of the term (its pool, its weight, what it counts) for every row, as exact values."""
        if part not in self._lists:
            self._lists[part] = value_list(self.results.frame, self.info.parts[part], self.results.factors)
        return self._lists[part]

    def chosen(self) -> list:
        if "#chosen" not in self._lists:
            self._lists["#chosen"] = self.results.frame.select(
                self.info.parts["chosen"].cast(pl.Int64).alias("c")).get_column("c").to_list()
        return self._lists["#chosen"]


# Rows of one group asked how many are better, each counted over the group's columns, before sorting the group
# once (then each is a bisection): a run's warnings ask one row, an explanation a few.
_COUNTS_BEFORE_SORTING = 8


def _group_filter(results: ColumnarResults, info, group) -> pl.Expr | None:
    """A condition selecting the rows of a group (None: everyone); False when no row can be in it."""
    parts = info.parts
    if parts.get("period") is not None:
        if not isinstance(group, tuple) or len(group) != 2:
            return pl.lit(False)
        period, group = group
        on_period = _equals(parts["period"], parts.get("period_meta"), period)
        if parts.get("group") is None:
            return on_period
        return on_period & _equals(parts["group"], parts.get("group_meta"), group)
    g = parts.get("group")
    if g is None:
        return None
    return _equals(g, parts.get("group_meta"), group)


def _equals(g, meta, group) -> pl.Expr:
    if isinstance(g, list):  # within (a, b): the group is a tuple
        if not isinstance(group, tuple) or len(group) != len(g):
            return pl.lit(False)
        out = pl.lit(True)
        for gk, mk, value in zip(g, meta, group):
            out = out & _equals(gk, mk, value)
        return out
    if meta is not None and meta.kind == P.NUM:
        if not isinstance(group, (int, Fraction)) or isinstance(group, bool):
            return pl.lit(False)
        scaled = Fraction(group) * meta.den.c
        if scaled.denominator != 1:
            return pl.lit(False)
        return g.cast(pl.Int128) == pl.lit(int(scaled), dtype=pl.Int128)
    if group is None:
        return pl.lit(False)
    return g == pl.lit(group)


def _group_stat(results: ColumnarResults, term, info, group, members_at: list[int] | None = None,
                bulk: _Bulk | None = None) -> GroupStat | None:
    if members_at is not None and isinstance(term, (ast.Aggregate, ast.Split)):
        return _group_stat_of(results, term, info, group, members_at, bulk)
    frame = results.frame
    mask = None if members_at is not None else _group_filter(results, info, group)
    if members_at is not None:  # (known from every group's members at once)
        rows = frame.with_row_index("#i")[members_at]
    elif mask is None:
        rows = frame.with_row_index("#i")
    else:  # the members' positions from the group's own column, then only their rows (not a filter of every column)
        members_at = frame.select(pl.arg_where(mask)).to_series()
        rows = frame.with_row_index("#i")[members_at]
    members = rows.height
    if not members:
        return None
    first = rows.get_column("#i")[0]
    parts = info.parts
    factors = results.factors
    if isinstance(term, ast.Aggregate):
        value = results.term_value(info, first)
        chosen = parts.get("chosen")
        if term.func == "count":
            counted = int(value)
        elif chosen is not None:
            counted = int(rows.select(chosen.cast(pl.Int64).sum()).item())
        else:
            counted = members
        return GroupStat(group, members, value, {"counted": counted})
    if isinstance(term, ast.Rank):
        operand, keys = parts["operand"], parts["keys"]

        def ranks() -> dict:
            ordered = SortedValues(rows, operand, keys, factors)
            distinct: list = []
            for v in ordered:
                if not distinct or distinct[-1] != v:
                    distinct.append(v)
            if not term.ascending:
                distinct.reverse()
            return {v: n + 1 for n, v in enumerate(distinct)}

        return GroupStat(group, members, None, {"ranks": LazyDict(ranks)})
    if isinstance(term, ast.Top):
        plan_term = info.expr
        places = math.ceil(plan_term.share * members) if plan_term.share is not None else int(plan_term.count)
        values = SortedValues(rows, parts["operand"], parts["keys"], factors,
                              info.column if info.err_column is None else None)
        detail = {"sorted": values, "places": places}
        if info.err_column is None:  # every member's answer is stored: count those in it, without sorting
            selected = int(rows.get_column(info.column).sum())
            detail["selected"] = selected
            detail["cut"] = values.extreme_of(pl.col(info.column), term.bottom) if selected > places else None
        return GroupStat(group, members, None, detail)
    if isinstance(term, ast.Split):
        pool = value_list(rows.head(1), parts["pool"], factors)[0]
        weights = value_list(rows, parts["weight"], factors)
        total = sum(weights, Fraction(0))
        member_rows = set(rows.get_column("#i").to_list())
        shares = RowMap(member_rows, lambda i: results.term_value(info, i))
        return GroupStat(group, members, pool, {"weight_total": total, "shares": shares})
    return GroupStat(group, members, results.term_value(info, first), {})


_READS_BEFORE_LIST = 64  # one explanation bisects a group in about log2(n) reads; more mean many explanations


def _group_stat_of(results: ColumnarResults, term, info, group, members: list[int], bulk: _Bulk) -> GroupStat:
    """_group_stat of a sum, count, average, min, max or split from the term's values for every row, read once:
    the same statistic without a query for the group."""
    first = members[0]
    if isinstance(term, ast.Aggregate):
        value = results.term_value(info, first)
        if term.func == "count":
            counted = int(value)
        elif info.parts.get("chosen") is not None:
            chosen = bulk.chosen()
            counted = sum(chosen[i] or 0 for i in members)
        else:
            counted = len(members)
        return GroupStat(group, len(members), value, {"counted": counted})
    pool = bulk.values("pool")[first]
    weights = bulk.values("weight")
    total = sum((weights[i] for i in members), Fraction(0))
    shares = RowMap(set(members), lambda i: results.term_value(info, i))
    return GroupStat(group, len(members), pool, {"weight_total": total, "shares": shares})


class SortedValues(Sequence):
    """A group's values in ascending order (sorted by polars on exact integer keys, when first read), each
    converted to a Fraction only when read: bisecting it reads about log2(n) of them. Before any sort, it
    also counts the members better than one row, and finds the extreme value of some members, in one pass
    over the group's columns."""

    def __init__(self, rows: pl.DataFrame, operand, keys: list, factors: dict, chosen: str | None = None):
        # only the columns it reads are kept (the operand's, the keys', the rows' positions, the chosen ones'):
        # not every column of the results, for as long as the group's statistic is
        needed = {"#i"} | ({chosen} if chosen else set())
        for expr in [operand.n.expr if hasattr(operand, "n") else operand.expr] + list(keys):
            needed.update(expr.meta.root_names())
        if isinstance(operand, NumV) and not operand.den.const:
            needed.update(den_expr(operand.den, factors)[0].meta.root_names())
        rows = rows.select([c for c in rows.columns if c in needed])
        self._rows, self._operand, self._keys, self._factors = rows, operand, keys, factors
        self._n = None  # a polars Series once sorted (one value is read when one is asked for); later a list
        self._d = None
        self._cache: dict[int, Fraction] = {}
        self._reads = 0
        self.counted = 0  # rows counted by better_than
        self._beyond: Beyond | None = None

    @property
    def sorted(self) -> bool:
        return self._n is not None

    def _columns(self) -> list[pl.Expr]:
        cols = [self._operand.n.expr.alias("n")]
        if isinstance(self._operand, NumV) and not self._operand.den.const:
            cols.append(den_expr(self._operand.den, self._factors)[0].alias("d"))
        return cols

    def _sort(self) -> None:
        if self._n is not None:
            return
        keys = [k.alias(f"#k{i}") for i, k in enumerate(self._keys)]
        ordered = self._rows.select(self._columns() + keys).sort([f"#k{i}" for i in range(len(keys))])
        self._n = ordered.get_column("n")
        self._d = ordered.get_column("d") if "d" in ordered.columns else self._operand.den.c

    def better_than(self, row: int, bottom: bool) -> int:
        """How many members are strictly better than the row `row` of the results (lower, for a bottom):
        the members whose keys come after its keys (before them), compared left to right."""
        self.counted += 1
        own = self._rows.lazy().filter(pl.col("#i") == row).select(self._keys).collect().row(0)
        after = None
        for key, value in zip(reversed(self._keys), reversed(own)):
            here = pl.lit(value, dtype=pl.Int128)
            beyond = key.cast(pl.Int128) < here if bottom else key.cast(pl.Int128) > here
            after = beyond if after is None else beyond | ((key.cast(pl.Int128) == here) & after)
        return int(self._rows.select(after.sum()).item())

    def beyond(self, v, bottom: bool) -> int:
        """How many values are strictly greater than v (strictly less, for a bottom)."""
        if self._beyond is None:
            self._beyond = Beyond(self)
        return self._beyond(v, bottom)

    def extreme_of(self, chosen: pl.Expr, bottom: bool) -> Fraction:
        """The smallest value of the chosen members (the largest, for a bottom)."""
        keys = self._keys
        # (lazily: only the operand's and the keys' columns are filtered, not every column of the results)
        picked = self._rows.lazy().filter(chosen).select(
            self._columns() + [k.alias(f"#k{i}") for i, k in enumerate(keys)]).collect()
        by = [f"#k{i}" for i in range(len(keys))]
        one = picked.top_k(1, by=by) if bottom else picked.bottom_k(1, by=by)
        d = one.get_column("d")[0] if "d" in one.columns else self._operand.den.c
        return Fraction(one.get_column("n")[0], d)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        value = self._cache.get(k)
        if value is None:
            self._sort()
            self._reads += 1
            if self._reads == _READS_BEFORE_LIST:
                # Many reads (a statement or a workbook row for every member): reading a polars Series one element
                # at a time costs microseconds each; Python lists of the values are read in nanoseconds.
                self._n = self._n.to_list()
                if not isinstance(self._d, int):
                    self._d = self._d.to_list()
            value = Fraction(self._n[k], self._d if isinstance(self._d, int) else self._d[k])
            self._cache[k] = value
        return value

    def __len__(self) -> int:
        return self._rows.height

    def __iter__(self):
        self._sort()
        d, n = self._d, self._n if isinstance(self._n, list) else self._n.to_list()
        if isinstance(d, int):
            return (Fraction(v, d) for v in n)
        return (Fraction(v, dk) for v, dk in zip(n, d if isinstance(d, list) else d.to_list()))


class _Lazy:
    """A list or dict built on first use (most are never asked for)."""

    def __init__(self, make):
        self._make = make
        self._values = None

    def _all(self):
        if self._values is None:
            self._values = self._make()
        return self._values

    def __getitem__(self, k):
        return self._all()[k]

    def __len__(self):
        return len(self._all())

    def __iter__(self):
        return iter(self._all())


class LazyDict(_Lazy, Mapping):
    pass


class LazyList(_Lazy, Sequence):
    """A sequence made on first use (the values behind a top N%: read only if someone asks)."""


class RowMap(Mapping):
    """row → value for the rows of a group, each read when asked for."""

    def __init__(self, rows: set[int], read):
        self._rows = rows
        self._read = read

    def __getitem__(self, i):
        if i not in self._rows:
            raise KeyError(i)
        return self._read(i)

    def __len__(self):
        return len(self._rows)

    def __iter__(self):
        return iter(sorted(self._rows))
