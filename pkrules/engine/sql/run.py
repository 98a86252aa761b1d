"""Evaluating a population on an SQL engine: read and check the data, compile, execute, and hand back results.

The same steps for every engine (engine: duckdb.py's or spark.py's, which
know how to make a relation and read one back):

1. the population as a raw relation: the engine's own data when it has some
   (Parquet files, a folder of them, a DuckDB or Spark table), otherwise the
   rows pkrules read, written once as exact integer columns for the engine;
2. one aggregate query checks the raw columns and measures their ranges
   (sources.py); anything the exact reader would report makes it decline;
3. the plan compiled for those ranges (compile.py), as statements (script.py),
   executed one by one; any row error makes it decline;
4. the results stay in the engine (results.py reads what is asked for).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

from pkrules.engine import plan as P
from pkrules.engine.results import BackendUnavailable, Declined
import pkrules.engine.sql.sources as sources
import pkrules.engine.sql.tree as T
from pkrules.messages import tr
from pkrules.engine.sql.compile import compile_sql
from pkrules.engine.sql.script import statements

_runs = itertools.count(1)

# Python's str.strip() removes exactly these (str.isspace()): a text cell is stripped of them in SQL too.
PY_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())

__all__ = ["BackendUnavailable", "evaluate_sql", "script_for"]


@dataclass
class DataSource:
    """Where the population is: kind "parquet" (files), "table" (a table of the engine's), or "local" (rows)."""

    kind: str
    files: list | None = None
    table: str | None = None
    database: str | None = None


def parquet_files(path: Path) -> list[Path] | None:
    """A Parquet file, or a folder of them (in name order), else None."""
    from pkrules.io.formats import is_parquet

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if is_parquet(p) and p.is_file())
        return files or None
    if is_parquet(path) and path.is_file():
        return [path]
    return None


def source_of(population) -> DataSource:
    """Read the engine's own copy of the data when it can, else the rows pkrules reads."""
    table = getattr(population, "sql_table", None)
    if table is not None:
        return DataSource("table", table=table, database=getattr(population, "sql_database", None))
    if not population.loaded and population.path is not None:
        files = parquet_files(population.path)
        if files:
            return DataSource("parquet", files=files)
    return DataSource("local")


def local_table(graph, plan: P.Plan, population):
    """The population's rows as exact integer columns (the columnar path's reader: vectorised, same rules)."""
    from pkrules.engine.columnar.io import read_table, table_from_rows

    if not population.loaded and population.path is not None:
        try:
            return read_table(plan, graph, population.path)
        except Declined:
            pass  # the row reader says what is wrong, or reads what polars does not
    if population.cell_errors:
        raise Declined(tr("the data has bad cells: the exact evaluator reports them"))
    if not population.rows:
        raise Declined(tr("no rows to evaluate"))
    table = table_from_rows(plan, population.rows)
    table.row_numbers = list(population.row_numbers)
    return table


def write_local(table, names: dict[str, str], folder: Path) -> Path:
    """The table as Parquet for the engine: _row, _line, then each input (wide numbers as DECIMAL(38,0))."""
    import polars as pl

    columns = [pl.Series("_row", range(table.size), dtype=pl.Int64),
               pl.Series("_line", table.row_numbers, dtype=pl.Int64)]
    for name, column in names.items():
        series = table.frame.get_column(name)
        if series.dtype == pl.Int128:
            series = series.cast(pl.Decimal(38, 0))
        columns.append(series.alias(column))
    path = folder / "population.parquet"
    pl.DataFrame(columns).write_parquet(path)
    return path


def evaluate_sql(engine, graph, population):
    """Every node's value for the population, computed by the engine (raises Declined when it cannot)."""
    from pkrules.engine.plan import compile_plan

    if graph.related:
        table = next(iter(graph.related))
        raise Declined(tr("the SQL backends do not read related tables yet (input {table} by …)", table=table),
                       notable=True)
    plan = compile_plan(graph)
    # The work folder holds the population's copy (pay data) and the engine's spill files: it goes when the
    # results are no longer read (or at exit), at once when the engine cannot run the policy.
    work = Path(tempfile.mkdtemp(prefix="pkrules-sql-"))
    try:
        results = _evaluate_in(work, engine, graph, plan, population)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    weakref.finalize(results, shutil.rmtree, work, True)
    return results


def _evaluate_in(work: Path, engine, graph, plan, population):
    from pkrules.engine.sql.results import SqlResults

    prefix = f"pk{next(_runs)}"
    raw_name, input_name = f"{prefix}_raw", f"{prefix}_input"
    source = source_of(population)
    engine.work = work
    if source.kind == "local":
        table = local_table(graph, plan, population)
        names = sources.allocate_names(graph)
        path = write_local(table, names, work)
        engine.register_parquet(raw_name, [path], False)
        _, inputs = sources.local_raw(table.meta, plan, names)
        reading = sources.Reading(inputs, {n: T.Col(c.column) for n, c in inputs.items()}, table.size)
    else:
        if source.kind == "parquet":
            raw = engine.register_parquet(raw_name, source.files, True)
        else:
            raw = engine.register_table(raw_name, source.table, source.database)
        reading, check = sources.plan_reading(graph, plan, raw, raw_name)
        found = engine.one(check)
        padded = sources.padded(plan, reading.columns, found)
        if padded:  # text with white space around it: read again, stripped as the exact reader strips it
            reading, check = sources.plan_reading(graph, plan, raw, raw_name, padded)
            found = engine.one(check)
        reading = sources.finish(reading, plan, found)
    engine.prepare(reading.size)
    engine.view(input_name, sources.input_query(reading, raw_name))
    if source.kind != "local":
        dup = engine.one(sources.duplicates_query(plan, reading, input_name))
        if dup["d"]:
            raise Declined(tr("a key appears twice"))
    program = compile_sql(plan, graph, reading.inputs, reading.size, engine.caps,
                          period_order(engine, graph, reading, input_name))
    program.input_relation = input_name
    script = statements(program, engine.printer, prefix, cuts=getattr(engine, "cuts", True))
    for statement in script:
        engine.make(statement.name, statement.query)
    result = script[-1].name
    failed = engine.one(T.Select([(T.Agg("any", T.Col(program.err)), "failed")], result))
    if failed["failed"]:
        raise Declined(tr("some rows cannot be computed (a row error): the exact evaluator reports them"))
    return SqlResults(engine, graph, plan, program, result, [s.name for s in script])


def period_order(engine, graph, reading, relation: str) -> list | None:
    """A text (or one-of) period column's labels in the data, in time order as the exact evaluator puts them."""
    if not graph.period or graph.nodes[graph.period].type.kind not in ("text", "enum"):
        return None
    from pkrules.engine.population import period_key
    from pkrules.values.periods import PeriodLabelError

    column = T.Col(reading.inputs[graph.period].column)
    labels = engine.frame(T.Select([(column, "p")], relation, group_by=[column])).get_column("p").to_list()
    try:
        return sorted(labels, key=period_key(graph, labels))
    except PeriodLabelError as problem:
        raise Declined(tr("a period label cannot be put in order: {problem}", problem=str(problem)), notable=True) from None


def script_for(printer, graph, inputs: dict, size: int, caps, prefix: str = "pk", period_order: list | None = None):
    """The statements of a policy for inputs of the given ranges (for `pkrules sql`)."""
    from pkrules.engine.plan import compile_plan

    plan = compile_plan(graph)
    program = compile_sql(plan, graph, inputs, size, caps, period_order)
    program.input_relation = f"{prefix}_input"
    return program, statements(program, printer, prefix)
