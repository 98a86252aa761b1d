"""The impact of a policy change on a population: who gains, who loses, what it costs.

Both versions are evaluated on the same data; employees are matched by key. For
the outputs (graph.outputs(), or the columns asked for) each changed employee
gets before, after and delta, and the names of the nodes whose values changed;
on request, the part of the explanation that differs (old and new trace trees
walked side by side, keeping the nodes whose values moved).

Both versions are evaluated through the engine's one backend seam
(engine/backend.py). When the old run was exact and both read the same data,
the new version reuses every column of the old run whose definition (with
renames) and dependencies are unchanged, and computes only what the change
touches: the results are exactly those of two separate runs.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

from pkrules.engine.backend import evaluate
from pkrules.engine.explain import TraceNode, explain
from pkrules.engine.population import Population
from pkrules.engine.results import Declined, EvalError, Results
from pkrules.errors import DataError, PkrulesError
from pkrules.messages import language_for, say, tr
from pkrules.io.tables import read_csv, read_text
from pkrules.values.text import table
from pkrules.values.format import format_value, json_value
from pkrules.language.rule_graph import RuleGraph
from pkrules.values.types import MONEY, Type

class ImpactError(PkrulesError):
    """Data that cannot be used for the impact (in the user's words)."""


# ---- data --------------------------------------------------------------------------------------


def _header(text: str) -> list[str]:
    try:
        return [h.strip() for h in next(csv.reader(io.StringIO(text)))]
    except (StopIteration, csv.Error):
        return []


def _missing_columns(graph: RuleGraph, header: list[str]) -> list[str]:
    present = set(header)
    return [n.name for n in graph.inputs if (n.decl.column or n.name) not in present and n.name not in present]


def data_text(data_path: str):
    """A data file as CSV text: a CSV file's text, or a Parquet, Excel (first sheet) or SQLite (only table)
    file's cells as the exact path reads them (io/formats.py: SheetText)."""
    from pkrules.io.formats import excel_table, is_excel, is_parquet, is_sqlite, parquet_table, sqlite_table

    if is_parquet(data_path):
        return parquet_table(data_path)
    if is_excel(data_path):
        return excel_table(data_path)
    if is_sqlite(data_path):
        return sqlite_table(data_path)
    return read_text(Path(data_path))


def data_header(data_path: str) -> list[str]:
    """A data file's column names, without reading its rows (CSV: the first line; Parquet: the schema;
    Excel and SQLite: their table read as the exact path reads it)."""
    from pkrules.io.formats import is_excel, is_parquet, is_sqlite

    path = Path(data_path)
    if is_excel(path) or is_sqlite(path):
        return _header(data_text(data_path).text)
    from pkrules.files import require_regular
    from pkrules.messages import reason

    require_regular(path, DataError, tr("name a data file"))
    if is_parquet(path):
        import polars as pl

        try:
            return [str(c).strip() for c in pl.read_parquet_schema(path)]
        except Exception as e:  # noqa: BLE001 - a file polars cannot read: said as a data problem
            raise DataError(tr("{path}: cannot read it as Parquet: {problem}", path=path,
                               problem=str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 20)
    except OSError as e:
        raise DataError(tr("{path}: cannot read: {reason}", path=path, reason=reason(e))) from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return _header(first.decode(encoding))
        except UnicodeDecodeError:
            continue
    return _header(read_text(path))  # (the reader says what is wrong with it)


def check_columns(old: RuleGraph, new: RuleGraph, data_path: str, text: str | None = None,
                  old_label: str = "OLD", new_label: str = "NEW") -> str | None:
    """The data's text when it was given (a git revision), once both versions' inputs are known to be
    columns of it; for a file only its header is read (its rows are read when a backend asks).

    Raises ImpactError naming the version that needs a column the data does not have
    (a new input, usually).
    """
    try:
        header = _header(text) if text is not None else data_header(data_path)
    except DataError as e:
        raise ImpactError(str(e)) from None
    problems = []
    old_inputs = {n.name for n in old.inputs}
    for graph, label in ((old, old_label), (new, new_label)):
        missing = _missing_columns(graph, header)
        if not missing or not header:
            continue
        for name in missing:
            column = graph.nodes[name].decl.column or name
            fresh = graph is new and name not in old_inputs
            problems.append(
                tr("{data}: {label} needs column {column} (input {name}, new in this version), which the data does not have",
                   data=data_path, label=label, column=column, name=name) if fresh else
                tr("{data}: {label} needs column {column} (input {name}), which the data does not have",
                   data=data_path, label=label, column=column, name=name))
    if problems:
        problems.append(tr("  the header is: {header}", header=tr(", ").join(header)))
        problems.append(tr("  hint: add the column to the data to see the impact of the change"))
        raise ImpactError("\n".join(problems))
    return text


def load_populations(old: RuleGraph, new: RuleGraph, data_path: str, text: str | None = None,
                     old_label: str = "OLD", new_label: str = "NEW") -> tuple[Population, Population]:
    """The data against each version's inputs (one population when the inputs are the same).

    The rows are read when a backend asks for them: the fast path reads a data file itself.
    Raises ImpactError naming the version that needs a column the data does not have.
    """
    text = check_columns(old, new, data_path, text, old_label, new_label)
    path = data_path if text is None else None  # a file, not a git revision: a backend may read it itself

    def population(graph: RuleGraph) -> Population:
        if text is None:
            from pkrules.io.tables import read_data

            return Population(graph, load=lambda: read_data(graph, data_path), path=path, source=data_path)
        return Population(graph, load=lambda: read_csv(graph, data_path, text), path=path, source=data_path)

    old_population = population(old)
    if old.policy.inputs == new.policy.inputs:
        return old_population, old_population
    return old_population, population(new)


# ---- evaluation ------------------------------------------------------------------------------


def unchanged_nodes(old: RuleGraph, new: RuleGraph, renames: dict[str, str] | None = None) -> dict[str, str]:
    """New name → old name of every node that must have the same value in both versions on the same rows.

    Inputs with the same name and declaration; definitions whose declaration (old names
    renamed) and type are equal and that use only such nodes.
    """
    from pkrules.review.diff import rename

    renames = renames or {}
    inverse = {b: a for a, b in renames.items()}
    same: dict[str, str] = {}
    for node in new.inputs:
        before = old.nodes.get(node.name)
        if before is not None and before.is_input and before.decl == node.decl:
            same[node.name] = node.name
    for name in new.order:
        node = new.nodes[name]
        before = old.nodes.get(inverse.get(name, name))
        if (before is not None and not before.is_input and node.type == before.type
                and all(dep in same for dep in node.deps) and rename(before.decl, renames) == node.decl
                and _file_table(old, before.name) == _file_table(new, name)):
            same[name] = before.name
    return same


def _file_table(graph: RuleGraph, name: str) -> dict | None:
    """The entries of a lookup read from a file (the file can change while the policy text does not)."""
    tables = getattr(graph, "lookup_tables", None) or {}
    return tables[name][0] if name in tables else None


def reusable_columns(new: RuleGraph, old_results: Results, renames: dict[str, str] | None = None) -> dict[str, list]:
    """The columns of an exact old run that the new version would compute identically on the same rows.

    A definition is reusable when its declaration (old names renamed) and type are equal and
    everything it uses is reusable too. Nothing is reused from a run with row errors.
    """
    old = old_results.graph
    if old_results.errors or getattr(old_results, "backend", None) != "exact":
        return {}
    if {n.name for n in new.inputs} != {n.name for n in old.inputs}:
        return {}
    same = unchanged_nodes(old, new, renames)
    return {name: old_results.columns[old_name] for name, old_name in same.items()}


def evaluate_both(old: RuleGraph, new: RuleGraph, old_population: Population, new_population: Population,
                  backend: str = "auto", renames: dict[str, str] | None = None, keep_going: bool = False,
                  on_decline: Callable[[Declined], None] | None = None) -> tuple[Results, Results]:
    """Both versions on their populations, through the backend seam; unchanged exact columns are shared."""
    old_results = evaluate(old, old_population, backend, keep_going=keep_going, on_decline=on_decline)
    if blank_definitions(old_results):
        old_results = evaluate(old, old_population, "exact", keep_going=keep_going)
    known = reusable_columns(new, old_results, renames) if new_population is old_population else {}
    new_results = evaluate(new, new_population, backend, keep_going=keep_going, on_decline=on_decline, known=known)
    if blank_definitions(new_results):
        new_results = evaluate(new, new_population, "exact", keep_going=keep_going, known=known)
    return old_results, new_results


def blank_definitions(results: Results) -> bool:
    """Whether a fast-path run left a definition blank (a failed value nothing needed, or an optional input's
    blank): its columns hold no words for why, so the impact is made from the exact evaluator's run, which
    explains it."""
    frame = getattr(results, "frame", None)
    if frame is None:
        return False
    names = [node.name for node in results.graph.definitions if node.name in frame.columns]
    return bool(names) and sum(frame.select(names).null_count().row(0)) > 0


# ---- the impact --------------------------------------------------------------------------------


@dataclass
class Column:
    """An output compared across versions (a name missing on one side is None there)."""

    old: str | None
    new: str | None
    type: Type

    @property
    def name(self) -> str:
        return self.new or self.old or "?"


@dataclass
class EmployeeChange:
    key: object
    label: str | None
    row: int  # the row in the data (1 = first data row)
    old_index: int
    new_index: int
    before: dict[str, object]  # column name → value
    after: dict[str, object]
    delta: dict[str, object]  # Fraction, or None when the values are not numbers
    pay_delta: Fraction
    nodes: list[str]  # nodes whose values changed, in policy order ("+x": a new node)
    period: object = None  # with data over several periods: which one this row is for


@dataclass
class Impact:
    old: Results
    new: Results
    data_path: str
    columns: list[Column]
    changed: list[EmployeeChange]
    matched: int
    gain: int
    lose: int
    unchanged: int
    other: int  # values changed, pay did not
    cost_outputs: tuple[list[str], list[str]]  # money outputs of the old and the new version
    cost_before: Fraction
    cost_after: Fraction
    totals: dict[str, tuple[Fraction, Fraction]]  # money columns
    moving: list[str]  # columns that change for someone
    only_before: list = field(default_factory=list)
    only_after: list = field(default_factory=list)
    errors_before: list[EvalError] = field(default_factory=list)
    errors_after: list[EvalError] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    changed_decls: set[str] = field(default_factory=set)
    engine: str = "exact"
    people: int | None = None  # with several periods: the people matched (gain, lose … count people then)
    cost_by_period: dict = field(default_factory=dict)  # period → (cost before, cost after), with several periods
    # Σ of each money column's deltas over the changed employees, when known without visiting them
    delta_totals: dict[str, Fraction] | None = None

    @property
    def lang(self) -> str:
        return language_for(self.new.graph.policy.language)

    @property
    def cost_delta(self) -> Fraction:
        return self.cost_after - self.cost_before

    def explain(self, change: "EmployeeChange") -> list["TraceChange"]:
        """The changed part of the explanation of each moving column for one employee."""
        out = []
        seen: set[tuple] = set()  # a node explained under one output is "shown above" under the next
        pay = set(self.cost_outputs[1])
        for column in sorted(self.columns, key=lambda c: c.new not in pay):  # what is paid first
            if column.name not in self.moving or change.before.get(column.name) == change.after.get(column.name):
                continue
            if column.old is None or column.new is None:
                continue
            old_root = explain(self.old, change.old_index, column.old).root
            new_root = explain(self.new, change.new_index, column.new).root
            node = _diff_trace(old_root, new_root, self, seen)
            if node is not None:
                out.append(node)
        return out


def _is_money(graph: RuleGraph, name: str | None) -> bool:
    """Whether a compared column is money in this version (a column's type may change between versions)."""
    return name is not None and graph.nodes[name].type.kind == MONEY


def _value_delta(before: object, after: object, type_: Type) -> Fraction | None:
    """after − before for numbers (a missing side counts 0); None for anything else (also a value whose
    type changed between the versions, text before and money after)."""
    def number(v: object) -> bool:
        return v is None or (isinstance(v, (int, Fraction)) and not isinstance(v, bool))

    if not type_.numeric or not number(before) or not number(after) or (before is None and after is None):
        return None
    return Fraction(after or 0) - Fraction(before or 0)


def _row_ids(results: Results) -> list:
    """What matches a row across versions: the key, or (key, period) when the data has several periods."""
    graph = results.graph
    keys = results.columns[graph.key]
    period = getattr(graph, "period", None)
    if period:
        return list(zip(keys, results.columns[period]))
    return keys


def _label(results: Results, index: int) -> str | None:
    graph = results.graph
    name = next((n for n in ("name", "姓名", "名字") if n in graph.nodes and graph.nodes[n].is_input), None)
    return str(results.columns[name][index]) if name else None


def money_outputs(graph: RuleGraph) -> list[str]:
    """What an employee is paid: the main output (total, usually) when it is money.

    Otherwise the money outputs (declared, or the money definitions nothing uses) that no other
    money output adds up: a total and its parts are not counted twice. A policy that pays
    nothing (scores, ranks, warnings) has no cost: a rate or a score is never added up as one.
    """
    main = graph.main_output()
    if graph.nodes[main].type.kind == MONEY:
        return [main]
    outputs = [n for n in graph.outputs() if graph.nodes[n].type.kind == MONEY]

    def feeds(part: str, total: str) -> bool:
        seen, stack = set(), [total]
        while stack:
            for dep in graph.nodes[stack.pop()].deps:
                if dep == part:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return False

    return [n for n in outputs if not any(other != n and feeds(n, other) for other in outputs)]


def choose_columns(old: RuleGraph, new: RuleGraph, renames: dict[str, str], names: list[str] | None = None) -> list[Column]:
    """The outputs of both versions (or the names asked for), matched through renames."""
    inverse = {b: a for a, b in renames.items()}

    def column_for(name: str) -> Column:
        if name in new.nodes:
            old_name = inverse.get(name, name)
            return Column(old_name if old_name in old.nodes else None, name, new.nodes[name].type)
        if name in old.nodes:
            new_name = renames.get(name)
            return Column(name, new_name if new_name in new.nodes else None, old.nodes[name].type)
        from pkrules.language.builtins import did_you_mean

        guess = did_you_mean(name, list(new.nodes) + [n for n in old.nodes if n not in new.nodes])
        raise ImpactError(tr("--columns: '{name}' is in neither version of the policy (did you mean '{guess}'?)", name=name,
                             guess=guess) if guess else
                          tr("--columns: '{name}' is in neither version of the policy", name=name))

    if names:
        columns = [column_for(n) for n in names]
    else:
        columns = [column_for(n) for n in new.outputs()]
        taken = {c.old for c in columns}
        columns += [column_for(n) for n in old.outputs() if n not in taken and renames.get(n, n) not in new.nodes]
    return columns


def exact_sum(values) -> Fraction:
    """The exact sum of rationals, fast: numerators are added per denominator as integers."""
    by_denominator: dict[int, int] = {}
    for v in values:
        if v is None or v is False:
            continue
        if v is True:
            v = 1
        if isinstance(v, int):
            by_denominator[1] = by_denominator.get(1, 0) + v
            continue
        d = v.denominator
        by_denominator[d] = by_denominator.get(d, 0) + v.numerator
    total = Fraction(0)
    for d, n in by_denominator.items():
        total += Fraction(n, d)
    return total


def _failed(results: Results) -> set[int]:
    return results.failed_rows()


def _column_sum(results: Results, name: str, failed: set[int]) -> Fraction:
    fast = getattr(results, "column_sum", None)  # a columnar backend sums without converting the column
    if fast is not None and not failed:
        return fast(name)
    column = results.columns[name]
    if failed:
        return exact_sum(v for i, v in enumerate(column) if i not in failed)
    return exact_sum(column)


def compute_impact(old_results: Results, new_results: Results, data_path: str, columns: list[Column] | None = None,
                   renames: dict[str, str] | None = None, changed_decls: set[str] | None = None,
                   engine: str = "exact", same_data: bool = True) -> Impact:
    """Compare two evaluations of a population (employees matched by key).

    same_data: both sides read the same inputs (a policy change), so a node whose definition
    did not change cannot differ; False when the inputs differ (a corrected input).
    """
    import gc

    # Millions of Fractions are alive here; the cyclic collector only slows the comparison down.
    enabled = gc.isenabled()
    gc.disable()
    try:
        impact = _compute_impact(old_results, new_results, data_path, columns, renames, changed_decls, same_data)
        impact.engine = engine
        return impact
    finally:
        if enabled:
            gc.enable()


def _compute_impact(old_results: Results, new_results: Results, data_path: str, columns: list[Column] | None,
                    renames: dict[str, str] | None, changed_decls: set[str] | None, same_data: bool = True) -> Impact:
    renames = renames or {}
    old, new = old_results.graph, new_results.graph
    columns = columns if columns is not None else choose_columns(old, new, renames)
    if getattr(old_results, "frame", None) is not None and getattr(new_results, "frame", None) is not None \
            and not old.period and not new.period:  # (several periods: people and costs by period, row by row)
        # both on the fast path: compared with column expressions, only the rows shown made Python values
        found = _columnar_impact(old_results, new_results, data_path, columns, renames, changed_decls, same_data)
        if found is not None:
            return found
    failed_old, failed_new = _failed(old_results), _failed(new_results)
    old_keys, new_keys = _row_ids(old_results), _row_ids(new_results)
    aligned = old_keys is new_keys or old_keys == new_keys
    if aligned:
        pairs = [(i, i) for i in range(len(new_keys)) if i not in failed_old and i not in failed_new]
        only_before: list = []
        only_after: list = []
    else:
        where = {k: i for i, k in enumerate(old_keys)}
        in_new = set(new_keys)
        pairs = [(where[k], j) for j, k in enumerate(new_keys) if k in where and where[k] not in failed_old and j not in failed_new]
        only_before = [k for i, k in enumerate(old_keys) if k not in in_new and i not in failed_old]
        only_after = [k for j, k in enumerate(new_keys) if k not in where and j not in failed_new]
    everyone = aligned and len(pairs) == len(new_keys)  # pair k is row k on both sides

    cache: dict[tuple[str, str], list[int]] = {}
    # On the same rows, a node whose definition and inputs are unchanged cannot differ: not even looked at
    # (a faster backend's columns are then never converted).
    same = unchanged_nodes(old, new, renames) if same_data and everyone and old.policy.inputs == new.policy.inputs else {}

    def differing(old_name: str, new_name: str) -> list[int]:
        """Positions k in pairs where the two columns differ."""
        if (old_name, new_name) not in cache:
            if same.get(new_name) == old_name:
                cache[(old_name, new_name)] = []
                return []
            a, b = old_results.columns[old_name], new_results.columns[new_name]
            if a is b:
                found: list[int] = []
            elif everyone:
                found = [k for k, (x, y) in enumerate(zip(a, b)) if x != y]
            else:
                found = [k for k, (i, j) in enumerate(pairs) if a[i] != b[j]]
            cache[(old_name, new_name)] = found
        return cache[(old_name, new_name)]

    moving: list[str] = []
    changed_at: set[int] = set()
    for column in columns:
        if column.old is None or column.new is None:  # an output of one version only: the other pays nothing
            results, side = (new_results, 1) if column.new else (old_results, 0)
            values = results.columns[column.new or column.old]
            ks = [k for k, pair in enumerate(pairs) if values[pair[side]] not in (None, 0, False)]
        else:
            ks = differing(column.old, column.new)
        if ks:
            moving.append(column.name)
            changed_at.update(ks)

    # Which nodes moved, for the employees whose outputs moved.
    inverse = {b: a for a, b in renames.items()}
    node_changes: dict[int, list[str]] = {}
    for node in new.definitions:
        old_name = inverse.get(node.name, node.name)
        if old_name in old.nodes and not old.nodes[old_name].is_input:
            for k in differing(old_name, node.name):
                if k in changed_at:
                    node_changes.setdefault(k, []).append(node.name)
    added_nodes = [n.name for n in new.definitions if inverse.get(n.name, n.name) not in old.nodes]

    old_money, new_money = money_outputs(old), money_outputs(new)
    old_money_columns = [old_results.columns[n] for n in old_money]
    new_money_columns = [new_results.columns[n] for n in new_money]

    def pay(money_columns: list[list], i: int) -> Fraction:
        if len(money_columns) == 1:  # the usual case: one total
            value = money_columns[0][i]
            return value if isinstance(value, Fraction) else Fraction(value or 0)
        return exact_sum(column[i] for column in money_columns)

    # An output that cannot have changed is read once, from the old run.
    after_columns = {c.name: (old_results.columns[c.old] if c.old is not None and same.get(c.new) == c.old
                              else new_results.columns[c.new])
                     for c in columns if c.new} if changed_at else {}
    changed: list[EmployeeChange] = []
    gain = lose = other = 0
    for k in sorted(changed_at):
        i, j = pairs[k]
        before = {c.name: old_results.columns[c.old][i] if c.old else None for c in columns}
        after = {c.name: after_columns[c.name][j] if c.new else None for c in columns}
        delta = {c.name: _value_delta(before[c.name], after[c.name], c.type) for c in columns}
        pay_delta = pay(new_money_columns, j) - pay(old_money_columns, i)
        if pay_delta > 0:
            gain += 1
        elif pay_delta < 0:
            lose += 1
        else:
            other += 1
        nodes = list(node_changes.get(k, []))
        nodes += [f"+{n}" for n in added_nodes if new_results.columns[n][j] not in (None, 0, False)]
        key = new_results.columns[new.key][j]
        period = new_results.columns[new.period][j] if getattr(new, "period", None) else None
        changed.append(EmployeeChange(key, _label(new_results, j), new_results.row_numbers[j], i, j,
                                      before, after, delta, pay_delta, nodes, period))

    # Totals. When everyone is on both sides and pay is among the compared columns, the new totals
    # are the old ones plus the deltas of the changed employees (everyone else's are zero).
    compared = {c.name for c in columns if c.old and c.new}
    by_delta = everyone and all(renames.get(n, n) in compared for n in old_money) and \
        [renames.get(n, n) for n in old_money] == new_money
    cost_before = exact_sum(_column_sum(old_results, n, failed_old) for n in old_money)
    if by_delta:
        cost_after = cost_before + exact_sum(e.pay_delta for e in changed)
    else:
        cost_after = exact_sum(_column_sum(new_results, n, failed_new) for n in new_money)
    totals = {}
    for c in columns:
        if c.type.kind != MONEY:
            continue
        old_money_column, new_money_column = _is_money(old, c.old), _is_money(new, c.new)
        before_total = _column_sum(old_results, c.old, failed_old) if old_money_column else Fraction(0)
        if everyone and old_money_column and new_money_column:
            after_total = before_total + exact_sum(e.delta[c.name] for e in changed)
        else:
            after_total = _column_sum(new_results, c.new, failed_new) if new_money_column else Fraction(0)
        totals[c.name] = (before_total, after_total)
    unchanged = len(pairs) - len(changed)
    people = None
    by_period: dict = {}
    if getattr(new, "period", None):
        # Several periods: a person gains or loses by the sum over their periods; the cost is shown by period too.
        new_keys_column = new_results.columns[new.key]
        people = len({new_keys_column[j] for _, j in pairs})
        per_person: dict[object, Fraction] = {}
        for e in changed:
            per_person[e.key] = per_person.get(e.key, Fraction(0)) + e.pay_delta
        gain = sum(1 for d in per_person.values() if d > 0)
        lose = sum(1 for d in per_person.values() if d < 0)
        other = sum(1 for d in per_person.values() if d == 0)
        unchanged = people - len(per_person)
        if old_money or new_money:
            periods = new_results.columns[new.period]
            sums: dict[object, list[Fraction]] = {}
            for i, j in pairs:
                entry = sums.setdefault(periods[j], [Fraction(0), Fraction(0)])
                entry[0] += pay(old_money_columns, i) if old_money_columns else Fraction(0)
                entry[1] += pay(new_money_columns, j) if new_money_columns else Fraction(0)
            by_period = {p: (b, a) for p, (b, a) in sorted(sums.items(), key=lambda item: item[0])}
    return Impact(old_results, new_results, data_path, columns, changed, len(pairs), gain, lose,
                  unchanged, other, (old_money, new_money), cost_before, cost_after, totals, moving,
                  only_before, only_after, list(old_results.errors), list(new_results.errors), dict(renames),
                  set(changed_decls or ()), people=people, cost_by_period=by_period)


# ---- both runs on the fast path: whole columns ---------------------------------------------------------


def _columnar_impact(old_results, new_results, data_path: str, columns: list[Column], renames: dict[str, str],
                     changed_decls: set[str] | None, same_data: bool) -> Impact | None:
    """The impact computed on the two runs' columns (engine/columnar/compare.py); None when the rows are not
    the same employees in the same order, or a column cannot be compared by columns (then: row by row)."""
    import polars as pl

    from pkrules.engine.columnar import compare

    old, new = old_results.graph, new_results.graph
    if old_results.errors or new_results.errors or not compare.aligned(old_results, new_results):
        return None
    same = unchanged_nodes(old, new, renames) if same_data and old.policy.inputs == new.policy.inputs else {}
    moving: list[str] = []
    changed_mask = None
    for column in columns:
        if column.old is None or column.new is None:  # an output of one version only: the other pays nothing
            mask = compare.nonzero(new_results, column.new) if column.new else compare.nonzero(old_results, column.old)
        elif same.get(column.new) == column.old:
            continue
        else:
            mask = compare.differs(old_results, column.old, new_results, column.new)
            if mask is None:
                return None
        if mask.any():
            moving.append(column.name)
            changed_mask = mask if changed_mask is None else (changed_mask | mask)
    positions = changed_mask.arg_true() if changed_mask is not None else pl.Series([], dtype=pl.UInt32)
    old_money, new_money = money_outputs(old), money_outputs(new)
    signs = compare.pay_sign(old_results, old_money, new_results, new_money, positions) if len(positions) else None
    changes = _ColumnarChanges(old_results, new_results, columns, renames, same, positions.to_list(), old_money, new_money)
    if len(positions) and signs is None:  # money beyond constant denominators: the pay deltas row by row
        signs = pl.Series([(d > 0) - (d < 0) for d in changes.pay_deltas()], dtype=pl.Int8)
    gain = int((signs > 0).sum()) if signs is not None else 0
    lose = int((signs < 0).sum()) if signs is not None else 0
    other = len(positions) - gain - lose
    cost_before = exact_sum(_column_sum(old_results, n, set()) for n in old_money)
    cost_after = exact_sum(_column_sum(new_results, n, set()) for n in new_money)
    totals: dict[str, tuple[Fraction, Fraction]] = {}
    for c in columns:
        if c.type.kind != MONEY:
            continue
        before_total = _column_sum(old_results, c.old, set()) if _is_money(old, c.old) else Fraction(0)
        after_total = _column_sum(new_results, c.new, set()) if _is_money(new, c.new) else Fraction(0)
        totals[c.name] = (before_total, after_total)
    # a money column's Σ Δ over the changed employees: everyone else's Δ is 0 (money on both sides only)
    delta_totals = {c.name: totals[c.name][1] - totals[c.name][0] for c in columns
                    if c.name in totals and _is_money(old, c.old) and _is_money(new, c.new)}
    impact = Impact(old_results, new_results, data_path, columns, changes, new_results.size, gain, lose,  # type: ignore[arg-type]
                    new_results.size - len(positions), other, (old_money, new_money), cost_before, cost_after, totals,
                    moving, [], [], [], [], dict(renames), set(changed_decls or ()), delta_totals=delta_totals)
    return impact


class _ColumnarChanges(Sequence):
    """The changed employees of a columnar impact, each made (before, after, Δ, the nodes that moved) when read:
    showing 20 of a million reads 20 rows."""

    def __init__(self, old_results, new_results, columns: list[Column], renames: dict[str, str], same: dict[str, str],
                 positions: list[int], old_money: list[str], new_money: list[str]):
        self.old, self.new = old_results, new_results
        self.columns, self.renames, self.same = columns, renames, same
        self.positions = positions
        self.old_money, self.new_money = old_money, new_money
        self._made: dict[int, EmployeeChange] = {}
        graph = new_results.graph
        self.has_period = bool(graph.period) and bool(positions)
        label = next((n for n in ("name", "姓名", "名字") if n in graph.nodes and graph.nodes[n].is_input), None)
        self.has_label = label is not None and bool(positions) and bool(
            (new_results.frame.get_column(label).gather(positions).cast(str) != "").any())

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, k):
        if isinstance(k, slice):
            wanted = list(range(*k.indices(len(self))))
            self._make([w for w in wanted if w not in self._made])
            return [self._made[w] for w in wanted]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        if k not in self._made:
            self._make([k])
        return self._made[k]

    def __iter__(self):
        for start in range(0, len(self), 10_000):
            yield from self[start:start + 10_000]
            self._made.clear()  # (everyone, for --json: made a batch at a time, not all kept)

    def find(self, old_index: int, new_index: int) -> EmployeeChange | None:
        """The change of the employee at these rows, if they changed (rows are the same on both sides here)."""
        import bisect

        k = bisect.bisect_left(self.positions, new_index)
        if old_index != new_index or k >= len(self.positions) or self.positions[k] != new_index:
            return None
        return self[k]

    def pay_deltas(self) -> list[Fraction]:
        """Every changed employee's pay delta (only when the money columns cannot be summed by columns)."""
        old = self.old.python_rows(self.old_money, self.positions)
        new = self.new.python_rows(self.new_money, self.positions)
        return [exact_sum(new[n][k] for n in self.new_money) - exact_sum(old[n][k] for n in self.old_money)
                for k in range(len(self.positions))]

    def _make(self, ks: list[int]) -> None:
        if not ks:
            return
        rows = [self.positions[k] for k in ks]
        old_graph, new_graph = self.old.graph, self.new.graph
        inverse = {b: a for a, b in self.renames.items()}
        definitions = [(inverse.get(n.name, n.name), n.name) for n in new_graph.definitions
                       if inverse.get(n.name, n.name) in old_graph.nodes and not old_graph.nodes[inverse.get(n.name, n.name)].is_input
                       and self.same.get(n.name) != inverse.get(n.name, n.name)]
        added = [n.name for n in new_graph.definitions if inverse.get(n.name, n.name) not in old_graph.nodes]
        old_names = sorted({c.old for c in self.columns if c.old} | {a for a, _ in definitions} | set(self.old_money))
        label = next((n for n in ("name", "姓名", "名字") if n in new_graph.nodes and new_graph.nodes[n].is_input), None)
        new_names = sorted({c.new for c in self.columns if c.new} | {b for _, b in definitions} | set(self.new_money)
                           | set(added) | {new_graph.key} | ({new_graph.period} if new_graph.period else set())
                           | ({label} if label else set()))
        before_values = self.old.python_rows(old_names, rows)
        after_values = self.new.python_rows(new_names, rows)
        for at, (k, i) in enumerate(zip(ks, rows)):
            before = {c.name: before_values[c.old][at] if c.old else None for c in self.columns}
            after = {c.name: after_values[c.new][at] if c.new else None for c in self.columns}
            delta = {c.name: _value_delta(before[c.name], after[c.name], c.type) for c in self.columns}
            pay_delta = (exact_sum(after_values[n][at] for n in self.new_money)
                         - exact_sum(before_values[n][at] for n in self.old_money))
            nodes = [b for a, b in definitions if before_values[a][at] != after_values[b][at]]
            nodes += [f"+{n}" for n in added if after_values[n][at] not in (None, 0, False)]
            period = after_values[new_graph.period][at] if new_graph.period else None
            self._made[k] = EmployeeChange(after_values[new_graph.key][at], str(after_values[label][at]) if label else None,
                                           self.new.row_numbers[i], i, i, before, after, delta, pay_delta, nodes, period)


# ---- the changed part of an explanation -----------------------------------------------------------


@dataclass
class TraceChange:
    name: str
    kind: str  # input | definition | table | lookup | weighted
    type: Type
    before: object
    after: object
    old_line: int | None
    new_line: int | None
    status: str = "changed"  # changed | new | removed | repeated
    formula_before: str | None = None  # only when the definition itself changed
    formula_after: str | None = None
    removed: list[str] = field(default_factory=list)  # lines of the old explanation that are gone
    added: list[str] = field(default_factory=list)  # lines of the new explanation that are new
    unchanged: list[tuple[str, object, Type]] = field(default_factory=list)  # what it uses that did not move
    uses: list[tuple[str, object, Type]] = field(default_factory=list)  # a new or removed node: what it uses
    children: list["TraceChange"] = field(default_factory=list)
    before_text: str | None = None  # the values as the explanations show them (¥9,216.00, 96%, ≈96.56)
    after_text: str | None = None
    shown: dict[str, str] = field(default_factory=dict)  # name → value as shown, for unchanged and uses


_MARKS = {"fired": "✓", "not met": "✗", "not reached": "·"}


def _step_lines(node: TraceNode) -> list[str]:
    lines = [f"{_MARKS[s.outcome]} {s.text}" if s.outcome else s.text for s in node.steps]
    return lines + [f"→ {h}" for h in node.hints]


def _changed_lines(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """The lines only in old and the lines only in new, in order."""
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag != "equal":
            removed.extend(old[i1:i2])
            added.extend(new[j1:j2])
    return removed, added


def _diff_trace(a: TraceNode | None, b: TraceNode | None, impact: Impact, seen: set[tuple]) -> TraceChange | None:
    if a is not None and b is not None and a.value == b.value:
        return None
    ref = b or a
    assert ref is not None
    node = TraceChange(ref.name, ref.kind, ref.type, a.value if a else None, b.value if b else None,
                       a.line if a else None, b.line if b else None,
                       before_text=a.display if a else None, after_text=b.display if b else None)
    if a is None:
        node.status = "new"
    elif b is None:
        node.status = "removed"
    if ref.kind == "input":
        return node
    where = (ref.name, ref.context)
    if where in seen or (a is not None and a.repeated) or (b is not None and b.repeated):
        node.status = "repeated" if node.status == "changed" else node.status
        if where in seen:
            return node
    seen.add(where)
    if a is not None and b is not None:
        if b.name in impact.changed_decls:
            node.formula_before, node.formula_after = a.formula, b.formula
        node.removed, node.added = _changed_lines(_step_lines(a), _step_lines(b))
    elif b is not None:
        node.formula_after = b.formula
        node.added = _step_lines(b)
    elif a is not None:
        node.formula_before = a.formula
        node.removed = _step_lines(a)
    if a is None or b is None:  # a node of one version only: what it uses, not a diff of it
        node.uses = [(c.name, c.value, c.type) for c in ref.children]
        node.shown.update((c.name, c.display) for c in ref.children)
        return node
    # a name may be read twice, for this period and an earlier one (previous): matched with where it was read
    old_children = {(impact.renames.get(c.name, c.name), c.context): c for c in a.children}
    new_names = set()
    for child in (b.children if b else []):
        new_names.add((child.name, child.context))
        counterpart = old_children.get((child.name, child.context))
        if counterpart is not None and counterpart.value == child.value:
            node.unchanged.append((child.name, child.value, child.type))
            node.shown[child.name] = child.display
            continue
        if counterpart is None and child.value in (None, 0, False):
            continue  # a new term that adds nothing for this employee (the formula above shows it)
        sub = _diff_trace(counterpart, child, impact, seen)
        if sub is not None:
            node.children.append(sub)
    for name, child in old_children.items():
        if name not in new_names and child.value not in (None, 0, False):
            sub = _diff_trace(child, None, impact, seen)
            if sub is not None:
                node.children.append(sub)
    return node


def trace_change_data(node: TraceChange) -> dict:
    data: dict = {"name": node.name, "status": node.status, "before": json_value(node.before, node.type),
                  "after": json_value(node.after, node.type), "old_line": node.old_line, "new_line": node.new_line}
    if node.formula_before is not None or node.formula_after is not None:
        data["formula"] = {"before": node.formula_before, "after": node.formula_after}
    if node.removed:
        data["removed"] = node.removed
    if node.added:
        data["added"] = node.added
    if node.unchanged:
        data["unchanged"] = {name: json_value(value, type_) for name, value, type_ in node.unchanged}
    if node.uses:
        data["uses"] = {name: json_value(value, type_) for name, value, type_ in node.uses}
    if node.children:
        data["inputs"] = [trace_change_data(c) for c in node.children]
    return data


# ---- rendering ------------------------------------------------------------------------------------


def _fmt(value: object, type_: Type | None, lang: str) -> str:
    return format_value(value, type_, compact=True, lang=lang)


def _signed(value: object, type_: Type | None, lang: str) -> str:
    if value is None:
        return ""
    text = format_value(value, type_, compact=True, lang=lang)
    return "+" + text if isinstance(value, Fraction) and value > 0 else text


def _money(value: Fraction, lang: str) -> str:
    return format_value(value, Type(MONEY), lang=lang)


def _percent_change(before: Fraction, after: Fraction) -> str:
    if before == 0:
        return ""
    from pkrules.values.numbers import format_human

    change = (after - before) / abs(before) * 100
    return ("+" if change > 0 else "") + format_human(change, 2) + "%"


def _cost_names(impact: Impact) -> str:
    old_names, new_names = impact.cost_outputs
    names = list(new_names) + [n for n in old_names if n not in new_names and impact.renames.get(n) not in new_names]
    return " + ".join(names)


def summary_lines(impact: Impact) -> list[str]:
    lang = impact.lang
    if impact.people is not None:
        lines = [say(lang, "heading_periods", data=impact.data_path, people=impact.people, rows=impact.matched)]
    else:
        lines = [say(lang, "heading", data=impact.data_path, n=impact.matched)]
    counts = say(lang, "counts", gain=impact.gain, lose=impact.lose, same=impact.unchanged)
    if impact.other:
        counts += say(lang, "other", n=impact.other)
    lines.append("  " + counts)
    pct = _percent_change(impact.cost_before, impact.cost_after)
    if _cost_names(impact):  # a policy that pays nothing has no cost
        lines.append("  " + say(lang, "cost", names=_cost_names(impact), before=_money(impact.cost_before, lang),
                                after=_money(impact.cost_after, lang),
                                delta=_signed(impact.cost_delta, Type(MONEY), lang) if impact.cost_delta else _money(Fraction(0), lang),
                                pct=(", " if lang == "en" else "，") + pct if pct else ""))
        period_name = impact.new.graph.period
        for period, (before, after) in impact.cost_by_period.items():
            lines.append("    " + say(lang, "cost_period", period=f"{period_name} {format_value(period)}",
                                      before=_money(before, lang), after=_money(after, lang),
                                      delta=_signed(after - before, Type(MONEY), lang) if after != before else _money(Fraction(0), lang)))
    for name, (before, after) in impact.totals.items():
        if name in _cost_names(impact).split(" + "):
            continue
        lines.append("  " + say(lang, "total", name=name, before=_money(before, lang), after=_money(after, lang),
                                delta=_signed(after - before, Type(MONEY), lang)))
    still = [c.name for c in impact.columns if c.name not in impact.moving]
    if still:
        lines.append("  " + say(lang, "no_change_for_anyone", names=", ".join(still)))
    for key, side in (("only_before", impact.only_before), ("only_after", impact.only_after)):
        if side:
            lines.append("  " + say(lang, key, n=len(side), keys=", ".join(_id_text(k) for k in side[:20]) + (" …" if len(side) > 20 else "")))
    for side, errors in (("old", impact.errors_before), ("new", impact.errors_after)):
        if errors:
            keys = ", ".join(str(e.key) for e in errors[:20]) + (" …" if len(errors) > 20 else "")
            lines.append("  " + say(lang, "errors", side=say(lang, side), n=len(errors), keys=keys))
    return lines


def _rows(impact: Impact, limit: int | None) -> tuple[list[str], list[list[str]], list[bool], list[EmployeeChange]]:
    lang = impact.lang
    graph = impact.new.graph
    shown = impact.changed if not limit else impact.changed[:limit]
    # (a columnar impact knows these without making every changed employee)
    has_label = getattr(impact.changed, "has_label", None)
    has_label = any(c.label for c in impact.changed) if has_label is None else has_label
    has_period = getattr(impact.changed, "has_period", None)
    has_period = any(c.period is not None for c in impact.changed) if has_period is None else has_period
    columns = [c for c in impact.columns if c.name in impact.moving]
    headers = [graph.key] + ([graph.period] if has_period else []) + (["name" if lang == "en" else "姓名"] if has_label else [])
    numeric = [False] * len(headers)
    for c in columns:
        headers += [say(lang, "before", name=c.name), say(lang, "after", name=c.name), say(lang, "delta", name=c.name)]
        numeric += [c.type.numeric] * 3
    headers.append(say(lang, "changed"))
    numeric.append(False)
    rows = []
    for e in shown:
        row = [format_value(e.key)] + ([format_value(e.period)] if has_period else []) + ([e.label or ""] if has_label else [])
        for c in columns:
            row += [_fmt(e.before[c.name], c.type, lang), _fmt(e.after[c.name], c.type, lang),
                    _signed(e.delta[c.name], c.type, lang)]
        row.append(", ".join(e.nodes))
        rows.append(row)
    if rows and any(c.type.kind == MONEY for c in columns):
        everyone = len(shown) == len(impact.changed)
        every = "" if everyone else say(lang, "sigma_all", n=len(impact.changed))
        total = (["Σ"] if has_label else [f"Σ {every}".strip()]) + ([""] if has_period else []) + ([every] if has_label else [])
        for c in columns:
            if c.type.kind == MONEY:
                if impact.delta_totals is not None and c.name in impact.delta_totals:
                    s = impact.delta_totals[c.name]
                else:
                    s = sum((e.delta[c.name] for e in impact.changed if e.delta[c.name] is not None), Fraction(0))
                total += ["", "", _signed(s, c.type, lang)]
            else:
                total += ["", "", ""]
        total.append("")
        rows.append(total)
    return headers, rows, numeric, shown


def render_text(impact: Impact, limit: int | None = 200, with_explanations: bool = False) -> str:
    lang = impact.lang
    lines = summary_lines(impact)
    if not impact.changed:
        lines += ["", say(lang, "nobody")]
        return "\n".join(lines) + "\n"
    headers, rows, numeric, shown = _rows(impact, limit)
    lines += ["", table(headers, rows, numeric)]
    rest = len(impact.changed) - len(shown)
    if rest > 0:
        lines.append(say(lang, "more_rows" if impact.people is not None else "more", n=rest, s="" if rest == 1 else "s"))
    if with_explanations:
        for e in shown:
            lines.append("")
            lines.extend(explanation_lines(impact, e))
    return "\n".join(lines) + "\n"


def _id_text(k: object) -> str:
    if isinstance(k, tuple):
        return f"{format_value(k[0])} ({format_value(k[1])})"
    return format_value(k)


def _who(e: EmployeeChange) -> str:
    who = format_value(e.key) + (f" ({format_value(e.period)})" if e.period is not None else "")
    return f"{who} {e.label}" if e.label else who


def explanation_lines(impact: Impact, e: EmployeeChange) -> list[str]:
    lang = impact.lang
    lines = []
    for root in impact.explain(e):
        lines.append(say(lang, "impact_why", who=_who(e), name=root.name, before=_fmt(root.before, root.type, lang),
                         after=_fmt(root.after, root.type, lang), delta=_signed(_delta(root), root.type, lang) or "≠"))
        _trace_lines(root, "", lines, lang, is_root=True)
    return lines


def _delta(node: TraceChange) -> object:
    a, b = node.before, node.after
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return b - a
    return None


def _node_head(node: TraceChange, lang: str) -> str:
    before = node.before_text if node.before_text is not None else format_value(node.before, node.type, lang=lang)
    after = node.after_text if node.after_text is not None else format_value(node.after, node.type, lang=lang)
    if node.status == "new":
        text = f"{node.name} = {after}  ({say(lang, 'new_node')})"
    elif node.status == "removed":
        text = f"{node.name} = {before}  ({say(lang, 'removed_node')})"
    else:
        text = f"{node.name}: {before} → {after}"
        if node.status == "repeated":
            text += f"  ({say(lang, 'shown_above')})"
    line = node.new_line or node.old_line
    return text + (f"  [{say(lang, 'line', n=line)}]" if line and node.status != "repeated" else "")


def _trace_lines(node: TraceChange, prefix: str, lines: list[str], lang: str, is_root: bool = False, last: bool = True) -> None:
    if is_root:
        lines.append("  " + _node_head(node, lang))
        body = "  "
    else:
        lines.append(prefix + ("└─ " if last else "├─ ") + _node_head(node, lang))
        body = prefix + ("   " if last else "│  ")
    detail = body + ("│ " if node.children else "  ")
    if node.status == "changed" and node.kind not in ("table", "weighted"):  # their steps show every row already
        removed, added = _changed_lines((node.formula_before or "").splitlines(), (node.formula_after or "").splitlines())
        lines.extend(detail + "- " + t.strip() for t in removed)
        lines.extend(detail + "+ " + t.strip() for t in added)
    lines.extend(detail + "- " + t for t in node.removed)
    lines.extend(detail + "+ " + t for t in node.added)
    for key, entries in (("unchanged_inputs", node.unchanged), ("uses", node.uses)):
        if entries:
            items = ", ".join(f"{n} {node.shown.get(n) or format_value(v, t, compact=True, lang=lang)}" for n, v, t in entries)
            lines.append(detail + "  " + say(lang, key, items=items))
    for k, child in enumerate(node.children):
        _trace_lines(child, body, lines, lang, last=k == len(node.children) - 1)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(impact: Impact, limit: int | None = 200, with_explanations: bool = False) -> str:
    lang = impact.lang
    summary = summary_lines(impact)
    out = [f"### {say(lang, 'md_heading', data=impact.data_path)}", ""]
    counted = impact.people if impact.people is not None else impact.matched
    out += [say(lang, "md_counts"), "|---:|---:|---:|---:|", f"| {impact.gain} | {impact.lose} | {impact.unchanged} | {counted} |", ""]
    out += [f"- {line.strip()}" for line in summary[2:]]
    if not impact.changed:
        out += ["", say(lang, "nobody")]
        return "\n".join(out) + "\n"
    headers, rows, numeric, shown = _rows(impact, limit)
    out += ["", "| " + " | ".join(_md_cell(h) for h in headers) + " |",
            "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    rest = len(impact.changed) - len(shown)
    if rest > 0:
        out += ["", say(lang, "more_rows" if impact.people is not None else "more", n=rest, s="" if rest == 1 else "s")]
    if with_explanations:
        for e in shown:
            out += ["", f"<details><summary>{say(lang, 'md_why', who=_who(e))}</summary>", "", "```diff"]
            out += [_diff_marker(line) for line in explanation_lines(impact, e)]
            out += ["```", "", "</details>"]
    return "\n".join(out) + "\n"


def _diff_marker(line: str) -> str:
    """Move a tree line's -/+ mark to the front so that a ```diff block colours it."""
    for mark in ("- ", "+ "):
        at = line.find(mark)
        if at >= 0 and not line[:at].strip(" │├└─"):
            return mark[0] + line[:at] + line[at + 2:]
    return " " + line


def to_data(impact: Impact, limit: int | None = None, with_explanations: bool = False) -> dict:
    lang = impact.lang
    money = Type(MONEY)
    shown = impact.changed if not limit else impact.changed[:limit]
    types = {c.name: c.type for c in impact.columns}
    employees = []
    for e in shown:
        item = {
            "key": json_value(e.key), **({"period": json_value(e.period)} if e.period is not None else {}),
            "name": e.label, "row": e.row,
            "before": {k: json_value(v, types[k]) for k, v in e.before.items()},
            "after": {k: json_value(v, types[k]) for k, v in e.after.items()},
            "delta": {k: json_value(v, types[k]) for k, v in e.delta.items()},
            "pay_delta": json_value(e.pay_delta, money),
            "changed": e.nodes,
        }
        if with_explanations:
            item["explanation"] = [trace_change_data(t) for t in impact.explain(e)]
        employees.append(item)
    return {
        "data": impact.data_path,
        "employees": impact.people if impact.people is not None else impact.matched,
        "rows": impact.matched,
        "columns": [c.name for c in impact.columns],
        "changing_columns": impact.moving,
        "summary": {"gain": impact.gain, "lose": impact.lose, "unchanged": impact.unchanged, "other": impact.other,
                    "changed": len(impact.changed)},
        "cost": {"outputs": _cost_names(impact).split(" + ") if _cost_names(impact) else [],
                 "before": json_value(impact.cost_before, money), "after": json_value(impact.cost_after, money),
                 "delta": json_value(impact.cost_delta, money),
                 **({"by_period": {str(p): {"before": json_value(b, money), "after": json_value(a, money),
                                            "delta": json_value(a - b, money)}
                                   for p, (b, a) in impact.cost_by_period.items()}} if impact.cost_by_period else {})},
        "totals": {name: {"before": json_value(b, money), "after": json_value(a, money), "delta": json_value(a - b, money)}
                   for name, (b, a) in impact.totals.items()},
        "only_before": [_id_text(k) for k in impact.only_before],
        "only_after": [_id_text(k) for k in impact.only_after],
        "errors": {"old": [e.describe(impact.old.graph.source.path, impact.data_path) for e in impact.errors_before],
                   "new": [e.describe(impact.new.graph.source.path, impact.data_path) for e in impact.errors_after]},
        "changed": employees,
        "shown": len(shown),
        "language": lang,
    }


def render_json(impact: Impact, limit: int | None = None, with_explanations: bool = False) -> str:
    return json.dumps(to_data(impact, limit, with_explanations), ensure_ascii=False, indent=2) + "\n"
