"""The surface syntax tree of a policy: what the author wrote, with source spans.

Spans are excluded from equality so that two policies that say the same thing
compare equal however they are laid out (the formatter's tests rely on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Union

from pkrules.language.source import NO_SPAN, Span


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)


# ---- expressions ------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: Fraction
    is_money: bool = False  # written with ¥ or 元
    text: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True)
class Percent:
    value: Fraction  # 88% is 22/25
    text: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True)
class Date:
    value: "object"  # datetime.date
    text: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True)
class Text:
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    name: str
    span: Span = _span()
    # The value of a named constant (threshold = 50万) this name refers to, set by the checker, so that a
    # name may stand wherever a fixed number must (tier limits, weights, top N%, rounding steps).
    constant: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Binary:
    op: str  # + - * /
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Compare:
    """`a >= b`, or a chain `80 <= score < 90`."""

    operands: tuple["Expr", ...]
    ops: tuple[str, ...]  # normalised: >= <= > < = !=
    span: Span = _span()


@dataclass(frozen=True)
class Between:
    value: "Expr"
    low: "Expr"
    high: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class InList:
    value: "Expr"
    options: tuple["Expr", ...]
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Logic:
    op: str  # and | or
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Not:
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class IfExpr:
    cond: "Expr"
    then: "Expr"
    else_: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    func: str  # as written; the checker resolves aliases (四舍五入 → round)
    args: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True)
class Group:
    """`within (team, week(day))`: a group made of several values."""

    items: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True)
class ValueOf:
    """score[partner]: another employee's value by key; team_score[team = opponent]: a group's value."""

    name: str
    key: "Expr"
    group: str | None = None  # the column that picks the group, for the second form
    name_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class Aggregate:
    """sum/avg/count/min/max over everyone, or over the rows sharing `within`."""

    func: str  # sum | avg | count | min | max
    operand: "Expr | None"
    where: "Expr | None" = None
    within: "Expr | None" = None
    across: bool = False  # over every period, not just the row's own
    source: str | None = None  # `from ratings`: over the employee's rows of a related table
    # Over periods up to this one (year to date, 本年累计): year | quarter | month | all | since
    to_date: str | None = None
    earlier: bool = False  # only the periods before this one (earlier this year, 本年此前)
    since: "Expr | None" = None  # to_date "since": from the period of this date on
    span: Span = _span()


@dataclass(frozen=True)
class Rank:
    """Dense rank, highest first unless ascending."""

    operand: "Expr"
    ascending: bool = False
    within: "Expr | None" = None
    across: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Top:
    """`score in top 10%`: fewer than ceil(10% × N) others are strictly better."""

    operand: "Expr"
    amount: "Expr"  # a percent of the group, or a whole number of people
    bottom: bool = False
    within: "Expr | None" = None
    across: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Split:
    """A pool split by weight to the cent, by largest remainder."""

    pool: "Expr"
    weight: "Expr"
    within: "Expr | None" = None
    across: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Tier:
    upper: "Expr | None"  # None: the open top band ("above")
    rate: "Expr"
    lower: "Expr | None" = None  # only when written (Chinese `100万以上 3%`)
    span: Span = _span()


@dataclass(frozen=True)
class Tiered:
    """Tiered amounts: marginal (超额累进) or whole-amount (全额累进)."""

    kind: str  # marginal | whole
    base: "Expr"
    tiers: tuple[Tier, ...]
    kind_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class WeightedSum:
    """A scorecard written inside a formula (加权（a 60%，b 40%）): one scorecard per grade in one table."""

    rows: tuple["WeightRow", ...]
    span: Span = _span()


Expr = Union[
    Number, Percent, Date, Text, Name, Neg, Binary, Compare, Between, InList, Logic, Not,
    IfExpr, Call, ValueOf, Aggregate, Rank, Top, Split, Tiered, Group, WeightedSum,
]


# ---- declarations -------------------------------------------------------------


@dataclass(frozen=True)
class InputDecl:
    name: str
    type_name: str  # money | percent | number | whole | yesno | text | date | enum
    enum_values: tuple[str, ...] = ()
    low: "Expr | None" = None
    high: "Expr | None" = None
    compares: tuple[tuple[str, "Expr"], ...] = ()
    key: bool = False
    column: str | None = None
    period: bool = False  # the column that says which period a row is for
    optional: bool = False  # a cell may be blank: then the value is the default, or there is none
    default: "Expr | None" = None
    name_span: Span = _span()
    type_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class Definition:
    """name = expression (a tiered block is a definition whose body is Tiered)."""

    name: str
    body: Expr
    guard: "Expr | None" = None  # `… only if is_manager` (仅当): elsewhere it does not apply (blank, no error)
    name_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class WeightRow:
    component: Name
    weight: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Weighted:
    name: str
    rows: tuple[WeightRow, ...]
    name_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class Rule:
    cond: "Expr | None"  # None: the OTHERWISE row
    target: str
    value: Expr
    target_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class Table:
    name: str
    hit: str  # first | unique | sum
    rows: tuple[Rule, ...]
    hit_text: str = field(default="", compare=False)
    name_span: Span = _span()
    hit_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class LookupEntry:
    key: "str | Fraction | None"  # None: the OTHERWISE default
    value: Expr
    key_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class Lookup:
    name: str
    key: Expr
    entries: tuple[LookupEntry, ...]
    file: str | None = None  # entries come from this CSV file, next to the policy
    column: str | None = None  # the file's value column, when not named like the lookup
    unit: str | None = None  # `as money`: the type of the file's values (else numbers are bare numbers)
    matchup: bool = False  # `(matchup)` (对阵): keys meet their values, each pair written both ways
    name_span: Span = _span()
    file_span: Span = _span()
    span: Span = _span()


Declaration = Union[Definition, Weighted, Table, Lookup]


@dataclass(frozen=True)
class Field:
    name: str
    value: Expr
    name_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class Expectation:
    employee: "Expr | None"  # `expect for E1 …`: which employee of the example
    field: Field
    span: Span = _span()


@dataclass(frozen=True)
class RelatedRow:
    """`with ratings rater_role 上级, rating 90`: a related-table row of an example's employee."""

    employee: int  # index into Example.employees
    table: str
    fields: tuple[Field, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Example:
    title: str
    employees: tuple[tuple[Field, ...], ...]
    expectations: tuple[Expectation, ...]
    related: tuple[RelatedRow, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class RelatedTable:
    """A second input table with several rows per employee (e.g. 360° ratings), linked by a column."""

    name: str
    link: str  # the column holding the employee's key
    inputs: tuple[InputDecl, ...]
    name_span: Span = _span()
    link_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True)
class Output:
    """`output total, team_rank`: the policy's results."""

    names: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Published:
    """`publish team_pool, elite`: group figures a statement for one employee may show."""

    names: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Policy:
    title: str | None
    version: str | None
    inputs: tuple[InputDecl, ...]
    declarations: tuple[Declaration, ...]
    examples: tuple[Example, ...]
    outputs: Output | None = None
    related: tuple[RelatedTable, ...] = ()
    language: str = field(default="en", compare=False)  # zh when written with Chinese keywords
    parameters: tuple[InputDecl, ...] = ()  # values given when the policy runs, the same for everyone
    appraisal: object = None  # the appraisal process block (language/appraisal.py: Appraisal), if declared
    span: Span = _span()
    published: Published | None = None


def children(node) -> list:
    """The expressions directly inside a node, in source order (a new list each call)."""
    found = node.__dict__.get("_children")
    if found is None:
        found = _children(node)
        # Kept on the node (which never changes): explanations walk the same expressions for every employee.
        object.__setattr__(node, "_children", found)
    return list(found)


def _children(node) -> tuple:
    out = []
    for name in node.__dataclass_fields__:
        value = getattr(node, name)
        if isinstance(value, tuple):
            for item in value:
                if isinstance(item, tuple):
                    out.extend(v for v in item if _is_node(v))
                elif _is_node(item):
                    out.append(item)
        elif _is_node(value):
            out.append(value)
    return tuple(out)


def _is_node(value) -> bool:
    return hasattr(value, "__dataclass_fields__") and hasattr(value, "span")


def walk(node):
    """Every node below (and including) node, depth first, in source order.

    With a stack of its own, not recursion: `yield from` through every level would make a
    walk of a deep expression (a sum of 500 terms is 500 levels) quadratic, and overflow."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))
