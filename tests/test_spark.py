"""The SQL backend on Apache Spark: a few policies on small samples, one local session for the module.

The session: local[2], bound to 127.0.0.1, no UI, two shuffle partitions, ANSI mode on (an overflow
is an error, never a NULL). Without pyspark or a Java runtime these tests are skipped, saying why
(scripts/setup.sh installs both). The differential test (tests/test_backends.py) runs Spark on a
handful of shipped and generated policies; these add what only Spark has: typed Parquet read by
Spark itself, a table of the session, the printed Spark SQL run on Spark, an explanation.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from fractions import Fraction as F
from pathlib import Path

import pytest

from pkrules.engine.sql import unavailable

REASON = unavailable("spark")
if REASON:
    pytest.skip(f"Spark cannot run here: {REASON}", allow_module_level=True)

pl = pytest.importorskip("polars")

from pkrules.engine.exact import evaluate as exact_evaluate  # noqa: E402
from pkrules.engine.population import engine_table, open_population  # noqa: E402
from pkrules.engine.results import Declined  # noqa: E402
from pkrules.engine.sql import SparkBackend  # noqa: E402
from pkrules.language.compile import compile_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
SAMPLE = POLICIES / "sample"
REFERENCE = POLICIES / "sales_incentive.pk"
MASTER = "local[2]"
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def spark():
    from pkrules.engine.sql.spark import session

    return session(MASTER)


def typed(value):
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, F)):
        return ("num", F(value))
    return (type(value).__name__, value)


def assert_same(graph, exact, results) -> None:
    assert not exact.errors and results.size == exact.size
    for node in graph.nodes:
        got, want = [typed(v) for v in results.columns[node]], [typed(v) for v in exact.columns[node]]
        assert got == want, (node, next((g, w) for g, w in zip(got, want) if g != w))


def _reference(tmp_path, n: int = 120) -> Path:
    from population import as_parquet_frame, population

    path = tmp_path / "people.parquet"
    as_parquet_frame(population(n, 5)).write_parquet(path)
    return path


def test_the_session_is_local_loopback_without_ui_and_ansi(spark):
    assert spark.sparkContext.master == MASTER
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    assert spark.conf.get("spark.ui.enabled") == "false"
    assert spark.conf.get("spark.driver.host") == "127.0.0.1"
    assert int(spark.conf.get("spark.sql.shuffle.partitions")) <= 4


def test_typed_parquet_read_by_spark_and_one_explanation(spark, tmp_path):
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_tree

    graph = compile_file(REFERENCE)
    path = _reference(tmp_path)
    population = open_population(graph, path)
    exact = exact_evaluate(graph, population.rows, population.row_numbers)
    results = SparkBackend(MASTER).evaluate(graph, open_population(graph, path))
    assert results.backend == "spark"
    assert_same(graph, exact, results)
    row = results.index_of("E0000042")
    assert row == exact.index_of("E0000042")
    for name in ("total", "elite", "team_fund"):
        assert render_tree(explain(results, row, name)) == render_tree(explain(exact, row, name))


def test_a_table_of_the_session(spark, tmp_path):
    graph = compile_file(REFERENCE)
    path = _reference(tmp_path, 60)
    spark.read.parquet(str(path)).createOrReplaceTempView("pk_test_agents")
    results = SparkBackend(MASTER).evaluate(graph, engine_table(graph, "pk_test_agents"))
    population = open_population(graph, path)
    assert_same(graph, exact_evaluate(graph, population.rows, population.row_numbers), results)


def test_a_floating_point_amount_is_declined_naming_the_column(spark, tmp_path):
    from population import as_parquet_frame, population

    graph = compile_file(REFERENCE)
    path = tmp_path / "float.parquet"
    as_parquet_frame(population(20, 1)).with_columns(pl.col("sales").cast(pl.Float64)).write_parquet(path)
    with pytest.raises(Declined) as declined:
        SparkBackend(MASTER).evaluate(graph, open_population(graph, path))
    assert "column sales is double" in declined.value.reason


def test_the_printed_spark_sql_runs_on_spark_to_the_exact_values(spark, tmp_path):
    """`pkrules sql --dialect spark` is the SQL the backend runs: executed statement by statement here."""
    import subprocess

    from pkrules.engine.columnar.io import read_table
    from pkrules.engine.plan import compile_plan
    from pkrules.engine.sql.run import write_local
    from pkrules.engine.sql.sources import allocate_names

    policy, data = POLICIES / "ranking.pk", SAMPLE / "ranking.csv"
    ran = subprocess.run([sys.executable, "-m", "pkrules.cli", "sql", str(policy), "--dialect", "spark", "--data", str(data)],
                         capture_output=True, text=True, cwd=ROOT)
    assert ran.returncode == 0, ran.stderr
    graph = compile_file(policy)
    table = read_table(compile_plan(graph), graph, data)
    spark.read.parquet(str(write_local(table, allocate_names(graph), tmp_path))).createOrReplaceTempView("pk_input")
    statements = [s.strip() for s in ran.stdout.split(";\n") if s.strip()]
    frame = None
    for statement in statements:
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if body:
            frame = spark.sql(body)
    rows = [r.asDict() for r in frame.collect()]
    population = open_population(graph, data)
    exact = exact_evaluate(graph, population.rows, population.row_numbers)
    assert len(rows) == exact.size
    for node in graph.definitions:
        for i, record in enumerate(rows):
            if node.name in record:
                got = record[node.name]
                got = F(str(got)) if isinstance(got, Decimal) else got
            else:
                got = F(int(record[f"{node.name}_numerator"]), int(record[f"{node.name}_denominator"]))
            assert typed(got) == typed(exact.columns[node.name][i]), (node.name, i)


def test_ranks_over_everyone_counted_in_buckets_on_spark(spark):
    """As on a large population (a window without PARTITION BY would run in one task): ranks, top N%
    and split positions over everyone counted in buckets, here from the first row."""
    from pkrules.engine.sql.compile import Caps
    from pkrules.engine.sql.run import evaluate_sql
    from pkrules.engine.sql.spark import QUOTIENT_LIMIT, SparkEngine

    graph = compile_file(POLICIES / "ranking.pk")
    population = open_population(graph, SAMPLE / "ranking.csv")
    engine = SparkEngine(MASTER)
    engine.caps = Caps(quotient_limit=QUOTIENT_LIMIT, buckets_from=0)
    results = evaluate_sql(engine, graph, population)
    assert_same(graph, exact_evaluate(graph, population.rows, population.row_numbers), results)


def test_a_spark_that_does_not_start_is_said_in_one_line():
    """A master that does not answer: the JVM's own reason, not Py4J's wrapper (nor its stack trace)."""
    from pkrules.engine.sql.spark import java_cause

    wrapped = Exception("An error occurred while calling None.org.apache.spark.sql.classic.SparkSession.\n"
                        ": java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext.\n"
                        "\tat org.apache.spark.SparkContext.assertNotStopped(SparkContext.scala:126)\n")
    assert java_cause(wrapped) == "java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext."
    assert java_cause(Exception("Java gateway process exited before sending its port number")) == (
        "Java gateway process exited before sending its port number")
