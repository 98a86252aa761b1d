"""The public API of pkrules: compile a policy, read a population, evaluate, explain, compare.

The CLI, the appraisal workflow (pkrules/workflow) and the TUI (tui/) use only
what this module exports; the stages behind it may move, these names stay.

    from pkrules import api

    graph = api.compile_file("policies/sales_incentive.pk")       # or api.check_text(text, path)
    population = api.read_population(graph, "policies/sample/employees.csv")
    results = api.evaluate(graph, population)                       # backend="auto" | "exact" | "fast"
    explanation = api.explain(results, "E013", "coef")
    print(api.render_tree(explanation))

Values are exact: numbers are `fractions.Fraction`, yes/no are bools, dates
`datetime.date`, text and one-of values `str`. `value_to_text` / `value_from_text`
turn them into text and back without losing anything (for storage).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

from pkrules.language.diagnostics import Diagnostic, PolicyError, render_all
from pkrules.language.compile import PolicyFileError, check_source, decode_policy, read_policy
from pkrules.language.rule_graph import RuleGraph
from pkrules.language.source import SourceFile
from pkrules.values.types import BOOL, DATE, ENUM, MONEY, NUMERIC, PERCENT, TEXT, WHOLE, Type

__all__ = [
    # policies
    "RuleGraph", "SourceFile", "Diagnostic", "PolicyError", "PolicyFileError",
    "check_text", "compile_text", "compile_file", "read_policy", "render_diagnostics", "policy_language",
    "money_outputs",
    # data
    "DataError", "Population", "read_population", "population_from_rows",
    # evaluation
    "evaluate", "Results", "RowErrors", "results_from_columns",
    # values
    "value_to_text", "value_from_text", "format_value", "Type",
    # explanations
    "explain", "Explanation", "TraceNode", "render_tree", "render_markdown", "render_json",
    "explanation_change", "coverage",
    # review
    "diff_texts", "highlight_terminal",
]


# ---- policies ---------------------------------------------------------------------------------


def check_text(text: str, path: str = "<policy>") -> tuple[RuleGraph | None, list[Diagnostic]]:
    """Parse and check policy text: (the rule graph or None when it has errors, every diagnostic)."""
    return check_source(SourceFile(path, text))


def compile_text(text: str, path: str = "<policy>") -> RuleGraph:
    """Policy text → checked rule graph, or PolicyError listing every problem."""
    source = SourceFile(path, text)
    graph, diagnostics = check_source(source)
    if graph is None:
        raise PolicyError(source, diagnostics)
    return graph


def compile_file(path: str | Path) -> RuleGraph:
    """A policy file → checked rule graph; PolicyFileError when it cannot be read, PolicyError when it has errors."""
    source = read_policy(path)
    graph, diagnostics = check_source(source)
    if graph is None:
        raise PolicyError(source, diagnostics)
    return graph


def render_diagnostics(source: SourceFile, diagnostics: list[Diagnostic]) -> str:
    """Diagnostics as the user reads them: file:line:col, the line, a caret, hints."""
    return render_all(source, diagnostics)


def policy_language(graph: RuleGraph) -> str:
    """'zh' for a policy written with Chinese keywords, else 'en': the language of its messages."""
    return graph.policy.language


def money_outputs(graph: RuleGraph) -> list[str]:
    """The money values the policy pays: its declared money outputs, else its money-typed final definitions."""
    from pkrules.review.impact import _money_outputs

    return _money_outputs(graph)


# ---- data ---------------------------------------------------------------------------------------

from pkrules.io.tables import DataError  # noqa: E402  (kept beside the readers it belongs to)


@dataclass
class Population:
    """The employees to evaluate: validated main rows, and the rows of each related table the policy reads.

    errors lists every bad cell (each with .describe(path) → a message naming row and column);
    rows holds only the good rows.
    """

    graph: RuleGraph
    rows: list[dict[str, object]]
    row_numbers: list[int]
    errors: list
    related: dict[str, list[dict[str, object]]]
    source: str = "<data>"

    @property
    def size(self) -> int:
        return len(self.rows)


def read_population(graph: RuleGraph, path: str | Path, related: dict[str, str | Path] | None = None,
                    sheet: str | None = None, table: str | None = None) -> Population:
    """Read and validate a data file (CSV, Parquet, Excel, SQLite) and the related tables the policy reads.

    Raises DataError when a file cannot be read at all, or when a related table the policy
    declares is not given; bad cells are listed in .errors (row, column, value, what was expected).
    """
    from pkrules.io.tables import read_data

    main = read_data(graph, path, sheet=sheet, table=table)
    tables = _read_related(graph, main.rows, related or {})
    errors = list(main.errors) + [e for _, errs in tables.values() for e in errs]
    return Population(graph, main.rows, main.row_numbers, errors, {n: rows for n, (rows, _) in tables.items()}, str(path))


def _read_related(graph: RuleGraph, rows: list[dict], given: dict[str, str | Path]) -> dict[str, tuple[list, list]]:
    from pkrules.io.tables import CellError, read_data

    unknown = [name for name in given if name not in graph.related]
    if unknown:
        raise DataError(f"the policy has no table {unknown[0]} (its tables: {', '.join(graph.related) or 'none'})")
    missing = [name for name in graph.related if name not in given]
    if missing:
        raise DataError(f"this policy reads the table {missing[0]}: give its rows too")
    keys = {str(row[graph.key]) for row in rows}
    out: dict[str, tuple[list, list]] = {}
    for name, path in given.items():
        table = read_data(graph, path, related=name)
        link = graph.related[name][0].link
        errors = list(table.errors)
        kept = []
        for row, number in zip(table.rows, table.row_numbers):
            if str(row[link]) not in keys:
                errors.append(CellError(number, link, str(row[link]), "no such employee in the data"))
            else:
                kept.append(row)
        out[name] = (kept, errors)
    return out


def population_from_rows(graph: RuleGraph, rows: Sequence[dict[str, str]],
                         related: dict[str, Sequence[dict[str, str]]] | None = None,
                         source: str = "<rows>") -> Population:
    """Validate rows given as text cells (column name → cell text), exactly as a CSV file would be read."""
    from pkrules.io.tables import read_csv

    main = read_csv(graph, Path(source), text=_csv_text(rows, [n.decl.column or n.name for n in graph.inputs],
                                                         [n.name for n in graph.inputs]))
    given = related or {}
    unknown = [name for name in given if name not in graph.related]
    missing = [name for name in graph.related if name not in given]
    if unknown or missing:
        raise DataError(f"this policy reads the table {missing[0]}: give its rows too" if missing else
                        f"the policy has no table {unknown[0]} (its tables: {', '.join(graph.related) or 'none'})")
    tables: dict[str, list] = {}
    errors = list(main.errors)
    for name, table_rows in given.items():
        declared, _ = graph.related[name]
        names = [d.name for d in declared.inputs]
        part = read_csv(graph, Path(f"{source}:{name}"), text=_csv_text(table_rows, [d.column or d.name for d in declared.inputs], names), table=name)
        errors.extend(part.errors)
        tables[name] = part.rows
    return Population(graph, main.rows, main.row_numbers, errors, tables, source)


def _csv_text(rows: Iterable[dict[str, str]], header: list[str], names: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(name, row.get(column, ""))) for name, column in zip(names, header)])
    return buffer.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (Fraction, bool)) or hasattr(value, "isoformat"):
        return value_to_text(value)
    return str(value)


# ---- evaluation ---------------------------------------------------------------------------------

from pkrules.engine.exact import EvalError, Results  # noqa: E402

RowErrors = list[EvalError]


def evaluate(graph: RuleGraph, population: Population, backend: str = "auto") -> Results:
    """Every node's value for every employee. Row errors (division by zero, a missing lookup key…)
    are in results.errors, never raised. backend: "auto" (the fastest that gives exact results),
    "exact" (the row-by-row reference evaluator) or "fast" (the columnar path; falls back to exact
    when it must)."""
    from pkrules.engine.exact import evaluate as exact

    if backend not in ("auto", "exact", "fast"):
        raise ValueError(f"unknown backend {backend!r}: auto, exact or fast")
    if backend != "exact" and not population.related and population.rows:
        from pkrules.engine.columnar import NeedsExact
        from pkrules.engine.plan import PlanError

        try:
            return _fast(graph, population)
        except (NeedsExact, PlanError):
            pass  # the exact evaluator gives the same values, and reports row errors in its own words
    return exact(graph, population.rows, population.row_numbers, related=population.related)


def _fast(graph: RuleGraph, population: Population):
    from pkrules.engine.columnar import evaluate_columnar, table_from_rows

    results = evaluate_columnar(graph, table_from_rows(graph, population.rows))
    results.row_numbers = list(population.row_numbers)
    return results


def results_from_columns(graph: RuleGraph, columns: dict[str, list], row_numbers: list[int] | None = None,
                         related: dict[str, list[dict]] | None = None) -> Results:
    """Results rebuilt from stored values (every input and every definition, exact), for explaining later
    without evaluating again. Population terms (group sums, ranks, splits) are recomputed on demand."""
    from pkrules.engine.exact import Compiled

    missing = [n for n in graph.nodes if n not in columns]
    if missing:
        raise ValueError(f"stored values lack {', '.join(missing[:5])}")
    size = len(columns[graph.key])
    cols = {name: list(columns[name]) for name in graph.nodes}
    compiled = Compiled(graph, cols, size)
    compiled.related = related or {}
    return Results(graph, cols, [], list(row_numbers or range(1, size + 1)), compiled)


# ---- values as text (storage) -------------------------------------------------------------------


def value_to_text(value: object, type_: Type | None = None) -> str:
    """An exact value as text that value_from_text reads back identically.

    Numbers: a decimal when it ends (9216, 0.125), else numerator/denominator (869/9);
    yes/no: "yes"/"no"; dates: ISO; text as is. None (a value that failed) → "".
    """
    import datetime as dt

    from pkrules.values.numbers import format_exact, terminates

    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, Fraction)):
        value = Fraction(value)
        return format_exact(value) if terminates(value) else f"{value.numerator}/{value.denominator}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def value_from_text(text: str, type_: Type) -> object:
    """The inverse of value_to_text for a value of the given type."""
    import datetime as dt

    if text == "":
        return None
    kind = type_.kind
    if kind == BOOL:
        return text == "yes"
    if kind == DATE:
        return dt.date.fromisoformat(text)
    if kind in NUMERIC or kind in (MONEY, PERCENT, WHOLE):
        return Fraction(text)
    if kind in (TEXT, ENUM):
        return text
    # A type the language may add later: keep the text.
    return text


def format_value(value: object, type_: Type | None = None, lang: str = "en", compact: bool = False) -> str:
    """A value as people read it: money with separators and two decimals, percentages with %, 是/否 in Chinese."""
    from pkrules.engine.render import format_value as fmt

    return fmt(value, type_, compact=compact, lang=lang)


# ---- explanations -------------------------------------------------------------------------------

from pkrules.engine.explain import Explanation, TraceNode  # noqa: E402


def _index(results: Results, key: object, period: object = None) -> int:
    if isinstance(key, int) and not isinstance(key, bool) and key < 0:
        raise KeyError(key)
    index = results.index_of(key, period)
    if index is None:
        raise KeyError(f"no employee with {results.graph.key} {key!r}")
    return index


def explain(results: Results, key: object, name: str | None = None, depth: int | None = None,
            period: object = None) -> Explanation:
    """The tree of values behind one employee's value (default: the policy's main output)."""
    from pkrules.engine.explain import explain as build

    graph = results.graph
    name = name or graph.main_output()
    if name not in graph.nodes:
        raise KeyError(f"'{name}' is not defined in the policy")
    return build(results, _index(results, key, period), name, depth=depth)


def render_tree(explanation: Explanation, colour: bool = False) -> str:
    from pkrules.engine.render import render_tree as render

    return render(explanation, colour=colour)


def render_markdown(explanation: Explanation) -> str:
    from pkrules.engine.render import render_markdown as render

    return render(explanation)


def render_json(explanation: Explanation) -> str:
    from pkrules.engine.render import render_json as render

    return render(explanation)


@dataclass
class ExplanationChange:
    """What changed in one employee's figures between two evaluations (an upheld appeal, a policy change)."""

    key: object
    before: dict[str, object]
    after: dict[str, object]
    lines: list[str]  # the changed part of the explanation, as text
    data: list[dict]  # the same as JSON-ready data

    @property
    def changed(self) -> bool:
        return self.before != self.after


def explanation_change(before: Results, after: Results, key: object, period: object = None) -> ExplanationChange:
    """The before/after of one employee's outputs, and the part of the explanation that differs."""
    from pkrules.review.impact import compute_impact, explanation_lines, trace_change_data

    impact = compute_impact(before, after, "<change>", same_data=False)
    wanted = (_index(before, key, period), _index(after, key, period))
    for change in impact.changed:
        if (change.old_index, change.new_index) == wanted:
            return ExplanationChange(key, change.before, change.after, explanation_lines(impact, change),
                                     [trace_change_data(node) for node in impact.explain(change)])
    i, j = wanted
    same = {c.name: before.columns[c.old][i] for c in impact.columns if c.old is not None}
    return ExplanationChange(key, same, dict(same), [], [])


def coverage(results: Results) -> list:
    """How many employees each table row, lookup entry and branch fired for (Hit: line, node, what, count)."""
    from pkrules.engine.coverage import coverage as hits

    return hits([results])


# ---- review -------------------------------------------------------------------------------------


def diff_texts(old_text: str, new_text: str, old_path: str = "OLD", new_path: str = "NEW"):
    """The semantic diff of two policy texts (a PolicyDiff: .changes, .has_changes, render with pkrules.diff)."""
    from pkrules.review.diff import diff_policies
    from pkrules.language.parse import parse_policy

    old, old_diags = parse_policy(SourceFile(old_path, old_text))
    new, new_diags = parse_policy(SourceFile(new_path, new_text))
    if old is None or new is None:
        broken = SourceFile(old_path, old_text) if old is None else SourceFile(new_path, new_text)
        raise PolicyError(broken, old_diags if old is None else new_diags)
    return diff_policies(old, new, old_path, new_path)


def highlight_terminal(text: str) -> str:
    """Policy text with ANSI colours (the same lexer the TUI uses through Rich/Pygments)."""
    from pkrules.language.highlight import highlight_terminal as paint

    return paint(text)
