"""The SQL the backends emit, as a small dialect-neutral tree: expressions, the steps of a query, and a base printer.

The compiler (compile.py) builds this tree from the plan; each dialect's emitter
(duckdb.py, spark.py) prints it. Nothing here is a string until it is printed, so
no dialect's SQL is ever translated into another's: a construct whose meaning
differs between engines (integer division, wide integers, ISO weeks, struct
aggregates) is its own node, and each printer says it in its engine's words.

Integers carry their width: "narrow" (BIGINT in both engines) or "wide"
(HUGEINT in DuckDB, DECIMAL(38,0) in Spark); the compiler's range analysis
(numeric.py) chooses it so that no value ever exceeds its type.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field


class E:
    """An SQL expression."""


@dataclass(frozen=True, eq=False)
class Col(E):
    name: str
    table: str | None = None  # a qualifier inside a join ("p" the current relation, "r" the joined one)


@dataclass(frozen=True, eq=False)
class Star(E):
    """All the columns (of a qualified relation)."""

    table: str | None = None


@dataclass(frozen=True, eq=False)
class Int(E):
    value: int
    wide: bool = False


@dataclass(frozen=True, eq=False)
class Str(E):
    value: str


@dataclass(frozen=True, eq=False)
class Bool(E):
    value: bool


@dataclass(frozen=True, eq=False)
class Date(E):
    value: dt.date


@dataclass(frozen=True, eq=False)
class Dbl(E):
    value: float


@dataclass(frozen=True, eq=False)
class Null(E):
    pass


@dataclass(frozen=True, eq=False)
class Bin(E):
    """a op b: + - * (integers of one width), comparisons, AND, OR."""

    op: str
    a: E
    b: E


@dataclass(frozen=True, eq=False)
class Not(E):
    a: E


@dataclass(frozen=True, eq=False)
class Case(E):
    whens: tuple  # ((cond, value), …)
    else_: E


@dataclass(frozen=True, eq=False)
class Cast(E):
    """to: i64 | i128 | f64 | text | bool | date."""

    a: E
    to: str


@dataclass(frozen=True, eq=False)
class Div(E):
    """floor(a / b) for a ≥ 0 and b ≥ 1, exactly (never the engine's own rounding division)."""

    a: E
    b: E
    wide: bool


@dataclass(frozen=True, eq=False)
class Mod(E):
    """a mod b for a ≥ 0 and b ≥ 1."""

    a: E
    b: E
    wide: bool


@dataclass(frozen=True, eq=False)
class Unscaled(E):
    """A DECIMAL(p, scale) column's value × 10^scale, as a wide integer (exact: it has no decimals left)."""

    a: E
    scale: int


@dataclass(frozen=True, eq=False)
class Fn(E):
    """A scalar function by its neutral name (each printer knows them):
    abs, least, greatest, coalesce, floor_f64 (double → BIGINT), iso_year, iso_week, month, quarter,
    year, lpad (text, width, char), concat, strip (Python's str.strip), edge_space (starts or ends with
    white space), lower, is_null, in_list, fail (raise the engine's error with a message)."""

    name: str
    args: tuple


@dataclass(frozen=True, eq=False)
class Agg(E):
    """An aggregate: sum, count (arg None: count(*)), min, max, any (bool_or), all (bool_and)."""

    name: str
    arg: E | None = None


@dataclass(frozen=True, eq=False)
class ArgMin(E):
    """The fields of the row with the least (max=True: greatest) key, as a struct; ties: any of them."""

    fields: tuple  # ((name, expr), …)
    key: E
    max: bool = False


@dataclass(frozen=True, eq=False)
class Field(E):
    """A field of a struct."""

    struct: E
    name: str


@dataclass(frozen=True, eq=False)
class Win(E):
    """A window function: rank, dense_rank, row_number, sum, count, min, max, any.

    frame "before": the rows before this one in the order (ROWS UNBOUNDED PRECEDING TO 1 PRECEDING).
    """

    name: str
    arg: E | None
    partition: tuple
    order: tuple = ()  # ((expr, descending), …)
    frame: str | None = None


# ---- the steps of a query ----------------------------------------------------------------------


@dataclass
class Select:
    """SELECT columns FROM source [WHERE] [GROUP BY]; source: a relation name or a Select."""

    columns: list  # [(expr, alias)]
    source: object
    where: E | None = None
    group_by: list = field(default_factory=list)
    distinct: bool = False


@dataclass
class Joined:
    """A source: two queries joined (aliases l and r); on: [(column of l, column of r)]."""

    left: Select
    right: Select
    on: list
    kind: str = "left"


@dataclass
class Project:
    """The current relation with more columns: SELECT p.*, e AS c, … FROM current p."""

    columns: list  # [(alias, expr)]


@dataclass
class Join:
    """The current relation joined with another (usually an aggregate of itself): its columns added.

    kind: "left" (on pairs of (expression over p, column of r)) or "cross" (r has one row).
    """

    right: Select
    on: list  # [(E over p, column name of r)]
    take: list  # [(column of r, alias)]
    kind: str = "left"


# ---- printing -----------------------------------------------------------------------------------


class Printer(ABC):
    """Expressions and steps as SQL text; a dialect overrides what its engine says differently."""

    name = "sql"
    narrow_type = "BIGINT"
    wide_type = "HUGEINT"
    text_type = "VARCHAR"

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def col(self, e: Col) -> str:
        return (e.table + "." if e.table else "") + self.quote(e.name)

    def type_name(self, to: str) -> str:
        if to.startswith("decimal"):
            return to.upper()
        return {"i64": self.narrow_type, "i128": self.wide_type, "f64": "DOUBLE", "text": self.text_type,
                "bool": "BOOLEAN", "date": "DATE"}[to]

    @abstractmethod
    def int_lit(self, value: int, wide: bool) -> str:
        """An integer literal of the narrow or the wide type: each dialect says it (duckdb.py, spark.py)."""

    def text_lit(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def expr(self, e: E) -> str:
        method = getattr(self, "_" + type(e).__name__)
        return method(e)

    def _Col(self, e: Col) -> str:
        return self.col(e)

    def _Star(self, e: Star) -> str:
        return (e.table + "." if e.table else "") + "*"

    def _Int(self, e: Int) -> str:
        return self.int_lit(e.value, e.wide)

    def _Str(self, e: Str) -> str:
        return self.text_lit(e.value)

    def _Bool(self, e: Bool) -> str:
        return "TRUE" if e.value else "FALSE"

    def _Date(self, e: Date) -> str:
        return f"DATE '{e.value.isoformat()}'"

    def _Dbl(self, e: Dbl) -> str:
        return f"CAST({e.value!r} AS DOUBLE)"

    def _Null(self, e: Null) -> str:
        return "NULL"

    def _Bin(self, e: Bin) -> str:
        return f"({self.expr(e.a)} {e.op} {self.expr(e.b)})"

    def _Not(self, e: Not) -> str:
        return f"(NOT {self.expr(e.a)})"

    def _Case(self, e: Case) -> str:
        whens = " ".join(f"WHEN {self.expr(c)} THEN {self.expr(v)}" for c, v in e.whens)
        return f"(CASE {whens} ELSE {self.expr(e.else_)} END)"

    def _Cast(self, e: Cast) -> str:
        return f"CAST({self.expr(e.a)} AS {self.type_name(e.to)})"

    def _Fn(self, e: Fn) -> str:
        args = [self.expr(a) for a in e.args]
        special = getattr(self, "fn_" + e.name, None)
        if special is not None:
            return special(*args)
        return f"{e.name.upper()}({', '.join(args)})"

    def fn_floor_f64(self, a: str) -> str:
        return f"CAST(FLOOR({a}) AS BIGINT)"

    def create_table(self, name: str, query: str) -> str:
        """The statement that materialises a relation (what the runner does, as a script says it)."""
        return f"CREATE OR REPLACE TEMP TABLE {name} AS\n{query};"

    def create_view(self, name: str, query: str) -> str:
        return f"CREATE OR REPLACE TEMP VIEW {name} AS\n{query};"

    def fn_fail(self, message: str) -> str:
        return f"ERROR({message})"

    def fn_lpad(self, a: str, width: str, char: str) -> str:
        return f"LPAD({a}, CAST({width} AS INT), {char})"

    def fn_in_list(self, a: str, *options: str) -> str:
        return f"({a} IN ({', '.join(options)}))"

    def fn_is_null(self, a: str) -> str:
        return f"({a} IS NULL)"

    def fn_concat(self, *args: str) -> str:
        return f"CONCAT({', '.join(args)})"

    def _Agg(self, e: Agg) -> str:
        if e.name == "count" and e.arg is None:
            return "COUNT(*)"
        name = {"any": "BOOL_OR", "all": "BOOL_AND"}.get(e.name, e.name.upper())
        return f"{name}({self.expr(e.arg)})"

    def _Win(self, e: Win) -> str:
        if e.name in ("rank", "dense_rank", "row_number"):
            call = f"{e.name.upper()}()"
        elif e.name == "count" and e.arg is None:
            call = "COUNT(*)"
        else:
            call = f"{ {'any': 'BOOL_OR'}.get(e.name, e.name.upper()) }({self.expr(e.arg)})"
        parts = []
        if e.partition:
            parts.append("PARTITION BY " + ", ".join(self.expr(p) for p in e.partition))
        if e.order:
            parts.append("ORDER BY " + ", ".join(self.expr(x) + (" DESC" if d else " ASC") for x, d in e.order))
        if e.frame == "before":
            parts.append("ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING")
        return f"{call} OVER ({' '.join(parts)})"

    def _Field(self, e: Field) -> str:
        return f"({self.expr(e.struct)}).{self.quote(e.name)}"

    # -- steps
    def source(self, source, names: dict) -> str:
        """A Select's source: a relation (CURRENT and older relations by names), a query, a join."""
        if isinstance(source, str):
            return names.get(source, source)
        if isinstance(source, Select):
            return f"({self.select(source, names)})"
        if isinstance(source, Joined):
            on = " AND ".join(f"l.{self.quote(a)} = r.{self.quote(b)}" for a, b in source.on)
            kind = "LEFT JOIN" if source.kind == "left" else "JOIN"
            return f"({self.select(source.left, names)}) l {kind} ({self.select(source.right, names)}) r ON {on}"
        raise TypeError(type(source).__name__)

    def select(self, s: Select, names: dict) -> str:
        cols = ", ".join(self.expr(e) if alias is None else f"{self.expr(e)} AS {self.quote(alias)}"
                         for e, alias in s.columns)
        text = f"SELECT {'DISTINCT ' if s.distinct else ''}{cols} FROM {self.source(s.source, names)}"
        if s.where is not None:
            text += f" WHERE {self.expr(s.where)}"
        if s.group_by:
            text += " GROUP BY " + ", ".join(self.expr(g) for g in s.group_by)
        return text

    def step(self, step, current: str, names: dict) -> str:
        """One step as a query over the relation named current (names: how a Select's sources are called)."""
        if isinstance(step, Project):
            cols = ", ".join(f"{self.expr(e)} AS {self.quote(alias)}" for alias, e in step.columns)
            return f"SELECT p.*, {cols} FROM {current} p"
        if isinstance(step, Join):
            cols = ", ".join(f"r.{self.quote(c)} AS {self.quote(alias)}" for c, alias in step.take)
            right = self.select(step.right, names)
            if step.kind == "cross":
                return f"SELECT p.*, {cols} FROM {current} p CROSS JOIN ({right}) r"
            on = " AND ".join(f"{self.expr(left)} = r.{self.quote(c)}" for left, c in step.on)
            return f"SELECT p.*, {cols} FROM {current} p LEFT JOIN ({right}) r ON {on}"
        raise TypeError(type(step).__name__)


def current_reads(source) -> set[str]:
    """The columns of the current relation that a Select (with its nested sources) reads."""
    if isinstance(source, Joined):
        return current_reads(source.left) | current_reads(source.right)
    if not isinstance(source, Select):
        return set()
    if isinstance(source.source, str):
        if source.source.startswith("@"):
            return columns_of([source.columns, source.where, source.group_by])
        return set()
    return current_reads(source.source)


def set_source(source, old: str, new: str) -> None:
    """Make a Select (and its nested sources) read relation new where it read old."""
    if isinstance(source, Joined):
        set_source(source.left, old, new)
        set_source(source.right, old, new)
    elif isinstance(source, Select):
        if isinstance(source.source, str):
            if source.source == old:
                source.source = new
        else:
            set_source(source.source, old, new)


def columns_of(e) -> set[str]:
    """The names of the columns an expression (or a step) reads."""
    out: set[str] = set()
    _columns(e, out)
    return out


def _columns(e, out: set[str]) -> None:
    if isinstance(e, Col):
        out.add(e.name)
        return
    if isinstance(e, (E, Select, Project, Join, Joined)):
        for value in vars(e).values():
            _columns(value, out)
    elif isinstance(e, (tuple, list)):
        for item in e:
            _columns(item, out)
