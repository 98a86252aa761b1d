"""Coverage of a policy by a population: how many employees each row, entry and branch fired for.

`pkrules run --coverage` and `pkrules test --coverage` print it; rows never hit
are listed, because a band nobody reaches is either dead or untested.
"""

from __future__ import annotations

from dataclasses import dataclass

from pkrules.language import ast
from pkrules.engine.results import Results, RowError, Upstream
from pkrules.messages import tr


@dataclass
class Hit:
    line: int
    node: str
    what: str  # the row or branch as written
    count: int


def coverage(results_list: list[Results]) -> list[Hit]:
    """Hits summed over one or more evaluations of the same policy (e.g. all its examples)."""
    totals: dict[tuple[int, str, str], int] = {}
    for results in results_list:
        for hit in _coverage(results):
            key = (hit.line, hit.node, hit.what)
            totals[key] = totals.get(key, 0) + hit.count
    return [Hit(line, node, what, count) for (line, node, what), count in sorted(totals.items())]


def _safe(probe, expr, i):
    try:
        return probe.value(expr, i)
    except (RowError, Upstream):
        return None


def _text(results: Results, node) -> str:
    return results.graph.source.snippet(node.span).split("\n")[0].split("#")[0].strip()


def _coverage(results: Results) -> list[Hit]:
    graph, probe = results.graph, results.probe
    failed = results.failed_rows()
    good = [i for i in range(results.size) if i not in failed]
    hits: list[Hit] = []
    for node in graph.definitions:
        decl = node.decl
        computed = sum(1 for i in good if results.columns[node.name][i] is not None)
        hits.append(Hit(decl.span.line, node.name, tr("{name} (computed)", name=node.name), computed))
        if isinstance(decl, ast.Table):
            conds = [r.cond for r in decl.rows]
            counts = [0] * len(decl.rows)
            for i in good:
                fired_any = False
                for k, cond in enumerate(conds):
                    if cond is None:
                        if not fired_any:
                            counts[k] += 1
                        break
                    if _safe(probe, cond, i):
                        counts[k] += 1
                        fired_any = True
                        if decl.hit == "first":
                            break
            hits.extend(Hit(r.span.line, node.name, _text(results, r), c) for r, c in zip(decl.rows, counts))
        elif isinstance(decl, ast.Lookup):
            key = decl.key
            known = {e.key for e in decl.entries if e.key is not None}
            for entry in decl.entries:
                if entry.key is None:
                    count = sum(1 for i in good if _safe(probe, key, i) not in known)
                else:
                    count = sum(1 for i in good if _safe(probe, key, i) == entry.key)
                label = tr("OTHERWISE") if entry.key is None else str(entry.key)
                hits.append(Hit(entry.span.line, node.name, tr("{name} by … {label}", name=node.name, label=label), count))
        for expr in _expressions(decl):
            for sub in ast.walk(expr):
                if isinstance(sub, ast.IfExpr):
                    yes = sum(1 for i in good if _safe(probe, sub.cond, i) is True)
                    text = results.graph.source.snippet(sub.cond.span)
                    hits.append(Hit(sub.span.line, node.name, tr("if {cond}: then", cond=text), yes))
                    hits.append(Hit(sub.span.line, node.name, tr("if {cond}: else", cond=text), len(good) - yes))
    return hits


def _expressions(decl) -> list:
    if isinstance(decl, ast.Definition):
        return [decl.body]
    if isinstance(decl, ast.Table):
        return [r.value for r in decl.rows]
    return []


def render_coverage(hits: list[Hit], population: int) -> str:
    from pkrules.values.text import table

    rows = [[str(h.line), h.node, h.what, str(h.count)] for h in hits]
    never = [h for h in hits if h.count == 0]
    out = [table([tr("line"), tr("node"), tr("row / branch"), tr("employees")], rows, [True, False, False, True])]
    if never:
        out.append("\n" + (tr("never hit by this employee:") if population == 1 else
                           tr("never hit by these {n} employees:", n=population)))
        out.extend(tr("  line {line}: {what}", line=h.line, what=h.what) for h in never)
    else:
        out.append("\n" + tr("every row and branch was hit by these {n} employees", n=population))
    return "\n".join(out)
