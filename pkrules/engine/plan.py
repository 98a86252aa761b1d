"""A backend-neutral columnar plan, compiled from the checked rule graph.

The exact evaluator (evaluate.py) is the semantics: row by row, over
fractions.Fraction. This module restates a policy as column expressions that a
columnar backend (pkrules/columnar/polars_backend.py; later perhaps SQL) can
execute over a whole population at once, without knowing the surface syntax:

- every value has a kind: NUM (an exact rational), BOOL, TEXT (text and one-of
  values) or DATE, and the unit the checker gave it (money, percent, …);
- arithmetic, comparisons and rounding are plain operators; rule tables,
  lookups, scorecards and tiers are lowered to a few operators (`Table`,
  `Lookup`, `If`, `Extreme`, `Arith`);
- population terms stay population terms (`Aggregate`, `Rank`, `Top`, `Split`),
  as do the terms that read other rows (`ValueOf`: score[partner]; with several
  periods `Previous` and `Consecutive`, and terms grouped by period unless
  `across periods`): a backend implements them with group-bys, windows, joins
  and sorts.

Exactness is the backend's contract, not a hint: a backend must give exactly
the values evaluate.py gives, or decline (raise) so that the caller runs the
exact evaluator. The plan says where a row can fail — a division by zero, a
lookup key with no entry, a rule table where no row (or, for `unique`, more
than one row) applies, a group that has nobody for avg/min/max, a pool that
cannot be split — and in which order the evaluator reaches each part of an
expression (`If`, `Table`, `And`, `Or`, `InList` stop early; everything else
evaluates all its operands), so that a backend can tell whether a row would
fail exactly as the evaluator would. The order is documented on each class.

Every expression keeps the AST node it came from (`origin`, excluded from
equality) so that a backend may evaluate one term with the exact evaluator.
Structurally equal expressions are the same object (the compiler interns
them), so backends can cache by identity.

An AST node the compiler does not know raises PlanError naming it — so does a
field of a known node that it does not know, set to anything but its default,
and a rule graph or policy with a feature it does not know (related tables):
when the language grows, the columnar path fails loudly (the CLI says so and
runs the exact evaluator; the property test in tests/test_columnar.py fails)
instead of computing something else.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from fractions import Fraction
from typing import Optional

from pkrules.engine.results import Declined
from pkrules.language import ast
from pkrules.language.builtins import constant_value, expressions_of, function_of
from pkrules.language.rule_graph import RuleGraph
from pkrules.values.types import BOOL as T_BOOL_KIND
from pkrules.values.types import DATE as T_DATE_KIND
from pkrules.values.types import NUMERIC, Type

NUM, BOOL, TEXT, DATE = "num", "bool", "text", "date"


class PlanError(Declined):
    """The compiler met something it cannot translate (it names the construct); the exact evaluator runs instead."""

    def __init__(self, reason: str):
        super().__init__(reason, notable=True)


def kind_of(t: Type | None) -> str:
    if t is None:
        raise PlanError("an expression has no type (was the policy checked?)")
    if t.kind in NUMERIC:
        return NUM
    if t.kind == T_BOOL_KIND:
        return BOOL
    if t.kind == T_DATE_KIND:
        return DATE
    if t.kind in ("text", "enum"):
        return TEXT
    raise PlanError(f"no columnar kind for values of type {t.kind!r}")


# ---- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PExpr:
    """Base of plan expressions. `kind` is NUM/BOOL/TEXT/DATE; `unit` the checker's type kind."""

    def children(self) -> list["PExpr"]:
        out: list[PExpr] = []
        for f in fields(self):
            if f.name in ("origin",):
                continue
            _collect(getattr(self, f.name), out)
        return out


def _collect(value, out: list) -> None:
    if isinstance(value, PExpr):
        out.append(value)
    elif isinstance(value, tuple):
        for item in value:
            _collect(item, out)


def _origin():
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, eq=False)
class Lit(PExpr):
    """A constant: Fraction (NUM), bool, str (TEXT) or a date."""

    value: object
    kind: str
    unit: str = "const"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Col(PExpr):
    """An input column or the column of a definition computed before this one."""

    name: str
    kind: str
    unit: str
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Arith(PExpr):
    """left + - * right. Both sides are evaluated."""

    op: str
    left: PExpr
    right: PExpr
    unit: str
    kind: str = NUM
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Div(PExpr):
    """left / right. Both sides are evaluated; the row fails when right is 0."""

    left: PExpr
    right: PExpr
    unit: str
    kind: str = NUM
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Neg(PExpr):
    operand: PExpr
    unit: str
    kind: str = NUM
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Abs(PExpr):
    operand: PExpr
    unit: str
    kind: str = NUM
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Extreme(PExpr):
    """min(…) or max(…) of two or more values; all are evaluated."""

    func: str  # min | max
    args: tuple
    unit: str
    kind: str = NUM
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Step(PExpr):
    """round (half-up, away from zero) / floor / ceil to a multiple of a positive step."""

    mode: str  # round | floor | ceil
    operand: PExpr
    step: Fraction
    unit: str
    kind: str = NUM
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Compare(PExpr):
    """a op b, or a chain a op1 b op2 c; every operand is evaluated first."""

    ops: tuple  # of >= <= > < = !=
    operands: tuple
    kind: str = BOOL
    unit: str = "yesno"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class InList(PExpr):
    """value in (o1, o2, …): the options are evaluated in order until one is equal."""

    value: PExpr
    options: tuple
    negated: bool
    kind: str = BOOL
    unit: str = "yesno"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class And(PExpr):
    """left and right: right is evaluated only when left is true."""

    left: PExpr
    right: PExpr
    kind: str = BOOL
    unit: str = "yesno"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Or(PExpr):
    """left or right: right is evaluated only when left is false."""

    left: PExpr
    right: PExpr
    kind: str = BOOL
    unit: str = "yesno"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Not(PExpr):
    operand: PExpr
    kind: str = BOOL
    unit: str = "yesno"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class If(PExpr):
    """if cond then a else b: only the chosen branch is evaluated."""

    cond: PExpr
    then: PExpr
    else_: PExpr
    kind: str
    unit: str
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Table(PExpr):
    """A rule table. rows: ((cond, value), …); otherwise: the OTHERWISE value or None.

    first:  conditions in order until one holds, then its value; fails when none holds
            and there is no otherwise.
    unique: every condition is evaluated; fails when two hold; else the value of the
            one that holds, or otherwise, or fails.
    sum:    every condition is evaluated, and the value of each that holds; their sum,
            or otherwise when none holds (0 without otherwise).
    """

    hit: str
    rows: tuple
    otherwise: Optional[PExpr]
    kind: str
    unit: str
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Lookup(PExpr):
    """key → value. entries: ((key, value), …) with str or Fraction keys; default or None.

    The key is evaluated, then only the matching entry's value (or the default's);
    the row fails when no entry matches and there is no default.
    """

    key: PExpr
    entries: tuple
    default: Optional[PExpr]
    kind: str
    unit: str
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class ValueOf(PExpr):
    """Another row's value: `column` of the row whose `by` equals key (by: the policy's key column
    for score[partner]; a group column for team_avg[team = opponent]).

    The key is evaluated; the row fails when no row has it, or (a group) when its members'
    values of `column` differ.
    """

    column: PExpr  # a Col
    key: PExpr
    by: PExpr  # a Col
    group: bool  # False: by the key column (one row); True: by a group column
    kind: str
    unit: str
    period: Optional[PExpr] = None  # with several periods: the row of the same period
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Previous(PExpr):
    """previous(x[, default]): x of the same employee (key) in the period before this row's one,
    in the order of all the periods of the data; else the default (evaluated only then), or the
    row fails."""

    column: PExpr  # a Col
    default: Optional[PExpr]
    key: PExpr
    period: PExpr
    kind: str
    unit: str
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Consecutive(PExpr):
    """consecutive(cond): how many periods in a row, up to this one, cond has held for this
    employee (0 when it does not hold now). cond is evaluated for every row."""

    cond: PExpr
    key: PExpr
    period: PExpr
    kind: str = NUM
    unit: str = "whole"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Tuple(PExpr):
    """`within (team, week(day))`: a group made of several values (only as a group key)."""

    items: tuple
    kind: str = "tuple"
    unit: str = "tuple"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class DateLabel(PExpr):
    """week / month / quarter / year of a date, as text: 2024-W27, 2024-07, 2024Q3, 2024."""

    part: str
    operand: PExpr
    kind: str = TEXT
    unit: str = "text"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class DatePart(PExpr):
    """year / month_of_year / quarter_of_year / day_of_month of a date, as a whole number."""

    part: str
    operand: PExpr
    kind: str = NUM
    unit: str = "whole"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class DateDiff(PExpr):
    """left − right for two dates: the whole number of days between them."""

    left: PExpr
    right: PExpr
    kind: str = NUM
    unit: str = "whole"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class DateAdd(PExpr):
    """A date moved by a whole number of days (negative: back); the row fails when days is not whole."""

    date: PExpr
    days: PExpr
    kind: str = DATE
    unit: str = "date"
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Aggregate(PExpr):
    """sum/avg/count/min/max of operand over the rows where `where` holds, within a group.

    For each group (everyone when within is None) every member's `where` is evaluated,
    and the operand of those chosen (for count the operand is a condition). A group
    fails as a whole when any of that fails, or when avg/min/max has nobody; each row
    that uses the term then fails. `within` is evaluated for every row.
    """

    func: str
    operand: Optional[PExpr]
    where: Optional[PExpr]
    within: Optional[PExpr]
    unit: str
    kind: str = NUM
    period: Optional[PExpr] = None  # with several periods: groups are also split by period
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Rank(PExpr):
    """Dense rank of operand within the group, highest first unless ascending (1, 2, 2, 3)."""

    operand: PExpr
    ascending: bool
    within: Optional[PExpr]
    kind: str = NUM
    unit: str = "whole"
    period: Optional[PExpr] = None
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Top(PExpr):
    """operand in top/bottom N% or N: fewer than `places` members are strictly better.

    places = ceil(share × group size) when share is given, else count.
    """

    operand: PExpr
    share: Optional[Fraction]
    count: Optional[int]
    bottom: bool
    within: Optional[PExpr]
    kind: str = BOOL
    unit: str = "yesno"
    period: Optional[PExpr] = None
    origin: object = _origin()


@dataclass(frozen=True, eq=False)
class Split(PExpr):
    """A pool split by weight within a group to the cent, by largest remainder, ties by key.

    Fails for a group whose members do not share one pool, with a negative weight, or
    (when the weights do not add up to 0) a pool that is not whole cents.
    """

    pool: PExpr
    weight: PExpr
    within: Optional[PExpr]
    key: PExpr
    unit: str
    kind: str = NUM
    period: Optional[PExpr] = None
    origin: object = _origin()


POPULATION_TERMS = (Aggregate, Rank, Top, Split)
ACROSS_ROWS = POPULATION_TERMS + (ValueOf, Previous, Consecutive)  # terms that read other rows


# ---- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanInput:
    """One input column: its kind, declared type and limits (exact)."""

    name: str
    column: str  # the header in the data
    kind: str
    type: Type
    key: bool
    enum_values: tuple = ()
    low: Fraction | None = None
    high: Fraction | None = None
    compares: tuple = ()  # ((op, Fraction), …)


@dataclass(frozen=True)
class PlanNode:
    """One definition of the policy: its name, expression, kind and declared unit."""

    name: str
    expr: PExpr
    kind: str
    type: Type
    decl_kind: str  # definition | table | lookup | weighted


@dataclass(frozen=True)
class Plan:
    inputs: tuple
    nodes: tuple  # in dependency order
    key: str
    outputs: tuple  # every definition, in the order the policy wrote them (the output columns)
    period: str | None = None  # the input that says which period a row is for (key + period is unique)
    # id(AST expression) → (the AST expression, its plan expression): how explanations find stored terms
    by_origin: dict = field(default_factory=dict, compare=False, repr=False)

    def node(self, name: str) -> PlanNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def describe(self) -> str:
        """A readable dump of the plan (for debugging and the docs)."""
        lines = [f"inputs: {', '.join(f'{i.name}:{i.kind}' for i in self.inputs)} (key {self.key})"]
        for n in self.nodes:
            lines.append(f"{n.name} : {n.kind} [{n.type.kind}] = {show(n.expr)}")
        return "\n".join(lines)


def show(e: PExpr) -> str:
    if isinstance(e, Lit):
        return repr(e.value) if e.kind != NUM else str(e.value)
    if isinstance(e, Col):
        return e.name
    parts = []
    for f in fields(e):
        if f.name in ("origin", "kind", "unit"):
            continue
        v = getattr(e, f.name)
        if f.name == "period" and v is None:
            continue
        parts.append(_show_value(v))
    return f"{type(e).__name__}({', '.join(parts)})"


def _show_value(v) -> str:
    if isinstance(v, PExpr):
        return show(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(_show_value(x) for x in v) + ")"
    return repr(v)


def walk(e: PExpr):
    """Every expression below (and including) e, depth first (with a stack: no quadratic `yield from`)."""
    stack = [e]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(current.children())))


# ---- the compiler --------------------------------------------------------------------------


# The fields of each AST class that the compiler understands. A field it does not know
# (added to the language later) with anything but its default value is a PlanError: the
# compiler never silently ignores a part of the policy.
_KNOWN_FIELDS = {
    ast.Number: {"value", "is_money", "text", "span"},
    ast.Percent: {"value", "text", "span"},
    ast.Text: {"value", "span"},
    ast.Name: {"name", "span", "constant"},
    ast.Neg: {"operand", "span"},
    ast.Binary: {"op", "left", "right", "span"},
    ast.Compare: {"operands", "ops", "span"},
    ast.Between: {"value", "low", "high", "span"},
    ast.InList: {"value", "options", "negated", "span"},
    ast.Logic: {"op", "left", "right", "span"},
    ast.Not: {"operand", "span"},
    ast.IfExpr: {"cond", "then", "else_", "span"},
    ast.Call: {"func", "args", "span"},
    ast.Aggregate: {"func", "operand", "where", "within", "across", "span"},
    ast.Rank: {"operand", "ascending", "within", "across", "span"},
    ast.Top: {"operand", "amount", "bottom", "within", "across", "span"},
    ast.Split: {"pool", "weight", "within", "across", "span"},
    ast.Tiered: {"kind", "base", "tiers", "kind_span", "span"},
    ast.Tier: {"upper", "rate", "lower", "span"},
    ast.Definition: {"name", "body", "name_span", "span"},
    ast.Table: {"name", "hit", "rows", "hit_text", "name_span", "hit_span", "span"},
    ast.Rule: {"cond", "target", "value", "target_span", "span"},
    ast.Lookup: {"name", "key", "entries", "file", "column", "unit", "matchup", "name_span", "file_span", "span"},
    ast.LookupEntry: {"key", "value", "key_span", "span"},
    ast.Weighted: {"name", "rows", "name_span", "span"},
    ast.WeightRow: {"component", "weight", "span"},
    ast.WeightedSum: {"rows", "span"},
}
_KNOWN_FIELDS[ast.InputDecl] = {"name", "type_name", "enum_values", "low", "high", "compares", "key", "column",
                                 "period", "name_span", "type_span", "span"}
# The rule graph and the policy: anything else set on them is a feature the compiler does not know.
_KNOWN_GRAPH_FIELDS = {"source", "policy", "nodes", "order", "key", "refs", "types", "diagnostics", "lookup_tables",
                       "period", "delayed"}  # delayed: what previous(x) reads (Previous does it)
_KNOWN_POLICY_FIELDS = {"title", "version", "inputs", "declarations", "examples", "outputs", "language", "span",
                        "appraisal",  # the appraisal process: the workflow's, nothing to compute
                        "published"}  # which figures a statement shows: no part of evaluation
_KNOWN_NODE_KINDS = {"input", "definition", "table", "lookup", "weighted"}
if hasattr(ast, "Date"):
    _KNOWN_FIELDS[ast.Date] = {"value", "text", "span"}
if hasattr(ast, "Group"):
    _KNOWN_FIELDS[ast.Group] = {"items", "span"}
if hasattr(ast, "ValueOf"):
    _KNOWN_FIELDS[ast.ValueOf] = {"name", "key", "group", "name_span", "span"}


def _check_fields(node, known: set | None = None) -> None:
    known = known if known is not None else _KNOWN_FIELDS.get(type(node))
    if known is None:
        raise PlanError(f"the columnar compiler does not know {type(node).__name__}")
    for f in fields(node):
        if f.name in known:
            continue
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = MISSING
        if default is MISSING or getattr(node, f.name) != default:
            raise PlanError(f"the columnar compiler does not know {type(node).__name__}.{f.name}")


class Compiler:
    """RuleGraph → Plan. One pass over the definitions in dependency order."""

    def __init__(self, graph: RuleGraph):
        self.graph = graph
        self._interned: dict[tuple, PExpr] = {}
        self.by_origin: dict[int, tuple] = {}
        self.period_col: PExpr | None = None

    # Structurally equal expressions are one object: backends cache by id.
    def make(self, cls, origin=None, **values) -> PExpr:
        key = (cls,) + tuple((k, _ident(v)) for k, v in sorted(values.items()))
        found = self._interned.get(key)
        if found is None:
            found = cls(origin=origin, **values)
            self._interned[key] = found
        return found

    def compile(self) -> Plan:
        graph = self.graph
        reason = not_on_fast_path(graph)
        if reason is not None:
            raise PlanError(reason)
        period = getattr(graph, "period", None)
        if period:
            node = graph.nodes[period]
            self.period_col = self.make(Col, name=period, kind=kind_of(node.type), unit=node.type.kind)
        _check_fields(graph, _KNOWN_GRAPH_FIELDS)
        _check_fields(graph.policy, _KNOWN_POLICY_FIELDS)
        for node in graph.nodes.values():
            if node.kind not in _KNOWN_NODE_KINDS:
                raise PlanError(f"the columnar compiler does not know nodes of kind {node.kind!r} ({node.name})")
            if node.is_input:
                _check_fields(node.decl)
        inputs = []
        for node in graph.inputs:
            decl = node.decl
            inputs.append(PlanInput(
                name=node.name, column=decl.column or node.name, kind=kind_of(node.type), type=node.type,
                key=bool(decl.key), enum_values=tuple(decl.enum_values),
                low=constant_value(decl.low) if decl.low is not None else None,
                high=constant_value(decl.high) if decl.high is not None else None,
                compares=tuple((op, constant_value(b)) for op, b in decl.compares)))
        nodes = []
        for name in graph.order:
            node = graph.nodes[name]
            expr = self.declaration(node.decl, node.type)
            nodes.append(PlanNode(name, expr, kind_of(node.type), node.type, node.kind))
        outputs = tuple(n.name for n in graph.definitions)
        return Plan(tuple(inputs), tuple(nodes), graph.key, outputs, getattr(graph, "period", None), self.by_origin)

    # -- declarations
    def declaration(self, decl, type_: Type) -> PExpr:
        _check_fields(decl)
        for part in getattr(decl, "rows", ()) + getattr(decl, "entries", ()):
            _check_fields(part)
        if isinstance(decl, ast.Lookup) and decl.file is not None:
            tables = getattr(self.graph, "lookup_tables", {})
            if decl.name not in tables:
                raise PlanError(f"the values of lookup {decl.name} (from {decl.file}) are not in the rule graph")
            kind = kind_of(type_)
            entries = tuple((k, self.lit(v, kind=kind, unit=type_.kind)) for k, v in tables[decl.name][0].items())
            return self.make(Lookup, decl, key=self.expr(decl.key), entries=entries, default=None,
                             kind=kind_of(type_), unit=type_.kind)
        if isinstance(decl, ast.Definition):
            return self.expr(decl.body)
        if isinstance(decl, ast.Table):
            rows = tuple((self.expr(r.cond), self.expr(r.value)) for r in decl.rows if r.cond is not None)
            otherwise = next((self.expr(r.value) for r in decl.rows if r.cond is None), None)
            if decl.hit not in ("first", "unique", "sum"):
                raise PlanError(f"the columnar compiler does not know the hit policy {decl.hit!r} of table {decl.name}")
            return self.make(Table, decl, hit=decl.hit, rows=rows, otherwise=otherwise,
                             kind=kind_of(type_), unit=type_.kind)
        if isinstance(decl, ast.Lookup):
            entries = tuple((e.key, self.expr(e.value)) for e in decl.entries if e.key is not None)
            default = next((self.expr(e.value) for e in decl.entries if e.key is None), None)
            return self.make(Lookup, decl, key=self.expr(decl.key), entries=entries, default=default,
                             kind=kind_of(type_), unit=type_.kind)
        if isinstance(decl, ast.Weighted):
            total: PExpr | None = None
            for row in decl.rows:
                weight = constant_value(row.weight)
                if weight is None:
                    raise PlanError(f"the weight of {row.component.name} in {decl.name} is not a constant")
                part = self.make(Arith, row, op="*", left=self.expr(row.component), right=self.lit(weight), unit="number")
                total = part if total is None else self.make(Arith, decl, op="+", left=total, right=part, unit="number")
            return total if total is not None else self.lit(Fraction(0))
        raise PlanError(f"the columnar compiler does not know the declaration {type(decl).__name__}")

    # -- expressions
    def lit(self, value, kind: str = NUM, unit: str = "const") -> PExpr:
        if kind == NUM:
            value = Fraction(value)
        return self.make(Lit, value=value, kind=kind, unit=unit)

    def type_of(self, e: ast.Expr) -> Type:
        t = self.graph.types.get(id(e))
        if t is None:
            raise PlanError(f"the checker gave no type to {type(e).__name__} at line {e.span.line}")
        return t

    def unit(self, e: ast.Expr) -> str:
        t = self.graph.types.get(id(e))
        return t.kind if t is not None else "const"

    def expr(self, e: ast.Expr) -> PExpr:
        method = getattr(self, "_" + type(e).__name__, None)
        if method is None or type(e) not in _KNOWN_FIELDS:
            raise PlanError(f"the columnar compiler does not know the expression {type(e).__name__} "
                            f"(line {getattr(getattr(e, 'span', None), 'line', '?')})")
        _check_fields(e)
        out = method(e)
        self.by_origin[id(e)] = (e, out)
        return out

    def _Number(self, e: ast.Number) -> PExpr:
        return self.make(Lit, e, value=Fraction(e.value), kind=NUM, unit=self.unit(e))

    def _Percent(self, e: ast.Percent) -> PExpr:
        return self.make(Lit, e, value=Fraction(e.value), kind=NUM, unit=self.unit(e))

    def _Date(self, e) -> PExpr:
        return self.make(Lit, e, value=e.value, kind=DATE, unit="date")

    def _Text(self, e: ast.Text) -> PExpr:
        return self.make(Lit, e, value=e.value, kind=TEXT, unit="text")

    def _Name(self, e: ast.Name) -> PExpr:
        ref = self.graph.refs.get(id(e))
        if ref is None:
            return self.make(Lit, e, value=e.name, kind=TEXT, unit="text")
        if ref.kind == "node":
            node = self.graph.nodes[e.name]
            return self.make(Col, e, name=e.name, kind=kind_of(node.type), unit=node.type.kind)
        if ref.kind == "enum":
            return self.make(Lit, e, value=ref.value, kind=TEXT, unit="enum")
        if ref.kind == "bool":
            return self.make(Lit, e, value=bool(ref.value), kind=BOOL, unit="yesno")
        raise PlanError(f"the columnar compiler does not know names of kind {ref.kind!r} ({e.name})")

    def _Neg(self, e: ast.Neg) -> PExpr:
        return self.make(Neg, e, operand=self.expr(e.operand), unit=self.unit(e))

    def _Binary(self, e: ast.Binary) -> PExpr:
        left, right = self.expr(e.left), self.expr(e.right)
        kinds = (self.type_of(e.left).kind, self.type_of(e.right).kind)
        if T_DATE_KIND in kinds:
            if e.op == "-" and kinds == (T_DATE_KIND, T_DATE_KIND):
                return self.make(DateDiff, e, left=left, right=right)
            if kinds[0] == T_DATE_KIND:
                days = right if e.op == "+" else self.make(Neg, operand=right, unit=self.unit(e.right))
                return self.make(DateAdd, e, date=left, days=days)
            return self.make(DateAdd, e, date=right, days=left)
        if e.op == "/":
            return self.make(Div, e, left=left, right=right, unit=self.unit(e))
        if e.op not in ("+", "-", "*"):
            raise PlanError(f"the columnar compiler does not know the operator {e.op!r}")
        return self.make(Arith, e, op=e.op, left=left, right=right, unit=self.unit(e))

    def _Compare(self, e: ast.Compare) -> PExpr:
        for op in e.ops:
            if op not in (">=", "<=", ">", "<", "=", "!="):
                raise PlanError(f"the columnar compiler does not know the comparison {op!r}")
        return self.make(Compare, e, ops=tuple(e.ops), operands=tuple(self.expr(o) for o in e.operands))

    def _Between(self, e: ast.Between) -> PExpr:
        # Python's `lo <= v <= hi` evaluates hi only when lo <= v: an And of two comparisons.
        value = self.expr(e.value)
        low = self.make(Compare, e, ops=("<=",), operands=(self.expr(e.low), value))
        high = self.make(Compare, e, ops=("<=",), operands=(value, self.expr(e.high)))
        return self.make(And, e, left=low, right=high)

    def _InList(self, e: ast.InList) -> PExpr:
        return self.make(InList, e, value=self.expr(e.value), options=tuple(self.expr(o) for o in e.options),
                         negated=bool(e.negated))

    def _Logic(self, e: ast.Logic) -> PExpr:
        cls = {"and": And, "or": Or}.get(e.op)
        if cls is None:
            raise PlanError(f"the columnar compiler does not know the logical operator {e.op!r}")
        return self.make(cls, e, left=self.expr(e.left), right=self.expr(e.right))

    def _Not(self, e: ast.Not) -> PExpr:
        return self.make(Not, e, operand=self.expr(e.operand))

    def _IfExpr(self, e: ast.IfExpr) -> PExpr:
        t = self.type_of(e)
        return self.make(If, e, cond=self.expr(e.cond), then=self.expr(e.then), else_=self.expr(e.else_),
                         kind=kind_of(t), unit=t.kind)

    def _Call(self, e: ast.Call) -> PExpr:
        func = function_of(e.func)
        args = tuple(self.expr(a) for a in e.args)
        unit = self.unit(e)
        if func in ("min", "max"):
            return self.make(Extreme, e, func=func, args=args, unit=unit)
        if func == "abs":
            return self.make(Abs, e, operand=args[0], unit=unit)
        if func in ("week", "month", "quarter"):
            return self.make(DateLabel, e, part=func, operand=args[0])
        if func in ("year", "month_of_year", "quarter_of_year", "day_of_month"):
            if self.type_of(e.args[0]).kind != T_DATE_KIND:
                raise PlanError(f"{e.func} of a period label (line {e.span.line}) is evaluated exactly")
            return self.make(DatePart, e, part=func, operand=args[0])
        if func in ("previous", "consecutive"):
            if self.period_col is None:
                raise PlanError(f"{func} without a period column")
            if func == "consecutive":
                return self.make(Consecutive, e, cond=args[0], key=self._key_col(), period=self.period_col)
            t = self.type_of(e)
            return self.make(Previous, e, column=args[0], default=args[1] if len(args) > 1 else None,
                             key=self._key_col(), period=self.period_col, kind=kind_of(t), unit=t.kind)
        if func in ("round", "floor", "ceil"):
            step = constant_value(e.args[1]) if len(e.args) == 2 else Fraction(1)
            if step is None or step <= 0:
                raise PlanError(f"the step of {func} at line {e.span.line} is not a positive constant")
            return self.make(Step, e, mode=func, operand=args[0], step=Fraction(step), unit=unit)
        raise PlanError(f"the columnar compiler does not know the function {e.func!r}")

    def _ValueOf(self, e) -> PExpr:
        node = self.graph.nodes[e.name]
        column = self.make(Col, name=node.name, kind=kind_of(node.type), unit=node.type.kind)
        by_name = e.group if e.group is not None else self.graph.key
        by_node = self.graph.nodes[by_name]
        by = self.make(Col, name=by_node.name, kind=kind_of(by_node.type), unit=by_node.type.kind)
        return self.make(ValueOf, e, column=column, key=self.expr(e.key), by=by, group=e.group is not None,
                         kind=kind_of(node.type), unit=node.type.kind, period=self.period_col)

    def _period(self, term) -> PExpr | None:
        """Population terms compare people within the same period, unless `across periods`."""
        return None if getattr(term, "across", False) else self.period_col

    def _key_col(self) -> PExpr:
        node = self.graph.nodes[self.graph.key]
        return self.make(Col, name=node.name, kind=kind_of(node.type), unit=node.type.kind)

    def _within(self, within):
        return self.expr(within) if within is not None else None

    def _Group(self, e) -> PExpr:
        return self.make(Tuple, e, items=tuple(self.expr(item) for item in e.items))

    def _Aggregate(self, e: ast.Aggregate) -> PExpr:
        if e.func not in ("sum", "avg", "count", "min", "max"):
            raise PlanError(f"the columnar compiler does not know the aggregate {e.func!r}")
        return self.make(Aggregate, e, func=e.func, operand=self.expr(e.operand) if e.operand is not None else None,
                         where=self.expr(e.where) if e.where is not None else None,
                         within=self._within(e.within), unit=self.unit(e), period=self._period(e))

    def _Rank(self, e: ast.Rank) -> PExpr:
        return self.make(Rank, e, operand=self.expr(e.operand), ascending=bool(e.ascending), within=self._within(e.within),
                         period=self._period(e))

    def _Top(self, e: ast.Top) -> PExpr:
        amount = constant_value(e.amount)
        if amount is None:
            raise PlanError(f"the amount of top at line {e.span.line} is not a constant")
        if self.type_of(e.amount).kind == "percent":  # as exact.py: a percentage (written, or named) is a share
            share, count = Fraction(amount), None
        else:
            share, count = None, int(amount)
        return self.make(Top, e, operand=self.expr(e.operand), share=share, count=count, bottom=bool(e.bottom),
                         within=self._within(e.within), period=self._period(e))

    def _Split(self, e: ast.Split) -> PExpr:
        key_node = self.graph.nodes[self.graph.key]
        key = self.make(Col, name=key_node.name, kind=kind_of(key_node.type), unit=key_node.type.kind)
        return self.make(Split, e, pool=self.expr(e.pool), weight=self.expr(e.weight), within=self._within(e.within),
                         key=key, unit=self.unit(e), period=self._period(e))

    def _WeightedSum(self, e) -> PExpr:
        total: PExpr | None = None
        for row in e.rows:
            _check_fields(row)
            weight = constant_value(row.weight)
            if weight is None:
                raise PlanError(f"the weight of {row.component.name} at line {row.span.line} is not a constant")
            part = self.make(Arith, row, op="*", left=self.expr(row.component), right=self.lit(weight), unit="number")
            total = part if total is None else self.make(Arith, e, op="+", left=total, right=part, unit="number")
        return total if total is not None else self.lit(Fraction(0))

    def _Tiered(self, e: ast.Tiered) -> PExpr:
        from pkrules.language.builtins import tiers_of

        for tier in e.tiers:
            _check_fields(tier)
        base = self.expr(e.base)
        bands = tiers_of(e)
        unit = self.unit(e)
        if e.kind == "marginal":
            # Σ rate × max(0, min(x, upper) − lower), up to the open band (evaluate.tier_parts)
            total: PExpr | None = None
            lower = Fraction(0)
            for upper, rate in bands:
                top = base if upper is None else self.make(Extreme, func="min", args=(base, self.lit(upper)), unit=unit)
                part = self.make(Extreme, func="max", args=(self.lit(0), self.make(
                    Arith, op="-", left=top, right=self.lit(lower), unit=unit)), unit=unit)
                term = self.make(Arith, op="*", left=part, right=self.lit(rate), unit=unit)
                total = term if total is None else self.make(Arith, op="+", left=total, right=term, unit=unit)
                if upper is None:
                    break
                lower = upper
            return total if total is not None else self.lit(0)
        if e.kind == "whole":
            # x × the rate of the first band with x <= upper (the open band otherwise)
            rate_expr: PExpr = self.lit(bands[-1][1])
            for upper, rate in reversed(bands):
                if upper is None:
                    rate_expr = self.lit(rate)
                    continue
                cond = self.make(Compare, ops=("<=",), operands=(base, self.lit(upper)))
                rate_expr = self.make(If, cond=cond, then=self.lit(rate), else_=rate_expr, kind=NUM, unit="percent")
            return self.make(Arith, e, op="*", left=base, right=rate_expr, unit=unit)
        raise PlanError(f"the columnar compiler does not know tiers of kind {e.kind!r}")


def not_on_fast_path(graph: RuleGraph) -> str | None:
    """The construct of a policy the columnar path does not do yet, in words a user reads in the run's note
    (the exact evaluator runs instead, with the same results); None when there is none of them."""
    from pkrules.messages import tr

    if getattr(graph, "recursive", None):
        return tr("{name} uses its own earlier values (a running total)", name=next(iter(graph.recursive)))
    if getattr(graph, "parameters", None):
        return tr("the policy has parameters ({name})", name=graph.parameters[0].name)
    for node in graph.nodes.values():
        decl = node.decl
        if node.is_input and (getattr(decl, "optional", False) or getattr(decl, "default", None) is not None):
            return tr("{name} may be blank (optional or with a default)", name=node.name)
        if getattr(decl, "guard", None) is not None:
            return tr("{name} applies only to some employees (only if)", name=node.name)
        for expr in expressions_of(decl):
            for sub in ast.walk(expr):
                if isinstance(sub, ast.Aggregate) and sub.to_date is not None:
                    return tr("{name} sums over earlier periods (year to date)", name=node.name)
                if isinstance(sub, ast.Call) and function_of(sub.func) in _EXACT_FUNCTIONS:
                    return tr("{name} uses {func}", name=node.name, func=sub.func)
    return None


# Functions the columnar path leaves to the exact evaluator (dates of period labels, blanks).
_EXACT_FUNCTIONS = {"given", "months_between", "years_between", "month_start", "month_end", "period_start", "period_end",
                    "days_in"}


def _ident(v):
    if isinstance(v, PExpr):
        return ("#", id(v))
    if isinstance(v, tuple):
        return tuple(_ident(x) for x in v)
    if isinstance(v, Fraction):
        return ("F", v.numerator, v.denominator)
    if isinstance(v, bool):
        return ("B", v)
    return (type(v).__name__, v)


def compile_plan(graph: RuleGraph) -> Plan:
    """The columnar plan of a checked policy (raises PlanError for constructs it does not know)."""
    return Compiler(graph).compile()
