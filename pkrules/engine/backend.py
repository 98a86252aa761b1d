"""The one place that chooses a backend to evaluate a population, and falls back when it declines.

    results = evaluate(graph, population)                 # "auto": the fastest that is exact
    results = evaluate(graph, population, backend="exact")

Every backend gives the exact evaluator's values to the cent, or declines
(engine/results.py: Declined) — on anything the exact evaluator must report in
its own words (a bad cell, a row error), or a construct it does not do — and
the next one runs. The exact evaluator never declines. Every caller (run,
explain, test, diff, impact, coverage, statements, the workflow) comes here.
"""

from __future__ import annotations

from typing import Callable

from pkrules.engine.population import Population
from pkrules.engine.results import Declined, Results
from pkrules.errors import PkrulesError
from pkrules.language.rule_graph import RuleGraph
from pkrules.messages import speaking, tr

BACKENDS = ("auto", "exact", "fast", "duckdb", "spark")
SQL_BACKENDS = ("duckdb", "spark")  # chosen by name only: "auto" never starts an SQL engine

# Below these sizes the exact evaluator answers before the fast path has loaded polars and planned its
# query. `pkrules run` of the reference policy, whole process, CPU seconds exact / fast, best of 3 on
# this 2-core machine (benchmarks/bench_issue9.py prints the 20- and 2,000-row figures):
#   CSV      250 rows (16 KB) 0.34 / 0.40; 500 (33 KB) 0.43 / 0.40; 1,000 (66 KB) 0.55 / 0.44; 2,000 (133 KB) 0.83 / 0.47
#   Parquet  20 rows (4.4 KB) 0.41 / 0.44; 100 (5.5 KB) 0.43 / 0.45; 250 (6.9 KB) 0.50 / 0.42; 500 (9.4 KB) 0.55 / 0.40
#   Excel    500 rows (32 KB) 0.56 / 0.72; 1,000 (59 KB) 0.76 / 0.78; 2,000 (113 KB) 1.13 / 0.94; 3,000 (167 KB) 1.61 / 1.10
# The fast path reads CSV and Parquet itself (the exact path reads Parquet with polars too); Excel rows are
# read one by one for either. (One threshold of 200 KB, ~3,000 rows of CSV, ran the exact evaluator up to
# 1.8 times as long as the fast path.)
SMALL_ROWS = 1_200  # rows already read: as Excel, whose reading both paths share
SMALL_FILE_BYTES = {"csv": 32_000, "parquet": 6_000, "excel": 70_000}  # a data file not yet read, by its format
OTHER_FILE_BYTES = 200_000  # SQLite and DuckDB files (not measured: as before)


class BadCells(PkrulesError):
    """The data has bad cells and the caller did not ask to keep going."""

    def __init__(self, population: Population):
        self.population = population
        errors = population.cell_errors
        super().__init__(tr("{source}: {n} bad cell{s}", source=population.source, n=len(errors), s="s" * (len(errors) != 1)))


def _exact():
    from pkrules.engine.exact import ExactBackend

    return ExactBackend()


def _columnar():
    from pkrules.engine.columnar import ColumnarBackend

    return ColumnarBackend()


def _duckdb():
    from pkrules.engine.sql import DuckDBBackend

    return DuckDBBackend(**OPTIONS.get("duckdb", {}))


def _spark():
    from pkrules.engine.sql import SparkBackend

    return SparkBackend(**OPTIONS.get("spark", {}))


# Options a command gives a backend it names (e.g. spark: master=URL from --spark-master; without one,
# SPARK_REMOTE or spark-submit's own session, else a local session: engine/sql/spark.py).
OPTIONS: dict[str, dict] = {}


def configure(name: str, **options) -> None:
    """Options for the backend `name` whenever it is made (a command's --spark-master, say)."""
    OPTIONS[name] = {k: v for k, v in options.items() if v is not None}

# Every backend by name, made when first used (each imports its engine lazily). The differential
# test (tests/test_backends.py) runs every one of them against the exact evaluator.
REGISTRY: dict[str, Callable[[], object]] = {"exact": _exact, "fast": _columnar, "duckdb": _duckdb, "spark": _spark}


def backend_named(name: str):
    """The backend itself (no fallback): for tests, benchmarks and a user's explicit choice."""
    return REGISTRY[name]()


def candidates(backend: str, population: Population | None = None) -> list[str]:
    """The backends to try, in order: the user's choice; for "auto", by the population's size."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: {', '.join(BACKENDS)}")
    if backend == "exact" or (backend == "auto" and population is not None and _small(population)):
        return ["exact"]
    if backend in SQL_BACKENDS:
        return [backend, "exact"]
    return ["fast", "exact"]


def _small(population: Population) -> bool:
    if population.loaded or population.path is None:
        return len(population.rows) < SMALL_ROWS
    from pkrules.io.formats import is_duckdb, is_excel, is_parquet, is_sqlite

    path = population.path
    try:
        if path.is_dir():  # a folder of Parquet files
            return sum(p.stat().st_size for p in path.iterdir() if p.is_file()) < SMALL_FILE_BYTES["parquet"]
        size = path.stat().st_size
    except OSError:
        return True  # the exact path reads it and says what is wrong
    if is_parquet(path):
        return size < SMALL_FILE_BYTES["parquet"]
    if is_excel(path):
        return size < SMALL_FILE_BYTES["excel"]
    if is_sqlite(path) or is_duckdb(path):
        return size < OTHER_FILE_BYTES
    return size < SMALL_FILE_BYTES["csv"]


def evaluate(graph: RuleGraph, population: Population, backend: str = "auto", keep_going: bool = False,
             progress: Callable[[int, int, str], None] | None = None,
             on_decline: Callable[[Declined], None] | None = None,
             known: dict[str, list] | None = None) -> Results:
    """Every node's value for every employee of the population.

    Bad cells: BadCells, unless keep_going (then their rows are left out). Row errors
    (division by zero, a missing lookup key…) are in results.errors, never raised.
    on_decline hears why a faster backend stepped aside (for a note to the user).
    known: columns already computed on these same rows that the exact evaluator may take
    as they are (what a policy change cannot have changed; see review/impact.py).
    Row errors and bad cells are told in the policy's language (or the user's --lang).
    """
    with speaking(graph.policy.language):
        return _evaluate(graph, population, backend, keep_going, progress, on_decline, known)


def _evaluate(graph, population, backend, keep_going, progress, on_decline, known) -> Results:
    for name in candidates(backend, population):
        if name == "exact":
            if population.cell_errors and not keep_going:
                raise BadCells(population)
        try:
            if name == "exact" and known:
                from pkrules.engine.exact import ExactBackend

                return ExactBackend(known).evaluate(graph, population, progress=progress)
            return backend_named(name).evaluate(graph, population, progress=progress)
        except Declined as declined:
            if on_decline is not None:
                on_decline(declined)
    raise AssertionError("the exact evaluator never declines")
