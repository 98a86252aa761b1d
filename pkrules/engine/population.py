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


class Population:
    """Main rows (one per employee, or per employee and period) and related tables' rows, for one policy."""

    def __init__(self, graph: RuleGraph, rows: list[dict] | None = None, row_numbers: list[int] | None = None,
                 related: dict[str, list[dict]] | None = None, *, source: str = "<data>", path: str | Path | None = None,
                 load: Callable[[], object] | None = None, cell_errors: list | None = None, skipped: int = 0):
        """rows: validated main rows; or load: a function returning a DataTable (rows, row_numbers, errors)
        read from path when first needed. related: every related table the policy declares."""
        if rows is None and load is None:
            raise ValueError("a population needs rows, or a way to load them")
        check_related(graph, related or {})
        self.graph = graph
        self.related = dict(related or {})
        self.source = source
        self.path = Path(path) if path is not None else None
        self._rows = rows
        self._row_numbers = row_numbers
        self._load = load
        self._cell_errors = list(cell_errors or [])
        self.skipped = skipped  # main rows left out because of bad cells

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
                    sheet: str | None = None, table: str | None = None) -> Population:
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
                          cell_errors=list(main.errors) + problems, skipped=main.skipped)
    return Population(graph, load=lambda: read_data(graph, path), path=path, source=str(path))


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
