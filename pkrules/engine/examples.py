"""Running the `example` blocks of a policy: given inputs, expected values, exact comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from pkrules.language import ast
from pkrules.language.builtins import YES_WORDS, default_value, example_word
from pkrules.engine.backend import evaluate
from pkrules.engine.population import Population
from pkrules.engine.results import EvalError, Results
from pkrules.engine.explain import Explanation, explain
from pkrules.language.rule_graph import RuleGraph
from pkrules.values.types import BOOL, DATE, TEXT
from pkrules.messages import tr


@dataclass
class Mismatch:
    name: str
    employee: object
    expected: object
    actual: object
    line: int
    expected_text: str = ""  # as written in the example
    explanation: Explanation | None = None


@dataclass
class ExampleOutcome:
    title: str
    line: int
    checked: int
    mismatches: list[Mismatch] = field(default_factory=list)
    errors: list[EvalError] = field(default_factory=list)
    results: Results | None = None

    @property
    def passed(self) -> bool:
        return not self.mismatches and not self.errors


def example_rows(graph: RuleGraph, example: ast.Example) -> list[dict[str, object]]:
    rows = []
    for n, employee in enumerate(example.employees, start=1):
        row: dict[str, object] = {}
        for node in graph.inputs:
            if getattr(node.decl, "optional", False):  # left out: its default, or blank
                default = node.decl.default
                row[node.name] = default_value(node.type, default) if default is not None else None
            elif node.type.kind == TEXT:
                row[node.name] = ""
        row[graph.key] = f"{example.title}#{n}" if len(example.employees) > 1 else example.title
        for f in employee:
            if graph.nodes[f.name].kind != "parameter":
                row[f.name] = _typed(graph, f.name, example_word(f.value))
        rows.append(row)
    return rows


def example_params(graph: RuleGraph, example: ast.Example) -> dict[str, object]:
    """The parameters an example gives (on any of its lines: one value for the whole example)."""
    return {f.name: _typed(graph, f.name, example_word(f.value)) for employee in example.employees for f in employee
            if graph.nodes[f.name].kind == "parameter"}


def example_related(graph: RuleGraph, example: ast.Example, rows: list[dict]) -> dict[str, list[dict]]:
    """The related-table rows of an example, each linked to its employee's key."""
    tables: dict[str, list[dict]] = {name: [] for name in graph.related}
    for related in example.related:
        table, columns = graph.related[related.table]
        row: dict[str, object] = {table.link: rows[related.employee][graph.key]}
        for f in related.fields:
            row[f.name] = _typed_as(columns[f.name].kind, example_word(f.value))
        if graph.period and graph.period in columns:
            row[graph.period] = rows[related.employee].get(graph.period)
        tables[related.table].append(row)
    return tables


def _typed(graph: RuleGraph, name: str, word: object) -> object:
    return _typed_as(graph.nodes[name].type.kind, word)


def _typed_as(kind: str, word: object) -> object:
    if kind == BOOL:
        return YES_WORDS[str(word).lower()]
    if kind == TEXT:
        from pkrules.values.format import format_value
        return format_value(word) if isinstance(word, Fraction) else str(word)
    if kind == DATE:
        from pkrules.values.cells import parse_date
        return parse_date(str(word))
    return word


def run_example(graph: RuleGraph, example: ast.Example) -> ExampleOutcome:
    rows = example_rows(graph, example)
    population = Population(graph, rows, related=example_related(graph, example, rows),
                            source=tr("example {title}", title=example.title), params=example_params(graph, example))
    results: Results = evaluate(graph, population)
    outcome = ExampleOutcome(example.title, example.span.line, len(example.expectations), errors=results.errors,
                             results=results)
    for expectation in example.expectations:
        name = expectation.field.name
        if expectation.employee is None:
            index = 0
        else:
            wanted = example_word(expectation.employee)
            index = results.index_of(_typed(graph, graph.key, wanted))
            if index is None:
                index = 0
        expected = _typed(graph, name, example_word(expectation.field.value)) if graph.nodes[name].is_given or graph.nodes[name].type.kind in (BOOL, TEXT, DATE) \
            else example_word(expectation.field.value)
        if graph.nodes[name].type.kind == BOOL and not isinstance(expected, bool):
            expected = YES_WORDS.get(str(expected).lower(), expected)
        actual = results.columns[name][index]
        if index in results.failed_rows() and actual is None:
            continue  # reported as an error of the example
        if actual != expected:
            outcome.mismatches.append(Mismatch(
                name, results.keys[index], expected, actual, expectation.span.line,
                graph.source.snippet(expectation.field.value.span), explain(results, index, name)))
    return outcome


def run_examples(graph: RuleGraph) -> list[ExampleOutcome]:
    return [run_example(graph, example) for example in graph.policy.examples]
