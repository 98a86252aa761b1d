"""What would have changed a table's result: how far the compared value is from each better band.

"0.22 points short of coef 1.2 (score >= 90)". A distance is given in the compared
value's own unit (¥ for money, percentage points for a rate or a ratio, points for a
score) and only toward a better outcome: whether a band is better is read from how the
table's value feeds what the employee is paid (the policy's main output) — a penalty
table (扣分) subtracted from the total is better lower. When that cannot be told (a
text band, a value used only in a condition), no direction is assumed and distances
are shown only when asked for (all_bands).
"""

from __future__ import annotations

from fractions import Fraction
from pkrules.engine.display import SHOW_MONEY, SHOW_NUMBER, SHOW_PERCENT, SHOW_WHOLE
from pkrules.language import ast
from pkrules.language.builtins import constant_value, function_of
from pkrules.values.format import format_people
from pkrules.values.numbers import format_human

# The explanation builder (engine/explain.py) passes itself: its units, values, formatting and words.
Builder = object

_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}


def amount(builder: "Builder", gap: Fraction, unit: str) -> str:
    """A distance in a unit: ¥1,234.00 · 2.5 percentage points · 3 points; never a misleading 0."""
    if unit == SHOW_MONEY:
        text = format_people(gap, SHOW_MONEY, exact=builder.exact)
        return text.lstrip("≈") if not builder.exact else text
    scaled = gap * 100 if unit == SHOW_PERCENT else gap
    places = 2
    text = format_human(scaled, places)
    while scaled and text.lstrip("-") in ("0", "0.0") and places < 10:
        places += 1
        text = format_human(scaled, places)
    if scaled and text.lstrip("-") in ("0", "0.0"):
        text = f"{scaled.numerator}/{scaled.denominator}"
    if unit == SHOW_PERCENT:
        return builder.say("pct_points", n=text)
    if unit == SHOW_WHOLE:
        return text
    return builder.say("point" if scaled == 1 else "points", n=text)


def simple_condition(builder: "Builder", cond) -> tuple[str, str, Fraction] | None:
    """(name, op, threshold) for a condition like `score >= 90` or `90 <= score`."""
    if not isinstance(cond, ast.Compare) or len(cond.ops) != 1:
        return None
    left, right = cond.operands
    op = cond.ops[0]
    graph = builder.graph
    if isinstance(left, ast.Name) and constant_value(right) is not None and left.name in graph.nodes:
        return left.name, op, constant_value(right)
    if isinstance(right, ast.Name) and constant_value(left) is not None and op in _FLIP and right.name in graph.nodes:
        return right.name, _FLIP[op], constant_value(left)
    return None


def _holds(op: str, x: Fraction, threshold: Fraction) -> bool:
    return {">=": x >= threshold, ">": x > threshold, "<=": x <= threshold, "<": x < threshold,
            "=": x == threshold, "!=": x != threshold}[op]


def table_hints(builder: "Builder", table: ast.Table, fired: int, row: int) -> list[str]:
    """The margin of the row that fired, and the distance to the nearest better row (any row, with all_bands)."""
    hints: list[str] = []
    fired_row = table.rows[fired]
    simple = simple_condition(builder, fired_row.cond)
    value_of = _row_value(builder, fired_row, row)
    if simple is not None:
        name, op, threshold = simple
        x = builder.results.columns[name][row]
        unit = builder.units.get(name, SHOW_NUMBER)
        shown_threshold = builder.fmt(threshold, unit)
        if isinstance(x, Fraction) and op in (">=", ">", "<=", "<"):
            if x == threshold:
                hints.append(builder.say("at_threshold" if op in (">=", ">") else "at_limit", threshold=shown_threshold,
                                         table=table.name, value=builder.snippet(fired_row.value)))
            elif op in (">=", ">"):
                hints.append(builder.say("above_threshold", amount=amount(builder, x - threshold, unit),
                                         threshold=shown_threshold, table=table.name, value=builder.snippet(fired_row.value)))
            else:
                hints.append(builder.say("below_limit", amount=amount(builder, threshold - x, unit),
                                         threshold=shown_threshold, table=table.name, value=builder.snippet(fired_row.value)))
    sign = builder.direction.of(table.name)
    if sign == 0 and not builder.all_bands:
        return hints
    found: list[tuple[Fraction, bool | None, ast.Rule, str, str, str]] = []
    for gap, strict, other, cond, name in _reachable_rows(builder, table, fired, row):
        other_value = _row_value(builder, other, row)
        is_better = None
        if isinstance(other_value, Fraction) and isinstance(value_of, Fraction) and sign:
            is_better = sign * (other_value - value_of) > 0
            if other_value == value_of:
                continue  # the same result: no band to reach
        if not is_better and not builder.all_bands:
            continue
        found.append((gap, is_better, other, cond, strict, name))
    found.sort(key=lambda c: c[0])
    shown: set[str] = set()
    for gap, is_better, other, cond, strict, name in found:
        value_text = builder.snippet(other.value)
        if value_text in shown:
            continue
        shown.add(value_text)
        text = amount(builder, gap, builder.units.get(name, SHOW_NUMBER))
        key = ("short_of" if strict != "more" else "more_than_short_of") if is_better else \
            ("away_from" if strict != "more" else "more_than_away_from")
        hints.append(builder.say(key, amount=text, table=table.name, value=value_text, cond=cond))
        if not builder.all_bands:
            break  # the nearest better band: what a manager reads out
    return hints


def _escape(builder: "Builder", fired_row: ast.Rule) -> str:
    """The condition under which the fired row no longer applies: `完成率 ≥ 80%` for `完成率 < 80%`."""
    simple = simple_condition(builder, fired_row.cond)
    if simple is None:
        return builder.say("not_cond", cond=builder.snippet(fired_row.cond))
    name, op, threshold = simple
    negated = {">=": "<", ">": "<=", "<=": ">", "<": ">="}[op]
    written = builder.snippet(fired_row.cond)
    if builder.lang == "zh" or any(ch in written for ch in "≥≤＞＜"):  # the signs a Chinese handbook uses
        negated = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}[negated]
    literal = fired_row.cond.operands[1] if isinstance(fired_row.cond.operands[0], ast.Name) else fired_row.cond.operands[0]
    return f"{name} {negated} {builder.snippet(literal)}"


def _row_value(builder: "Builder", rule: ast.Rule, row: int) -> object:
    value = constant_value(rule.value)
    return value if value is not None else builder.value(rule.value, row)


def _reachable_rows(builder: "Builder", table: ast.Table, fired: int, row: int):
    """Rows another value of the compared input would reach: (gap, strictness, row, condition to meet, name).

    Up the table: a row above with a simple condition, reached by moving the value across its
    threshold. Down the table: leaving the fired row's own band (a `< 80%` row is left at 80%)
    reaches the first row below that holds there.
    """
    out = []
    fired_row = table.rows[fired]
    for other in reversed(table.rows[:fired]):
        simple = simple_condition(builder, other.cond)
        if simple is None:
            break  # a row above we cannot reason about: claim nothing beyond it
        name, op, threshold = simple
        x = builder.results.columns[name][row]
        if not isinstance(x, Fraction) or op not in (">=", ">", "<=", "<"):
            continue
        gap = threshold - x if op in (">=", ">") else x - threshold
        if gap >= 0:
            out.append((gap, "more" if op in (">", "<") else "exact", other, builder.snippet(other.cond), name))
    fired_simple = simple_condition(builder, fired_row.cond) if fired_row.cond is not None else None
    if fired_simple is not None:
        name, op, threshold = fired_simple
        x = builder.results.columns[name][row]
        if isinstance(x, Fraction) and op in (">=", ">", "<=", "<"):
            strict = "exact" if op in ("<", ">") else "more"
            epsilon = Fraction(1, 10**12) if op == "<=" else -Fraction(1, 10**12) if op == ">=" else 0
            probe = threshold + epsilon  # the first value outside the fired row's band
            for other in table.rows[fired + 1:]:
                simple = simple_condition(builder, other.cond) if other.cond is not None else None
                if other.cond is not None and (simple is None or simple[0] != name):
                    break
                if other.cond is None or _holds(simple[1], probe, simple[2]):
                    out.append((abs(threshold - x), strict, other, _escape(builder, fired_row), name))
                    break
    return out


class Direction:
    """Whether more of a value is better for the employee: +1, -1, or 0 when it cannot be told.

    Read from how the value feeds the policy's main output (what the employee is paid):
    added (+), subtracted (−), multiplied by a positive or negative amount, a min or max, a
    round, a table row's value or a lookup's (+); through a condition, a count, a rank, or
    another employee's value, the direction is unknown. Earlier periods (previous) do not count:
    this period's value is what could have changed this period's result.
    """

    def __init__(self, builder: "Builder"):
        self.builder = builder
        self.graph = builder.graph
        self.goal = self.graph.main_output()
        self._memo: dict[str, int] = {}  # (a sign reads the row's values: kept for one tree)
        self._users = None
        # Whether a name reaches the goal is the policy's: worked out once per compiled policy (a statement for
        # each of 2,000 employees walked the graph for each).
        self._reached: dict[tuple[str, str], bool] = self.graph.__dict__.setdefault("_direction_reaches", {})

    def of(self, name: str) -> int:
        goal = self.goal if self._reaches(name, self.goal) else None
        if goal is None:
            return 1  # not part of what is paid: more is better, as for a score
        return self._sign(name)

    def _reaches(self, name: str, goal: str) -> bool:
        found = self._reached.get((name, goal))
        if found is None:
            found = self._reached[(name, goal)] = self._walks_to(name, goal)
        return found

    def _walks_to(self, name: str, goal: str) -> bool:
        if name == goal:
            return True
        seen, stack = set(), [goal]
        while stack:
            current = stack.pop()
            for dep in self.graph.nodes[current].deps:
                if dep == name:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return False

    def _sign(self, name: str) -> int:
        if name == self.goal:
            return 1
        if name in self._memo:
            return self._memo[name]
        self._memo[name] = 0  # (no cycles in a checked graph; a guard only)
        if self._users is None:
            self._users = self.graph.dependents()
        signs: set[int] = set()
        for user in self._users.get(name, []):
            if not self._reaches(user, self.goal):
                continue
            occurrences = self._occurrences(self.graph.nodes[user].decl, name)
            downstream = self._sign(user)
            for s in occurrences:
                signs.add(s * downstream)
        result = signs.pop() if len(signs) == 1 else 0
        self._memo[name] = result
        return result

    def _occurrences(self, decl, name: str) -> list[int]:
        out: list[int] = []
        if isinstance(decl, ast.Definition):
            self._walk(decl.body, name, 1, out)
        elif isinstance(decl, ast.Table):
            for rule in decl.rows:
                if rule.cond is not None:
                    self._walk(rule.cond, name, 0, out)
                self._walk(rule.value, name, 1, out)
        elif isinstance(decl, ast.Lookup):
            self._walk(decl.key, name, 0, out)
            for entry in decl.entries:
                self._walk(entry.value, name, 1, out)
        elif isinstance(decl, ast.Weighted):
            for weighted_row in decl.rows:
                weight = constant_value(weighted_row.weight)
                self._walk(weighted_row.component, name, 1 if weight is None or weight >= 0 else -1, out)
        return out

    def _sign_of(self, expr) -> int:
        value = self.builder.value(expr, self.builder.i)
        if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
            return 0
        return (value > 0) - (value < 0)

    def _walk(self, e, name: str, s: int, out: list[int]) -> None:
        if e is None:
            return
        if isinstance(e, ast.Name):
            if e.name == name:
                out.append(s)
            return
        if isinstance(e, ast.Neg):
            self._walk(e.operand, name, -s, out)
            return
        if isinstance(e, ast.Binary):
            if e.op == "+":
                self._walk(e.left, name, s, out)
                self._walk(e.right, name, s, out)
            elif e.op == "-":
                self._walk(e.left, name, s, out)
                self._walk(e.right, name, -s, out)
            elif e.op == "*":
                self._walk(e.left, name, s * self._sign_of(e.right), out)
                self._walk(e.right, name, s * self._sign_of(e.left), out)
            else:
                self._walk(e.left, name, s * self._sign_of(e.right), out)
                self._walk(e.right, name, -s * self._sign_of(e.left), out)
            return
        if isinstance(e, ast.Call):
            func = function_of(e.func)
            if func in ("previous", "consecutive"):
                return  # other periods
            if func in ("min", "max", "round", "floor", "ceil"):
                for i, arg in enumerate(e.args):
                    self._walk(arg, name, s if i == 0 or func in ("min", "max") else 0, out)
                return
            if func == "abs":
                self._walk(e.args[0], name, s * self._sign_of(e.args[0]), out)
                return
        if isinstance(e, ast.IfExpr):
            self._walk(e.cond, name, 0, out)
            self._walk(e.then, name, s, out)
            self._walk(e.else_, name, s, out)
            return
        if isinstance(e, ast.Aggregate) and e.func in ("sum", "avg", "min", "max"):
            self._walk(e.operand, name, s, out)
            for part in (e.where, e.within):
                self._walk(part, name, 0, out)
            return
        if isinstance(e, ast.Split):
            self._walk(e.pool, name, s, out)
            self._walk(e.weight, name, s, out)
            self._walk(e.within, name, 0, out)
            return
        if isinstance(e, ast.Tiered):
            self._walk(e.base, name, s, out)
            return
        for child in ast.children(e):
            self._walk(child, name, 0, out)
