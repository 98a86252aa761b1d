"""The public API of pkrules: compile a policy, read a population, evaluate, explain, compare.

The CLI, the appraisal workflow (pkrules/workflow) and the TUI (tui/) use only
what this module exports; the stages behind it may move, these names stay.

    from pkrules import api

    graph = api.compile_file("policies/sales_incentive.pk")       # or api.check_text(text, path)
    population = api.read_population(graph, "policies/sample/employees.csv")
    results = api.evaluate(graph, population)                       # backend="auto" | "exact" | "fast"
    explanation = api.explain(results, "E013", "coef")
    print(api.render_tree(explanation))

Calls that walk a policy (compile, evaluate, explain, render, diff) run with the stack the language's
limits need (language/limits.py: a sum of 500 terms, a chain of 1,000 definitions), in any thread.

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
from pkrules.language.limits import deep
from pkrules.language.compile import PolicyFileError, check_source, read_policy
from pkrules.language.appraisal import CALENDARS, ESCALATION_LEVELS, MAX_ESCALATION  # noqa: F401 (exported)
from pkrules.language.appraisal import DEFAULT_DAYS as DEFAULT_STAGE_DAYS  # noqa: F401
from pkrules.language.appraisal import DEFAULT_ROLE as DEFAULT_STAGE_ROLE  # noqa: F401
from pkrules.language.appraisal import ROLES as APPRAISAL_ROLES  # noqa: F401
from pkrules.language.appraisal import STAGE_KINDS as APPRAISAL_STAGES  # noqa: F401
from pkrules.language.appraisal import STAGE_ROLES as APPRAISAL_STAGE_ROLES  # noqa: F401
from pkrules.language.rule_graph import RuleGraph
from pkrules.values.stored import value_text as _stored_text  # a light module: imported once, used per value
from pkrules.language.source import SourceFile
from pkrules.values.types import Type
from pkrules.messages import speaking, tr

__all__ = [
    # policies
    "RuleGraph", "SourceFile", "Diagnostic", "PolicyError", "PolicyFileError",
    "check_text", "compile_text", "compile_file", "read_policy", "render_diagnostics", "policy_language",
    "money_outputs",
    # data
    "PkrulesError", "DataError", "MissingTable", "Population", "read_population", "population_from_rows",
    # evaluation
    "evaluate", "Results", "RowErrors", "BadCells", "results_from_columns",
    # kept runs: explain any employee later, in milliseconds
    "keep_run", "KeptRun", "KeptSource", "KeptRunError", "results_from_kept",
    # values
    "value_to_text", "value_from_text", "format_value", "Type", "table", "display_width", "spreadsheet_safe",
    # explanations
    "explain", "Explanation", "TraceNode", "render_tree", "render_brief", "render_markdown", "render_json",
    "explanation_change", "coverage",
    # review
    "diff_texts", "highlight_terminal",
    # the appraisal process's vocabulary (the policy's appraisal / 考核流程 block)
    "APPRAISAL_STAGES", "APPRAISAL_ROLES", "APPRAISAL_STAGE_ROLES", "ESCALATION_LEVELS", "CALENDARS", "MAX_ESCALATION",
    "DEFAULT_STAGE_DAYS", "DEFAULT_STAGE_ROLE",
]


# ---- policies ---------------------------------------------------------------------------------


@deep
def check_text(text: str, path: str = "<policy>") -> tuple[RuleGraph | None, list[Diagnostic]]:
    """Parse and check policy text: (the rule graph or None when it has errors, every diagnostic)."""
    return check_source(SourceFile(path, text))


@deep
def compile_text(text: str, path: str = "<policy>") -> RuleGraph:
    """Policy text → checked rule graph, or PolicyError listing every problem."""
    source = SourceFile(path, text)
    graph, diagnostics = check_source(source)
    if graph is None:
        raise PolicyError(source, diagnostics)
    return graph


@deep
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
    from pkrules.review.impact import money_outputs

    return money_outputs(graph)


# ---- data ---------------------------------------------------------------------------------------

from pkrules.engine.population import MissingTable, Population  # noqa: E402
from pkrules.errors import DataError, PkrulesError  # noqa: E402


@deep
def read_population(graph: RuleGraph, path: str | Path, related: dict[str, str | Path] | None = None,
                    sheet: str | None = None, table: str | None = None) -> Population:
    """The population in a data file (CSV, Parquet, Excel, SQLite) and the related tables the policy reads.

    Raises DataError when a file cannot be read at all or a related table is missing (MissingTable);
    bad cells are in .errors (each with .describe(path): row, column, value, what was expected),
    their rows left out of .rows.
    """
    from pkrules.engine.population import open_population

    with speaking(graph.policy.language):  # bad cells are told in the policy's language (or the user's --lang)
        population = open_population(graph, path, related, sheet, table)
        population.rows  # read now: the caller looks at .errors next
    return population


@deep
def population_from_rows(graph: RuleGraph, rows: Sequence[dict[str, str]],
                         related: dict[str, Sequence[dict[str, str]]] | None = None,
                         source: str = "<rows>") -> Population:
    """Validate rows given as text cells (column name → cell text), exactly as a CSV file would be read."""
    with speaking(graph.policy.language):  # bad cells are told in the policy's language (or the user's --lang)
        return _population_from_rows(graph, rows, related, source)


def _population_from_rows(graph, rows, related, source) -> Population:
    from pkrules.engine.population import check_related
    from pkrules.io.tables import read_csv

    check_related(graph, dict(related or {}))
    main = read_csv(graph, Path(source), text=_csv_text(rows, [n.decl.column or n.name for n in graph.inputs],
                                                         [n.name for n in graph.inputs]))
    tables: dict[str, list] = {}
    errors = list(main.errors)
    for name, table_rows in (related or {}).items():
        declared, _ = graph.related[name]
        names = [d.name for d in declared.inputs]
        part = read_csv(graph, Path(f"{source}:{name}"),
                        text=_csv_text(table_rows, [d.column or d.name for d in declared.inputs], names), table=name)
        errors.extend(part.errors)
        tables[name] = part.rows
    return Population(graph, main.rows, main.row_numbers, tables, source=source, cell_errors=errors,
                      skipped=main.skipped)


def _csv_text(rows: Iterable[dict[str, str]], header: list[str], names: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    pairs = list(zip(names, header))
    missing = object()
    for row in rows:
        get = row.get
        cells = []
        for name, column in pairs:  # (a row names a cell by its input's name, else by its column's)
            value = get(name, missing)
            if value is missing:
                value = get(column, "")
            cells.append(value if value.__class__ is str else _cell(value))
        writer.writerow(cells)
    return buffer.getvalue()


def _cell(value: object) -> str:
    if value.__class__ is str:  # (the usual cell: stored or read as text)
        return value
    if value is None:
        return ""
    if isinstance(value, (Fraction, bool)) or hasattr(value, "isoformat"):
        return value_to_text(value)
    return str(value)


# ---- evaluation ---------------------------------------------------------------------------------

from pkrules.engine.backend import BadCells  # noqa: E402
from pkrules.engine.results import EvalError, Results  # noqa: E402

RowErrors = list[EvalError]


@deep
def evaluate(graph: RuleGraph, population: Population, backend: str = "auto", keep_going: bool = False) -> Results:
    """Every node's value for every employee, through the one backend seam (engine/backend.py).

    Row errors (division by zero, a missing lookup key…) are in results.errors, never raised.
    Bad cells raise BadCells unless keep_going. backend: "auto" (the exact evaluator for small
    populations, the columnar fast path for large; the same values to the cent), "exact", "fast".
    """
    from pkrules.engine.backend import evaluate as run

    return run(graph, population, backend, keep_going=keep_going)


@deep
def results_from_columns(graph: RuleGraph, columns: dict[str, list], row_numbers: list[int] | None = None,
                         related: dict[str, list[dict]] | None = None) -> Results:
    """Results rebuilt from stored values (every input and every definition, exact), for explaining later
    without evaluating again. Population terms (group sums, ranks, splits) are recomputed on demand."""
    from pkrules.engine.exact import results_from_values

    missing = [n for n in graph.nodes if n not in columns]
    if missing:
        raise ValueError(f"stored values lack {', '.join(missing[:5])}")
    size = len(columns[graph.key])
    return results_from_values(graph, columns, list(row_numbers or range(1, size + 1)), related)


# ---- kept runs -----------------------------------------------------------------------------------

from pkrules.engine.kept import KeptRun, KeptRunError, KeptSource  # noqa: E402


def keep_run(results: Results) -> KeptRun:
    """What to store of an evaluation to explain any employee later without evaluating anyone again
    (engine/kept.py): every value as text, and every population term's value per employee and
    statistic per group (a team's sum, a top 10%'s places, a pool's weights). Store its spec, its
    rows' records and its groups; read them back through a KeptSource with results_from_kept."""
    from pkrules.engine.kept import keep

    return keep(results)


def results_from_kept(graph: RuleGraph, spec: dict, source: KeptSource) -> Results:
    """Results read from a kept run wherever it is stored: each value decoded when read, each group's
    statistic looked up when an explanation asks. graph must be the policy the run was computed with."""
    from pkrules.engine.kept import KeptResults

    return KeptResults(graph, spec, source)


# ---- values as text (storage) -------------------------------------------------------------------


def value_to_text(value: object, type_: Type | None = None) -> str:
    """An exact value as text that value_from_text reads back identically.

    Numbers: a decimal when it ends (9216, 0.125), else numerator/denominator (869/9);
    yes/no: "yes"/"no"; dates: ISO; text as is. None (a value that failed) → "".
    """
    text = _stored_text(value)
    return "" if text is None else text


def value_from_text(text: str, type_: Type) -> object:
    """The inverse of value_to_text for a value of the given type."""
    from pkrules.values.stored import value_from_text as read

    return read(text, type_)


from pkrules.values.text import display_width, table  # noqa: E402  (aligned text tables, CJK-aware)


def spreadsheet_safe(text: str) -> str:
    """A text cell for a CSV file that a spreadsheet shows rather than runs (a ' before = + - @ tab CR; OWASP)."""
    from pkrules.values.format import spreadsheet_safe as safe

    return safe(text)


def format_value(value: object, type_: Type | None = None, lang: str = "en", compact: bool = False) -> str:
    """A value as people read it: money with separators and two decimals, percentages with %, 是/否 in Chinese."""
    from pkrules.values.format import format_value as fmt

    return fmt(value, type_, compact=compact, lang=lang)


# ---- explanations -------------------------------------------------------------------------------

from pkrules.engine.explain import Explanation, TraceNode  # noqa: E402


def _index(results: Results, key: object, period: object = None) -> int:
    if isinstance(key, int) and not isinstance(key, bool) and key < 0:
        raise KeyError(key)
    index = results.index_of(key, period)
    if index is None:
        raise KeyError(tr("no employee with {key_name} {key}", key_name=results.graph.key, key=repr(key)))
    return index


@deep
def explain(results: Results, key: object, name: str | None = None, depth: int | None = None,
            period: object = None, *, audience: str = "all", exact: bool = False, all_bands: bool = False) -> Explanation:
    """The tree of values behind one employee's value (default: the policy's main output).

    audience "employee": what a statement shows that employee (group figures the policy does not
    publish withheld); exact: every value with its fraction; all_bands: distances to worse bands too.
    """
    from pkrules.engine.explain import explain as build

    graph = results.graph
    name = name or graph.main_output()
    if name not in graph.nodes:
        raise KeyError(tr("'{name}' is not defined in the policy", name=name))
    return build(results, _index(results, key, period), name, depth=depth, audience=audience, exact=exact,
                 all_bands=all_bands)


def render_brief(explanation: Explanation) -> str:
    """At most ten lines a manager reads aloud: the value, the rule that decided it, the inputs that mattered, the next band."""
    from pkrules.engine.render import render_brief as render

    return render(explanation)


@deep
def render_tree(explanation: Explanation, colour: bool = False) -> str:
    from pkrules.engine.render import render_tree as render

    return render(explanation, colour=colour)


@deep
def render_markdown(explanation: Explanation) -> str:
    from pkrules.engine.render import render_markdown as render

    return render(explanation)


@deep
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


@deep
def explanation_change(before: Results, after: Results, key: object, period: object = None) -> ExplanationChange:
    """The before/after of one employee's outputs, and the part of the explanation that differs."""
    from pkrules.review.impact import compute_impact, explanation_lines, trace_change_data

    impact = compute_impact(before, after, "<change>", same_data=False)
    wanted = (_index(before, key, period), _index(after, key, period))
    find = getattr(impact.changed, "find", None)  # (a columnar impact finds one change without making the others)
    found = find(*wanted) if find is not None else next(
        (c for c in impact.changed if (c.old_index, c.new_index) == wanted), None)
    if found is not None:
        return ExplanationChange(key, found.before, found.after, explanation_lines(impact, found),
                                 [trace_change_data(node) for node in impact.explain(found)])
    i, j = wanted
    same = {c.name: before.columns[c.old][i] for c in impact.columns if c.old is not None}
    return ExplanationChange(key, same, dict(same), [], [])


@deep
def coverage(results: Results) -> list:
    """How many employees each table row, lookup entry and branch fired for (Hit: line, node, what, count)."""
    from pkrules.engine.coverage import coverage as hits

    return hits([results])


# ---- review -------------------------------------------------------------------------------------


@deep
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


# ---- added for the TUI ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A threshold a rule table compares a value with: `IF score >= 90 THEN coef 1.2`."""

    node: str  # the value compared (score)
    op: str  # >= > <= <
    threshold: Fraction
    table: str  # the table (coef)
    row: str  # the row as written
    line: int


def bands(graph: RuleGraph) -> list[Band]:
    """Every simple threshold (`name op constant`) in the policy's rule tables, in policy order:
    what a picture of a value's distribution draws as band lines."""
    from pkrules.language import ast
    from pkrules.language.builtins import constant_value

    flipped = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}
    found: list[Band] = []
    for node in graph.definitions:
        if not isinstance(node.decl, ast.Table):
            continue
        for row in node.decl.rows:
            cond = row.cond
            if not isinstance(cond, ast.Compare) or len(cond.ops) != 1 or cond.ops[0] not in flipped:
                continue
            (left, right), op = cond.operands, cond.ops[0]
            if isinstance(right, ast.Name) and not isinstance(left, ast.Name):
                left, right, op = right, left, flipped[op]
            value = constant_value(right)
            if isinstance(left, ast.Name) and left.name in graph.nodes and isinstance(value, (int, Fraction)) \
                    and not isinstance(value, bool):
                text = graph.source.snippet(row.span).split("\n")[0].split("#")[0].strip()
                found.append(Band(left.name, op, Fraction(value), node.name, text, row.span.line))
    return found


def evaluate_file(graph: RuleGraph, path: str | Path) -> tuple[Results | None, Population]:
    """A data file evaluated through the backend seam without reading its rows first: the columnar path reads
    a large CSV or Parquet file itself, so the rows are read (and validated) only if something asks for them
    later (population.rows). (results, population); results is None when the data has bad cells
    (population.cell_errors lists them)."""
    from pkrules.engine.population import open_population

    population = open_population(graph, path)
    try:
        return evaluate(graph, population), population
    except BadCells as bad:
        return None, bad.population


def evaluate_rows(graph: RuleGraph, rows: Sequence[dict[str, str]]) -> Results | None:
    """Rows given as text cells (column name → cell text), evaluated as evaluate_file evaluates a CSV file of them:
    the fast path reads a large one itself, with no Python row per employee. None when a cell is bad (then
    population_from_rows says which). For a policy that reads no related table."""
    import tempfile

    header = [n.decl.column or n.name for n in graph.inputs]
    with tempfile.TemporaryDirectory(prefix="pkrules-rows-") as folder:
        path = Path(folder) / "rows.csv"
        path.write_text(_csv_text(rows, header, [n.name for n in graph.inputs]), encoding="utf-8")
        # (results hold their values: nothing reads the file once they are made)
        return evaluate_file(graph, path)[0]


def policy_impact(old: RuleGraph, new: RuleGraph, data: str | Path, change=None):
    """Both versions evaluated on one data file, employees matched by key: who gains, who loses, what it
    costs (a pkrules.review.impact.Impact; `impact_summary` gives its summary lines). change: their
    PolicyDiff (`diff_texts`), for renamed values. Raises a PkrulesError saying why there is none: a column
    the data lacks (ImpactError), bad cells (BadCells), row errors."""
    from pkrules.review.impact import ImpactError, choose_columns, compute_impact, evaluate_both, load_populations

    data = str(data)
    renames = change.renames if change is not None else {}
    changed = change.changed_names() if change is not None else None
    columns = choose_columns(old, new, renames)
    old_population, new_population = load_populations(old, new, data)
    old_results, new_results = evaluate_both(old, new, old_population, new_population, renames=renames)
    for results in (old_results, new_results):
        if results.errors:
            raise ImpactError("\n".join(e.describe(results.graph.source.path) for e in results.errors[:20]))
    return compute_impact(old_results, new_results, data, columns, renames, changed, engine=new_results.backend)


def impact_summary(impact) -> list[str]:
    """The impact's summary as `pkrules diff --data` prints it: counts of who gains and loses, the cost."""
    from pkrules.review.impact import summary_lines

    return summary_lines(impact)


def diff_summary(change) -> str:
    """One line for a PolicyDiff: 'no semantic changes' or 'N changes', in the policy's language."""
    from pkrules.review.diff import summary

    return summary(change)


def policy_lexer():
    """The Pygments lexer of policy text (for Rich's Syntax in the TUI)."""
    from pkrules.language.highlight import PkrulesLexer

    return PkrulesLexer()
