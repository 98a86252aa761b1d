"""The employees a policy is evaluated for: the main rows and the rows of every related table it reads.

A Population is checked when it is made: a related table the policy declares
(`input ratings by employee`) must be given — never silently empty, which
would turn every `count from ratings` into 0 — and nothing else may be.
Rows are validated values (io/tables.py reads and validates files). A
population read from a file may load its rows only when a backend asks for
them, so that a backend reading the file its own way (the columnar path reads
CSV and Parquet straight into columns) does not pay for rows it never uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pkrules.errors import DataError
from pkrules.language.rule_graph import RuleGraph
from pkrules.messages import tr


class MissingTable(DataError):
    """A related table the policy reads was not given (or one it does not declare was)."""


class ParameterError(DataError):
    """A parameter of the run that is missing, unknown, or not a value of its type."""


class Population:
    """Main rows (one per employee, or per employee and period) and related tables' rows, for one policy."""

    def __init__(self, graph: RuleGraph, rows: list[dict] | None = None, row_numbers: list[int] | None = None,
                 related: dict[str, list[dict]] | None = None, *, source: str = "<data>", path: str | Path | None = None,
                 load: Callable[[], object] | None = None, cell_errors: list | None = None, skipped: int = 0,
                 params: dict[str, object] | None = None):
        """rows: validated main rows; or load: a function returning a DataTable (rows, row_numbers, errors)
        read from path when first needed. related: every related table the policy declares."""
        if rows is None and load is None:
            raise ValueError("a population needs rows, or a way to load them")
        check_related(graph, related or {})
        self.graph = graph
        self.params = complete_params(graph, params or {})  # every parameter's value for this run
        self.related = dict(related or {})
        self.source = source
        self.path = Path(path) if path is not None else None
        self._rows = rows
        self._row_numbers = row_numbers
        self._load = load
        self._cell_errors = list(cell_errors or [])
        self.skipped = skipped  # main rows left out because of bad cells
        self.sql_table: str | None = None  # a table an SQL engine reads itself (engine/sql): its name
        self.sql_database: str | None = None  # … in this database file (DuckDB); None: the Spark session's
        # what a backend read from the file itself, kept for its next evaluation of the same population
        # (the two versions of a policy compared on one data file read it once)
        self.read_by_backend: dict = {}
        if rows is not None:
            self._check_periods()

    @property
    def loaded(self) -> bool:
        return self._rows is not None

    def _ensure(self) -> None:
        if self._rows is None:
            table = self._load()  # type: ignore[misc]
            self._rows = table.rows
            self._row_numbers = table.row_numbers
            self._cell_errors.extend(table.errors)
            self.skipped = table.skipped
            self._check_periods()

    def _check_periods(self) -> None:
        """Rows whose period label cannot be put in time order with the others are bad cells, like any other."""
        name = self.graph.period
        if name is None or self.graph.nodes[name].type.kind != "text" or not self._rows:
            return
        numbers = self._row_numbers or list(range(1, len(self._rows) + 1))
        bad = bad_periods([row[name] for row in self._rows])
        if not bad:
            return
        from pkrules.io.tables import CellError

        column = self.graph.nodes[name].decl.column or name
        kept, kept_numbers = [], []
        for row, number in zip(self._rows, numbers):
            problem = bad.get(row[name])
            if problem is None:
                kept.append(row)
                kept_numbers.append(number)
            else:
                self._cell_errors.append(CellError(number, column, str(row[name]), problem))
        self.skipped += len(self._rows) - len(kept)
        self._rows, self._row_numbers = kept, kept_numbers

    @property
    def rows(self) -> list[dict]:
        self._ensure()
        return self._rows  # type: ignore[return-value]

    @property
    def row_numbers(self) -> list[int]:
        self._ensure()
        if self._row_numbers is None:
            self._row_numbers = list(range(1, len(self._rows) + 1))  # type: ignore[arg-type]
        return self._row_numbers

    @property
    def cell_errors(self) -> list:
        """Every bad cell found reading the data (each with .describe(path)); their rows are not in .rows."""
        self._ensure()
        return self._cell_errors

    errors = cell_errors  # the name the public API has always used

    @property
    def size(self) -> int:
        return len(self.rows)



def complete_params(graph: RuleGraph, given: dict[str, object]) -> dict[str, object]:
    """Every parameter of the policy: as given, else its default; a missing or unknown one is a ParameterError."""
    from pkrules.language.builtins import default_value
    from pkrules.messages import tr

    unknown = [name for name in given if name not in graph.nodes or graph.nodes[name].kind != "parameter"]
    if unknown:
        names = tr(", ").join(n.name for n in graph.parameters) or tr("none")
        raise ParameterError(tr("the policy has no parameter {name} (its parameters: {names})", name=unknown[0],
                                names=names))
    values: dict[str, object] = {}
    for node in graph.parameters:
        if node.name in given:
            values[node.name] = given[node.name]
        elif node.decl.default is not None:
            values[node.name] = default_value(node.type, node.decl.default)
        else:
            raise ParameterError(tr("this policy needs the parameter {name}: give it with --param {name}=… "
                                    "(or in a --params file)", name=node.name))
    return values


def read_params(graph: RuleGraph, texts: dict[str, str]) -> dict[str, object]:
    """Parameters as people type them (--param 利润=1200万) → values of their types, checked against their limits."""
    from pkrules.io.tables import Column, _constraint_checks
    from pkrules.messages import tr
    from pkrules.values.cells import parse_cell

    values: dict[str, object] = {}
    for name, text in texts.items():
        node = graph.nodes.get(name)
        if node is None or node.kind != "parameter":
            complete_params(graph, {name: None})  # says which parameters there are
        try:
            value = parse_cell(node.type, text)  # type: ignore[union-attr]
            for rule in _constraint_checks([Column(name, node.type, node.decl)])[name]:  # type: ignore[union-attr]
                problem = rule(value)
                if problem:
                    raise ValueError(problem)
        except ValueError as problem:
            raise ParameterError(tr("parameter {name}: '{text}' — {problem}", name=name, text=text,
                                    problem=str(problem))) from None
        values[name] = value
    return values


def bad_periods(labels: list) -> dict[str, str]:
    """The labels of a text period column that cannot be ordered with the rest, each with why."""
    from pkrules.values.periods import PeriodLabelError, order_periods

    bad: dict[str, str] = {}
    remaining = list(dict.fromkeys(label for label in labels if isinstance(label, str)))
    while remaining:
        try:
            order_periods(remaining)
            return bad
        except PeriodLabelError as problem:
            bad[problem.label] = str(problem)
            remaining = [label for label in remaining if label != problem.label]
    return bad


def period_key(graph: RuleGraph, values):
    """How the periods of a column are put in order: text labels by the time they name (2024年9月 before
    2024年10月), a one-of by its declared order, numbers and dates by value. Raises PeriodLabelError."""
    node = graph.nodes[graph.period]  # type: ignore[index]
    if node.type.kind == "enum":
        place = {v: n for n, v in enumerate(node.type.values)}
        return lambda v: place.get(v, len(place))
    from pkrules.values.periods import period_sort_key

    return period_sort_key(values)


def check_related(graph: RuleGraph, related: dict[str, list[dict]]) -> None:
    """Every related table the policy reads is given, and no other."""
    unknown = [name for name in related if name not in graph.related]
    if unknown:
        known = tr(", ").join(graph.related) or tr("none")
        raise MissingTable(tr("the policy has no table {table} (its tables: {known})", table=unknown[0], known=known))
    missing = [name for name in graph.related if name not in related]
    if missing:
        raise MissingTable(tr("this policy reads the table {table}: give its rows (on the command line: --with {table}=FILE)",
                              table=missing[0]))


def open_population(graph: RuleGraph, path: str | Path, related: dict[str, str | Path] | None = None,
                    sheet: str | None = None, table: str | None = None,
                    params: dict[str, object] | None = None) -> Population:
    """The population in a data file (CSV, Parquet, Excel, SQLite) and the related tables' files.

    The main rows are read when a backend asks for them (the fast path reads CSV and Parquet
    itself); related tables are read now, each row checked to belong to an employee of the data.
    Raises DataError when a file cannot be read at all, MissingTable when a table is missing;
    bad cells are in population.cell_errors, their rows left out.
    """
    from pkrules.io.tables import read_data

    given = dict(related or {})
    check_related(graph, {name: [] for name in given})
    if sheet is not None or table is not None or given:
        # Excel sheets, SQLite tables and related tables' links need the rows now.
        main = read_data(graph, path, sheet=sheet, table=table)
        tables, problems = _read_related(graph, main.rows, given)
        return Population(graph, main.rows, main.row_numbers, tables, source=str(path), path=path,
                          cell_errors=list(main.errors) + problems, skipped=main.skipped, params=params)
    return Population(graph, load=lambda: read_data(graph, path), path=path, source=str(path), params=params)


def engine_table(graph: RuleGraph, table: str | None, database: str | Path | None = None,
                 params: dict[str, object] | None = None) -> Population:
    """A population that is a table of an SQL engine: a DuckDB database file's table (the only one, unless
    named), or a table of the Spark session. The SQL backends read it where it is; the exact evaluator
    reads a DuckDB table row by row, and cannot read a Spark table."""
    from pkrules.io.tables import read_data

    if database is not None:
        population = Population(graph, load=lambda: read_data(graph, database, table=table), path=database,
                                source=str(database), params=params)
    else:
        def unreadable():
            raise DataError(f"{table}: no such file; as a table of the Spark session it is read only by --engine spark")

        population = Population(graph, load=unreadable, source=str(table), params=params)
    population.sql_table = table
    population.sql_database = str(database) if database is not None else None
    return population


def _read_related(graph: RuleGraph, rows: list[dict], given: dict[str, str | Path]) -> tuple[dict[str, list[dict]], list]:
    from pkrules.io.tables import CellError, read_data

    keys = {str(row[graph.key]) for row in rows}
    tables: dict[str, list[dict]] = {}
    problems: list = []
    for name, path in given.items():
        table = read_data(graph, path, related=name)
        link = graph.related[name][0].link
        problems.extend(CellError(e.row, e.column, e.value, e.expected, file=str(path)) for e in table.errors)
        kept = []
        for row, number in zip(table.rows, table.row_numbers):
            if str(row[link]) not in keys:
                problems.append(CellError(number, link, str(row[link]), tr("no such employee in the data"), file=str(path)))
            else:
                kept.append(row)
        tables[name] = kept
    return tables, problems
