"""DuckDB: the SQL of the plan in DuckDB's words, and the engine that runs it (embedded, no server).

Wide integers are HUGEINT; division is `//` on non-negative operands only
(DuckDB's `/` on DECIMAL returns a DOUBLE, and its `//` truncates); a DECIMAL
column's exact value comes from a cast to DECIMAL(38, s) times 10^s, never
from a rounding cast. Relations are temporary tables of one connection, so a
population larger than memory spills to disk (memory_limit, temp_directory).
"""

from __future__ import annotations

import re
from pathlib import Path

from pkrules.engine.results import BackendUnavailable, Declined
import pkrules.engine.sql.tree as T
from pkrules.engine.sql.compile import Caps
from pkrules.engine.sql.run import PY_WHITESPACE
from pkrules.engine.sql.sources import RawType, numbered
from pkrules.messages import tr


class DuckDBPrinter(T.Printer):
    name = "duckdb"
    narrow_type = "BIGINT"
    wide_type = "HUGEINT"
    text_type = "VARCHAR"

    def int_lit(self, value: int, wide: bool) -> str:
        if wide:
            return f"CAST('{value}' AS HUGEINT)"
        return f"{value}::BIGINT" if value >= 0 else f"({value})::BIGINT"

    def _Div(self, e: T.Div) -> str:
        return f"({self.expr(e.a)} // {self.expr(e.b)})"

    def _Mod(self, e: T.Mod) -> str:
        return f"({self.expr(e.a)} % {self.expr(e.b)})"

    def _Unscaled(self, e: T.Unscaled) -> str:
        ten = 10**e.scale
        return (f"CAST(CAST({self.expr(e.a)} AS DECIMAL(38,{e.scale})) * CAST({ten} AS DECIMAL({len(str(ten))},0))"
                " AS HUGEINT)")

    def fn_strip(self, a: str) -> str:
        return f"trim({a}, {self.text_lit(PY_WHITESPACE)})"

    def fn_edge_space(self, a: str) -> str:
        """Whether a cell starts or ends with white space (or is empty): cheaper than stripping every cell."""
        ws = self.text_lit(PY_WHITESPACE)
        return f"(contains({ws}, left({a}, 1)) OR contains({ws}, right({a}, 1)))"

    def fn_iso_year(self, a: str) -> str:
        return f"ISOYEAR({a})"

    def fn_iso_week(self, a: str) -> str:
        return f"WEEK({a})"

    def _ArgMin(self, e: T.ArgMin) -> str:
        fields = ", ".join(f"{self.text_lit(n)}: {self.expr(x)}" for n, x in e.fields)
        return f"{'ARG_MAX' if e.max else 'ARG_MIN'}({{{fields}}}, {self.expr(e.key)})"

    def _Field(self, e: T.Field) -> str:
        return f"struct_extract({self.expr(e.struct)}, {self.text_lit(e.name)})"


_TYPES = [
    (re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$"), "int"),
    (re.compile(r"^(FLOAT|DOUBLE|REAL)$"), "float"),
    (re.compile(r"^VARCHAR$"), "text"),
    (re.compile(r"^BOOLEAN$"), "bool"),
    (re.compile(r"^DATE$"), "date"),
]


def raw_type(name: str) -> RawType:
    m = re.match(r"^DECIMAL\((\d+),\s*(\d+)\)$", name)
    if m:
        return RawType("decimal", int(m[1]), int(m[2]), name)
    for pattern, kind in _TYPES:
        if pattern.match(name):
            return RawType(kind, name=name)
    return RawType("other", name=name)


def _import_duckdb():
    try:
        import duckdb
    except ImportError:
        raise BackendUnavailable(tr("the DuckDB engine is not installed: pip install 'pkrules[sql]' (or pip install duckdb)")) from None
    return duckdb


class DuckDBEngine:
    """One DuckDB connection: relations as temporary tables, results read back as polars frames."""

    def __init__(self, database: str | None = None, memory_limit: str | None = None, threads: int | None = None):
        duckdb = _import_duckdb()
        self.printer = DuckDBPrinter()
        self.caps = Caps()
        self.work: Path | None = None
        self.con = duckdb.connect(database or ":memory:")
        self._error = duckdb.Error
        settings = {"preserve_insertion_order": "false"}
        if memory_limit:
            settings["memory_limit"] = memory_limit
        if threads:
            settings["threads"] = str(threads)
        for key, value in settings.items():
            self.con.execute(f"SET {key} = '{value}'")
        self._copies = 0

    def _temp_directory(self) -> None:
        if self.work is not None:
            self.con.execute(f"SET temp_directory = '{(self.work / 'spill').as_posix()}'")

    def prepare(self, size: int) -> None:
        pass

    def sql(self, query) -> str:
        return query if isinstance(query, str) else self.printer.select(query, {})

    def execute(self, text: str):
        try:
            return self.con.execute(text)
        except self._error as e:  # an engine error is a decline, never a crash
            raise Declined(tr("DuckDB: {error}", error=str(e).splitlines()[0]), notable=True) from None

    def register_parquet(self, name: str, files: list, numbered_rows: bool):
        self._temp_directory()
        paths = ", ".join(self.printer.text_lit(Path(f).resolve().as_posix()) for f in files)
        if not numbered_rows:
            self.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{paths}])")
            return self.describe(name)
        if len(files) == 1:  # one file: its row numbers are the data's
            self.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number), "
                         f"file_row_number AS _row, file_row_number + 1 AS _line "
                         f"FROM read_parquet([{paths}], file_row_number = true)")
            return self.describe(name)
        self.execute(f"CREATE OR REPLACE TEMP VIEW {name}_file AS SELECT * EXCLUDE (filename, file_row_number), "
                     f"filename AS _file, file_row_number AS _pos "
                     f"FROM read_parquet([{paths}], filename = true, file_row_number = true)")
        self.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {self.printer.select(numbered(name + '_file'), {})}")
        return self.describe(name)

    def register_table(self, name: str, table: str, database: str | None):
        """A table of a DuckDB database file (the only one, unless named)."""
        self._temp_directory()
        if database is None:
            raise BackendUnavailable(tr("a DuckDB table needs its database file"))
        self.execute(f"ATTACH {self.printer.text_lit(str(database))} AS pk_source (READ_ONLY)")
        tables = [r[0] for r in self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'pk_source' ORDER BY 1").fetchall()]
        if table is None:
            if len(tables) != 1:
                raise BackendUnavailable(tr("{path}: name the table with --table (tables: {tables})",
                                            path=database, tables=", ".join(tables) or "none"))
            table = tables[0]
        elif table not in tables:
            raise BackendUnavailable(tr("{path}: no table named {table}; its tables: {tables}",
                                        path=database, table=table, tables=", ".join(tables) or "none"))
        quoted = f"pk_source.{self.printer.quote(table)}"
        self.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT *, "
                     f"ROW_NUMBER() OVER (ORDER BY rowid) - 1 AS _row, ROW_NUMBER() OVER (ORDER BY rowid) AS _line "
                     f"FROM {quoted}")
        return self.describe(name)

    def describe(self, name: str) -> dict[str, RawType]:
        rows = self.execute(f"DESCRIBE {name}").fetchall()
        return {r[0]: raw_type(r[1]) for r in rows if r[0] not in ("_row", "_line", "_file", "_pos")}

    def view(self, name: str, query) -> None:
        self.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {self.sql(query)}")

    def make(self, name: str, query: str) -> None:
        self.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}")

    def one(self, query) -> dict:
        cursor = self.execute(self.sql(query))
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
        return dict(zip(names, row))

    def rows(self, query) -> tuple[list[str], list[tuple]]:
        cursor = self.execute(self.sql(query))
        return [d[0] for d in cursor.description], cursor.fetchall()

    def frame(self, query):
        """A query's result as a polars frame, exactly (wide integers as Int128), through a Parquet file."""
        import polars as pl

        self._copies += 1
        path = (self.work or Path(".")) / f"fetch{self._copies}.parquet"
        text = self.sql(query)
        types = self.execute(f"DESCRIBE {text}").fetchall()
        cols = []
        for name, type_ in ((r[0], r[1]) for r in types):
            q = self.printer.quote(name)
            cols.append(f"CAST({q} AS DECIMAL(38,0)) AS {q}" if type_ == "HUGEINT" else q)
        self.execute(f"COPY (SELECT {', '.join(cols)} FROM ({text})) TO '{path.as_posix()}' (FORMAT PARQUET)")
        df = pl.read_parquet(path)
        path.unlink(missing_ok=True)
        wide = [r[0] for r in types if r[1] == "HUGEINT"]
        if wide:
            df = df.with_columns([pl.col(c).cast(pl.Int128) for c in wide])
        return df

    def close(self) -> None:
        try:
            self.con.close()
        except Exception:  # noqa: BLE001 - closing twice or after an engine error
            pass
