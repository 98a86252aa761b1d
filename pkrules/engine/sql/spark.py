"""Apache Spark: the SQL of the plan in Spark's words, and the engine that runs it (a local session or a cluster).

Spark's own decimal arithmetic is not exact enough to trust: `/` rounds to six
places, DECIMAL(38,18) × DECIMAL(38,18) silently becomes DECIMAL(38,6),
round() is half away from zero, `DIV` returns a BIGINT and wraps, and with ANSI
mode off an overflow is a NULL. So: ANSI mode on (an overflow is an error,
never a value); integers only, BIGINT or DECIMAL(38,0); and the one division
used is exact by construction — (a − a mod b) / b, whose quotient has no
decimals (it must stay below 10^32 for DECIMAL(38,6) to hold it, which the
compiler's range analysis checks: Caps.quotient_limit).

The session: `--spark-master URL` (or the `master` option), else SPARK_REMOTE
(Spark Connect), else the session spark-submit started, else `local[*]` bound to
127.0.0.1 with no UI. Relations are views of checkpointed DataFrames (the
lineage cut where a relation is read twice, see script.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pkrules.engine.results import BackendUnavailable, Declined
import pkrules.engine.sql.tree as T
from pkrules.engine.sql.compile import Caps
from pkrules.engine.sql.run import PY_WHITESPACE
from pkrules.engine.sql.sources import RawType, numbered
from pkrules.messages import tr

QUOTIENT_LIMIT = 10**32 - 1  # DECIMAL(38,0) / DECIMAL(38,0) is DECIMAL(38,6): 32 digits before the point
SMALL_ROWS = 50_000  # populations up to this size run without generated code, and come back by collect()


class SparkPrinter(T.Printer):
    name = "spark"
    narrow_type = "BIGINT"
    wide_type = "DECIMAL(38,0)"
    text_type = "STRING"

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def text_lit(self, value: str) -> str:
        # Spark reads backslash escapes inside string literals
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return "'" + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + "'"

    def int_lit(self, value: int, wide: bool) -> str:
        if wide:
            return f"CAST('{value}' AS DECIMAL(38,0))"
        return f"{value}L" if value >= 0 else f"({value}L)"

    def _Div(self, e: T.Div) -> str:
        a, b = self.expr(e.a), self.expr(e.b)
        if not e.wide:
            return f"({a} DIV {b})"
        return f"CAST(({a} - {a} % {b}) / {b} AS DECIMAL(38,0))"

    def _Mod(self, e: T.Mod) -> str:
        return f"({self.expr(e.a)} % {self.expr(e.b)})"

    def _Unscaled(self, e: T.Unscaled) -> str:
        ten = 10**e.scale
        return f"CAST({self.expr(e.a)} * CAST({ten} AS DECIMAL({len(str(ten))},0)) AS DECIMAL(38,0))"

    def create_table(self, name: str, query: str) -> str:
        # A table, not CACHE TABLE: a cached view keeps the plan of every statement before it, and Spark's
        # analyser would plan them all again at each step (it runs out of memory after a dozen)
        return f"DROP TABLE IF EXISTS {name};\nCREATE TABLE {name} USING parquet AS\n{query};"

    def fn_fail(self, message: str) -> str:
        return f"RAISE_ERROR({message})"

    def fn_strip(self, a: str) -> str:
        chars = "".join(c if c == " " else f"\\u{ord(c):04x}" for c in PY_WHITESPACE)
        return f"TRIM(BOTH '{chars}' FROM {a})"

    def fn_edge_space(self, a: str) -> str:
        """Whether a cell starts or ends with white space (or is empty): cheaper than stripping every cell."""
        ws = self.text_lit(PY_WHITESPACE)
        return f"(INSTR({ws}, LEFT({a}, 1)) > 0 OR INSTR({ws}, RIGHT({a}, 1)) > 0)"

    def fn_iso_year(self, a: str) -> str:
        return f"EXTRACT(YEAROFWEEK FROM {a})"

    def fn_iso_week(self, a: str) -> str:
        return f"WEEKOFYEAR({a})"

    def _ArgMin(self, e: T.ArgMin) -> str:
        fields = ", ".join(f"{self.text_lit(n)}, {self.expr(x)}" for n, x in e.fields)
        return f"{'MAX_BY' if e.max else 'MIN_BY'}(NAMED_STRUCT({fields}), {self.expr(e.key)})"

    def _Field(self, e: T.Field) -> str:
        return f"{self.expr(e.struct)}.{self.quote(e.name)}"


def missing() -> str | None:
    """Why Spark cannot run here (None: it can): pyspark, and a Java runtime unless Spark Connect is used."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'pkrules[sql]')"
    if os.environ.get("SPARK_REMOTE"):
        return None
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        return "no Java runtime: Spark needs Java 17 or later (e.g. apt-get install openjdk-17-jre-headless)"
    return None


_SESSIONS: dict = {}


def session(master: str | None = None):
    """The Spark session for a master (shared within the process: a session takes seconds to start)."""
    reason = missing()
    if reason:
        raise BackendUnavailable(tr("Spark cannot run here: {reason}", reason=reason))
    key = master or os.environ.get("SPARK_REMOTE") or "default"
    found = _SESSIONS.get(key)
    if found is not None:
        return found
    from pyspark.sql import SparkSession

    remote = os.environ.get("SPARK_REMOTE") if master is None else None
    if remote:
        builder = SparkSession.builder.remote(remote)
    else:
        builder = SparkSession.builder
        active = SparkSession.getActiveSession()
        # under spark-submit the JVM is already there (PYSPARK_GATEWAY_PORT) with the master it was given
        submitted = bool(os.environ.get("PYSPARK_GATEWAY_PORT"))
        if master is not None or (active is None and not submitted):
            url = master or "local[*]"
            builder = builder.master(url)
            if active is None and not submitted:  # we start the driver's JVM: only Spark's errors on stderr
                builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{_quiet_logs()}")
            if url.startswith("local"):
                cores = os.cpu_count() or 2
                import tempfile

                warehouse = tempfile.mkdtemp(prefix="pkrules-spark-warehouse-")  # not spark-warehouse/ in the cwd
                # the driver is the executor: room for the relations it keeps (default 1g; PKRULES_SPARK_MEMORY)
                memory = os.environ.get("PKRULES_SPARK_MEMORY", "4g")
                os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the loopback address, said once
                builder = (builder.config("spark.ui.enabled", "false")
                           .config("spark.driver.memory", memory)
                           .config("spark.sql.warehouse.dir", warehouse)
                           .config("spark.driver.host", "127.0.0.1")
                           .config("spark.driver.bindAddress", "127.0.0.1")
                           .config("spark.sql.shuffle.partitions", str(max(2, cores))))
        builder = (builder.appName("pkrules").config("spark.sql.session.timeZone", "UTC")
                   .config("spark.ui.showConsoleProgress", "false"))
    try:
        spark = builder.getOrCreate()
    except Exception as e:  # noqa: BLE001 - a JVM that does not start, a master that does not answer
        raise BackendUnavailable(tr("Spark did not start: {error}", error=java_cause(e))) from None
    spark.conf.set("spark.sql.ansi.enabled", "true")  # an overflow is an error, never a NULL
    try:
        spark.sparkContext.setLogLevel("OFF")
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext here
        pass
    _SESSIONS[key] = spark
    return spark


def java_cause(e: Exception) -> str:
    """What went wrong, in one line: the JVM's own exception where Py4J wraps one (a master that does not
    answer: "Cannot call methods on a stopped SparkContext"), not Py4J's "An error occurred while calling …"."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    for line in lines[1:]:
        if line.startswith(": "):
            return line[2:]
    return lines[0] if lines else type(e).__name__


_LOG4J = """status = error
rootLogger.level = error
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %m%n
appender.console.layout.alwaysWriteExceptions = false
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""
# logger.gateway: Spark takes a Python driver for a shell, whose logger it would set to WARN (saying "Setting
# default log level to WARN" and how to change it) unless the configuration names that logger itself.
# (The JVM's own "Using incubator modules" line cannot be turned off.)


def _quiet_logs() -> str:
    """A log4j2 configuration that prints only Spark's errors (not its start-up chatter) on stderr."""
    import tempfile

    path = Path(tempfile.gettempdir()) / "pkrules-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        path.write_text(_LOG4J)
    return path.as_posix()


def raw_type(t) -> RawType:
    from pyspark.sql import types as ST

    if isinstance(t, (ST.LongType, ST.IntegerType, ST.ShortType, ST.ByteType)):
        return RawType("int", name=t.simpleString())
    if isinstance(t, ST.DecimalType):
        return RawType("decimal", t.precision, t.scale, t.simpleString())
    if isinstance(t, (ST.DoubleType, ST.FloatType)):
        return RawType("float", name=t.simpleString())
    if isinstance(t, ST.StringType):
        return RawType("text", name=t.simpleString())
    if isinstance(t, ST.BooleanType):
        return RawType("bool", name=t.simpleString())
    if isinstance(t, ST.DateType):
        return RawType("date", name=t.simpleString())
    return RawType("other", name=t.simpleString())


class SparkEngine:
    """A Spark session's views: relations as checkpointed DataFrames, results read back as polars frames."""

    def __init__(self, master: str | None = None):
        self.master = master
        self.spark = session(master)
        self.printer = SparkPrinter()
        self.caps = Caps(quotient_limit=QUOTIENT_LIMIT, buckets_from=SMALL_ROWS)
        self.work: Path | None = None
        self.views: list[str] = []
        self.frames: list = []
        self._copies = 0
        self.small = False

    @property
    def local(self) -> bool:
        """Whether the driver's files are the executors' files (a local session)."""
        try:
            return self.spark.sparkContext.master.startswith("local")
        except Exception:  # noqa: BLE001 - Spark Connect
            return False

    def sql(self, query) -> str:
        return query if isinstance(query, str) else self.printer.select(query, {})

    def prepare(self, size: int) -> None:
        """Generated code pays off on large populations; on small ones compiling it costs more than it saves
        (seconds per statement), so they are interpreted."""
        small = size <= SMALL_ROWS
        self.spark.conf.set("spark.sql.codegen.wholeStage", "false" if small else "true")
        self.spark.conf.set("spark.sql.codegen.factoryMode", "NO_CODEGEN" if small else "FALLBACK")
        self.small = small

    def run(self, text: str):
        from pyspark.errors import PySparkException

        try:
            return self.spark.sql(text)
        except PySparkException as e:  # an engine error is a decline, never a crash
            raise Declined(tr("Spark: {error}", error=str(e).splitlines()[0]), notable=True) from None

    def _register(self, name: str, df) -> None:
        df.createOrReplaceTempView(name)
        self.views.append(name)

    def register_parquet(self, name: str, files: list, numbered_rows: bool):
        from pyspark.sql import functions as F

        paths = [Path(f).resolve().as_posix() for f in files]
        if not numbered_rows and not self.local:
            return self._register_local_rows(name, files[0])
        df = self.spark.read.parquet(*paths)
        if not numbered_rows:
            self._register(name, df)
            return self.describe(name)
        if len(paths) == 1:  # one file: its row numbers are the data's
            index = F.col("_metadata.row_index")
            self._register(name, df.select("*", index.alias("_row"), (index + 1).alias("_line")))
            return self.describe(name)
        df = df.select("*", F.col("_metadata.file_path").alias("_file"), F.col("_metadata.row_index").alias("_pos"))
        self._register(name + "_file", df)
        self._register(name, self.run(self.printer.select(numbered(name + "_file"), {})))
        return self.describe(name)

    def _register_local_rows(self, name: str, path) -> dict:
        """A table pkrules wrote, for executors that cannot read the driver's files: sent as rows."""
        import polars as pl
        from decimal import Decimal
        from pyspark.sql import types as ST

        frame = pl.read_parquet(path)
        fields = []
        for column, dtype in frame.schema.items():
            if dtype == pl.Int64:
                fields.append(ST.StructField(column, ST.LongType(), False))
            elif isinstance(dtype, pl.Decimal):
                fields.append(ST.StructField(column, ST.DecimalType(38, 0), False))
            elif dtype == pl.Boolean:
                fields.append(ST.StructField(column, ST.BooleanType(), False))
            elif dtype == pl.Date:
                fields.append(ST.StructField(column, ST.DateType(), False))
            else:
                fields.append(ST.StructField(column, ST.StringType(), False))
        rows = [tuple(Decimal(v) if isinstance(f.dataType, ST.DecimalType) else v for v, f in zip(row, fields))
                for row in frame.iter_rows()]
        self._register(name, self.spark.createDataFrame(rows, ST.StructType(fields)))
        return self.describe(name)

    def register_table(self, name: str, table: str, database: str | None):
        """A table of the session's catalog, numbered by partition (ids are stable once cached)."""
        from pyspark.sql import functions as F

        try:
            df = self.spark.table(table)
        except Exception as e:  # noqa: BLE001 - no such table
            raise BackendUnavailable(tr("Spark has no table {table}: {error}", table=table,
                                        error=str(e).splitlines()[0])) from None
        pid = F.spark_partition_id()
        df = df.select("*", pid.alias("_file"),
                       (F.monotonically_increasing_id() - F.shiftleft(pid.cast("long"), 33)).alias("_pos"))
        df = df.localCheckpoint(eager=True)
        self.frames.append(df)
        self._register(name + "_file", df)
        self._register(name, self.run(self.printer.select(numbered(name + "_file"), {})))
        return self.describe(name)

    def describe(self, name: str) -> dict[str, RawType]:
        schema = self.spark.table(name).schema
        return {f.name: raw_type(f.dataType) for f in schema.fields if f.name not in ("_row", "_line", "_file", "_pos")}

    def view(self, name: str, query) -> None:
        self._register(name, self.run(self.sql(query)))

    def make(self, name: str, query: str) -> None:
        """Materialise a relation (CACHE TABLE in the printed script; here a checkpoint, which also cuts
        the lineage so that the next statements are planned over a table, not over everything before)."""
        from pyspark.errors import PySparkException

        try:
            # a lazy cache would not do: each statement's plan would hold all the ones before it
            df = self.run(query).localCheckpoint(eager=True)
        except PySparkException as e:
            raise Declined(tr("Spark: {error}", error=str(e).splitlines()[0]), notable=True) from None
        self.frames.append(df)
        self._register(name, df)

    def one(self, query) -> dict:
        from pyspark.errors import PySparkException

        try:
            row = self.run(self.sql(query)).collect()[0]
        except PySparkException as e:
            raise Declined(tr("Spark: {error}", error=str(e).splitlines()[0]), notable=True) from None
        return {k: _python(v) for k, v in row.asDict().items()}

    def frame(self, query):
        """A query's result as a polars frame, exactly (DECIMAL(38,0) as Int128)."""
        import polars as pl
        from pyspark.sql import types as ST

        df = self.run(self.sql(query))
        fields = df.schema.fields
        if self.local and self.work is not None and not self.small:
            self._copies += 1
            folder = self.work / f"fetch{self._copies}"
            df.write.mode("overwrite").parquet(folder.as_posix())
            parts = sorted(folder.glob("*.parquet"))
            frame = pl.concat([pl.read_parquet(p) for p in parts]) if parts else None
            shutil.rmtree(folder, ignore_errors=True)
            if frame is None or frame.width == 0:
                frame = pl.DataFrame({f.name: [] for f in fields})
            # Spark writes a sorted result in order across part files named in order
        else:
            rows = df.collect()
            frame = pl.DataFrame({f.name: [_python(r[i]) for r in rows] for i, f in enumerate(fields)},
                                 strict=False)
        casts = []
        for f in fields:
            if isinstance(f.dataType, ST.DecimalType) and f.dataType.scale == 0:
                casts.append(pl.col(f.name).cast(pl.Int128))
            elif isinstance(f.dataType, ST.LongType):
                casts.append(pl.col(f.name).cast(pl.Int64))
        return frame.with_columns(casts) if casts else frame

    def close(self) -> None:
        for name in self.views:
            try:
                self.spark.catalog.dropTempView(name)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.views = []
        self.frames = []


def _python(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value
