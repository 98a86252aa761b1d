"""The SQL backends: a policy's plan as exact SQL, run where the data is — DuckDB (embedded) or Apache Spark.

Results are exactly those of the exact evaluator (engine/exact.py), to the
cent, or the backend declines (engine/results.py: Declined) naming what it
cannot do, and the exact evaluator runs instead. Importing this package
imports neither engine; evaluating does (`pip install 'pkrules[sql]'`).

    tree.py      the SQL as a dialect-neutral tree, and the base printer
    numeric.py   exact integer expressions with ranges (38 digits at most)
    compile.py   the plan → the steps of one query (neutral)
    script.py    the steps → statements that materialise where a relation is read twice
    sources.py   the data's typed columns read and checked as the exact reader does
    run.py       read, check, compile, execute (any engine)
    duckdb.py    DuckDB's words and engine
    spark.py     Spark's words and engine (local or a cluster)
    results.py   the results (engine/results.py's shape), read from the engine when asked
"""

from __future__ import annotations


class DuckDBBackend:
    """Evaluate with DuckDB, in this process (a database file or in memory; spills to disk when large)."""

    name = "duckdb"

    def __init__(self, database: str | None = None, memory_limit: str | None = None, threads: int | None = None):
        _require("duckdb")
        self.database = database
        self.memory_limit = memory_limit
        self.threads = threads

    def engine(self):
        from pkrules.engine.sql.duckdb import DuckDBEngine

        return DuckDBEngine(self.database, self.memory_limit, self.threads)

    def evaluate(self, graph, population, progress=None):
        from pkrules.engine.sql.run import evaluate_sql

        engine = self.engine()
        try:
            return evaluate_sql(engine, graph, population)
        except BaseException:
            engine.close()
            raise


class SparkBackend:
    """Evaluate with Apache Spark: a local session by default, or the cluster of --spark-master / SPARK_REMOTE."""

    name = "spark"

    def __init__(self, master: str | None = None):
        _require("spark")
        self.master = master

    def engine(self):
        from pkrules.engine.sql.spark import SparkEngine

        return SparkEngine(self.master)

    def evaluate(self, graph, population, progress=None):
        from pkrules.engine.sql.run import evaluate_sql

        engine = self.engine()
        try:
            return evaluate_sql(engine, graph, population)
        except BaseException:
            engine.close()
            raise


def _require(name: str) -> None:
    reason = unavailable(name)
    if reason is not None:
        from pkrules.engine.results import BackendUnavailable
        from pkrules.messages import tr

        raise BackendUnavailable(tr("the {engine} backend cannot run here: {reason}",
                                    engine={"duckdb": "DuckDB", "spark": "Spark"}[name], reason=reason))


def unavailable(name: str) -> str | None:
    """Why an SQL backend cannot run on this machine (None: it can): for tests that skip, and the CLI."""
    if name == "duckdb":
        try:
            import duckdb  # noqa: F401
        except ImportError:
            return "duckdb is not installed (pip install 'pkrules[sql]')"
        return None
    if name == "spark":
        from pkrules.engine.sql.spark import missing

        return missing()
    return f"no SQL backend {name}"


__all__ = ["DuckDBBackend", "SparkBackend", "unavailable"]
