"""Warnings about a run's results, with counts: ties that widen a top N% group, people paired with themselves.

They are not errors: every figure is computed as the policy says. They point at
places where the policy says something the author probably did not mean for
this data — 5 of 13 people in a top 10% because of ties, pays 2.5 times the
budgeted elite awards.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from pkrules.engine.results import Results, RowError, Upstream
from pkrules.language import ast
from pkrules.language.builtins import expressions_of
from pkrules.messages import tr

SHOWN = 3  # groups or people named in one warning; the rest are counted


@dataclass
class RunWarning:
    """One warning about a run: what it is about (a definition), the message, and how many it concerns."""

    code: str  # ties | self-pairing
    node: str
    message: str
    count: int
    line: int | None = None

    def describe(self, path: str) -> str:
        where = f"  [{path}:{self.line}]" if self.line else ""
        return tr("{node}: {message} [{code}]", node=self.node, message=self.message, code=self.code) + where


def run_warnings(results: Results) -> list[RunWarning]:
    """Every warning about these results, in the order of the policy's definitions."""
    graph = results.graph
    found: list[RunWarning] = []
    for node in graph.definitions:
        for expr in expressions_of(node.decl):
            for sub in ast.walk(expr):
                if isinstance(sub, ast.Top):
                    found.extend(_ties(results, node.name, sub))
                elif isinstance(sub, ast.ValueOf):
                    found.extend(_self_pairs(results, node.name, sub))
    return found


def _groups(results: Results, term) -> dict[object, int]:
    """Each group of a population term (as the term groups people), with one of its rows."""
    graph, probe = results.graph, results.probe
    within = getattr(term, "within", None)
    period = graph.period if graph.period and not getattr(term, "across", False) else None
    first: dict[object, int] = {}
    failed = results.failed_rows()
    if within is None and period is None:  # one group, everyone: its first row that computed (no loop over a million)
        row = next((i for i in range(results.size) if i not in failed), None)
        return {} if row is None else {None: row}
    for i in range(results.size):
        if i in failed:
            continue
        try:
            inner = probe.value(within, i) if within is not None else None
        except (RowError, Upstream):
            continue
        key = (results.columns[period][i], inner) if period else inner
        first.setdefault(key, i)
    return first


def _ties(results: Results, name: str, term: ast.Top) -> list[RunWarning]:
    """A top (bottom) N% or N that takes in more people than its places, because of ties at the cut-off."""
    graph = results.graph
    widened: list[tuple[object, int, int, int, object]] = []  # group, members, selected, places, tied value
    for group, row in _groups(results, term).items():
        stat = results.probe.group(term, row)
        if stat is None or "sorted" not in stat.detail:
            continue
        values, places = stat.detail["sorted"], stat.detail["places"]
        if places <= 0 or places >= len(values):
            continue
        if "selected" in stat.detail:  # counted by the backend over its columns (no sort of a million values)
            selected, cut = stat.detail["selected"], stat.detail["cut"]
        elif term.bottom:
            cut = values[places - 1]
            selected = bisect.bisect_right(values, cut)
        else:
            cut = values[len(values) - places]
            selected = len(values) - bisect.bisect_left(values, cut)
        if selected > places:
            widened.append((group, len(values), selected, places, cut))
    if not widened:
        return []
    from pkrules.values.format import format_value

    what = graph.source.snippet(term.span)
    operand_type = graph.types.get(id(term.operand))
    amount = (tr("the bottom {amount}", amount=graph.source.snippet(term.amount.span)) if term.bottom
              else tr("the top {amount}", amount=graph.source.snippet(term.amount.span)))
    parts = []
    for group, members, selected, places, cut in widened[:SHOWN]:
        where = _group_words(graph, term, group)
        parts.append(tr("{where}{selected} of {members} are in {amount} ({places} places): {extra} more because of "
                        "ties at {value}", where=where, selected=selected, members=members, amount=amount,
                        places=places, extra=selected - places, value=format_value(cut, operand_type)))
    more = len(widened) - SHOWN
    message = tr("{what}: {details}", what=what, details=tr("; ").join(parts)) + (
        tr("; and {n} more groups", n=more) if more > 0 else "")
    return [RunWarning("ties", name, message, sum(s - p for _, _, s, p, _ in widened), term.span.line)]


def _group_words(graph, term, group) -> str:
    """'team 华东一组, ' for a group within a team (and its period), '' for everyone."""
    from pkrules.values.format import format_value

    within = getattr(term, "within", None)
    period = graph.period if graph.period and not getattr(term, "across", False) else None
    inner = group[1] if period else group
    words = []
    if period:
        words.append(f"{period} {format_value(group[0])}")
    if within is not None:
        words.append(f"{graph.source.snippet(within.span)} {format_value(inner)}")
    return tr(", ").join(words) + (tr("{where}: ", where="") if words else "")


def _self_pairs(results: Results, name: str, term: ast.ValueOf) -> list[RunWarning]:
    """score[partner] where partner is the employee's own key; team_avg[team = opponent] where opponent is their own team."""
    graph, probe = results.graph, results.probe
    own = results.columns[term.group or graph.key]
    paired: list[object] = []
    failed = results.failed_rows()
    for i in range(results.size):
        if i in failed:
            continue
        try:
            other = probe.value(term.key, i)
        except (RowError, Upstream):
            continue
        if other == own[i] and (term.group is None or own[i] not in paired):
            paired.append(results.keys[i] if term.group is None else own[i])
    if not paired:
        return []
    from pkrules.values.format import format_value

    shown = ", ".join(format_value(p) for p in paired[:SHOWN]) + (tr(" and {n} more", n=len(paired) - SHOWN)
                                                                  if len(paired) > SHOWN else "")
    what = graph.source.snippet(term.span)
    if term.group is None:
        message = tr("{what}: {n} employee(s) paired with themselves ({who})", what=what, n=len(paired), who=shown)
    else:
        message = tr("{what}: {n} {group}(s) matched against themselves ({who})", what=what, n=len(paired),
                     group=term.group, who=shown)
    return [RunWarning("self-pairing", name, message, len(paired), term.span.line)]
