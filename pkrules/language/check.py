"""Checking a parsed policy: names, cycles, units and types — every problem in one pass.

The result is a RuleGraph (rule_graph.py) that the evaluator can trust.
"""

from __future__ import annotations

from fractions import Fraction

from pkrules.values.numbers import format_exact

from pkrules.language import ast
from pkrules.language.builtins import (
    DATE_FUNCTIONS, FUNCTION_LIST, FUNCTIONS, YES_WORDS, aggregate_word, constant_value, default_value, did_you_mean,
    example_word, expressions_of,
    function_of,
)
from pkrules.language.diagnostics import Diagnostic, Note
from pkrules.language.keywords import KEYWORDS
from pkrules.language.rule_graph import NameRef, Node, RuleGraph
from pkrules.language.source import SourceFile, Span
from pkrules.messages import tr
from pkrules.values.types import BOOL, CONST, DATE, ENUM, MONEY, NUMBER, PERCENT, TEXT, TYPE_NAMES, WHOLE, T_BOOL, T_CONST, T_DATE, T_MONEY, T_NUMBER, T_TEXT, T_WHOLE, Type, UnitError, divide, input_type, multiply, unify

T_ERROR = Type("error")  # already reported; stops one mistake from causing many messages

_ZH_KEYWORDS = sorted((w for words in KEYWORDS.values() for w in words if not w.isascii()), key=len, reverse=True)


def _wan(plain: str) -> str:
    value = Fraction(plain)
    return tr("{plain} or {wan}", plain=plain, wan=f"{format_exact(value / 10000)}万") if value >= 10000 else plain


class Checker:
    def __init__(self, source: SourceFile, policy: ast.Policy):
        self.source = source
        self.policy = policy
        self.diagnostics: list[Diagnostic] = []
        self.nodes: dict[str, Node] = {}
        self.refs: dict[int, object] = {}
        self.types: dict[int, Type] = {}
        self.enum_values: dict[str, str] = {}  # value → the input it belongs to
        self.key: str | None = None
        self.used: set[str] = set()
        self.lookup_tables: dict[str, tuple[dict, dict]] = {}  # lookups read from CSV files
        self.period: str | None = None  # the input that says which period a row is for
        self.related: dict[str, dict[str, Type]] = {}  # related table → its columns' types
        self.related_tables: dict[str, ast.RelatedTable] = {}
        self.related_env: dict[str, Type] | None = None  # the columns visible inside `… from table`
        self.pending: set[str] = set()  # a recursive group's definitions whose types are being found
        self.recursive: dict[str, tuple[str, ...]] = {}
        self.delayed: dict[str, set[str]] = {}
        self._blank_names: dict[str, ast.Expr | None] = {}
        self.constants: dict[str, Fraction] = {}  # definitions that are fixed numbers (threshold = 50万)

    # -- reporting
    def error(self, code: str, message: str, span: Span | None, hint: str | None = None, notes=()) -> None:
        self.diagnostics.append(Diagnostic("error", code, message, span, hint, tuple(notes)))

    def warning(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic("warning", code, message, span, hint))

    # -- the pass
    def run(self) -> RuleGraph | None:
        self._declare_inputs()
        self._declare_parameters()
        self._declare_related()
        self._declare_definitions()
        deps = {name: self._dependencies(node) for name, node in self.nodes.items() if not node.is_given}
        self.delayed = {name: self._delayed_only(node) for name, node in self.nodes.items() if not node.is_given}
        order, cyclic = self._order(deps)
        self._check_chains(order, deps)
        for name in order:
            if name in self.recursive and self.recursive[name][0] == name:
                self._check_recursive(self.recursive[name], deps)
            elif name not in self.recursive:
                self._check_declaration(self.nodes[name], deps[name])
        for name in cyclic:
            self.nodes[name].type = T_ERROR
            self.used.update(dep for dep, _ in deps[name])
        self._check_outputs()
        if self.policy.appraisal is not None:
            from pkrules.language.appraisal import check_appraisal

            inputs = {n.name: n for n in self.nodes.values() if n.is_input}
            self.diagnostics.extend(check_appraisal(self.policy.appraisal, inputs, self.key))
            for stage in self.policy.appraisal.stages:
                self.used.update(name for name in stage.scores if name in inputs)  # entered at a stage: used
        self._check_blanks()
        self._check_published()
        self._check_unused_inputs()
        for example in self.policy.examples:
            self._check_example(example)
        if any(d.is_error for d in self.diagnostics):
            return None
        return RuleGraph(
            self.source, self.policy, self.nodes, order, self.key or "",
            {k: v for k, v in self.refs.items()}, self.types, self.diagnostics, self.lookup_tables, self.period,
            {name: (self.related_tables[name], columns) for name, columns in self.related.items()},
            recursive=dict(self.recursive), delayed={name: found for name, found in self.delayed.items() if found})

    # -- inputs
    def _declare_inputs(self) -> None:
        if not self.policy.inputs:
            self.error("no-inputs", tr("the policy declares no inputs"), Span(1, 1, 1, 2),
                       hint=tr("add an input block:\ninput\n  id: text key\n  sales: money"))
        for decl in self.policy.inputs:
            if decl.name in self.nodes:
                self._duplicate(decl.name, decl.name_span)
                continue
            type_ = self._input_type(decl)
            if decl.key:
                if self.key is not None:
                    self.error("two-keys", tr("both {first} and {second} are marked key", first=self.key, second=decl.name),
                               decl.span, hint=tr("one input identifies an employee; mark only that one key"))
                elif type_.kind not in (TEXT, WHOLE, ENUM, "error"):
                    self.error("key-type", tr("the key {name} must be text or a whole number, not {type}",
                                              name=decl.name, type=type_.describe()), decl.type_span)
                self.key = self.key or decl.name
            if decl.period:
                if self.period is not None:
                    self.error("two-periods", tr("both {first} and {second} are marked period", first=self.period,
                                                 second=decl.name), decl.span,
                               hint=tr("one input says which period a row is for"))
                elif type_.kind not in (TEXT, WHOLE, ENUM, DATE, "error"):
                    self.error("period-type", tr("the period {name} must be text, a whole number or a date, not {type}",
                                                 name=decl.name, type=type_.describe()), decl.type_span)
                self.period = self.period or decl.name
            self._check_constraints(decl, type_)
            self.nodes[decl.name] = Node(decl.name, "input", decl, type_, (), decl.span)
        if self.policy.inputs and self.key is None:
            first = self.policy.inputs[0]
            self.error("no-key", tr("no input is marked key"), first.span,
                       hint=tr("mark the column that identifies an employee, e.g.  {name}: text key", name=first.name))

    def _input_type(self, decl: ast.InputDecl) -> Type:
        if decl.type_name != ENUM and decl.type_name not in TYPE_NAMES:
            suggestion = did_you_mean(decl.type_name, [k for k in TYPE_NAMES if k.isascii()] + [k for k in TYPE_NAMES if not k.isascii()])
            types = tr("types: money, percent, number, whole, yesno, text, date, or values like 新人 | 骨干 | 经理")
            self.error("unknown-type", tr("unknown type '{name}'", name=decl.type_name), decl.type_span,
                       hint=tr("did you mean '{guess}'? {more}", guess=suggestion, more=types) if suggestion else types)
            return T_ERROR
        type_ = input_type(TYPE_NAMES.get(decl.type_name, ENUM), decl.name, decl.enum_values)
        if type_.kind == ENUM:
            seen = set()
            for value in decl.enum_values:
                if value in seen:
                    self.error("duplicate-value", tr("'{value}' is listed twice in {name}'s values", value=value,
                                                     name=decl.name), decl.type_span)
                seen.add(value)
                self.enum_values.setdefault(value, decl.name)
        return type_

    def _declare_parameters(self) -> None:
        """Values given when the policy runs: typed and limited like inputs, never blank (a default, or required)."""
        for decl in self.policy.parameters:
            if decl.name in self.nodes:
                self._duplicate(decl.name, decl.name_span)
                continue
            if decl.key or decl.period or decl.column is not None or (decl.optional and decl.default is None):
                self.error("parameter", tr("a parameter is one value for the whole run: it cannot be a key, a period, "
                                           "a column or blank (give it a default instead)"), decl.span)
            type_ = self._input_type(decl)
            self._check_constraints(decl, type_)
            self.nodes[decl.name] = Node(decl.name, "parameter", decl, type_, (), decl.span)

    def _declare_related(self) -> None:
        """Second tables (several rows per employee), linked to the employee's key by a column."""
        for table in self.policy.related:
            if table.name in self.nodes or table.name in self.related:
                self.error("duplicate", tr("'{name}' is defined twice", name=table.name), table.name_span)
                continue
            columns: dict[str, Type] = {}
            for decl in table.inputs:
                if decl.name in columns:
                    self.error("duplicate", tr("'{name}' is declared twice in {table}", name=decl.name, table=table.name),
                               decl.name_span)
                    continue
                if decl.key or decl.period:
                    self.error("related-key", tr("a column of {table} cannot be the key or the period", table=table.name),
                               decl.span, hint=tr("{table} is linked to the employee by {link}", table=table.name,
                                                  link=table.link))
                columns[decl.name] = self._input_type(decl)
                self._check_constraints(decl, columns[decl.name])
            link = columns.get(table.link)
            key_node = self.nodes.get(self.key) if self.key else None
            if link is None:
                self.error("related-link", tr("{table} is linked by {link}, but it has no such column", table=table.name,
                                              link=table.link),
                           table.link_span, hint=tr("add  {link}: text  to {table}'s columns", link=table.link,
                                                    table=table.name))
            elif key_node is not None and "error" not in (link.kind, key_node.type.kind) and link.kind != key_node.type.kind:
                self.error("related-link", tr("{link} links to the key {key}, which is {key_type}, but {link} is {link_type}",
                                              link=table.link, key=self.key, key_type=key_node.type.describe(),
                                              link_type=link.describe()), table.link_span)
            self.related[table.name] = columns
            self.related_tables[table.name] = table

    def _check_default(self, decl: ast.InputDecl, type_: Type) -> None:
        """`default 0`: a fixed value of the input's own type, within its limits."""
        value = decl.default
        if value is None or type_.kind == "error":
            return
        if decl.key or decl.period:
            self.error("default-value", tr("{name} identifies a row; it cannot be blank or have a default",
                                           name=decl.name), value.span)
            return
        if default_value(type_, value) is None:
            self.error("default-value", tr("the default of {name} must be {what}, written as in an example",
                                           name=decl.name, what=type_.describe()), value.span,
                       hint=tr("e.g. default 0, default \"无\", default no, default 2025-01-01"))
            return
        if type_.numeric:
            try:
                unify(type_, self._literal_type(value), f"default of {decl.name}")
            except UnitError as e:
                self.error("units", str(e), value.span, e.hint)

    def _check_constraints(self, decl: ast.InputDecl, type_: Type) -> None:
        self._check_default(decl, type_)
        bounds = [e for e in (decl.low, decl.high) if e is not None] + [e for _, e in decl.compares]
        for bound in bounds:
            if not type_.numeric and type_.kind != "error":
                self.error("constraint-type", tr("{name} is {type}; only numbers can have limits", name=decl.name,
                                                 type=type_.describe()), bound.span)
                continue
            value = constant_value(bound)
            if value is None:
                self.error("constraint-value", tr("a limit must be a number"), bound.span)
                continue
            bound_type = self._literal_type(bound)
            if type_.numeric:
                try:
                    unify(type_, bound_type, tr("limit of {name}", name=decl.name))
                except UnitError as e:
                    self.error("units", str(e), bound.span, e.hint)
        if decl.low is not None and decl.high is not None:
            low, high = constant_value(decl.low), constant_value(decl.high)
            if low is not None and high is not None and low > high:
                self.error("empty-range", tr("the range of {name} is empty ({low} > {high})", name=decl.name, low=low,
                                             high=high), decl.low.span)

    def _literal_type(self, expr: ast.Expr) -> Type:
        if isinstance(expr, ast.Percent):
            return Type(PERCENT)
        if isinstance(expr, ast.Number):
            return T_MONEY if expr.is_money else T_CONST
        if isinstance(expr, ast.Neg):
            return self._literal_type(expr.operand)
        return T_CONST

    # -- definitions
    def _declare_definitions(self) -> None:
        kinds = {ast.Definition: "definition", ast.Table: "table", ast.Lookup: "lookup", ast.Weighted: "weighted"}
        for decl in self.policy.declarations:
            if decl.name in self.nodes:
                self._duplicate(decl.name, decl.name_span)
                continue
            self.nodes[decl.name] = Node(decl.name, kinds[type(decl)], decl, T_ERROR, (), decl.span)

    def _duplicate(self, name: str, span: Span) -> None:
        first = self.nodes[name]
        first_here = (tr("'{name}' is first an input here", name=name) if first.is_input
                      else tr("'{name}' is first a definition here", name=name))
        self.error("duplicate", tr("'{name}' is defined twice", name=name), span,
                   hint=tr("rename one of them, or delete the copy"),
                   notes=[Note(first_here, first.decl.name_span)])

    def _dependencies(self, node: Node) -> list[tuple[str, Span]]:
        """Every (name, where) a declaration uses, in source order."""
        out: list[tuple[str, Span]] = []
        for expr in expressions_of(node.decl):
            for sub in self._walk_outside_related(expr):
                if isinstance(sub, ast.Name) and sub.name in self.nodes:
                    out.append((sub.name, sub.span))
                elif isinstance(sub, ast.ValueOf) and sub.name in self.nodes:
                    out.append((sub.name, sub.name_span))
                    if sub.group in self.nodes:
                        out.append((sub.group, sub.span))
        return out

    def _delayed_only(self, node: Node) -> set[str]:
        """The names a declaration reads only in earlier periods (previous(x), sum x earlier this year):
        a definition may use its own earlier values (a running total), which is not a cycle."""
        now: set[str] = set()
        before: set[str] = set()
        for expr in expressions_of(node.decl):
            for name, delayed in self._uses(expr, False):
                (before if delayed else now).add(name)
        return before - now

    def _uses(self, expr, delayed: bool):
        """(name, read only in earlier periods?) for every definition or input an expression reads."""
        if isinstance(expr, ast.Aggregate) and expr.source is not None:
            columns = self.related.get(expr.source, {})
            for part in (expr.operand, expr.where):
                if part is not None:
                    for sub in ast.walk(part):
                        if isinstance(sub, ast.Name) and sub.name not in columns and sub.name in self.nodes:
                            yield sub.name, delayed
            return
        if isinstance(expr, ast.Name):
            if expr.name in self.nodes:
                yield expr.name, delayed
            return
        if isinstance(expr, ast.ValueOf):
            if expr.name in self.nodes:
                yield expr.name, delayed
            if expr.group in self.nodes:
                yield expr.group, delayed
            yield from self._uses(expr.key, delayed)
            return
        if isinstance(expr, ast.Call) and function_of(expr.func) == "previous" and expr.args:
            yield from self._uses(expr.args[0], True)
            for arg in expr.args[1:]:
                yield from self._uses(arg, delayed)
            return
        if isinstance(expr, ast.Aggregate) and expr.earlier:
            for part in (expr.operand, expr.where):
                if part is not None:
                    yield from self._uses(part, True)
            for part in (expr.within, expr.since):
                if part is not None:
                    yield from self._uses(part, delayed)
            return
        for child in ast.children(expr):
            yield from self._uses(child, delayed)

    def _walk_outside_related(self, expr):
        """Every sub-expression, except the related table's own columns inside `… from table`
        (with a stack, as ast.walk: deep expressions must not make it quadratic)."""
        stack = [expr]
        while stack:
            current = stack.pop()
            yield current
            if isinstance(current, ast.Aggregate) and current.source is not None:
                columns = self.related.get(current.source, {})
                for part in (current.operand, current.where):
                    if part is not None:
                        for sub in ast.walk(part):
                            if not (isinstance(sub, ast.Name) and sub.name in columns):
                                yield sub
                continue
            stack.extend(reversed(ast.children(current)))

    def _order(self, deps: dict[str, list[tuple[str, Span]]]) -> tuple[list[str], list[str]]:
        """Definitions in dependency order; cycles reported with each step.

        Definitions that use each other only through earlier periods (a running total:
        total = previous(total, 0) + sales) are a recursive group, evaluated period by period;
        their order here is the order within one period."""
        self.recursive = {}
        groups = _strongly_connected(deps)
        of_group = {name: n for n, group in enumerate(groups) for name in group}
        # Within a group, a use in an earlier period does not order the definitions.
        edges = {name: [(d, sp) for d, sp in found if not (d in self.delayed[name] and of_group.get(d) == of_group[name])]
                 for name, found in deps.items()}
        for group in groups:
            if len(group) > 1 or any(dep == group[0] for dep, _ in deps[group[0]]):
                within = _topological({name: [d for d, _ in edges[name] if d in group] for name in group})
                if within is not None and self.period is not None:
                    for name in within:
                        self.recursive[name] = tuple(within)
        order, cyclic = self._order_plain(edges)
        if self.recursive:
            # Each recursive group in one run, after every group it uses (Tarjan finds them in that order).
            bad = set(cyclic)
            order = [name for group in groups if not bad & set(group)
                     for name in (self.recursive[group[0]] if group[0] in self.recursive else group)]
        return order, cyclic

    def _order_plain(self, deps: dict[str, list[tuple[str, Span]]]) -> tuple[list[str], list[str]]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done
        cyclic: set[str] = set()
        stack: list[tuple[str, Span | None]] = []

        def visit(root: str) -> None:
            # Depth first with a stack of its own (a chain of definitions may be 1,000 long, or longer:
            # then the chain limit reports it, not a RecursionError).
            if root not in deps or state.get(root) == 2:
                return
            state[root] = 1
            stack.append((root, None))
            pending = [iter(deps[root])]
            while pending:
                step = next(pending[-1], None)
                if step is None:
                    pending.pop()
                    name, _ = stack.pop()
                    state[name] = 2
                    order.append(name)
                    continue
                name, via = step
                if name not in deps or state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    start = next(i for i, (n, _) in enumerate(stack) if n == name)
                    cycle = stack[start:] + [(name, via)]
                    names = [n for n, _ in cycle]
                    if not set(names) <= cyclic:
                        cyclic.update(names)
                        notes = [Note(tr("{name} uses {other}", name=cycle[i][0], other=cycle[i + 1][0]), cycle[i + 1][1])
                                 for i in range(len(cycle) - 1)]
                        self.error("cycle", tr("these definitions depend on each other: {names}", names=" → ".join(names)),
                                   self.nodes[name].decl.name_span,
                                   hint=tr("a value cannot be computed from itself; break the loop"), notes=notes)
                    continue
                state[name] = 1
                stack.append((name, via))
                pending.append(iter(deps[name]))

        for name in deps:
            visit(name)
        return [n for n in order if n not in cyclic], sorted(cyclic)

    def _check_chains(self, order: list[str], deps: dict[str, list[tuple[str, Span]]]) -> None:
        """No chain of definitions, each using the one before, longer than MAX_CHAIN (language/limits.py)."""
        from pkrules.language.limits import MAX_CHAIN

        length: dict[str, int] = {}
        start: dict[str, str] = {}
        for name in order:  # dependencies first
            before = [(length[d], start[d]) for d, _ in deps[name] if d in length]
            longest = max(before, default=(0, name))
            length[name], start[name] = longest[0] + 1, longest[1]
            if length[name] == MAX_CHAIN + 1:
                self.error("too-long-chain", tr(
                    "{name} ends a chain of more than {limit} definitions, each using the one before (from {first}); "
                    "pkrules evaluates chains of at most {limit}", name=name, limit=f"{MAX_CHAIN:,}", first=start[name]),
                    self.nodes[name].decl.name_span,
                    hint=tr("compute the steps together (a tiered amount, a sum) instead of one definition each"))
                return

    def _check_declaration(self, node: Node, deps: list[tuple[str, Span]]) -> None:
        seen: list[str] = []
        for name, _ in deps:
            if name not in seen:
                seen.append(name)
        node.deps = tuple(seen)
        self.used.update(seen)
        decl = node.decl
        if isinstance(decl, ast.Definition):
            node.type = self._infer(decl.body)
            value = constant_value(decl.body)
            if value is not None and decl.guard is None and node.type.numeric:
                self.constants[node.name] = value
            if decl.guard is not None:
                guard = self._infer(decl.guard)
                if guard.kind not in (BOOL, "error"):
                    self.error("condition-type", tr("'only if' (仅当) needs a yes/no condition, but this is {what}",
                                                    what=guard.describe()), decl.guard.span)
        elif isinstance(decl, ast.Table):
            node.type = self._check_table(decl)
        elif isinstance(decl, ast.Lookup):
            node.type = self._check_lookup(decl)
        elif isinstance(decl, ast.Weighted):
            node.type = self._check_weighted(decl)

    def _check_recursive(self, group: tuple[str, ...], deps) -> None:
        """Definitions that use their own earlier values: their types are found in two passes, the first
        taking an earlier value not known yet as its default's (previous(total, 0): a number)."""
        said = len(self.diagnostics)
        self.pending = set(group)
        found = None
        for _ in range(4):  # until the types settle (a total of amounts is an amount after one round)
            for name in group:
                self._check_declaration(self.nodes[name], deps[name])
            del self.diagnostics[said:]
            types = [self.nodes[name].type for name in group]
            if types == found:
                break
            found = types
        self.pending = set()
        for name in group:
            self._check_declaration(self.nodes[name], deps[name])

    def _check_table(self, table: ast.Table) -> Type:
        result: Type | None = None
        if table.hit not in ("first", "unique", "sum"):
            self.error("hit-policy", tr("unknown hit policy '{hit}'", hit=table.hit), table.hit_span,
                       hint=tr("write (first match), (unique) or (collect sum) — 首个匹配 / 唯一 / 累加"))
        for index, row in enumerate(table.rows):
            if row.target != table.name:
                self.error("rule-target", tr("this row sets '{target}', but the table is '{table}'", target=row.target,
                                             table=table.name),
                           row.target_span, hint=tr("write THEN {table} …, or start a separate table for {target}",
                                                    table=table.name, target=row.target))
            if row.cond is None and index != len(table.rows) - 1:
                self.error("otherwise-not-last", tr("the OTHERWISE row must be the last row"), row.span,
                           hint=tr("rows after it could never apply"))
            if row.cond is not None:
                cond = self._infer(row.cond)
                if cond.kind not in (BOOL, "error"):
                    self.error("condition-type", tr("a condition must be yes/no, but this is {type}", type=cond.describe()),
                               row.cond.span)
            value = self._infer(row.value)
            result = self._join(result, value, row.value.span, tr("the values of {name}", name=table.name))
        if table.hit == "sum" and result is not None and not result.numeric and result.kind != "error":
            self.error("collect-sum-type", tr("a (collect sum) table adds its values, but the values of {table} are {type}",
                                              table=table.name, type=result.describe()), table.hit_span)
        return result or T_ERROR

    def _check_lookup(self, lookup: ast.Lookup) -> Type:
        found = self._check_lookup_body(lookup)
        if lookup.matchup:
            self._check_matchup(lookup)
        return found

    def _check_matchup(self, lookup: ast.Lookup) -> None:
        """A matchup (对阵) pairs keys with keys: A meets B exactly when B meets A, and no one meets themselves."""
        pairs: dict[object, object] = {}
        if lookup.file is not None:
            pairs = dict(self.lookup_tables.get(lookup.name, ({}, {}))[0])
        else:
            for entry in lookup.entries:
                if entry.key is None:
                    continue
                value = entry.value.value if isinstance(entry.value, ast.Text) else \
                    entry.value.name if isinstance(entry.value, ast.Name) else constant_value(entry.value)
                pairs[entry.key] = value
        one_way = [(k, v) for k, v in pairs.items() if v != k and pairs.get(v) != k]
        themselves = [k for k, v in pairs.items() if v == k]
        if one_way:
            shown = "; ".join(tr("{a} → {b}, but {b} → {c}", a=k, b=v, c=pairs.get(v, "—")) for k, v in one_way[:3])
            self.warning("matchup", tr("{name} is a matchup, but {n} of {total} pairings are one-way: {shown}",
                                       name=lookup.name, n=len(one_way), total=len(pairs), shown=shown),
                         lookup.name_span, hint=tr("write each pair both ways: if A meets B, B meets A"))
        if themselves:
            self.warning("matchup", tr("{name} is a matchup, but {n} meet themselves: {shown}", name=lookup.name,
                                       n=len(themselves), shown=", ".join(map(str, themselves[:3]))),
                         lookup.name_span, hint=tr("give each of them another opponent"))

    def _check_lookup_body(self, lookup: ast.Lookup) -> Type:
        key_type = self._infer(lookup.key)
        if lookup.file is not None:
            return self._check_file_lookup(lookup, key_type)
        result: Type | None = None
        seen: set = set()
        has_default = False
        for entry in lookup.entries:
            if entry.key is None:
                has_default = True
            elif entry.key in seen:
                self.error("duplicate-entry", tr("'{key}' appears twice in {name}", key=entry.key, name=lookup.name),
                           entry.key_span)
            else:
                seen.add(entry.key)
                if key_type.kind == ENUM and entry.key not in key_type.values:
                    suggestion = did_you_mean(str(entry.key), key_type.values)
                    self.error("unknown-value", _not_one_of(entry.key, key_type), entry.key_span, hint=_did_you_mean(suggestion))
                elif key_type.numeric and not isinstance(entry.key, Fraction):
                    self.error("lookup-key-type", tr("{name} looks up by a number, but '{key}' is not one", name=lookup.name,
                                                     key=entry.key), entry.key_span)
                elif key_type.kind == PERCENT and not self.source.snippet(entry.key_span).rstrip().endswith(("%", "％")):
                    written = self.source.snippet(entry.key_span)
                    self.error("lookup-key-type", tr("{name} looks up by a percentage; {key} without % is {percent}",
                                                     name=lookup.name, key=written, percent=format_exact(entry.key * 100) + "%"),
                               entry.key_span, hint=tr("write the key as {key}%", key=written))
            result = self._join(result, self._infer(entry.value), entry.value.span, tr("the values of {name}", name=lookup.name))
        if key_type.kind == ENUM and not has_default:
            missing = [v for v in key_type.values if v not in seen]
            if missing:
                self.error("lookup-missing", tr("{name} has no value for {missing}", name=lookup.name,
                                                missing=tr(", ").join(missing)), lookup.name_span,
                           hint=tr("add {value} to the list, or an OTHERWISE entry", value=missing[0]))
        if key_type.kind in (BOOL, MONEY):
            self.error("lookup-key-type", tr("{name} cannot look up by {type}", name=lookup.name, type=key_type.describe()),
                       lookup.key.span)
        return result or T_ERROR

    def _check_file_lookup(self, lookup: ast.Lookup, key_type: Type) -> Type:
        from pkrules.language.lookup_files import LookupFileError, file_diagnostic, read_lookup

        if key_type.kind in (BOOL, MONEY, DATE):
            self.error("lookup-key-type", tr("{name} cannot look up by {type}", name=lookup.name, type=key_type.describe()),
                       lookup.key.span)
            return T_ERROR
        try:
            table, lines = read_lookup(self.source.path, lookup, key_type)
        except LookupFileError as e:
            self.diagnostics.append(file_diagnostic(lookup, e))
            return T_ERROR
        self.lookup_tables[lookup.name] = (table, lines)
        texts = any(isinstance(v, str) for v in table.values())
        if key_type.kind == ENUM:
            missing = [v for v in key_type.values if v not in table]
            if missing:
                self.error("lookup-missing", tr("{file} has no row for {missing}", file=lookup.file,
                                                missing=tr(", ").join(missing)), lookup.file_span,
                           hint=tr("add a row for {value} to {file}", value=missing[0], file=lookup.file))
        if lookup.unit is not None:
            return self._lookup_unit(lookup, table, lines, texts)
        return T_TEXT if texts else T_CONST

    def _lookup_unit(self, lookup: ast.Lookup, table: dict, lines: dict, texts: bool) -> Type:
        """`from "rates.csv" as money`: the file's values are amounts (percentages, whole numbers …)."""
        kind = TYPE_NAMES.get(lookup.unit.lower() if lookup.unit.isascii() else lookup.unit)  # type: ignore[union-attr]
        if kind not in (MONEY, PERCENT, NUMBER, WHOLE):
            choices = [k for k, v in TYPE_NAMES.items() if v in (MONEY, PERCENT, NUMBER, WHOLE)]
            suggestion = did_you_mean(lookup.unit, choices)  # type: ignore[arg-type]
            self.error("unknown-type", tr("a lookup file's values can be money, percent, number or whole, not '{unit}'",
                                          unit=lookup.unit), lookup.span,
                       hint=tr("did you mean '{suggestion}'?", suggestion=suggestion) if suggestion else None)
            return T_ERROR
        if texts:
            key, word = next((k, v) for k, v in table.items() if isinstance(v, str))
            self.error("lookup-file", tr("{file}:{line}: '{word}' is not a number, but the values are {what}",
                                         file=lookup.file, line=lines[key], word=word, what=Type(kind).describe()),
                       lookup.file_span)
            return T_ERROR
        if kind == WHOLE:
            odd = next((k for k, v in table.items() if Fraction(v).denominator != 1), None)
            if odd is not None:
                self.error("lookup-file", tr("{file}:{line}: {value} is not a whole number", file=lookup.file,
                                             line=lines[odd], value=format_exact(table[odd])), lookup.file_span)
                return T_ERROR
        return Type(kind)

    def _check_weighted(self, weighted: ast.Weighted) -> Type:
        return self._check_weights(weighted.rows, weighted.name, weighted.name_span)

    def _check_weights(self, rows, name: str, name_span: Span) -> Type:
        """A scorecard's rows: numeric components, each once, weighted by fixed percentages adding up to 100%."""
        total = Fraction(0)
        complete = True
        seen: set[str] = set()
        for row in rows:
            component = self._infer(row.component)
            if row.component.name in seen:
                self.error("duplicate-weight", tr("{name} is weighted twice in {table}", name=row.component.name,
                                                  table=name), row.component.span)
            seen.add(row.component.name)
            if component.kind == MONEY:
                self.error("units", tr("{name} is money; a scorecard weighs scores, not amounts", name=row.component.name),
                           row.component.span,
                           hint=tr("turn the amount into a score first, e.g. min(sales / sales_target, 1) * 100"))
            elif not component.numeric and component.kind != "error":
                self.error("weighted-type", tr("{name} is {type}; a scorecard weighs numbers", name=row.component.name,
                                               type=component.describe()), row.component.span)
            weight_type = self._infer(row.weight)
            weight = constant_value(row.weight)
            if weight is None or weight_type.kind not in (PERCENT, CONST):
                self.error("weight", tr("a weight must be a percentage such as 20%"), row.weight.span)
                complete = False
            else:
                total += weight
        if complete and total != 1 and rows:
            bare = all(isinstance(row.weight, ast.Number) for row in rows)
            shown = (tr("{total} (as written, without %)", total=format_exact(total)) if bare
                     else f"{format_exact(total * 100)}%")
            hint = (tr("weights are percentages: write 50% rather than 50") if bare and total == 100
                    else tr("scorecard weights must add up to exactly 100%"))
            self.error("weights-sum", tr("the weights of {name} add up to {total}, not 100%", name=name,
                                         total=shown), name_span, hint=hint)
        return T_NUMBER

    # -- expressions
    def _join(self, acc: Type | None, new: Type, span: Span, what: str) -> Type:
        if acc is None or acc.kind == "error":
            return new
        if new.kind == "error":
            return acc
        try:
            return unify(acc, new, what)
        except UnitError as e:
            self.error("units", str(e), span, e.hint)
            return acc

    def _infer(self, expr: ast.Expr) -> Type:
        if self.related_env is not None and isinstance(expr, (ast.Aggregate, ast.Rank, ast.Top, ast.Split, ast.ValueOf, ast.Tiered)):
            self.error("related-term", tr("this cannot be used inside '… from' a table: it is computed per row of the "
                                          "table, one employee at a time"), expr.span,
                       hint=tr("compute it in its own definition and use that name here"))
            return T_ERROR
        t = self._infer_inner(expr)
        self.types[id(expr)] = t
        return t

    def _infer_inner(self, expr: ast.Expr) -> Type:
        if isinstance(expr, (ast.Number, ast.Percent)):
            return self._literal_type(expr)
        if isinstance(expr, ast.Text):
            return T_TEXT
        if isinstance(expr, ast.Date):
            return T_DATE
        if isinstance(expr, ast.Name):
            return self._name_type(expr)
        if isinstance(expr, ast.Neg):
            t = self._infer(expr.operand)
            if not t.numeric and t.kind != "error":
                self.error("type", tr("'-' needs a number, but this is {type}", type=t.describe()), expr.span)
                return T_ERROR
            return t
        if isinstance(expr, ast.Binary):
            return self._binary(expr)
        if isinstance(expr, ast.Compare):
            return self._compare(expr)
        if isinstance(expr, ast.Between):
            self._compare(ast.Compare((expr.low, expr.value, expr.high), ("<=", "<="), span=expr.span))
            return T_BOOL
        if isinstance(expr, ast.InList):
            value = self._infer(expr.value)
            for option in expr.options:
                self._match_value(value, option, "in")
            return T_BOOL
        if isinstance(expr, (ast.Logic, ast.Not)):
            parts = [expr.left, expr.right] if isinstance(expr, ast.Logic) else [expr.operand]
            word = {"and": tr("and"), "or": tr("or")}[expr.op] if isinstance(expr, ast.Logic) else tr("not")
            for part in parts:
                t = self._infer(part)
                if t.kind not in (BOOL, "error"):
                    self.error("condition-type", tr("'{word}' joins yes/no conditions, but this is {type}", word=word,
                                                    type=t.describe()), part.span)
            return T_BOOL
        if isinstance(expr, ast.IfExpr):
            cond = self._infer(expr.cond)
            if cond.kind not in (BOOL, "error"):
                self.error("condition-type", tr("a condition must be yes/no, but this is {type}", type=cond.describe()),
                           expr.cond.span)
            then, else_ = self._infer(expr.then), self._infer(expr.else_)
            return self._join(then, else_, expr.else_.span, tr("the two branches of IF"))
        if isinstance(expr, ast.Call):
            return self._call(expr)
        if isinstance(expr, ast.ValueOf):
            return self._value_of(expr)
        if isinstance(expr, ast.Aggregate):
            return self._aggregate(expr)
        if isinstance(expr, ast.Rank):
            self._numeric_operand(expr.operand, tr("rank"))
            self._group(expr.within)
            return T_WHOLE
        if isinstance(expr, ast.Top):
            self._numeric_operand(expr.operand, tr("top") if not expr.bottom else tr("bottom"))
            amount_type = self._infer(expr.amount)
            amount = constant_value(expr.amount)
            if amount is None or amount_type.kind not in (PERCENT, CONST) or amount < 0 or (amount_type.kind == CONST and amount.denominator != 1):
                self.error("top-amount", tr("write top as a percentage (top 10%) or a number of people (top 3)"),
                           expr.amount.span)
            elif amount_type.kind == PERCENT and amount > 1:
                self.error("top-amount", tr("a top share cannot be more than 100%"), expr.amount.span)
            self._group(expr.within)
            return T_BOOL
        if isinstance(expr, ast.Split):
            pool = self._infer(expr.pool)
            if not pool.numeric and pool.kind != "error":
                self.error("type", tr("the pool to split must be an amount, but this is {type}", type=pool.describe()),
                           expr.pool.span)
            self._numeric_operand(expr.weight, tr("split … by"))
            self._group(expr.within)
            return T_MONEY if pool.kind in (MONEY, CONST) else pool
        if isinstance(expr, ast.Tiered):
            return self._tiered(expr)
        if isinstance(expr, ast.WeightedSum):
            word = "加权（…）" if self.policy.language == "zh" else "weighted(…)"
            return self._check_weights(expr.rows, word, expr.span)
        raise AssertionError(f"unhandled expression {type(expr).__name__}")

    def _name_type(self, name: ast.Name) -> Type:
        if self.related_env is not None and name.name in self.related_env:
            self.refs[id(name)] = NameRef("related", name.name)
            return self.related_env[name.name]
        if name.name in self.nodes:
            self.refs[id(name)] = NameRef("node", name.name)
            self.used.add(name.name)
            if name.name in self.constants:  # a named constant: usable wherever a fixed number must be
                object.__setattr__(name, "constant", self.constants[name.name])
            if name.name in self.pending and self.nodes[name.name].type.kind == "error":
                return T_CONST  # an earlier value of a running total whose type is being found: a bare number
            return self.nodes[name.name].type
        lowered = name.name.lower() if name.name.isascii() else name.name
        if lowered in YES_WORDS:
            self.refs[id(name)] = NameRef("bool", YES_WORDS[lowered])
            return T_BOOL
        if name.name in self.enum_values:
            owner = self.enum_values[name.name]
            self.error("enum-value-alone", tr("'{value}' is one of {owner}'s values, not a value on its own",
                                              value=name.name, owner=owner),
                       name.span, hint=tr("compare it: {owner} = {value}", owner=owner, value=name.name))
            return T_ERROR
        self._undefined(name)
        return T_ERROR

    def _undefined(self, name: ast.Name) -> None:
        candidates = list(self.nodes)
        suggestion = did_you_mean(name.name, candidates)
        hint = _did_you_mean(suggestion)
        for word in _ZH_KEYWORDS:
            if name.name.startswith(word) and len(name.name) > len(word):
                hint = (tr("put a space after '{word}': it is a keyword (did you mean '{guess}'?)", word=word, guess=suggestion)
                        if suggestion else tr("put a space after '{word}': it is a keyword", word=word))
                break
        self.error("undefined", tr("'{name}' is not defined", name=name.name), name.span, hint=hint)

    def _binary(self, expr: ast.Binary) -> Type:
        left, right = self._infer(expr.left), self._infer(expr.right)
        if "error" in (left.kind, right.kind):
            return T_ERROR
        symbol = {"*": "×", "/": "÷"}.get(expr.op, expr.op)
        if DATE in (left.kind, right.kind):
            return self._date_arithmetic(expr, left, right)
        for side, t in ((expr.left, left), (expr.right, right)):
            if not t.numeric:
                self.error("type", tr("'{symbol}' needs numbers, but this is {type}", symbol=symbol, type=t.describe()),
                           side.span)
                return T_ERROR
        try:
            if expr.op in "+-":
                return unify(left, right, "")
            if expr.op == "*":
                return multiply(left, right)
            return divide(left, right)
        except UnitError as e:
            lhs = tr("{type} ({code})", type=left.describe(), code=self.source.snippet(expr.left.span))
            rhs = tr("{type} ({code})", type=right.describe(), code=self.source.snippet(expr.right.span))
            message = {
                "+": lambda: tr("cannot add {left} and {right}", left=lhs, right=rhs),
                "-": lambda: tr("cannot subtract {left} and {right}", left=lhs, right=rhs),
                "*": lambda: tr("cannot multiply {left} by {right}", left=lhs, right=rhs),
                "/": lambda: tr("cannot divide {left} by {right}", left=lhs, right=rhs),
            }[expr.op]()
            self.error("units", message, expr.span, e.hint)
            return T_ERROR

    def _date_arithmetic(self, expr: ast.Binary, left: Type, right: Type) -> Type:
        """date − date is a whole number of days; date ± days is a date."""
        if expr.op == "-" and left.kind == right.kind == DATE:
            return T_WHOLE
        if expr.op in "+-" and left.kind == DATE and right.kind in (WHOLE, CONST):
            return T_DATE
        if expr.op == "+" and right.kind == DATE and left.kind in (WHOLE, CONST):
            return T_DATE
        self.error("type", tr("dates can be subtracted (days between them) and moved by a whole number of days "
                              "(joined + 30), nothing else: {left} {op} {right}", left=left.describe(), op=expr.op,
                              right=right.describe()), expr.span,
                   hint=tr("months between two dates: months_between(joined, left_on) (相差月数)"))
        return T_ERROR

    def _compare(self, expr: ast.Compare) -> Type:
        types = [None] * len(expr.operands)
        # An enum compared with a bare word: the word must be one of its values.
        for i, operand in enumerate(expr.operands):
            if not self._is_enum_word(operand):
                types[i] = self._infer(operand)
        for i, op in enumerate(expr.ops):
            left, right = expr.operands[i], expr.operands[i + 1]
            lt, rt = types[i], types[i + 1]
            if lt is None and rt is None:
                self.error("type", tr("this compares two words; one side should be a name"), expr.span)
                continue
            if lt is None:
                self._match_value(rt, left, op)
                continue
            if rt is None:
                self._match_value(lt, right, op)
                continue
            if "error" in (lt.kind, rt.kind):
                continue
            if op not in ("=", "!=") and not (lt.numeric and rt.numeric) and not (lt.kind == rt.kind == DATE):
                self.error("type", tr("'{op}' compares numbers, but this compares {left} with {right}", op=op,
                                      left=lt.describe(), right=rt.describe()), expr.span)
                continue
            try:
                unify(lt, rt, tr("cannot compare these"))
            except UnitError as e:
                message = str(e)
                if MONEY in (lt.kind, rt.kind):
                    other = rt if lt.kind == MONEY else lt
                    message = tr("cannot compare money with {other}", other=other.describe())
                self.error("units", message, expr.span, e.hint)
        return T_BOOL

    def _is_enum_word(self, expr: ast.Expr) -> bool:
        return isinstance(expr, ast.Name) and not self._is_known_name(expr.name) and (
            expr.name in self.enum_values or not (expr.name.lower() if expr.name.isascii() else expr.name) in YES_WORDS)

    def _is_known_name(self, name: str) -> bool:
        return name in self.nodes or (self.related_env is not None and name in self.related_env)

    def _match_value(self, value_type: Type, option: ast.Expr, op: str) -> None:
        """Check a literal against the type it is compared with (enum words, text)."""
        if isinstance(option, ast.Name) and not self._is_known_name(option.name):
            if value_type.kind == ENUM:
                if option.name in value_type.values:
                    self.refs[id(option)] = NameRef("enum", option.name)
                    self.types[id(option)] = value_type
                    return
                suggestion = did_you_mean(option.name, value_type.values)
                self.error("unknown-value", _not_one_of(option.name, value_type), option.span, hint=_did_you_mean(suggestion))
                return
            if value_type.kind == TEXT:
                self.error("unquoted-text", tr("'{name}' is not defined", name=option.name), option.span,
                           hint=tr('to compare with the text {name}, quote it: "{name}"', name=option.name))
                return
            if value_type.kind == "error":
                return
        option_type = self._infer(option)
        if "error" in (value_type.kind, option_type.kind):
            return
        try:
            unify(value_type, option_type, tr("cannot compare these"))
        except UnitError as e:
            self.error("units", str(e), option.span, e.hint)

    def _ambiguous_commas(self, expr: ast.Expr) -> None:
        for sub in ast.walk(expr):
            if isinstance(sub, ast.Number) and "," in sub.text:
                plain = sub.text.replace(",", "")
                self.error("ambiguous-number", tr("'{text}' reads as the number {plain}, but the comma could also "
                                                  "separate two values", text=sub.text, plain=plain), sub.span,
                           hint=tr("write {one} for one number; for two values put a space after the comma: {two}",
                                   one=_wan(plain), two=sub.text.replace(',', ', ')))

    def _call(self, call: ast.Call) -> Type:
        for arg in call.args:
            self._ambiguous_commas(arg)
        func = function_of(call.func)
        arg_types = [self._infer(a) for a in call.args]
        if func is None:
            suggestion = did_you_mean(call.func, [f for f in FUNCTIONS if f.isascii()])
            functions = tr("functions: {functions}", functions=FUNCTION_LIST)
            self.error("unknown-function", tr("unknown function '{name}'", name=call.func), call.span,
                       hint=tr("did you mean '{guess}'? {more}", guess=suggestion, more=functions) if suggestion else functions)
            return T_ERROR
        if func in ("previous", "consecutive") and self.period is None:
            self.error("no-period", f"{func} needs data with several periods", call.span,
                       hint="mark the input that says which period a row is for, e.g.  month: text period")
            return T_ERROR
        own_earlier = func == "previous" and call.args and isinstance(call.args[0], ast.Name) and \
            call.args[0].name in self.pending
        if any(t.kind == "error" for t in arg_types[1 if own_earlier else 0:]):
            return T_ERROR
        if func == "given":
            if len(call.args) != 1 or not isinstance(call.args[0], ast.Name) or call.args[0].name not in self.nodes:
                self.error("type", tr("given takes the name of an input or a definition: given(mentor)"), call.span)
                return T_ERROR
            return T_BOOL
        if func in DATE_FUNCTIONS or func == "year":
            return self._date_function(call, func, arg_types)
        if func in ("previous", "consecutive", "week", "month", "quarter", "year"):
            return self._period_function(call, func, arg_types)
        written = call.func  # messages name the function as the author wrote it (最小, min)
        for arg, t in zip(call.args, arg_types):
            if not t.numeric:
                self.error("type", tr("{func} needs numbers, but this is {type}", func=written, type=t.describe()), arg.span)
                return T_ERROR
        if func in ("min", "max"):
            if len(call.args) < 2:
                self.error("arity", tr("{func} needs at least two values", func=written), call.span)
                return T_ERROR
            result = arg_types[0]
            for arg, t in zip(call.args[1:], arg_types[1:]):
                result = self._join(result, t, arg.span, tr("{func} of values with different units", func=written))
            return result
        if func in ("round", "floor", "ceil"):
            if len(call.args) not in (1, 2):
                self.error("arity", tr("{func} takes a value and a step: {func}(x, 0.01)", func=written), call.span)
                return T_ERROR
            if len(call.args) == 2:
                step = constant_value(call.args[1])
                if step is None or step <= 0:
                    self.error("round-step", tr("the step of {func} must be a positive number such as 0.01 or 1", func=written),
                               call.args[1].span)
            return arg_types[0]
        if len(call.args) != 1:
            self.error("arity", tr("abs takes one value"), call.span)
            return T_ERROR
        return arg_types[0]

    def _value_of(self, expr: ast.ValueOf) -> Type:
        node = self.nodes.get(expr.name)
        if node is None:
            self._undefined(ast.Name(expr.name, span=expr.name_span))
            self._infer(expr.key)
            return T_ERROR
        self.used.add(expr.name)
        if expr.group is None:
            key_node = self.nodes.get(self.key) if self.key else None
            key_type = self._infer(expr.key)
            if key_node is not None and "error" not in (key_type.kind, key_node.type.kind):
                try:
                    unify(key_node.type, key_type, "")
                except UnitError:
                    self.error("type", tr("{name}[…] picks an employee by {key}, which is {key_type}, but this is {type}",
                                          name=expr.name, key=self.key, key_type=key_node.type.describe(),
                                          type=key_type.describe()), expr.key.span,
                               hint=tr("write {name}[{key}_of_the_other_person], or {name}[team = …] for a group's value",
                                       name=expr.name, key=self.key))
        else:
            group = self.nodes.get(expr.group)
            if group is None:
                self._undefined(ast.Name(expr.group, span=expr.span))
                return T_ERROR
            self.used.add(expr.group)
            self._match_value(group.type, expr.key, "=")
        return node.type

    def _date_function(self, call: ast.Call, func: str, arg_types: list[Type]) -> Type:
        """Functions of dates, or of period labels (期初（月份）: the first day of 2025年3月)."""
        count, gives = DATE_FUNCTIONS.get(func, (1, "whole"))
        wanted = "(joined, left_on)" if count == 2 else "(joined)"
        if len(call.args) != count:
            self.error("arity", tr("{func} takes {count} date(s): {func}{example}", func=call.func, count=count,
                                   example=wanted), call.span)
            return T_ERROR
        for arg, t in zip(call.args, arg_types):
            labels = t.kind == TEXT and count == 1  # a period label such as 2025年3月
            if t.kind != DATE and not labels:
                self.error("type", tr("{func} needs a date, but this is {what}", func=call.func, what=t.describe()),
                           arg.span)
                return T_ERROR
        return T_DATE if gives == "date" else T_WHOLE

    def _period_function(self, call: ast.Call, func: str, arg_types: list[Type]) -> Type:
        if func in ("week", "month", "quarter"):
            if len(call.args) != 1 or arg_types[0].kind != DATE:
                self.error("type", tr("{func} takes one date, e.g. {func}(day)", func=call.func), call.span)
                return T_ERROR
            return T_TEXT
        if self.period is None:
            self.error("no-period", tr("{func} needs data with several periods", func=call.func), call.span,
                       hint=tr("mark the input that says which period a row is for, e.g.  month: text period"))
            return T_ERROR
        if func == "consecutive":
            if len(call.args) != 1 or arg_types[0].kind != BOOL:
                self.error("type", tr("consecutive takes one condition: consecutive(achievement < 100%)"), call.span)
                return T_ERROR
            return T_WHOLE
        if not call.args or not isinstance(call.args[0], ast.Name) or len(call.args) > 2:
            self.error("type", tr("previous takes a name and, if there may be no earlier period, a default: previous(score, 0)"),
                       call.span)
            return T_ERROR
        result = arg_types[0]
        if call.args[0].name in self.pending and self.nodes[call.args[0].name].type.kind == "error":
            # its own earlier value, not known yet (first pass): as its default, or a bare number
            return arg_types[1] if len(call.args) == 2 else T_CONST
        if len(call.args) == 2:
            result = self._join(result, arg_types[1], call.args[1].span, tr("previous and its default"))
        return result

    def _aggregate(self, agg: ast.Aggregate) -> Type:
        if agg.source is not None:
            columns = self.related.get(agg.source)
            if columns is None:
                suggestion = did_you_mean(agg.source, list(self.related))
                self.error("undefined", tr("no table {table} is declared", table=agg.source), agg.span,
                           hint=_did_you_mean(suggestion) if suggestion else
                           tr("declare it:  input {table} by employee  with its columns", table=agg.source))
                return T_ERROR
            outer, self.related_env = self.related_env, columns
            try:
                return self._aggregate_body(agg)
            finally:
                self.related_env = outer
        return self._aggregate_body(agg)

    def _aggregate_body(self, agg: ast.Aggregate) -> Type:
        if agg.to_date is not None:
            self._check_to_date(agg)
        if agg.operand is not None and constant_value(agg.operand) is not None:
            self._ambiguous_commas(agg.operand)
            word = aggregate_word(agg.func)
            self.error("aggregate-constant", tr("{func} of a fixed number over everyone is that number", func=word), agg.span,
                       hint=tr("{func} needs a value that differs between people, e.g. {func} sales within team", func=word))
            return T_ERROR
        if agg.where is not None:
            t = self._infer(agg.where)
            if t.kind not in (BOOL, "error"):
                self.error("condition-type", tr("'where' needs a yes/no condition, but this is {type}", type=t.describe()),
                           agg.where.span)
        self._group(agg.within)
        if agg.func == "count":
            if agg.operand is not None:
                t = self._infer(agg.operand)
                if t.kind not in (BOOL, "error"):
                    self.error("type", tr("count counts people; to count those meeting a condition write: count where condition"),
                               agg.operand.span)
            return T_WHOLE
        if agg.operand is None:
            self.error("aggregate-operand", tr("{func} of what? e.g. {func} sales within team", func=aggregate_word(agg.func)),
                       agg.span)
            return T_ERROR
        t = self._infer(agg.operand)
        if t.kind == "error":
            return T_ERROR
        if not t.numeric:
            self.error("type", tr("{func} needs numbers, but this is {type}", func=aggregate_word(agg.func), type=t.describe()),
                       agg.operand.span)
            return T_ERROR
        if agg.func == "avg" and t.kind in (WHOLE, CONST):
            return T_NUMBER
        return t

    def _check_to_date(self, agg: ast.Aggregate) -> None:
        """Sums over this period and the earlier ones need periods, and periods that name a time for a year."""
        if agg.since is not None:
            t = self._infer(agg.since)
            if t.kind not in (DATE, "error"):
                self.error("type", tr("'since' (始于) needs a date, e.g. since 2025-03-01, but this is {what}",
                                      what=t.describe()), agg.since.span)
        if self.period is None:
            self.error("no-period", tr("a sum over earlier periods needs data with several periods"), agg.span,
                       hint=tr("mark the input that says which period a row is for, e.g.  month: text period"))
            return
        period = self.nodes[self.period]
        if agg.to_date in ("year", "quarter", "month", "since") and period.type.kind in (WHOLE, ENUM):
            self.error("period-type", tr("a sum over the periods of a year, quarter or month, or since a date, needs "
                                         "periods that name a time (2025-03, 2025年3月, 2025Q3, dates), but the period "
                                         "{name} is {kind}", name=self.period, kind=period.type.describe()),
                       agg.span, hint=tr("declare it as text and write the periods as 2025-03 or 2025年3月: "
                                         "{name}: text period", name=self.period))

    def _numeric_operand(self, expr: ast.Expr, word: str) -> None:
        t = self._infer(expr)
        if not t.numeric and t.kind != "error":
            self.error("type", tr("{word} needs a number, but this is {type}", word=word, type=t.describe()), expr.span)

    def _group(self, within: ast.Expr | None) -> None:
        if within is None:
            return
        if isinstance(within, ast.Group):
            for item in within.items:
                self._group(item)
            return
        t = self._infer(within)
        if t.kind in (MONEY, PERCENT, NUMBER, CONST):
            self.error("group-type", tr("'within' groups people by a label (team, level…), not by {type}", type=t.describe()),
                       within.span)

    def _tiered(self, tiered: ast.Tiered) -> Type:
        if tiered.kind not in ("marginal", "whole"):
            self.error("tier-kind", tr("unknown kind of tiers '{kind}'", kind=tiered.kind), tiered.kind_span,
                       hint=tr("write 'tiered marginal' (超额累进: each band's rate on the part in it) "
                               "or 'tiered whole' (全额累进: one rate on the whole amount)"))
        base = self._infer(tiered.base)
        if not base.numeric and base.kind != "error":
            self.error("type", tr("tiers apply to a number, but this is {type}", type=base.describe()), tiered.base.span)
            return T_ERROR
        if not tiered.tiers or tiered.tiers[-1].upper is not None:
            span = tiered.tiers[-1].span if tiered.tiers else tiered.span
            self.error("tier-open-top", tr("the last tier must be open: 'above 3%' (以上)"), span,
                       hint=tr("say what rate applies beyond the last limit"))
        previous: Fraction | None = None
        previous_text = ""
        result = T_ERROR
        for index, tier in enumerate(tiered.tiers):
            if tier.upper is not None:
                limit_type = self._infer(tier.upper)
                limit = constant_value(tier.upper)
                if limit is None:
                    self.error("tier-limit", tr("a tier limit must be a number such as 50万"), tier.upper.span)
                else:
                    if base.kind != "error":
                        try:
                            unify(base, limit_type, tr("tier limit"))
                        except UnitError as e:
                            self.error("units", str(e), tier.upper.span, e.hint)
                    if previous is not None and limit <= previous:
                        self.error("tier-order", tr("tier limits must go up, but {limit} comes after {previous}",
                                                    limit=self.source.snippet(tier.upper.span), previous=previous_text),
                                   tier.upper.span)
                    previous, previous_text = limit, self.source.snippet(tier.upper.span)
            if tier.upper is None and index != len(tiered.tiers) - 1:
                self.error("tier-open-top", tr("only the last tier can be open ('above')"), tier.span)
            if tier.lower is not None:
                lower = constant_value(tier.lower)
                self._infer(tier.lower)
                if lower is None or previous is None or lower != previous:
                    self.error("tier-gap", tr("the open tier must start where the previous one ends"), tier.lower.span)
            rate = self._infer(tier.rate)
            if rate.kind != "error" and constant_value(tier.rate) is None:
                self.error("tier-rate", tr("a tier's rate must be a fixed percentage such as 3% (or the name of one)"),
                           tier.rate.span)
            elif rate.kind not in (PERCENT, CONST, NUMBER, "error"):
                self.error("tier-rate", tr("a tier's rate must be a percentage, not {type}", type=rate.describe()),
                           tier.rate.span)
            elif base.kind != "error" and rate.kind != "error":
                try:
                    result = multiply(base, rate)
                except UnitError as e:
                    self.error("units", str(e), tier.rate.span, e.hint)
        return result

    def _check_outputs(self) -> None:
        if self.policy.outputs is None:
            return
        seen: set[str] = set()
        for name in self.policy.outputs.names:
            node = self.nodes.get(name.name)
            if node is None:
                self._undefined(name)
            elif node.is_input:
                self.error("output-input", tr("{name} is an input; outputs are computed values", name=name.name), name.span)
            elif name.name in seen:
                self.error("duplicate", tr("{name} is listed twice in the output line", name=name.name), name.span)
            seen.add(name.name)

    # -- blanks: a value that may be missing is used only where the policy says it is there
    def _maybe_blank(self) -> dict[str, ast.Expr | None]:
        """Names that may have no value: optional inputs without a default (→ None), and definitions
        that apply only if a condition holds (→ the condition)."""
        found: dict[str, ast.Expr | None] = {}
        for node in self.nodes.values():
            decl = node.decl
            if node.is_input and getattr(decl, "optional", False) and decl.default is None:
                found[node.name] = None
            elif isinstance(decl, ast.Definition) and decl.guard is not None:
                found[node.name] = decl.guard
        return found

    def _check_blanks(self) -> None:
        maybe = self._maybe_blank()
        if not maybe:
            return
        self._blank_names = maybe
        for node in self.nodes.values():
            decl = node.decl
            if node.is_input:
                continue
            if isinstance(decl, ast.Definition):
                facts = _conjuncts(decl.guard) if decl.guard is not None else []
                self._covered(decl.body, facts)
                if decl.guard is not None:
                    self._covered(decl.guard, [])
            elif isinstance(decl, ast.Table):
                before: list = []
                for row in decl.rows:
                    known = list(before) if decl.hit == "first" else []
                    if row.cond is not None:
                        self._covered(row.cond, known)
                        known = known + _conjuncts(row.cond)
                        if decl.hit == "first":
                            before = before + _negation(row.cond)
                    elif decl.hit != "first":
                        known = []
                    self._covered(row.value, known)
            else:
                for expr in expressions_of(decl):
                    self._covered(expr, [])

    def _covered(self, expr, facts: list) -> None:
        """Report every use of a maybe-blank name in expr that the known facts do not cover."""
        maybe = self._blank_names
        if isinstance(expr, ast.Call) and function_of(expr.func) == "given":
            return
        if isinstance(expr, ast.Name) and expr.name in maybe and self.refs.get(id(expr)) is not None \
                and self.refs[id(expr)].kind == "node":
            guard = maybe[expr.name]
            if not _known(expr.name, guard, facts):
                if guard is None:
                    self.error("maybe-blank", tr("{name} may be blank (it is optional); say what to do when it is",
                                                 name=expr.name), expr.span,
                               hint=tr("if given({name}) then … else …, or give the input a default: {name}: … default {value}",
                                       name=expr.name, value=_default_example(self.nodes[expr.name].type)))
                else:
                    condition = self.source.snippet(guard.span)
                    self.error("maybe-blank", tr("{name} applies only if {condition}; say what to do where it does not",
                                                 name=expr.name, condition=condition), expr.span,
                               hint=tr("if {condition} then … else …", condition=condition))
            return
        if isinstance(expr, ast.ValueOf) and expr.name in maybe:
            self.error("maybe-blank", tr("{name} may be blank for the other employee; say what to do then",
                                         name=expr.name), expr.span,
                       hint=tr("define it with a value for everyone first, e.g. {name}_or_0 = if given({name}) then "
                               "{name} else 0", name=expr.name))
        if isinstance(expr, ast.IfExpr):
            self._covered(expr.cond, facts)
            self._covered(expr.then, facts + _conjuncts(expr.cond))
            self._covered(expr.else_, facts + _negation(expr.cond))
            return
        if isinstance(expr, ast.Logic):
            self._covered(expr.left, facts)
            after = _conjuncts(expr.left) if expr.op == "and" else _negation(expr.left)
            self._covered(expr.right, facts + after)
            return
        if isinstance(expr, ast.Aggregate) and expr.where is not None:
            self._covered(expr.where, facts)
            member = facts + _conjuncts(expr.where)
            if expr.operand is not None:
                self._covered(expr.operand, member)
            for part in (expr.within, expr.since):
                if part is not None:
                    self._covered(part, facts)
            return
        for child in ast.children(expr):
            self._covered(child, facts)

    def _check_published(self) -> None:
        published = getattr(self.policy, "published", None)
        if published is None:
            return
        seen: set[str] = set()
        for name in published.names:
            node = self.nodes.get(name.name)
            if node is None:
                self._undefined(name)
            elif node.is_input:
                self.error("publish-input", tr("{name} is an input; a statement always shows the employee's own inputs, "
                                               "and publish names the group figures it may show", name=name.name), name.span,
                           hint=tr("publish a definition, e.g. team_sales = sum sales within team; publish team_sales"))
            elif name.name in seen:
                self.error("duplicate", tr("{name} is listed twice in the publish line", name=name.name), name.span)
            seen.add(name.name)

    # -- warnings and examples
    def _check_unused_inputs(self) -> None:
        for decl in self.policy.inputs:
            node = self.nodes.get(decl.name)
            if node is None or node.decl is not decl:
                continue
            if decl.name not in self.used and not decl.key and not decl.period and node.type.kind != TEXT:
                self.warning("unused-input", tr("input {name} is not used by any definition", name=decl.name),
                             decl.name_span, hint=tr("delete it, or use it in a formula"))
        for decl in self.policy.parameters:
            node = self.nodes.get(decl.name)
            if node is not None and node.decl is decl and decl.name not in self.used:
                self.warning("unused-input", tr("parameter {name} is not used by any definition", name=decl.name),
                             decl.name_span, hint=tr("delete it, or use it in a formula"))

    def _check_example(self, example: ast.Example) -> None:
        keys: list[object] = []
        for employee in example.employees:
            given: set[str] = set()
            for field in employee:
                node = self.nodes.get(field.name)
                if node is None or not node.is_given:
                    suggestion = did_you_mean(field.name, [n.name for n in self.nodes.values() if n.is_given])
                    message = (tr("'{name}' is a definition, computed by the policy", name=field.name) if node is not None
                               else tr("'{name}' is not an input", name=field.name))
                    self.error("example-field", message, field.name_span,
                               hint=(_did_you_mean(suggestion) if suggestion and node is None else
                                     tr("examples give inputs; check computed values with expect")))
                    continue
                if field.name in given:
                    self.error("example-field", tr("'{name}' is given twice for one employee", name=field.name),
                               field.name_span)
                given.add(field.name)
                self._check_example_value(node.type, field.value, field.name)
                if field.name == self.key:
                    keys.append(example_word(field.value))
            missing = [d.name for d in self.policy.inputs if d.name not in given and d.name != self.key and not d.optional
                       and self.nodes.get(d.name) is not None and self.nodes[d.name].type.kind not in (TEXT, "error")]
            # A parameter is one value for the whole example: given on any line, or its default.
            given_anywhere = {f.name for e in example.employees for f in e}
            missing += [d.name for d in self.policy.parameters if d.default is None and d.name not in given_anywhere
                        and d.name not in missing and employee is example.employees[0]]
            if missing:
                span = employee[0].span if employee else example.span
                self.error("example-missing", tr('example "{title}" does not give {missing}', title=example.title,
                                                 missing=tr(", ").join(missing)), span,
                           hint=tr("add e.g. {name} …", name=missing[0]))
        for row in example.related:
            columns = self.related.get(row.table)
            if columns is None:
                self.error("example-field", tr("no table {table} is declared", table=row.table), row.span)
                continue
            link = self.related_tables[row.table].link
            for field in row.fields:
                if field.name not in columns or field.name == link:
                    message = (tr("'{name}' is not a column of {table} (it is filled in with the employee's key)",
                                  name=field.name, table=row.table) if field.name == link
                               else tr("'{name}' is not a column of {table}", name=field.name, table=row.table))
                    self.error("example-field", message, field.name_span,
                               hint=tr("the columns of {table}: {columns}", table=row.table,
                                       columns=tr(", ").join(c for c in columns if c != link)))
                    continue
                self._check_example_value(columns[field.name], field.value, field.name)
        for expectation in example.expectations:
            field = expectation.field
            node = self.nodes.get(field.name)
            if node is None:
                suggestion = did_you_mean(field.name, list(self.nodes))
                self.error("expect-name", tr("'{name}' is not defined", name=field.name), field.name_span,
                           hint=_did_you_mean(suggestion))
                continue
            self._check_example_value(node.type, field.value, field.name)
            people = len(set(map(str, keys))) + sum(1 for e in example.employees if not any(f.name == self.key for f in e))
            if expectation.employee is None and people > 1:
                self.error("expect-who", tr("this example has {n} employees; say whose value this is", n=people),
                           field.span, hint=tr("expect for <{key}> {name} …", key=self.key, name=field.name))
            elif expectation.employee is not None and example_word(expectation.employee) not in keys:
                self.error("expect-who", tr("no employee of this example has {key} {value}", key=self.key,
                                            value=example_word(expectation.employee)),
                           expectation.employee.span)

    def _check_example_value(self, type_: Type, value: ast.Expr, name: str) -> None:
        if type_.kind == "error":
            return
        if type_.kind == ENUM:
            word = example_word(value)
            if word not in type_.values:
                suggestion = did_you_mean(str(word), type_.values)
                self.error("example-value", _not_one_of(word, type_), value.span, hint=_did_you_mean(suggestion))
        elif type_.kind == BOOL:
            if str(example_word(value)).lower() not in YES_WORDS:
                self.error("example-value", tr("{name} is yes/no; write yes or no (是/否)", name=name), value.span)
        elif type_.kind in (TEXT,):
            pass
        elif type_.kind == DATE:
            from pkrules.values.cells import parse_date
            word = example_word(value)
            if not isinstance(value, ast.Date) and parse_date(str(word)) is None:
                self.error("example-value", tr("{name} is a date; write it as 2024-07-01", name=name), value.span)
        else:
            number = constant_value(value)
            if number is None:
                self.error("example-value", tr("{name} is {type}; '{text}' is not a number", name=name, type=type_.describe(),
                                               text=self.source.snippet(value.span)), value.span)
            elif type_.kind == MONEY and isinstance(value, ast.Percent):
                self.error("units", tr("{name} is money, not a percentage", name=name), value.span)


def _did_you_mean(suggestion: str | None) -> str | None:
    return tr("did you mean '{guess}'?", guess=suggestion) if suggestion else None


def _not_one_of(value: object, type_: Type) -> str:
    return tr("'{value}' is not one of {name}'s values ({values})", value=value, name=type_.enum_name,
              values=tr(", ").join(type_.values))


def _default_example(type_: Type) -> str:
    return {TEXT: '""', DATE: "2025-01-01", BOOL: "no"}.get(type_.kind, type_.values[0] if type_.kind == ENUM else "0")


def _conjuncts(cond) -> list:
    """The conditions that hold when cond holds: the parts of an `and`."""
    if isinstance(cond, ast.Logic) and cond.op == "and":
        return _conjuncts(cond.left) + _conjuncts(cond.right)
    return [cond]


def _negation(cond) -> list:
    """The conditions that hold when cond does not: `not given(x)` false means given(x)."""
    if isinstance(cond, ast.Not):
        return _conjuncts(cond.operand)
    if isinstance(cond, ast.Logic) and cond.op == "or":
        return _negation(cond.left) + _negation(cond.right)
    return [ast.Not(cond)]


def _known(name: str, guard, facts: list) -> bool:
    """Whether the facts say that name has a value: given(name), or the condition it applies under."""
    for fact in facts:
        if isinstance(fact, ast.Call) and function_of(fact.func) == "given" and len(fact.args) == 1 \
                and isinstance(fact.args[0], ast.Name) and fact.args[0].name == name:
            return True
    if guard is None:
        return False
    return all(any(fact == part for fact in facts) for part in _conjuncts(guard))


def _strongly_connected(deps: dict[str, list[tuple[str, Span]]]) -> list[list[str]]:
    """Tarjan's strongly connected components of the definitions (iteratively: policies can be long)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in deps:
        if root in index:
            continue
        work = [(root, iter([d for d, _ in deps[root] if d in deps]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            name, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter([d for d, _ in deps[child] if d in deps])))
                    advanced = True
                    break
                if child in on_stack:
                    low[name] = min(low[name], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[name])
            if low[name] == index[name]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == name:
                        break
                groups.append(group)
    return groups


def _topological(edges: dict[str, list[str]]) -> list[str] | None:
    """The names in an order where each comes after those it uses, or None when they form a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str) -> bool:
        if state.get(name) == 2:
            return True
        if state.get(name) == 1:
            return False
        state[name] = 1
        if not all(visit(dep) for dep in edges[name]):
            return False
        state[name] = 2
        order.append(name)
        return True

    return order if all(visit(name) for name in edges) else None


def check(source: SourceFile, policy: ast.Policy) -> tuple[RuleGraph | None, list[Diagnostic]]:
    checker = Checker(source, policy)
    graph = checker.run()
    return graph, checker.diagnostics
