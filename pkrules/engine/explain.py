"""Explanations as data: the tree of nodes behind one employee's value.

Each node carries its formula as written, the values that went in, the value
that came out, what happened inside (which table row fired and why the rows
above did not; what a group sum or a pool split came to), its source line, and
how far the value is from the next better band (engine/bands.py).

Every value in the tree is the one the rule read: under `previous(x)` the
earlier period's, under `x[partner]` the partner's, under `x[team = opponent]`
the other team's — each labelled with whose or which period's it is. Only what
applied is expanded: the branch an IF did not take, the rows a table never
reached and the lookup entries of other grades are named in one line.

Explanations read results only through the Probe (engine/results.py), so they
work on every backend's results. For a statement sent to one employee
(audience "employee"), group figures the policy does not publish are withheld
(engine/visibility.py).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator

from pkrules.engine import bands
from pkrules.engine.display import SHOW_MONEY, SHOW_NUMBER, SHOW_OTHER, declared_unit, display_units, expression_unit
from pkrules.engine.results import Results, RowError, Upstream
from pkrules.engine.visibility import GROUP, OWN, RULE, figure_kinds, own_rows_term, published
from pkrules.language import ast
from pkrules.language.builtins import constant_value, function_of, tiers_of
from pkrules.messages import language_for, say, words
from pkrules.values.format import format_people, people_formatter
from pkrules.values.tiers import tier_parts, whole_amount_rate
from pkrules.values.types import Type

AUDIENCES = ("all", "employee")
_LISTED = 5  # rows of a sum listed before the rest are counted


@dataclass
class Step:
    """One line of what happened inside a node."""

    text: str
    line: int | None = None
    outcome: str | None = None  # fired | not met | not reached | None


@dataclass
class TraceNode:
    name: str
    kind: str  # input | definition | table | lookup | weighted
    value: object
    type: Type
    formula: str | None
    line: int | None
    steps: list[Step] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    children: list["TraceNode"] = field(default_factory=list)
    repeated: bool = False  # shown in full elsewhere in the tree
    description: str | None = None  # the rule in the author's words: the comment above the definition
    display: str = ""  # the value as people read it (¥9,216.00, 96%, ≈96.56)
    context: str | None = None  # whose or which period's value, when not this employee's own now: "month 2024-11"
    not_applicable: str | None = None  # the parts of the rule that did not apply, in one line
    withheld: bool = False  # a group figure a statement does not show (not published)
    own: bool = True  # a value of the employee (now or earlier), not of another employee or group
    parts: list[tuple[str, str]] = field(default_factory=list)  # a sum of names: (sign, name) in order
    compared: str | None = None  # a table: the value its fired row compared (score in `score >= 90`)


@dataclass
class Explanation:
    """The answer to: why did this employee get this value?"""

    policy_title: str | None
    policy_path: str
    key_name: str
    key: object
    row: int
    root: TraceNode
    label: str | None = None  # the employee's name, when the policy has a name input
    lang: str = "en"  # the language the policy is written in
    period: str | None = None  # "month 3", when the data has several periods
    audience: str = "all"  # all: HR and managers; employee: a statement (unpublished group figures withheld)


NAME_INPUTS = ("name", "姓名", "名字")

# Set by plainly(): every tree worked out from the rule, reusing nothing worked out for another employee or node.
_PLAIN: ContextVar[bool] = ContextVar("plain_explanations", default=False)


@contextmanager
def plainly() -> Iterator[None]:
    """Explanations made inside work everything out from the rule again for each employee (which names a rule
    uses, which parts of a formula show values and tell steps, a group's statistic asked twice): the reference
    that what is worked out once per policy or per tree is checked against (tests/test_explain_caches.py)."""
    token = _PLAIN.set(True)
    try:
        yield
    finally:
        _PLAIN.reset(token)


def explain(results: Results, index: int, name: str, depth: int | None = None, *, exact: bool = False,
            audience: str = "all", all_bands: bool = False) -> Explanation:
    """The tree behind results' value of `name` for row `index`.

    exact: every value with its exact fraction (else only where the rounding matters);
    audience: "employee" withholds group figures the policy does not publish;
    all_bands: distances to worse bands too (else only toward better outcomes).
    """
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    graph = results.graph
    builder = _TraceBuilder(results, index, exact=exact, audience=audience, all_bands=all_bands)
    root = builder.node(name, depth, _Here(index))
    label_input = _graph_cache(graph, "label", lambda graph: next(
        (n for n in NAME_INPUTS if n in graph.nodes and graph.nodes[n].is_input), None))
    label = str(results.columns[label_input][index]) if label_input else None
    period = f"{graph.period} {results.columns[graph.period][index]}" if graph.period else None
    return Explanation(graph.policy.title, graph.source.path, graph.key, results.keys[index], results.row_numbers[index],
                       root, label or None, language_for(graph.policy.language), period, audience)


@dataclass(frozen=True)
class _Here:
    """The row a node is explained at, and whose value that is when it is not the employee's own now."""

    row: int
    label: str | None = None  # "month 2024-11", "team 华东二组", "id T1"
    foreign: bool = False  # another employee's or another group's value
    group_only: bool = False  # another group's: only group figures below it mean anything


def _inside(inner, outer) -> bool:
    return (inner.line, inner.column) >= (outer.line, outer.column) and \
        (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


def _period_call(e) -> str | None:
    """'previous' or 'consecutive' for a call of those functions (values from other periods)."""
    if not isinstance(e, ast.Call):
        return None
    func = function_of(e.func)
    return func if func in ("previous", "consecutive") else None


_TERMS = (ast.Aggregate, ast.Rank, ast.Top, ast.Split)
_TEXTS_KEPT = 1 << 16  # group texts kept per policy before they are let go (a million employees in 100,000 teams)


def _graph_cache(graph, name: str, make):
    """A value computed once per compiled policy (display units, figure kinds)."""
    cache = graph.__dict__.setdefault("_explain_cache", {})
    if name not in cache:
        cache[name] = make(graph)
    return cache[name]


@dataclass(frozen=True)
class _Shape:
    """What an expression is made of, the same for every employee: worked out once per expression, not once per
    explanation (a statement for each of 2,000 employees walked every formula 2,000 times)."""

    conditional: bool  # an IF outside population terms: which parts applied depends on the row
    compares: tuple  # the comparisons inside (operands that may need more decimals to tell apart)
    steps: tuple  # (sub, the spans from the expression down to it) for those of them that tell a step (_telling)
    line: str | None  # the text of the line the expression is on (None: several lines, or parts over the same text)
    slots: tuple  # (sub, start, end, is_term, unit): what substitute shows a value for, left to right
    between: tuple  # the text before the first slot, between each two, and after the last (when every slot shows)
    replaced: tuple  # (sub, start, end, is_term, unit): every part substitute replaces, in walk order


def _shape_of(graph, expr, shapes: dict | None = None) -> _Shape:
    """shapes: the graph's (a builder keeps them at hand)."""
    if shapes is None:
        shapes = _graph_cache(graph, "shapes", lambda _: {})
    found = shapes.get(id(expr))
    if found is None or found[0] is not expr:  # (kept with its expression: an id is unique only while it lives)
        found = shapes[id(expr)] = (expr, _make_shape(graph, expr))
    return found[1]


def _make_shape(graph, expr) -> _Shape:
    def conditional(e) -> bool:
        if isinstance(e, _TERMS):
            return False
        return isinstance(e, ast.IfExpr) or any(conditional(c) for c in ast.children(e))

    def evaluated(e, path=()):
        path = path + (e.span,)
        yield e, path
        if isinstance(e, _TERMS) or (_period_call(e) is not None):
            return
        for child in ast.children(e):
            yield from evaluated(child, path)

    nodes = list(ast.walk(expr))
    replaced = []
    units = _graph_cache(graph, "units", display_units)
    for sub in nodes:
        term = isinstance(sub, (ast.Aggregate, ast.Rank, ast.Top, ast.Split, ast.Tiered, ast.ValueOf)) or \
            _period_call(sub) is not None
        if term or (isinstance(sub, ast.Name) and _names_node(graph, sub)):
            unit = expression_unit(graph, sub, units) if term else None  # (a name's unit: units[name], when read)
            replaced.append((sub, sub.span.column - 1, sub.span.end_column - 1, term, unit))
    # What substitute shows: the replaced parts left to right, each but those inside a part already shown (a name
    # inside a sum shows the sum; `score in top 10%` shows the score, which starts where the term does and ends
    # first). Dropping the parts in an IF's untaken branch drops the parts inside them too (a branch is never
    # inside a population term), so what is left shows the same parts whatever the row.
    replaced.sort(key=lambda slot: (slot[1], slot[2]))
    slots, pos = [], expr.span.column - 1
    for slot in replaced:
        if slot[1] >= pos:
            slots.append(slot)
            pos = slot[2]
    single = expr.span.line == expr.span.end_line
    # Two parts over the same characters would be ordered by their text for each row: left to the general walk.
    spans = [(slot[1], slot[2]) for slot in replaced]
    line = graph.source.line(expr.span.line) if single and len(set(spans)) == len(spans) else None
    between = ()
    if line is not None:
        cuts = [expr.span.column - 1] + [at for slot in slots for at in (slot[1], slot[2])] + [expr.span.end_column - 1]
        between = tuple(line[cuts[k]:cuts[k + 1]] for k in range(0, len(cuts), 2))
    walked = list(evaluated(expr))
    return _Shape(conditional(expr), tuple(s for s in nodes if isinstance(s, ast.Compare)),
                  tuple((e, path) for e, path in walked if _tells_step(e)),
                  line, tuple(slots), between, tuple(replaced))


@dataclass(frozen=True)
class _Outline:
    """What a definition's explanation is made of, the same for every employee: worked out once per definition.

    `references` is only there when no part of the rule depends on the row (no IF outside a population
    term, no value of another row or period, no sum that leaves the employee out): then every employee's
    tree uses the same names, in the same order, and walking the rule for each employee would find exactly these.
    """

    parts: tuple  # a body that only adds and subtracts names: (sign, name) in order (_sum_parts)
    substituted: bool  # whether the formula with the values put in is a step (else the body's own step tells it)
    references: tuple[str, ...] | None  # the nodes the rule uses for every row, in order (references)
    # When which nodes the rule uses depends only on IFs (no value of another row or period, no sum that leaves
    # the employee out): the conditions of every IF outside population terms. references gives the same
    # answer for any two rows whose conditions come out the same (true, false, neither), so it is kept by them.
    branches: tuple | None


def _outline_of(graph, name: str, outlines: dict | None = None) -> _Outline:
    """outlines: the graph's (a builder keeps them at hand)."""
    if outlines is None:
        outlines = _graph_cache(graph, "outlines", lambda _: {})
    found = outlines.get(name)
    if found is None:
        found = outlines[name] = _make_outline(graph, graph.nodes[name].decl)
    return found


def _make_outline(graph, decl) -> _Outline:
    parts, substituted = (), False
    if isinstance(decl, ast.Definition):
        body = decl.body
        parts = tuple(_sum_parts(body) or ())
        substituted = not isinstance(body, (ast.Name, ast.Aggregate, ast.Rank, ast.Top, ast.Split, ast.Tiered,
                                            ast.ValueOf)) and not _period_call(body)
    return _Outline(parts, substituted, *_references_and_branches(graph, decl))


def _references_and_branches(graph, decl) -> tuple[tuple[str, ...] | None, tuple | None]:
    """What makes the names a rule uses depend on the row, worked out once per rule by one walk.

    The walk visits the expressions _TraceBuilder.references visits, in the same order. It gives up (both
    None) where references would ask for a value other than an IF's condition: a row of another employee,
    group or period, or a sum's `where` for this row. Then:
    - with no IF outside population terms, the names are the same for every row: (names, None);
    - with IFs, the names depend only on how their conditions come out: (None, the conditions)."""
    names: list[str] = []
    conds: list = []

    def visit(e, evaluate: bool = True) -> bool:
        if e is None:
            return True
        if isinstance(e, ast.Name):
            if _names_node(graph, e) and e.name not in names:
                names.append(e.name)
            return True
        if isinstance(e, ast.ValueOf) or _period_call(e) == "previous":
            return False
        if isinstance(e, ast.IfExpr) and evaluate:
            conds.append(e.cond)
        if isinstance(e, _TERMS):
            if isinstance(e, ast.Aggregate) and e.where is not None and e.source is None:
                return False
            return all(visit(child, evaluate=False) for child in ast.children(e))
        return all(visit(child, evaluate) for child in ast.children(e))

    if isinstance(decl, ast.Definition):
        found = visit(decl.body)
    elif isinstance(decl, ast.Weighted):
        found = all(visit(weighted_row.component) for weighted_row in decl.rows)
    else:  # a table's rows and a lookup's entries apply by the row
        found = False
    if not found:
        return None, None
    return (None, tuple(conds)) if conds else (tuple(names), None)


def _tells_step(sub) -> bool:
    """Whether _definition makes a step of a sub-expression (a weighted sum, a population term, a value of another
    row, of another period, an IF); any other sub-expression it passes over."""
    return isinstance(sub, (ast.WeightedSum, ast.Aggregate, ast.Rank, ast.Top, ast.Split, ast.Tiered, ast.ValueOf,
                            ast.IfExpr)) or bool(_period_call(sub))


def _names_node(graph, e: ast.Name) -> bool:
    """Whether a name is one of the policy's nodes (not a function's or a table column's name)."""
    ref = graph.refs.get(id(e))
    return ref is not None and ref.kind == "node" and e.name in graph.nodes


class _TraceBuilder:
    def __init__(self, results: Results, index: int, exact: bool = False, audience: str = "all", all_bands: bool = False):
        self.results = results
        self.graph = results.graph
        self.i = index
        self.shown: set[tuple[str, int]] = set()
        self.lang = language_for(results.graph.policy.language)  # the policy's, unless the user chose (--lang)
        self.words = words(self.lang)  # (say's catalogue of that language)
        self.exact = exact
        self.people = people_formatter(self.lang, exact)  # format_people in this language and exactness
        self.audience = audience
        self.all_bands = all_bands
        self.units, self.kinds, self.published, self.thresholds, self.outputs = _graph_cache(
            self.graph, "facts", lambda graph: (_graph_cache(graph, "units", display_units), figure_kinds(graph),
                                                published(graph), _thresholds(graph), set(graph.outputs())))
        self.direction = bands.Direction(self)
        self.plain = _PLAIN.get()  # (plainly)
        self._shapes = _graph_cache(self.graph, "shapes", lambda _: {})  # (_shape_of, _outline_of)
        self._outlines = _graph_cache(self.graph, "outlines", lambda _: {})
        self._snippets = _graph_cache(self.graph, "snippets", lambda _: {})  # the text of each expression
        self._facts = _graph_cache(self.graph, "node facts", lambda _: {})  # (_node_facts)
        self._expr_units = _graph_cache(self.graph, "expression units", lambda _: {})  # (unit_of)
        self._threshold_texts = _graph_cache(self.graph, "threshold texts", lambda _: {})  # (_node_text)
        # texts of a group's figures, the same for each member (_group_texts), in this language and exactness
        self._texts = _graph_cache(self.graph, f"texts {self.lang} {exact}", lambda _: {})
        # (references of a rule with IFs, by how its conditions came out: the names of the policy, its words)
        self._by_branches = _graph_cache(self.graph, "branches " + self.lang, lambda _: {})
        self._periods: list | None = None  # every period in the data, in order
        # (asked more than once in one tree; the results do not change while it is built)
        self._groups: dict[tuple[int, int], object] = {}
        self._untaken: dict[tuple[int, int], list] = {}
        self._hits: dict[tuple[int, int], list[int]] = {}
        self._node_texts: dict[tuple[str, int], str] = {}

    # -- values and how they read
    def value(self, expr: ast.Expr, row: int) -> object:
        """A sub-expression's value for a row, or None when it cannot be computed (the error is reported elsewhere)."""
        try:
            return self.results.probe.value(expr, row)
        except (RowError, Upstream, ArithmeticError):
            return None

    def group(self, term: ast.Expr, row: int):
        """The statistic of the row's group for a population term (asked once per tree: a top N%'s step and its
        hint both show it)."""
        key = (id(term), row)
        if self.plain:
            return self.results.probe.group(term, row)
        if key not in self._groups:
            self._groups[key] = self.results.probe.group(term, row)
        return self._groups[key]

    def value_text(self, expr: ast.Expr, row: int) -> object:
        """A sub-expression's value, or the error that stopped it (as text)."""
        try:
            return self.results.probe.value(expr, row)
        except RowError as e:
            return _Failed(say(self.lang, "error_value", message=e.message))
        except (Upstream, ArithmeticError):
            return None

    def unit_of(self, expr: ast.Expr) -> str:
        if isinstance(expr, ast.Name) and expr.name in self.units:
            return self.units[expr.name]
        found = self._expr_units.get(id(expr))
        if found is None or found[0] is not expr:  # (the policy's: kept with the expression, as shapes are)
            found = self._expr_units[id(expr)] = (expr, expression_unit(self.graph, expr, self.units))
        return found[1]

    def fmt(self, value: object, unit: str = SHOW_NUMBER, places: int = 2) -> str:
        if type(value) is _Failed:
            return value
        return self.people(value, unit, places)

    def fmt_node(self, name: str, row: int, places: int = 2) -> str:
        if places == 2 and not self.plain:  # (a value shows the same wherever it is in the tree: sales, some six times)
            found = self._node_texts.get((name, row))
            if found is None:
                found = self._node_texts[(name, row)] = self._node_text(name, row, places)
            return found
        return self._node_text(name, row, places)

    def _node_text(self, name: str, row: int, places: int) -> str:
        value = self.results.columns[name][row]
        unit = self.units.get(name, SHOW_NUMBER)
        if places == 2 and isinstance(value, Fraction) and name in self.thresholds:
            texts = self._threshold_texts.get(name)
            if texts is None:  # (each threshold's text at two decimals: the policy's, made once)
                texts = self._threshold_texts[name] = [format_people(t, unit, places=2) for t in self.thresholds[name]]
            places = self._places_apart(value, unit, self.thresholds[name], texts)
        return self.fmt(value, unit, places)

    def _places_apart(self, value: Fraction, unit: str, thresholds, texts: list[str]) -> int:
        """The decimals that keep a value from reading like a threshold it is compared with (≈50% vs 50%).

        texts: each threshold's text at two decimals."""
        places, shown = 2, None
        for threshold, text in zip(thresholds, texts):
            if places == 2:  # (nearly always: the value's text at two decimals is made once, not once per threshold)
                if shown is None:
                    shown = format_people(value, unit, places=2).lstrip("≈")
                if shown != text:  # (reads differently: nothing to tell apart, whether or not it is equal)
                    continue
            if threshold == value:
                continue
            while places < 10 and \
                    format_people(value, unit, places=places).lstrip("≈") == format_people(threshold, unit, places=places):
                places += 1
        return places

    def say(self, message: str, /, **values: object) -> str:
        return self.words[message].format(**values)

    def snippet(self, expr) -> str:
        found = self._snippets.get(id(expr))
        if found is None or found[0] is not expr:  # (kept with its expression, as shapes are)
            found = self._snippets[id(expr)] = (expr, self.graph.source.snippet(expr.span))
        return found[1]

    # -- who may see what (statements)
    def visible(self, name: str, here: _Here) -> bool:
        """Whether a node's value may be shown (a statement withholds unpublished group figures)."""
        if self.audience == "all" or name in self.published:
            return True
        if here.foreign:
            return False
        node = self.graph.nodes[name]
        return node.is_input or self.kinds.get(name) in (OWN, RULE) or name in self.outputs

    def open_statistics(self, owner: str) -> bool:
        """Whether the group statistics inside a definition's formula may be shown (counts, totals, pools)."""
        return self.audience == "all" or owner in self.published

    def term_visible(self, term, owner: str) -> bool:
        """Whether an inline population term's value may be shown in owner's formula.

        Publishing a definition opens the group statistics in its formula, not another
        employee's own values (`sales[pair_with]`): only a published definition whose value
        is such a value shows it, as its own value.
        """
        if self.audience == "all":
            return True
        if isinstance(term, ast.ValueOf) and term.group is None:
            return False
        if self.open_statistics(owner):
            return True
        if isinstance(term, ast.ValueOf):
            return False
        if isinstance(term, ast.Aggregate):
            return term.source is not None or own_rows_term(self.graph, term)
        return True  # a rank, a top N%, a share: the employee's own

    def withheld_text(self) -> str:
        return self.say("withheld")

    # -- rows of other periods and groups
    def rows_of_employee(self, row: int) -> list[int]:
        """This employee's rows, earliest period first (one row without periods)."""
        period = self.graph.period
        if period is None:
            return [row]
        keys, periods = self.results.keys, self.results.columns[period]
        rows_of = getattr(self.results, "rows_of", None)  # (the results' index, not a scan of every key)
        mine = rows_of(keys[row]) if rows_of is not None else [j for j, k in enumerate(keys) if k == keys[row]]
        order = self._period_order([periods[j] for j in mine])
        return sorted(mine, key=lambda j: order(periods[j]))

    def previous_row(self, row: int) -> int | None:
        """The employee's row in the period right before this row's (of all periods in the data)."""
        period = self.graph.period
        if period is None:
            return None
        periods = self.results.columns[period]
        order = self._period_order()
        if self._periods is None:
            self._periods = sorted(set(periods), key=order)
        ordered = self._periods
        at = ordered.index(periods[row])
        if at == 0:
            return None
        earlier = ordered[at - 1]
        keys = self.results.keys
        return next((j for j in self.rows_of_employee(row) if periods[j] == earlier and keys[j] == keys[row]), None)

    def _period_order(self, periods=None):
        """The periods in the order of the time they name (engine/population.py: period_key), from these labels
        (default: every row's)."""
        from pkrules.engine.population import period_key
        from pkrules.values.periods import PeriodLabelError

        periods = self.results.columns[self.graph.period] if periods is None else periods
        try:
            return period_key(self.graph, periods)
        except PeriodLabelError:  # refused when the data was read; explain what there is
            return lambda p: p

    def period_label(self, row: int) -> str:
        period = self.graph.period
        return self.say("of_period", period=period, value=self.fmt(self.results.columns[period][row], SHOW_OTHER))

    def group_row(self, sub: ast.ValueOf, row: int) -> int | None:
        """A row of the group `x[team = opponent]` names (every member has the group's value)."""
        wanted = self.value(sub.key, row)
        if wanted is None:
            return None
        groups = self.results.columns[sub.group]
        period = self.graph.period
        periods = self.results.columns[period] if period else None
        for j in range(self.results.size):
            if groups[j] == wanted and (periods is None or periods[j] == periods[row]):
                return j
        return None

    def employee_row(self, sub: ast.ValueOf, row: int) -> int | None:
        wanted = self.value(sub.key, row)
        if wanted is None:
            return None
        period = self.graph.period
        return self.results.index_of(wanted, self.results.columns[period][row] if period else None)

    # -- nodes
    def node(self, name: str, depth: int | None, here: _Here) -> TraceNode:
        graph_node, kind, type_, line, given, formula, description = self._node_facts(name)
        row = here.row
        value = self.results.columns[name][row]
        visible = self.visible(name, here)
        display = self.fmt_node(name, row) if visible else self.withheld_text()
        own = not here.foreign
        # (every field in order, by position: a tree of a statement makes some fifty nodes, a workbook six per row)
        if given:  # an input, or a parameter of the run
            return TraceNode(name, kind, value, type_, None, line, [], [], [], False, None, display, here.label, None,
                             not visible, own)
        trace = TraceNode(name, kind, value, type_, formula, line, [], [], [], False, description, display, here.label,
                          None, not visible, own)
        if not visible:
            return trace  # the rule is public, the figure is not: nothing below it is shown
        if (name, row) in self.shown:
            trace.repeated = True
            return trace
        self.shown.add((name, row))
        decl = graph_node.decl
        if isinstance(decl, ast.Definition):
            self._definition(decl, trace, here)
        elif isinstance(decl, ast.Table):
            self._table(decl, trace, here)
        elif isinstance(decl, ast.Lookup):
            self._lookup(decl, trace, here)
        elif isinstance(decl, ast.Weighted):
            self._weighted(decl, trace, here)
        used, unused = self.references(decl, here)
        if unused:
            trace.not_applicable = self.say("not_applicable", parts=self.say("list_sep").join(unused))
        if depth is None or depth > 0:
            earlier_only = self.graph.delayed.get(name, set())  # this row's value of those is not what went in
            for dep, dep_here in used:
                if here.group_only and self.kinds.get(dep) == OWN:
                    continue  # one member's own value says nothing about the other group
                if dep in earlier_only and dep_here.row == row:
                    continue
                trace.children.append(self.node(dep, None if depth is None else depth - 1, dep_here))
        return trace

    def _node_facts(self, name: str) -> tuple:
        """(graph node, kind, type, line, given, formula, description): the policy's, the same in every tree."""
        found = self._facts.get(name)
        if found is None:
            node = self.graph.nodes[name]
            found = self._facts[name] = (node, node.kind, node.type, node.span.line, node.is_given,
                                         None if node.is_given else self.graph.formula(name),
                                         None if node.is_given else self.graph.description(name))
        return found

    # -- which names a declaration used for this row, read at which row
    def references(self, decl, here: _Here) -> tuple[list[tuple[str, _Here]], list[str]]:
        """(name, where it was read) for every node the rule used for this row, in order; and the
        parts of the rule that did not apply (a branch not taken, rows not reached, other grades' entries)."""
        if self.plain:
            return self._references(decl, here)
        outline = _outline_of(self.graph, decl.name, self._outlines)
        if outline.references is not None:
            return [(name, here) for name in outline.references], []
        if outline.branches is None:
            return self._references(decl, here)
        outcomes = tuple(1 if cond is True else 0 if cond is False else 2
                         for cond in (self.value(c, here.row) for c in outline.branches))
        found = self._by_branches.get((decl.name, outcomes))
        if found is None:
            used, unused = self._references(decl, here)
            if len(self._by_branches) >= _TEXTS_KEPT:  # (a rule with many IFs may come out many ways)
                self._by_branches.clear()
            found = self._by_branches[(decl.name, outcomes)] = (tuple(name for name, _ in used), tuple(unused))
        return [(name, here) for name in found[0]], list(found[1])

    def _references(self, decl, here: _Here) -> tuple[list[tuple[str, _Here]], list[str]]:
        """references, walking the rule for this row."""
        used: list[tuple[str, _Here]] = []
        skipped: list[tuple[str, str | None]] = []  # (name, label)
        row = here.row

        def add(name: str, at: _Here) -> None:
            if name in self.graph.nodes and (name, at) not in used:
                used.append((name, at))

        def skip(e, label: str | None = None) -> None:
            for sub in ast.walk(e):
                if isinstance(sub, ast.Name) and self._is_node(sub):
                    skipped.append((sub.name, label))
                elif isinstance(sub, ast.ValueOf):
                    skipped.append((sub.name, label))

        def visit(e, evaluate: bool = True) -> None:
            if e is None:
                return
            if isinstance(e, ast.Name):
                if self._is_node(e):
                    add(e.name, here)
                return
            if isinstance(e, ast.IfExpr) and evaluate:
                cond = self.value(e.cond, row)
                visit(e.cond)
                if cond is True:
                    visit(e.then)
                    skip(e.else_)
                elif cond is False:
                    visit(e.else_)
                    skip(e.then)
                else:
                    visit(e.then)
                    visit(e.else_)
                return
            if isinstance(e, ast.ValueOf):
                visit(e.key, evaluate)
                if e.group is None:
                    j = self.employee_row(e, row)
                    if j is not None:
                        label = self.say("of_employee", key_name=self.graph.key, key=self.results.keys[j])
                        add(e.name, _Here(j, label, foreign=True))
                else:
                    j = self.group_row(e, row)
                    if j is not None:
                        label = self.say("of_group", group=e.group,
                                         value=self.fmt(self.results.columns[e.group][j], SHOW_OTHER))
                        add(e.name, _Here(j, label, foreign=True, group_only=True))
                return
            call = _period_call(e)
            if call == "previous" and e.args:
                j = self.previous_row(row)
                target = e.args[0]
                if j is not None and isinstance(target, ast.Name) and self._is_node(target):
                    add(target.name, _Here(j, self.period_label(j), here.foreign, here.group_only))
                elif len(e.args) > 1:
                    visit(e.args[1])
                if j is not None and len(e.args) > 1:
                    skip(e.args[1])
                return
            if isinstance(e, _TERMS):
                # evaluated for every member (or every row of a related table): no branch is pruned inside
                excluded = isinstance(e, ast.Aggregate) and e.where is not None and e.source is None \
                    and self.value(e.where, row) is False
                for child in ast.children(e):
                    if excluded and child is e.operand:
                        continue  # this employee's own value is not counted: the members' are, not shown here
                    visit(child, evaluate=False)
                return
            for child in ast.children(e):
                visit(child, evaluate)

        if isinstance(decl, ast.Definition):
            visit(decl.body)
        elif isinstance(decl, ast.Weighted):
            for weighted_row in decl.rows:
                visit(weighted_row.component)
        elif isinstance(decl, ast.Lookup):
            visit(decl.key)
            fired = self._lookup_entry(decl, row)
            for entry in decl.entries:
                if entry is fired:
                    visit(entry.value)
                else:
                    skip(entry.value, self._entry_label(entry))
        elif isinstance(decl, ast.Table):
            hits = self._table_hits(decl, row)
            for k, table_row in enumerate(decl.rows):
                reached = decl.hit != "first" or not hits or k <= hits[0]
                if table_row.cond is not None:
                    (visit if reached else skip)(table_row.cond)
                if k in hits:
                    visit(table_row.value)
                else:
                    skip(table_row.value)
        names_used = {n for n, _ in used}
        unused: list[str] = []
        for name, label in skipped:
            if name in names_used:
                continue
            text = f"{name} ({label})" if label else name
            if text not in unused and not (label is None and any(u.startswith(name + " (") for u in unused)):
                unused.append(text)
        return used, unused

    def _is_node(self, e: ast.Name) -> bool:
        return _names_node(self.graph, e)

    def _entry_label(self, entry) -> str:
        return ("否则" if self.lang == "zh" else "OTHERWISE") if entry.key is None else str(entry.key)

    def _table_hits(self, table: ast.Table, row: int) -> list[int]:
        """The rows that fired: the first that holds (first match, unique), or every one (collect sum)."""
        key = (id(table), row)  # (asked for the names the table used, then for its steps)
        if key in self._hits:
            return self._hits[key]
        hits = self._rows_fired(table, row)
        if not self.plain:
            self._hits[key] = hits
        return hits

    def _rows_fired(self, table: ast.Table, row: int) -> list[int]:
        hits: list[int] = []
        for k, table_row in enumerate(table.rows):
            if table_row.cond is None:
                if not hits:
                    hits.append(k)
                break
            if self.value(table_row.cond, row) is True:
                hits.append(k)
                if table.hit != "sum":
                    break
        if table.hit == "sum" and len(hits) > 1 and table.rows[hits[-1]].cond is None:
            hits.pop()
        return hits

    def _lookup_entry(self, lookup: ast.Lookup, row: int):
        if lookup.file is not None:
            return None
        key = self.value(lookup.key, row)
        for entry in lookup.entries:
            if entry.key is not None and entry.key == key:
                return entry
        return next((e for e in lookup.entries if e.key is None), None)

    def _untaken_branches(self, expr, row: int) -> list:
        """The spans of the branches an IF did not take (outside population terms, which run per member)."""
        spans: list = []
        if not _shape_of(self.graph, expr, self._shapes).conditional:
            return spans
        key = (id(expr), row)
        if key in self._untaken:
            return self._untaken[key]
        if not self.plain:
            self._untaken[key] = spans

        def visit(e) -> None:
            if isinstance(e, _TERMS):
                return
            if isinstance(e, ast.IfExpr):
                cond = self.value(e.cond, row)
                if cond is True:
                    spans.append(e.else_.span)
                    visit(e.cond)
                    visit(e.then)
                    return
                if cond is False:
                    spans.append(e.then.span)
                    visit(e.cond)
                    visit(e.else_)
                    return
            for child in ast.children(e):
                visit(child)

        visit(expr)
        return spans

    def _telling(self, expr, row: int):
        """The sub-expressions evaluated for this row that tell a step, in walk order: not inside an untaken
        branch, nor inside a population term's own operand (evaluated for each member, told by the term's step).

        A walk from the top stops at the first part inside an untaken branch; so a part is walked to exactly
        when no span on its way down (its own included) is inside one: that is what is asked of each.
        """
        if self.plain:
            return [e for e in self._walk_evaluated(expr, self._untaken_branches(expr, row)) if _tells_step(e)]
        shape = _shape_of(self.graph, expr, self._shapes)
        steps = shape.steps
        untaken = self._untaken_branches(expr, row) if shape.conditional else ()
        if not untaken:
            return [e for e, _ in steps]
        return [e for e, path in steps if not any(_inside(at, span) for at in path for span in untaken)]

    def _walk_evaluated(self, e, untaken: list):
        """Every sub-expression evaluated for the row, walked from the top (_telling, plainly)."""
        if any(_inside(e.span, span) for span in untaken):
            return
        yield e
        if isinstance(e, _TERMS) or (_period_call(e) is not None):
            return
        for child in ast.children(e):
            yield from self._walk_evaluated(child, untaken)

    # -- definitions: the formula with the values put in, then population terms
    def _definition(self, decl: ast.Definition, trace: TraceNode, here: _Here) -> None:
        body = decl.body
        row = here.row
        outline = _make_outline(self.graph, decl) if self.plain else _outline_of(self.graph, decl.name, self._outlines)
        trace.parts = list(outline.parts)
        if outline.substituted:  # (a body that is a name or a term is told by its own step)
            substituted = self.substitute(body, row, decl.name)
            if substituted is not None:
                trace.steps.append(Step(f"= {substituted}", body.span.line))
        for sub in self._telling(body, row):
            if isinstance(sub, ast.WeightedSum):
                trace.steps.extend(self._weighted_steps(sub.rows, sub.span.line, here, decl.name))
            elif isinstance(sub, (ast.Aggregate, ast.Rank, ast.Top, ast.Split, ast.Tiered)):
                trace.steps.extend(self._population_steps(sub, here, decl.name))
                if isinstance(sub, ast.Top):
                    trace.hints.extend(self._top_hints(sub, here, decl.name))
            elif isinstance(sub, ast.ValueOf):
                if self.term_visible(sub, decl.name):
                    trace.steps.append(self._value_of_step(sub, row))
            elif _period_call(sub):
                trace.steps.append(self._period_step(sub, row))
            elif isinstance(sub, ast.IfExpr):
                cond = self.value(sub.cond, row)
                outcome = 1 if cond is True else 0 if cond is False else 2
                found = None if self.plain else self._texts.get(("if", id(sub), outcome))
                if found is None:  # (the IF's words and which way it went: the same text for everyone it went so for)
                    answer = self.say("yes") if cond is True else self.say("no") if cond is False else "—"
                    chosen = sub.then if cond is True else sub.else_
                    found = (self.say("if_step", cond=self.snippet(sub.cond), answer=answer, chosen=self.snippet(chosen)),)
                    self._keep_text(("if", id(sub), outcome), found)
                trace.steps.append(Step(found[0], sub.span.line))

    def _period_step(self, call: ast.Call, row: int) -> Step:
        value = self.value_text(call, row)
        unit = self.unit_of(call)
        if _period_call(call) == "previous":
            j = self.previous_row(row)
            source = self.say("previous_of", what=self.period_label(j)) if j is not None else self.say("no_previous")
            return Step(f"{self.snippet(call)} = {self.fmt(value, unit)} ({source})", call.span.line)
        # consecutive(condition): the periods counted back from this one
        rows = self.rows_of_employee(row)
        period = self.graph.period
        periods = self.results.columns[period]
        order = self._period_order()
        before = [j for j in rows if order(periods[j]) <= order(periods[row])]
        listed: list[str] = []
        for j in reversed(before):
            holds = self.value(call.args[0], j)
            cond = self.substitute(call.args[0], j, None) or self.snippet(call.args[0])
            listed.append(f"{self.period_label(j)}{self.say('colon')}{cond} {'✓' if holds else '✗'}")
            if holds is not True or len(listed) >= 6:
                break
        return Step(f"{self.snippet(call)} = {self.fmt(value, unit)} ({self.say('list_sep').join(listed)})", call.span.line)

    def _value_of_step(self, sub: ast.ValueOf, row: int) -> Step:
        key = self.value(sub.key, row)
        value = self.value_text(sub, row)
        unit = self.units.get(sub.name, SHOW_NUMBER)
        if sub.group is None:
            return Step(self.say("value_of", what=self.snippet(sub), key_name=self.graph.key, key=self.fmt(key, SHOW_OTHER),
                                 name=sub.name, value=self.fmt(value, unit)), sub.span.line)
        return Step(self.say("group_value_of", what=self.snippet(sub), group=sub.group, key=self.fmt(key, SHOW_OTHER),
                             name=sub.name, value=self.fmt(value, unit)), sub.span.line)

    def substitute(self, expr: ast.Expr, row: int, owner: str | None) -> str | None:
        """The formula with each name replaced by its value (single-line formulas).

        Where two compared values would read the same once rounded (≈50% < 50%), both are
        shown with as many decimals as tell them apart. In a statement, a group figure the
        policy does not publish reads 〔not published〕.
        """
        if expr.span.line != expr.span.end_line:
            return None
        shape = _shape_of(self.graph, expr, self._shapes)
        if shape.line is None or self.plain:
            return self._substitute_each(expr, row, owner)
        text = shape.line
        untaken = self._untaken_branches(expr, row) if shape.conditional else ()
        places = self._distinguishing_places(expr, row, shape.compares) if shape.compares else {}
        if not untaken and not places and self.audience == "all" and shape.slots:
            # (nearly always: every slot shows its value at two decimals, between the same words)
            between = shape.between
            out = [between[0]]
            for (sub, _, _, term, unit), after in zip(shape.slots, between[1:]):
                out.append(self.fmt(self.value_text(sub, row), unit) if term else self.fmt_node(sub.name, row))
                out.append(after)
            return "".join(out)
        out, pos = [], expr.span.column - 1
        for sub, s_at, e_at, term, unit in shape.slots:
            if untaken and any(_inside(sub.span, span) for span in untaken):
                continue
            if term:
                if owner is not None and not self.term_visible(sub, owner):
                    shown = self.withheld_text()
                else:
                    shown = self.fmt(self.value_text(sub, row), unit, places.get(id(sub), 2))
            elif owner is not None and self.audience != "all" and not self.visible(sub.name, _Here(row)):
                shown = self.withheld_text()
            else:
                shown = self.fmt_node(sub.name, row, places.get(id(sub), 2))
            out.append(text[pos:s_at])
            out.append(shown)
            pos = e_at
        if not out:
            return None
        out.append(text[pos:expr.span.end_column - 1])
        return "".join(out)

    def _substitute_each(self, expr: ast.Expr, row: int, owner: str | None) -> str | None:
        """substitute, every part replaced then sorted by where it is (and its text, for parts over the same text)."""
        text = self.graph.source.line(expr.span.line)
        start, end = expr.span.column - 1, expr.span.end_column - 1
        pieces: list[tuple[int, int, str]] = []
        untaken = self._untaken_branches(expr, row)
        places = self._distinguishing_places(expr, row)
        here = _Here(row)
        for sub, s_at, e_at, term, unit in _shape_of(self.graph, expr, self._shapes).replaced:
            if untaken and any(_inside(sub.span, span) for span in untaken):
                continue
            if term:
                if owner is not None and not self.term_visible(sub, owner):
                    pieces.append((s_at, e_at, self.withheld_text()))
                else:
                    pieces.append((s_at, e_at, self.fmt(self.value_text(sub, row), unit, places.get(id(sub), 2))))
            elif owner is not None and not self.visible(sub.name, here):
                pieces.append((s_at, e_at, self.withheld_text()))
            else:
                pieces.append((s_at, e_at, self.fmt_node(sub.name, row, places.get(id(sub), 2))))
        pieces.sort()
        out, pos = [], start
        for s, e, replacement in pieces:
            if s < pos:  # inside a population term already replaced
                continue
            out.append(text[pos:s])
            out.append(replacement)
            pos = e
        out.append(text[pos:end])
        return "".join(out) if pieces else None

    def _distinguishing_places(self, expr: ast.Expr, row: int, compares: tuple | None = None) -> dict[int, int]:
        """For the operands of comparisons that would read the same once rounded: the decimals that tell them apart.

        compares: the expression's comparisons (its shape's), when the caller has them at hand."""
        out: dict[int, int] = {}
        for sub in compares if compares is not None else _shape_of(self.graph, expr, self._shapes).compares:
            operands = list(sub.operands)
            values = [self.value(o, row) for o in operands]
            units = [self.unit_of(o) for o in operands]
            unit = next((u for u in units if u != SHOW_NUMBER), units[0])
            for a, b, va, vb in zip(operands, operands[1:], values, values[1:]):
                if not isinstance(va, Fraction) or not isinstance(vb, Fraction) or va == vb:
                    continue
                places = 2
                while places < 10 and format_people(va, unit, places=places).lstrip("≈") == \
                        format_people(vb, unit, places=places).lstrip("≈"):
                    places += 1
                if places > 2:
                    for o in (a, b):
                        out[id(o)] = max(out.get(id(o), 2), places)
        return out

    def _population_steps(self, term: ast.Expr, here: _Here, owner: str) -> list[Step]:
        row = here.row
        line = term.span.line
        what = self.snippet(term)
        if isinstance(term, ast.Tiered):
            return self._tier_steps(term, row)
        if isinstance(term, ast.Aggregate) and term.source is not None:
            return [self._related_step(term, row)]
        open_ = self.open_statistics(owner)
        if isinstance(term, ast.Aggregate) and term.to_date is not None and (term.within is None or open_):
            # up to this period: the employee's own (a statement shows it), or a group's (when open)
            stat = self.group(term, row)
            if stat is None:
                return [Step(self.say("not_computed", what=what), line)]
            periods = stat.detail.get("periods", [])
            counted = stat.detail.get("counted", len(periods))
            extra = self.say("counted", counted=counted) if term.where is not None else ""
            labels = [self.fmt(p, SHOW_OTHER) for p in periods]
            rows = stat.detail.get("rows")
            if isinstance(term.operand, ast.Name) and rows is not None and term.within is None and \
                    term.operand.name in self.results.columns:  # each period's value, as the employee knows them
                column, unit = self.results.columns[term.operand.name], self.unit_of(term.operand)
                labels = [f"{label} {self.fmt(column[j], unit)}" for label, j in zip(labels, rows)]
            sep = self.say("list_sep")
            shown = sep.join(labels) if len(labels) <= 12 else sep.join(labels[:2]) + " … " + sep.join(labels[-2:])
            return [Step(self.say("to_date", what=what, value=self.fmt(stat.value, self.unit_of(term)), count=len(periods),
                                  period_word=self.say("period_one" if len(periods) == 1 else "period_many"),
                                  periods=shown or self.say("no_periods"), extra=extra), line)]
        if isinstance(term, ast.Aggregate) and own_rows_term(self.graph, term):
            return [self._own_rows_step(term, row)]
        if isinstance(term, ast.Aggregate) and not open_:
            return []  # a group figure the statement does not show; its place in the formula says so
        stat = self.group(term, row)
        if stat is None:
            return [Step(self.say("not_computed", what=what), line)]
        people, group_text = self._group_texts(term, stat)
        if isinstance(term, ast.Aggregate):
            counted = stat.detail.get("counted", stat.members)
            extra = self.say("counted", counted=counted) if term.where is not None else ""
            return [Step(self.say("aggregate", what=what, value=self.fmt(stat.value, self.unit_of(term)),
                                  group=group_text, extra=extra), line)]
        if isinstance(term, ast.Rank):
            rank = self.fmt(self.value(term, row), SHOW_NUMBER)
            if not open_:
                return [Step(self.say("rank_own", what=what, value=rank), line)]
            return [Step(self.say("rank", what=what, value=rank, group=group_text), line)]
        if isinstance(term, ast.Top):
            values, places = stat.detail["sorted"], stat.detail["places"]
            answer = self.say("yes" if self.value(term, row) else "no")
            if not open_ or "better" not in stat.detail:
                return [Step(self.say("top_own", what=what, answer=answer), line)]
            better = stat.detail["better"]  # the probe counts, for this row, how many are strictly better
            cutoff = _cutoff(values, places, term.bottom)
            key = ("top", id(term), places, None if cutoff is None else (cutoff.numerator, cutoff.denominator))
            kept = not self.plain and (type(cutoff) is Fraction or cutoff is None)  # (kept by exactly its value)
            found = self._texts.get(key) if kept else None
            if found is None:  # (the cut-off and the places: the group's, whoever is explained)
                unit = self.unit_of(term.operand)
                cut = "" if cutoff is None else self.say("cutoff", value=self.fmt(cutoff, unit))
                found = (cut, self.say("place" if places == 1 else "places", n=places))
                if kept:
                    self._keep_text(key, found)
            cut, places_text = found
            return [Step(self.say("top", what=what, better=better, people=people,
                                  word=self.say("lower" if term.bottom else "higher"), operand=self.snippet(term.operand),
                                  share=self.snippet(term.amount), places=places_text,
                                  answer=answer, cutoff=cut), line)]
        if isinstance(term, ast.Split):
            share = stat.detail["shares"][row]
            weight = self.value(term.weight, row)
            weight_unit = self.unit_of(term.weight)
            equal = constant_value(term.weight) is not None  # `split pool by 1`: everyone the same share
            weight_name = "" if equal else self.snippet(term.weight)
            if not open_:
                pool_shown = isinstance(term.pool, ast.Name) and self._is_node(term.pool) and self.visible(term.pool.name, here)
                key = ("split_pool_own" if pool_shown else "split_own") + ("_equal" if equal else "")
                return [Step(self.say(key, what=what, pool=self.fmt(stat.value, SHOW_MONEY), weight_name=weight_name,
                                      weight=self.fmt(weight, weight_unit), share=self.fmt(share, SHOW_MONEY)), line)]
            total = stat.detail["weight_total"]
            if not total:
                return [Step(self.say("no_pool", what=what, group=group_text), line)]
            pool = stat.value if type(stat.value) is Fraction else Fraction(stat.value)
            exact = pool * (weight if type(weight) is Fraction else Fraction(weight)) / total
            # the fraction of a cent is why the cents are handed out by remainder: shown to the decimals that tell it
            note = ""
            if exact != share:
                places = 4
                while places < 10 and self.fmt(exact, SHOW_MONEY, places).lstrip("≈") == self.fmt(share, SHOW_MONEY):
                    places += 1
                note = self.say("exact_share", exact=self.fmt(exact, SHOW_MONEY, places))
            return [Step(self.say("split_equal" if equal else "split", what=what, pool=self.fmt(stat.value, SHOW_MONEY),
                                  group=group_text,
                                  weight_name=weight_name, weight=self.fmt(weight, weight_unit),
                                  total=self.fmt(total, weight_unit), share=self.fmt(share, SHOW_MONEY), note=note), line)]
        return []

    def _group_texts(self, term, stat) -> tuple[str, str]:
        """How many people a term's group has, and the group as a step names it ("team 华东二组, 12 people"): the
        same for every member, so kept by the term, the group's value and its size (in this language and
        exactness: a policy's cache of texts is per both)."""
        group = stat.group
        # (True == 1 == Fraction(1): the kinds of the group's values are part of what it is kept by)
        kinds = tuple(type(g) for g in group) if type(group) is tuple else type(group)
        key = ("group", id(term), kinds, group, stat.members)
        found = None if self.plain else self._texts.get(key)
        if found is None:
            within = getattr(term, "within", None)
            people = self.say("person" if stat.members == 1 else "people", n=stat.members)
            group_text = (self.say("group", within=self.snippet(within), group=_group_label(group, self), people=people)
                          if within is not None else self.say("everyone", people=people))
            found = (people, group_text)
            self._keep_text(key, found)
        return found

    def _keep_text(self, key: tuple, texts: tuple) -> None:
        if self.plain:
            return
        if len(self._texts) >= _TEXTS_KEPT:
            self._texts.clear()
        self._texts[key] = texts

    def _related_step(self, term: ast.Aggregate, row: int) -> Step:
        """A sum (count, average …) over the employee's rows of a related table, with the rows listed."""
        value = self.value_text(term, row)
        counted, total = self.results.probe.related(term, row)
        unit = self.unit_of(term)
        table = self.graph.related[term.source][0]  # type: ignore[index]
        columns = [d.name for d in table.inputs if d.name != table.link and not (self.graph.period and d.name == self.graph.period)]
        listed: list[str] = []
        entries = self.results.probe.related_entries(term, row)
        types = self.graph.related[term.source][1]  # type: ignore[index]
        for fields, chosen, each in entries:
            if not chosen:
                continue
            cells = self.say("field_sep").join(f"{c} {self.fmt(fields.get(c), _unit_of_type(types.get(c)))}" for c in columns)
            if term.operand is not None and term.func != "count":
                cells += f" → {self.fmt(each, unit)}"
            listed.append(cells)
        shown = listed[:_LISTED]
        if len(listed) > _LISTED:
            shown.append(self.say("and_more", n=len(listed) - _LISTED))
        text = self.say("related", what=self.snippet(term), value=self.fmt(value, unit), counted=counted, rows=total,
                        table=term.source)
        if shown:
            text += self.say("colon") + self.say("row_sep").join(shown)
        return Step(text, term.span.line)

    def _own_rows_step(self, term: ast.Aggregate, row: int) -> Step:
        """A sum over the employee's own rows (their months), with the months listed."""
        value = self.value_text(term, row)
        unit = self.unit_of(term)
        mine = [j for j in self.rows_of_employee(row) if self.value(term.within, j) == self.value(term.within, row)]
        if not term.across and self.graph.period:
            periods = self.results.columns[self.graph.period]
            mine = [j for j in mine if periods[j] == periods[row]]
        listed = []
        for j in mine:
            if term.where is not None and self.value(term.where, j) is not True:
                continue
            label = self.period_label(j) if self.graph.period else ""
            if term.operand is not None and term.func != "count":
                listed.append(f"{label} {self.fmt(self.value(term.operand, j), self.unit_of(term.operand))}".strip())
            else:
                listed.append(label)
        shown = listed[:_LISTED] + ([self.say("and_more", n=len(listed) - _LISTED)] if len(listed) > _LISTED else [])
        text = self.say("own_rows", what=self.snippet(term), value=self.fmt(value, unit),
                        rows=self.say("periods" if self.graph.period else "rows", n=len(listed)))
        if shown:
            text += self.say("colon") + self.say("list_sep").join(s for s in shown if s)
        return Step(text, term.span.line)

    def _top_hints(self, term: ast.Top, here: _Here, owner: str) -> list[str]:
        """How far from the cut-off of a top N% (only when the policy shows the cut-off)."""
        if term.bottom or not self.open_statistics(owner) or here.foreign:
            return []
        row = here.row
        stat = self.group(term, row)
        v = self.value(term.operand, row)
        if stat is None or not isinstance(v, Fraction) or self.value(term, row) is not False:
            return []
        cutoff = _cutoff(stat.detail["sorted"], stat.detail["places"], False)
        if cutoff is None or cutoff <= v:
            return []
        return [self.say("short_of_top", amount=bands.amount(self, cutoff - v, self.unit_of(term.operand)),
                         name=owner, what=self.snippet(term), cutoff=self.fmt(cutoff, self.unit_of(term.operand)))]

    def _tier_steps(self, term: ast.Tiered, row: int) -> list[Step]:
        base = self.value(term.base, row)
        if not isinstance(base, Fraction):
            return []
        tiers = tiers_of(term)
        steps = []
        unit = self.unit_of(term.base)
        if term.kind == "marginal":
            for (lower, upper, part, rate), tier in zip(tier_parts(tiers, base), term.tiers):
                band = (self.say("band", lower=self.fmt(lower, unit), upper=self.fmt(upper, unit)) if upper is not None
                        else self.say("band_above", lower=self.fmt(lower, unit)))
                steps.append(Step(self.say("tier_part", band=band, part=self.fmt(part, unit),
                                           rate=self.fmt(rate, "percent"), amount=self.fmt(part * rate, unit)),
                                  tier.span.line))
        else:
            rate = whole_amount_rate(tiers, base)
            steps.append(Step(self.say("whole_band", base=self.fmt(base, unit), rate=self.fmt(rate, "percent"),
                                       amount=self.fmt(base * rate, unit)), term.span.line))
        return steps

    # -- tables: which row fired, why the rows above did not, how far the next band is
    def _table(self, table: ast.Table, trace: TraceNode, here: _Here) -> None:
        row = here.row
        hits = self._table_hits(table, row)
        for k, table_row in enumerate(table.rows):
            text = self._row_text(table_row)
            if table.hit == "first" and hits and k > hits[0]:
                trace.steps.append(Step(text, table_row.span.line, "not reached"))
                continue
            if table_row.cond is None:
                trace.steps.append(Step(text, table_row.span.line, "fired" if k in hits else "not reached"))
                continue
            if k in hits:
                trace.steps.append(Step(text + f"   ({self.substitute(table_row.cond, row, table.name)})",
                                        table_row.span.line, "fired"))
            else:
                trace.steps.append(Step(text + f"   ({self._why_not(table_row.cond, row, table.name)})",
                                        table_row.span.line, "not met"))
        if table.hit == "first" and hits and not here.foreign:
            trace.hints.extend(bands.table_hints(self, table, hits[0], row))
        if hits and table.rows[hits[0]].cond is not None:
            trace.compared = _compared_name(self, table.rows[hits[0]].cond)

    def _row_text(self, row: ast.Rule) -> str:
        # The row as the author wrote it, in their language.
        return self.graph.source.snippet(row.span).split("\n")[0].split("#")[0].rstrip()

    def _why_not(self, cond: ast.Expr, row: int, owner: str) -> str:
        substituted = self.substitute(cond, row, owner)
        return self.say("is_false", cond=substituted) if substituted else self.say("not_met_short")

    def _lookup(self, lookup: ast.Lookup, trace: TraceNode, here: _Here) -> None:
        row = here.row
        key = self.value(lookup.key, row)
        if lookup.file is not None:
            table, lines = self.graph.lookup_tables[lookup.name]
            if key in table:
                trace.steps.append(Step(self.say("lookup_file", key=self.snippet(lookup.key), value=self.fmt(key, SHOW_OTHER),
                                                 file=lookup.file, line=lines[key],
                                                 result=self.fmt(table[key], self.units.get(lookup.name, SHOW_NUMBER))),
                                        lookup.span.line, "fired"))
            return
        entry = self._lookup_entry(lookup, row)
        if entry is not None:
            trace.steps.append(Step(self.say("lookup", key=self.snippet(lookup.key), value=self.fmt(key, SHOW_OTHER),
                                             label=self._entry_label(entry), result=self.snippet(entry.value)),
                                    entry.span.line or lookup.span.line, "fired"))

    def _weighted(self, weighted: ast.Weighted, trace: TraceNode, here: _Here) -> None:
        trace.steps.extend(self._weighted_steps(weighted.rows, weighted.span.line, here, weighted.name, trace.display))

    def _weighted_steps(self, rows, line: int, here: _Here, owner: str, total: str | None = None) -> list[Step]:
        """Each component × its weight, then the sum (a weighted block, or `weighted(…)` inside a formula)."""
        row = here.row
        steps, parts, computed, complete = [], [], Fraction(0), True
        for weighted_row in rows:
            name = weighted_row.component.name
            value = self.results.columns[name][row] if name in self.graph.nodes else self.value(weighted_row.component, row)
            weight = constant_value(weighted_row.weight)
            visible = name not in self.graph.nodes or self.visible(name, here)
            shown = (self.fmt_node(name, row) if name in self.graph.nodes else self.fmt(value, self.unit_of(weighted_row.component))) \
                if visible else self.withheld_text()
            parts.append(f"{self.snippet(weighted_row.weight)} × {shown}")
            if isinstance(value, Fraction) and weight is not None:
                computed += value * weight
            else:
                complete = False
            product = (self.fmt(Fraction(value) * weight, self.units.get(owner, SHOW_NUMBER))
                       if isinstance(value, Fraction) and weight is not None and visible else self.withheld_text())
            steps.append(Step(f"{name} {shown} × {self.snippet(weighted_row.weight)} = {product}", weighted_row.span.line))
        if total is None:
            total = self.fmt(computed, self.units.get(owner, SHOW_NUMBER)) if complete else "—"
        steps.append(Step(f"= {' + '.join(parts)} = {total}", line))
        return steps


def _thresholds(graph) -> dict[str, list[Fraction]]:
    """name → the constants the policy compares it with (`完成率 < 50%`: 完成率 → [1/2])."""
    from pkrules.language.builtins import expressions_of

    out: dict[str, list[Fraction]] = {}
    flipped = {">=", "<=", ">", "<", "=", "!="}
    for node in graph.definitions:
        for expr in expressions_of(node.decl):
            for sub in ast.walk(expr):
                if not isinstance(sub, ast.Compare):
                    continue
                for a, b, op in zip(sub.operands, sub.operands[1:], sub.ops):
                    if op not in flipped:
                        continue
                    for name_side, const_side in ((a, b), (b, a)):
                        value = constant_value(const_side)
                        if isinstance(name_side, ast.Name) and value is not None and name_side.name in graph.nodes:
                            out.setdefault(name_side.name, []).append(value)
    return out


def _compared_name(builder: "_TraceBuilder", cond) -> str | None:
    """The value a condition is about: score in `score >= 90`, 团队PK得分 in `团队PK得分 < 对手得分`."""
    simple = bands.simple_condition(builder, cond)
    if simple is not None:
        return simple[0]
    if isinstance(cond, ast.Compare):
        for operand in cond.operands:
            if isinstance(operand, ast.Name) and builder._is_node(operand):
                return operand.name
    return None


def _sum_parts(body) -> list[tuple[str, str]] | None:
    """(sign, name) for a body that is only names added and subtracted: total = bonus + special - deposit."""
    if isinstance(body, ast.Name):
        return [("+", body.name)]
    if isinstance(body, ast.Binary) and body.op in "+-":
        left, right = _sum_parts(body.left), _sum_parts(body.right)
        if left is None or right is None:
            return None
        if body.op == "-":
            right = [("-" if sign == "+" else "+", name) for sign, name in right]
        return left + right
    return None


def _cutoff(values, places: int, bottom: bool):
    """The value at the last place of a top (bottom) N: the cut-off."""
    if places <= 0 or not len(values):
        return None
    places = min(places, len(values))
    return values[places - 1] if bottom else values[len(values) - places]


def _group_label(group: object, builder: _TraceBuilder) -> str:
    """A group as people read it: with several periods the group is (period, team)."""
    if isinstance(group, tuple):
        return ", ".join(builder.fmt(g, SHOW_OTHER) for g in group if g is not None)
    return builder.fmt(group, SHOW_OTHER)


def _unit_of_type(type_: Type | None) -> str:
    return declared_unit(type_.kind) if type_ is not None else SHOW_OTHER


class _Failed(str):
    """A value that could not be computed, as the error's message."""


__all__ = ["Explanation", "Step", "TraceNode", "explain", "plainly", "AUDIENCES", "GROUP"]
