"""What a statement for one employee may show: their own figures, the rules, and the group figures the policy publishes.

Every definition is one of three kinds, found from where its value comes from:

- own: computed from the employee's own data (their row, their earlier periods,
  their rows of a related table) — or their own result of a group computation:
  their share of a pool, their rank, whether they are in the top 10%;
- group: a figure of a group or of another employee — a team's total, a company's
  budget, the opponent team's score, a partner's result (`sum sales within team`,
  `x[partner]`, `x[team = opponent]`), or anything computed from such figures alone;
- rule: a constant of the policy (`每人押金 = 200元`).

A statement shows own figures and rules. A group figure appears only when the
policy publishes it (`publish team_pool` / `公布 团队奖金池`); publishing a
definition also shows what it is computed from: the group figures it uses, and
the group statistics inside its formula (the team's totals behind the pool, the
cut-off of a top 10%, the pool and weights of a split).
Outputs are the employee's own results and are always shown.
"""

from __future__ import annotations

from pkrules.language import ast
from pkrules.language.builtins import function_of
from pkrules.language.rule_graph import RuleGraph

OWN, GROUP, RULE = "own", "group", "rule"


def published(graph: RuleGraph) -> set[str]:
    """The definitions the policy publishes (its `publish` line), with the group figures each is computed from."""
    line = getattr(graph.policy, "published", None)
    if line is None:
        return set()
    kinds = figure_kinds(graph)
    out: set[str] = set()
    stack = [n.name for n in line.names if n.name in graph.nodes]
    while stack:
        name = stack.pop()
        if name in out:
            continue
        out.add(name)
        stack.extend(dep for dep in graph.nodes[name].deps if kinds.get(dep) == GROUP and not graph.nodes[dep].is_input)
    return out


def figure_kinds(graph: RuleGraph) -> dict[str, str]:
    """own, group or rule for every node (inputs are the employee's own)."""
    kinds: dict[str, str] = {node.name: OWN for node in graph.inputs}
    # a parameter of the run (--param 利润=1200万) is the company's figure: shown where the policy publishes it
    kinds.update({node.name: GROUP for node in graph.parameters})
    for name in graph.order:
        kinds[name] = _declaration_kind(graph, graph.nodes[name].decl, kinds)
    for node in graph.definitions:
        kinds.setdefault(node.name, OWN)
    return kinds


def own_rows_term(graph: RuleGraph, term) -> bool:
    """A population term over the employee's own rows only (`sum sales within id across periods`)."""
    within = getattr(term, "within", None)
    if within is None:
        return getattr(term, "to_date", None) is not None  # `sum sales year to date`: the employee's own periods
    items = within.items if isinstance(within, ast.Group) else (within,)
    return any(isinstance(item, ast.Name) and item.name == graph.key for item in items)


def _declaration_kind(graph: RuleGraph, decl, kinds: dict[str, str]) -> str:
    if isinstance(decl, ast.Definition):
        return _kind(graph, decl.body, kinds)
    if isinstance(decl, ast.Table):
        return _combine([_kind(graph, row.value, kinds) for row in decl.rows])
    if isinstance(decl, ast.Lookup):
        if decl.file is not None:
            return RULE
        return _combine([_kind(graph, e.value, kinds) for e in decl.entries])
    if isinstance(decl, ast.Weighted):
        return _combine([_kind(graph, row.component, kinds) for row in decl.rows])
    return OWN


def _combine(kinds: list[str]) -> str:
    # A value that any of the employee's own data flows into is theirs; a selection
    # (which row of a table, which branch of an if) does not make a group figure theirs.
    if OWN in kinds:
        return OWN
    if GROUP in kinds:
        return GROUP
    return RULE


def _kind(graph: RuleGraph, e, kinds: dict[str, str]) -> str:
    if isinstance(e, (ast.Number, ast.Percent, ast.Text, ast.Date)):
        return RULE
    if isinstance(e, ast.Name):
        ref = graph.refs.get(id(e))
        return kinds.get(e.name, OWN) if ref is not None and ref.kind == "node" else RULE
    if isinstance(e, ast.ValueOf):
        return GROUP  # another employee's value, or another group's
    if isinstance(e, ast.Aggregate):
        if e.source is not None or own_rows_term(graph, e):
            return OWN  # the employee's own rows
        return GROUP
    if isinstance(e, (ast.Rank, ast.Top, ast.Split)):
        return OWN  # the employee's own place, or share
    if isinstance(e, ast.IfExpr):
        return _combine([_kind(graph, e.then, kinds), _kind(graph, e.else_, kinds)])
    if isinstance(e, ast.Call) and function_of(e.func) == "previous" and e.args:
        return _kind(graph, e.args[0], kinds) if len(e.args) == 1 else \
            _combine([_kind(graph, e.args[0], kinds), _kind(graph, e.args[1], kinds)])
    if isinstance(e, ast.Tiered):
        return _kind(graph, e.base, kinds)
    return _combine([_kind(graph, c, kinds) for c in ast.children(e)])
