"""The language's built-in vocabulary: its functions, yes/no words, and the values of constant expressions.

Shared by the checker, the evaluators and the tools around them, without the
parser (importing this module does not load lark).
"""

from __future__ import annotations

import difflib
from fractions import Fraction

from pkrules.language import ast
from pkrules.messages import tr

YES_WORDS = {"yes": True, "true": True, "是": True, "no": False, "false": False, "否": False}

FUNCTIONS = {
    "min": "min", "最小": "min", "max": "max", "最大": "max",
    "round": "round", "四舍五入": "round", "取整": "round",
    "floor": "floor", "向下取整": "floor", "ceil": "ceil", "向上取整": "ceil",
    "abs": "abs", "绝对值": "abs",
    # several periods
    "previous": "previous", "上期": "previous", "consecutive": "consecutive", "连续": "consecutive",
    # labels of dates, for grouping daily data by week, month…
    "week": "week", "周": "week", "month": "month", "月份": "month", "quarter": "quarter", "季度": "quarter",
    "year": "year", "年份": "year",
    # blanks: whether an optional input (or a definition that applies only to some) has a value
    "given": "given", "已填": "given", "有值": "given",
    # dates: completed months and years between two dates; a month's or a period's first and last day, its days;
    # the parts of a date as numbers
    "months_between": "months_between", "相差月数": "months_between",
    "years_between": "years_between", "相差年数": "years_between",
    "month_start": "month_start", "月初": "month_start", "month_end": "month_end", "月末": "month_end",
    "period_start": "period_start", "期初": "period_start", "period_end": "period_end", "期末": "period_end",
    "days_in": "days_in", "天数": "days_in",
    "month_of_year": "month_of_year", "几月": "month_of_year",
    "quarter_of_year": "quarter_of_year", "第几季度": "quarter_of_year",
    "day_of_month": "day_of_month", "几号": "day_of_month",
}
FUNCTION_LIST = ("min, max, round, floor, ceil, abs, previous, consecutive, week, month, quarter, year, given, "
                 "months_between, years_between, month_start, month_end, period_start, period_end, days_in, "
                 "month_of_year, quarter_of_year, day_of_month")
DATE_FUNCTIONS = {  # name → (number of dates, what it gives: date | whole)
    "months_between": (2, "whole"), "years_between": (2, "whole"),
    "month_start": (1, "date"), "month_end": (1, "date"), "period_start": (1, "date"), "period_end": (1, "date"),
    "days_in": (1, "whole"), "month_of_year": (1, "whole"), "quarter_of_year": (1, "whole"),
    "day_of_month": (1, "whole"),
}


def aggregate_word(func: str) -> str:
    """sum, avg, count, min, max as the current language writes them in a message (合计, 平均, 人数, 最小, 最大)."""
    return {"sum": tr("sum"), "avg": tr("avg"), "count": tr("count"), "min": tr("min"), "max": tr("max")}.get(func, func)


def did_you_mean(word: str, candidates) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if not matches and word.isascii():
        lowered = {c.lower(): c for c in candidates}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return matches[0] if matches else None


def constant_value(expr: ast.Expr) -> Fraction | None:
    """The value of an expression made only of literals, else None."""
    if isinstance(expr, (ast.Number, ast.Percent)):
        return expr.value
    if isinstance(expr, ast.Name):
        return expr.constant  # type: ignore[return-value]
    if isinstance(expr, ast.Neg):
        inner = constant_value(expr.operand)
        return None if inner is None else -inner
    if isinstance(expr, ast.Binary):
        left, right = constant_value(expr.left), constant_value(expr.right)
        if left is None or right is None:
            return None
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        if expr.op == "*":
            return left * right
        if expr.op == "/" and right != 0:
            return left / right
    return None


def default_value(type_, value: ast.Expr) -> object:
    """The value of an input's `default …`: a fixed value of the input's type, or None when it is not one."""
    import datetime as dt

    kind = type_.kind
    if kind in ("money", "percent", "number", "whole", "const"):
        number = constant_value(value)
        if number is None or (kind == "whole" and number.denominator != 1):
            return None
        return number
    if kind == "text":
        return value.value if isinstance(value, ast.Text) else None
    if kind == "date":
        return value.value if isinstance(value, ast.Date) and isinstance(value.value, dt.date) else None
    if kind == "yesno":
        word = value.name.lower() if isinstance(value, ast.Name) and value.name.isascii() else getattr(value, "name", None)
        return YES_WORDS.get(word) if word is not None else None
    if kind == "enum":
        return value.name if isinstance(value, ast.Name) and value.name in type_.values else None
    return None


def example_word(value: ast.Expr) -> object:
    """An example's value as data: a word, a text, or a number."""
    if isinstance(value, ast.Name):
        return value.name
    if isinstance(value, ast.Text):
        return value.value
    if isinstance(value, ast.Date):
        return value.value
    number = constant_value(value)
    if number is not None:
        return number
    return None


def expressions_of(decl) -> list[ast.Expr]:
    if isinstance(decl, ast.Definition):
        return [decl.body] + ([decl.guard] if decl.guard is not None else [])
    if isinstance(decl, ast.Table):
        return [e for row in decl.rows for e in ((row.cond, row.value) if row.cond is not None else (row.value,))]
    if isinstance(decl, ast.Lookup):
        return [decl.key] + [e.value for e in decl.entries]
    if isinstance(decl, ast.Weighted):
        return [row.component for row in decl.rows] + [row.weight for row in decl.rows]
    return []


def function_of(name: str) -> str | None:
    """The canonical name of a built-in function as written (English in any case, or Chinese)."""
    return FUNCTIONS.get(name.lower() if name.isascii() else name)


def tiers_of(e: ast.Tiered) -> list[tuple[Fraction | None, Fraction]]:
    """(upper limit or None for the open top, rate) for each tier."""
    return [(constant_value(t.upper) if t.upper is not None else None, constant_value(t.rate)) for t in e.tiers]  # type: ignore[misc]
