"""Explanations as data: the tree of nodes behind one employee's value.

Each node carries its formula as written, the values that went in, the value
that came out, what happened inside (which table row fired and why the rows
above did not; what a group sum or a pool split came to), its source line, and
how far the value is from the next band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from pkrules.language import ast
from pkrules.language.builtins import constant_value
from pkrules.engine.results import Results, RowError, Upstream
from pkrules.language.builtins import tiers_of
from pkrules.values.tiers import tier_parts, whole_amount_rate
from pkrules.messages import language_for, say
from pkrules.values.types import MONEY, PERCENT, WHOLE, Type


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


def explain(results: Results, index: int, name: str, depth: int | None = None) -> Explanation:
    graph = results.graph
    builder = _TraceBuilder(results, index)
    root = builder.node(name, depth)
    label_input = next((n for n in ("name", "姓名", "名字") if n in graph.nodes and graph.nodes[n].is_input), None)
    label = str(results.columns[label_input][index]) if label_input else None
    period = f"{graph.period} {results.columns[graph.period][index]}" if graph.period else None
    return Explanation(graph.policy.title, graph.source.path, graph.key, results.keys[index], results.row_numbers[index],
                       root, label or None, language_for(graph.policy.language), period)


def _group_label(group: object) -> str:
    """A group as people read it: with several periods the group is (period, team)."""
    if isinstance(group, tuple):
        from pkrules.values.format import format_value

        return ", ".join(format_value(g) for g in group if g is not None)
    return str(group)


def _inside(inner, outer) -> bool:
    return (inner.line, inner.column) >= (outer.line, outer.column) and \
        (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


def _period_call(e) -> str | None:
    """'previous' or 'consecutive' for a call of those functions (values from other periods)."""
    if not isinstance(e, ast.Call):
        return None
    from pkrules.language.builtins import function_of

    func = function_of(e.func)
    return func if func in ("previous", "consecutive") else None


class _TraceBuilder:
    def __init__(self, results: Results, index: int):
        self.results = results
        self.graph = results.graph
        self.i = index
        self.shown: set[str] = set()
        self.lang = language_for(results.graph.policy.language)  # the policy's, unless the user chose (--lang)

    def value_of(self, expr: ast.Expr) -> object:
        try:
            return self.results.probe.value(expr, self.i)
        except RowError as e:
            return f"error: {e.message}"
        except Upstream:
            return None

    def fmt(self, value: object, type_: Type | None = None) -> str:
        from pkrules.values.format import format_value

        return format_value(value, type_, lang=self.lang)

    def say(self, message: str, /, **values: object) -> str:
        return say(self.lang, message, **values)

    def type_of(self, expr: ast.Expr) -> Type | None:
        return self.graph.types.get(id(expr))

    def node(self, name: str, depth: int | None) -> TraceNode:
        graph_node = self.graph.nodes[name]
        value = self.results.columns[name][self.i]
        line = graph_node.span.line
        if graph_node.is_given:
            return TraceNode(name, graph_node.kind, value, graph_node.type, None, line)
        formula = self.graph.formula(name)
        trace = TraceNode(name, graph_node.kind, value, graph_node.type, formula, line,
                          description=self.graph.description(name))
        if name in self.shown:
            trace.repeated = True
            return trace
        self.shown.add(name)
        decl = graph_node.decl
        if isinstance(decl, ast.Definition):
            self._definition(decl, trace)
        elif isinstance(decl, ast.Table):
            self._table(decl, trace)
        elif isinstance(decl, ast.Lookup):
            self._lookup(decl, trace)
        elif isinstance(decl, ast.Weighted):
            self._weighted(decl, trace)
        if depth is None or depth > 0:
            earlier_only = self.graph.delayed.get(name, set())  # this row's value of those is not what went in
            trace.children = [self.node(dep, None if depth is None else depth - 1) for dep in graph_node.deps
                              if dep not in earlier_only]
        return trace

    # -- definitions: the formula with the values put in, then population terms
    def _definition(self, decl: ast.Definition, trace: TraceNode) -> None:
        body = decl.body
        if not isinstance(body, (ast.Name, ast.Aggregate, ast.Rank, ast.Top, ast.Split, ast.Tiered)):
            substituted = self.substitute(body)
            if substituted is not None:
                trace.steps.append(Step(f"= {substituted}", body.span.line))
        untaken = self._untaken_branches(body)
        for sub in ast.walk(body):
            if any(_inside(sub.span, span) for span in untaken):
                continue  # a branch the IF did not take is not evaluated, so not explained
            if isinstance(sub, ast.WeightedSum):
                trace.steps.extend(self._weighted_steps(sub.rows, sub.span.line))
            elif isinstance(sub, (ast.Aggregate, ast.Rank, ast.Top, ast.Split, ast.Tiered)):
                trace.steps.extend(self._population_steps(sub))
            elif isinstance(sub, ast.ValueOf):
                trace.steps.append(self._value_of_step(sub))
            elif _period_call(sub):
                trace.steps.append(self._period_step(sub))
            elif isinstance(sub, ast.IfExpr):
                cond = self.value_of(sub.cond)
                answer = self.say("yes") if cond is True else self.say("no") if cond is False else cond
                trace.steps.append(Step(self.say("if_step", cond=self.snippet(sub.cond), answer=answer,
                                                 chosen=self.snippet(sub.then if cond is True else sub.else_)), sub.span.line))

    def _period_step(self, call: ast.Call) -> Step:
        period = self.graph.period
        periods = self.results.columns[period]  # type: ignore[index]
        value = self.value_of(call)
        here = periods[self.i]
        order = self._period_order(periods)
        earlier = sorted({p for k, p in zip(self.results.keys, periods) if k == self.results.keys[self.i]
                          and order(p) < order(here)}, key=order)
        if _period_call(call) == "previous":
            source = self.say("previous_of", period=period, value=self.fmt(earlier[-1])) if earlier else self.say("no_previous")
        else:
            source = self.say("periods_counted", period=period, here=self.fmt(here))
        return Step(f"{self.snippet(call)} = {self.fmt(value, self.type_of(call))} ({source})", call.span.line)

    def _period_order(self, periods):
        from pkrules.engine.population import period_key
        from pkrules.values.periods import PeriodLabelError

        try:
            return period_key(self.graph, periods)
        except PeriodLabelError:  # refused when the data was read; explain what there is
            return lambda p: p

    def _value_of_step(self, sub: ast.ValueOf) -> Step:
        key = self.value_of(sub.key)
        value = self.value_of(sub)
        node_type = self.graph.nodes[sub.name].type
        if sub.group is None:
            return Step(self.say("value_of", what=self.snippet(sub), key_name=self.graph.key, key=self.fmt(key),
                                 name=sub.name, value=self.fmt(value, node_type)), sub.span.line)
        return Step(self.say("group_value_of", what=self.snippet(sub), group=sub.group, key=self.fmt(key),
                             name=sub.name, value=self.fmt(value, node_type)), sub.span.line)

    def _untaken_branches(self, expr) -> list:
        spans = []
        for sub in ast.walk(expr):
            if isinstance(sub, ast.IfExpr) and not any(_inside(sub.span, s) for s in spans):
                cond = self.value_of(sub.cond)
                if cond is True:
                    spans.append(sub.else_.span)
                elif cond is False:
                    spans.append(sub.then.span)
        return spans

    def snippet(self, expr: ast.Expr) -> str:
        return self.graph.source.snippet(expr.span)

    def substitute(self, expr: ast.Expr) -> str | None:
        """The formula with each name replaced by its value (single-line formulas)."""
        if expr.span.line != expr.span.end_line:
            return None
        text = self.graph.source.line(expr.span.line)
        start, end = expr.span.column - 1, expr.span.end_column - 1
        pieces: list[tuple[int, int, str]] = []
        untaken = self._untaken_branches(expr)
        for sub in ast.walk(expr):
            if any(_inside(sub.span, span) for span in untaken):
                continue
            if isinstance(sub, (ast.Aggregate, ast.Rank, ast.Top, ast.Split, ast.Tiered, ast.ValueOf)) or _period_call(sub):
                pieces.append((sub.span.column - 1, sub.span.end_column - 1, self.fmt(self.value_of(sub), self.type_of(sub))))
            elif isinstance(sub, ast.Name):
                ref = self.graph.refs.get(id(sub))
                if ref is not None and ref.kind == "node":
                    node = self.graph.nodes[sub.name]
                    pieces.append((sub.span.column - 1, sub.span.end_column - 1, self.fmt(self.results.columns[sub.name][self.i], node.type)))
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

    def _population_steps(self, term: ast.Expr) -> list[Step]:
        probe = self.results.probe
        line = term.span.line
        what = self.snippet(term)
        if isinstance(term, ast.Tiered):
            return self._tier_steps(term)
        if isinstance(term, ast.Aggregate) and term.source is not None:
            value = self.value_of(term)
            counted, rows = probe.related(term, self.i)
            return [Step(self.say("related", what=what, value=self.fmt(value, self.type_of(term)), counted=counted,
                                  rows=rows, table=term.source), line)]
        stat = probe.group(term, self.i)
        if stat is None:
            return [Step(self.say("not_computed", what=what), line)]
        if isinstance(term, ast.Aggregate) and term.to_date is not None:
            periods = stat.detail.get("periods", [])
            counted = stat.detail.get("counted", len(periods))
            extra = self.say("counted", counted=counted) if term.where is not None else ""
            labels = [self.fmt(p) for p in periods]
            rows = stat.detail.get("rows")
            if isinstance(term.operand, ast.Name) and rows is not None and term.within is None and \
                    term.operand.name in self.results.columns:  # each period's value, as the employee knows them
                column, kind = self.results.columns[term.operand.name], self.graph.nodes[term.operand.name].type
                labels = [f"{label} {self.fmt(column[j], kind)}" for label, j in zip(labels, rows)]
            shown = ", ".join(labels) if len(labels) <= 12 else ", ".join(labels[:2]) + " … " + ", ".join(labels[-2:])
            return [Step(self.say("to_date", what=what, value=self.fmt(stat.value, self.type_of(term)), count=len(periods),
                                  period_word=self.say("period_one" if len(periods) == 1 else "period_many"),
                                  periods=shown or self.say("no_periods"), extra=extra), line)]
        within = getattr(term, "within", None)
        people = "person" if stat.members == 1 else "people"
        group_text = (self.say("group", within=self.snippet(within), group=_group_label(stat.group), members=stat.members,
                               people=people)
                      if within is not None else self.say("everyone", members=stat.members, people=people))
        if isinstance(term, ast.Aggregate):
            counted = stat.detail.get("counted", stat.members)
            extra = self.say("counted", counted=counted) if term.where is not None else ""
            return [Step(self.say("aggregate", what=what, value=self.fmt(stat.value, self.type_of(term)),
                                  group=group_text, extra=extra), line)]
        if isinstance(term, ast.Rank):
            return [Step(self.say("rank", what=what, value=self.fmt(self.value_of(term)), group=group_text), line)]
        if isinstance(term, ast.Top):
            better, places = stat.detail["better"], stat.detail["places"]  # the probe counts for this row
            return [Step(self.say("top", what=what, better=better, members=stat.members,
                                  word=self.say("lower" if term.bottom else "higher"), operand=self.snippet(term.operand),
                                  share=self.snippet(term.amount), places=places,
                                  place_word="place" if places == 1 else "places",
                                  answer=self.say("yes" if better < places else "no")), line)]
        if isinstance(term, ast.Split):
            share = stat.detail["shares"][self.i]
            weight = self.value_of(term.weight)
            total = stat.detail["weight_total"]
            if not total:
                return [Step(self.say("no_pool", what=what, group=group_text), line)]
            exact = Fraction(stat.value) * Fraction(weight) / total
            weight_type = self.type_of(term.weight)
            note = "" if exact == share else self.say("exact_share", exact=self.fmt(exact))
            weight_name = "" if constant_value(term.weight) is not None else self.snippet(term.weight)
            return [Step(self.say("split", what=what, pool=self.fmt(stat.value, Type(MONEY)), group=group_text,
                                  weight_name=weight_name, weight=self.fmt(weight, weight_type),
                                  total=self.fmt(total, weight_type), share=self.fmt(share, Type(MONEY)), note=note), line)]
        return []

    def _tier_steps(self, term: ast.Tiered) -> list[Step]:
        base = self.value_of(term.base)
        if not isinstance(base, Fraction):
            return []
        bands = tiers_of(term)
        steps = []
        money = self.type_of(term.base)
        if term.kind == "marginal":
            for (lower, upper, part, rate), tier in zip(tier_parts(bands, base), term.tiers):
                band = (self.say("band", lower=self.fmt(lower, money), upper=self.fmt(upper, money)) if upper is not None
                        else self.say("band_above", lower=self.fmt(lower, money)))
                steps.append(Step(self.say("tier_part", band=band, part=self.fmt(part, money), rate=self.fmt(rate, Type(PERCENT)),
                                           amount=self.fmt(part * rate, money)), tier.span.line))
        else:
            rate = whole_amount_rate(bands, base)
            steps.append(Step(self.say("whole_band", base=self.fmt(base, money), rate=self.fmt(rate, Type(PERCENT)),
                                       amount=self.fmt(base * rate, money)), term.span.line))
        return steps

    # -- tables: which row fired, why the rows above did not, how far the next band is
    def _table(self, table: ast.Table, trace: TraceNode) -> None:
        fired_index = None
        for k, row in enumerate(table.rows):
            if row.cond is None:
                if table.hit == "sum":
                    outcome = "fired" if not any(s.outcome == "fired" for s in trace.steps) else "not reached"
                else:
                    outcome = "fired" if fired_index is None else "not reached"
                if outcome == "fired" and fired_index is None:
                    fired_index = k
                trace.steps.append(Step(self._row_text(row), row.span.line, outcome))
                continue
            if fired_index is not None and table.hit == "first":
                trace.steps.append(Step(self._row_text(row), row.span.line, "not reached"))
                continue
            met = self.value_of(row.cond)
            if met is True:
                if fired_index is None:
                    fired_index = k
                trace.steps.append(Step(self._row_text(row) + f"   ({self.substitute(row.cond)})", row.span.line, "fired"))
            else:
                trace.steps.append(Step(self._row_text(row) + f"   ({self._why_not(row.cond)})", row.span.line, "not met"))
        if table.hit == "first" and fired_index is not None:
            trace.hints.extend(self._band_hints(table, fired_index))

    def _row_text(self, row: ast.Rule) -> str:
        # The row as the author wrote it, in their language.
        return self.graph.source.snippet(row.span).split("\n")[0].split("#")[0].rstrip()

    def _why_not(self, cond: ast.Expr) -> str:
        substituted = self.substitute(cond)
        return self.say("is_false", cond=substituted) if substituted else self.say("not_met_short")

    def _simple(self, cond: ast.Expr | None):
        """(name, op, threshold) for a condition like `score >= 90` or `90 <= score`."""
        if not isinstance(cond, ast.Compare) or len(cond.ops) != 1:
            return None
        left, right = cond.operands
        op = cond.ops[0]
        if isinstance(left, ast.Name) and constant_value(right) is not None and left.name in self.graph.nodes:
            return left.name, op, constant_value(right)
        flipped = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}
        if isinstance(right, ast.Name) and constant_value(left) is not None and op in flipped and right.name in self.graph.nodes:
            return right.name, flipped[op], constant_value(left)
        return None

    def _band_hints(self, table: ast.Table, fired: int) -> list[str]:
        hints = []
        row = table.rows[fired]
        simple = self._simple(row.cond)
        if simple is not None:
            name, op, threshold = simple
            x = self.results.columns[name][self.i]
            if op in (">=", ">") and isinstance(x, Fraction) and x == threshold:
                hints.append(self.say("at_threshold", threshold=self.fmt(threshold, self.graph.nodes[name].type),
                                      table=table.name, value=self.snippet(row.value)))
            elif op in (">=", ">") and isinstance(x, Fraction):
                hints.append(self.say("above_threshold", amount=self.amount(x - threshold, name),
                                      threshold=self.fmt(threshold, self.graph.nodes[name].type),
                                      table=table.name, value=self.snippet(row.value)))
            elif op in ("<=", "<") and isinstance(x, Fraction):
                hints.append(self.say("below_limit", amount=self.amount(threshold - x, name),
                                      threshold=self.fmt(threshold, self.graph.nodes[name].type),
                                      table=table.name, value=self.snippet(row.value)))
        for better in reversed(table.rows[:fired]):
            simple = self._simple(better.cond)
            if simple is None:
                continue
            name, op, threshold = simple
            x = self.results.columns[name][self.i]
            if not isinstance(x, Fraction):
                break
            gap = threshold - x if op in (">=", ">") else x - threshold
            hints.append(self.say("short_of" if op in (">=", "<=") else "more_than_short_of", amount=self.amount(gap, name),
                                  table=table.name, value=self.snippet(better.value), cond=self.snippet(better.cond)))
            break
        return hints

    def amount(self, gap: Fraction, name: str) -> str:
        """A distance in the units of a node: ¥1,234.00, 2.5 percentage points, 3 points."""
        from pkrules.values.numbers import format_human

        kind = self.graph.nodes[name].type.kind
        if kind == MONEY:
            return f"¥{format_human(gap, 2, min_places=2)}"
        if kind == PERCENT:
            return self.say("pct_points", n=format_human(gap * 100, 2))
        if kind == WHOLE:
            return format_human(gap, 2)
        text = format_human(gap, 2)
        if gap != 0 and text in ("0", "-0"):
            text = format_human(gap, 6)
        return self.say("point" if gap == 1 else "points", n=text)

    def _lookup(self, lookup: ast.Lookup, trace: TraceNode) -> None:
        key = self.value_of(lookup.key)
        if lookup.file is not None:
            table, lines = self.graph.lookup_tables[lookup.name]
            if key in table:
                trace.steps.append(Step(self.say("lookup_file", key=self.snippet(lookup.key), value=self.fmt(key),
                                                 file=lookup.file, line=lines[key], result=self.fmt(table[key])),
                                        lookup.span.line, "fired"))
            return
        for entry in lookup.entries:
            if entry.key == key or (entry.key is None and not any(e.key == key for e in lookup.entries)):
                label = ("否则" if self.lang == "zh" else "OTHERWISE") if entry.key is None else str(entry.key)
                trace.steps.append(Step(self.say("lookup", key=self.snippet(lookup.key), value=self.fmt(key), label=label,
                                                 result=self.snippet(entry.value)),
                                        entry.span.line or lookup.span.line, "fired"))
                return

    def _weighted(self, weighted: ast.Weighted, trace: TraceNode) -> None:
        trace.steps.extend(self._weighted_steps(weighted.rows, weighted.span.line, trace.value))

    def _weighted_steps(self, rows, line: int, total: object = None) -> list[Step]:
        steps, parts, computed = [], [], Fraction(0)
        for row in rows:
            value = self.value_of(row.component)
            weight = constant_value(row.weight)
            parts.append(f"{self.snippet(row.weight)} × {self.fmt(value)}")
            if isinstance(value, Fraction):
                computed += value * weight
            steps.append(Step(f"{row.component.name} {self.fmt(value)} × {self.snippet(row.weight)} = "
                              f"{self.fmt(Fraction(value) * weight) if isinstance(value, Fraction) else value}", row.span.line))
        steps.append(Step(f"= {' + '.join(parts)} = {self.fmt(total if total is not None else computed)}", line))
        return steps
