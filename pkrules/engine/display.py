"""How explanations show each number: rates and ratios as percentages, amounts as money, scores and counts as numbers.

A policy declares the types of its inputs; a definition's type follows the unit
rules (money / money is a ratio, a plain number). People read a ratio as a
percentage: `sales / sales_target` is 96%, not 0.96, and a band `完成率 < 50%` must
show 完成率 as a percentage too, or "0.5 < 50%" reads as false. This pass infers,
for every node and sub-expression, the unit it is shown in: money, percent or number.
"""

from __future__ import annotations

from pkrules.language import ast
from pkrules.language.builtins import function_of
from pkrules.language.rule_graph import RuleGraph
from pkrules.values.types import BOOL, DATE, ENUM, MONEY, PERCENT, TEXT, WHOLE

# What a value is shown as. NEUTRAL is a bare literal: it takes the unit of what it meets.
SHOW_MONEY, SHOW_PERCENT, SHOW_NUMBER, SHOW_WHOLE, SHOW_OTHER, NEUTRAL = "money", "percent", "number", "whole", "other", "neutral"


def display_units(graph: RuleGraph) -> dict[str, str]:
    """Every node's unit for people: money, percent, number, whole, or other (text, yes/no, dates)."""
    units: dict[str, str] = {}
    for node in graph.inputs + graph.parameters:  # given: as declared
        units[node.name] = declared_unit(node.type.kind)
    for name in graph.order:
        units[name] = _declaration_unit(graph, graph.nodes[name].decl, units)
    for node in graph.definitions:  # cycles are refused by the checker; anything left is shown as declared
        units.setdefault(node.name, declared_unit(node.type.kind))
    return units


def expression_unit(graph: RuleGraph, expr: ast.Expr, units: dict[str, str]) -> str:
    """The unit a sub-expression is shown in (a bare literal shows as a number)."""
    unit = _unit(graph, expr, units)
    return SHOW_NUMBER if unit == NEUTRAL else unit


def declared_unit(kind: str) -> str:
    if kind == MONEY:
        return SHOW_MONEY
    if kind == PERCENT:
        return SHOW_PERCENT
    if kind == WHOLE:
        return SHOW_WHOLE
    if kind in (BOOL, TEXT, DATE, ENUM):
        return SHOW_OTHER
    return SHOW_NUMBER


def _declaration_unit(graph: RuleGraph, decl, units: dict[str, str]) -> str:
    node_type = graph.nodes[decl.name].type if hasattr(decl, "name") and decl.name in graph.nodes else None
    if node_type is not None and node_type.kind == MONEY:
        return SHOW_MONEY
    if node_type is not None and not node_type.numeric:
        return SHOW_OTHER
    if isinstance(decl, ast.Definition):
        unit = _unit(graph, decl.body, units)
    elif isinstance(decl, ast.Table):
        unit = _combine([_unit(graph, row.value, units) for row in decl.rows])
    elif isinstance(decl, ast.Lookup):
        unit = _combine([_unit(graph, e.value, units) for e in decl.entries]) if decl.entries else SHOW_NUMBER
    elif isinstance(decl, ast.Weighted):
        unit = _combine([_unit(graph, row.component, units) for row in decl.rows])
    else:
        unit = SHOW_NUMBER
    if unit == NEUTRAL:
        return SHOW_NUMBER
    if unit == SHOW_WHOLE and node_type is not None and node_type.kind != WHOLE:
        return SHOW_NUMBER
    return unit


def _combine(units: list[str]) -> str:
    """The unit of values that are added, compared or chosen between (min, max, if, table rows)."""
    real = [u for u in units if u != NEUTRAL]
    if not real:
        return NEUTRAL
    if SHOW_MONEY in real:
        return SHOW_MONEY
    if SHOW_OTHER in real:
        return SHOW_OTHER
    if all(u == SHOW_PERCENT for u in real):
        return SHOW_PERCENT
    if all(u == SHOW_WHOLE for u in real):
        return SHOW_WHOLE
    return SHOW_NUMBER


def _unit(graph: RuleGraph, e: ast.Expr, units: dict[str, str]) -> str:
    type_ = graph.types.get(id(e))
    if type_ is not None and type_.kind == MONEY:
        return SHOW_MONEY
    if type_ is not None and type_.kind in (BOOL, TEXT, DATE, ENUM):
        return SHOW_OTHER
    if isinstance(e, ast.Percent):
        return SHOW_PERCENT
    if isinstance(e, ast.Number):
        return SHOW_MONEY if e.is_money else NEUTRAL
    if isinstance(e, ast.Name):
        ref = graph.refs.get(id(e))
        if ref is not None and ref.kind == "node":
            return units.get(e.name, SHOW_NUMBER)
        return NEUTRAL if ref is None else SHOW_OTHER
    if isinstance(e, ast.Neg):
        return _unit(graph, e.operand, units)
    if isinstance(e, ast.Binary):
        left, right = _unit(graph, e.left, units), _unit(graph, e.right, units)
        if e.op in "+-":
            return _combine([left, right])
        if e.op == "*":
            if SHOW_PERCENT in (left, right):
                other, literal = (right, e.right) if left == SHOW_PERCENT else (left, e.left)
                if other == SHOW_PERCENT:
                    return SHOW_PERCENT
                # a rate times a bare number stays a rate, unless it turns a rate into points (× 100)
                if other == NEUTRAL and not (isinstance(literal, ast.Number) and literal.value >= 10):
                    return SHOW_PERCENT
                return SHOW_NUMBER
            if left == right == NEUTRAL:
                return NEUTRAL
            if left == right == SHOW_WHOLE or SHOW_WHOLE in (left, right) and NEUTRAL in (left, right):
                return SHOW_NUMBER
            return SHOW_NUMBER
        # division: like by like is a ratio, read as a percentage (48万 / 50万 = 96%)
        if left == right and left in (SHOW_MONEY, SHOW_PERCENT, SHOW_WHOLE):
            return SHOW_PERCENT
        if left == SHOW_PERCENT and right == NEUTRAL:
            return SHOW_PERCENT
        if left == right == NEUTRAL:
            return NEUTRAL
        return SHOW_NUMBER
    if isinstance(e, ast.IfExpr):
        return _combine([_unit(graph, e.then, units), _unit(graph, e.else_, units)])
    if isinstance(e, ast.Call):
        func = function_of(e.func)
        if func in ("min", "max"):
            return _combine([_unit(graph, a, units) for a in e.args])
        if func in ("round", "floor", "ceil", "abs", "previous") and e.args:
            return _unit(graph, e.args[0], units)
        if func == "consecutive":
            return SHOW_WHOLE
        return SHOW_OTHER if func in ("week", "month", "quarter", "year") else SHOW_NUMBER
    if isinstance(e, ast.Aggregate):
        if e.func == "count":
            return SHOW_WHOLE
        return _unit(graph, e.operand, units) if e.operand is not None else SHOW_NUMBER
    if isinstance(e, ast.Rank):
        return SHOW_WHOLE
    if isinstance(e, ast.ValueOf):
        return units.get(e.name, SHOW_NUMBER)
    if isinstance(e, ast.Split):
        return SHOW_MONEY
    if isinstance(e, (ast.Top, ast.Compare, ast.Between, ast.InList, ast.Logic, ast.Not, ast.Text, ast.Date, ast.Group)):
        return SHOW_OTHER
    if isinstance(e, ast.Tiered):
        return SHOW_NUMBER
    return SHOW_NUMBER
