"""Data in and out of the fast path: CSV and Parquet read straight into columns, results written back.

Reading follows pkrules/data.py cell for cell: the same header matching, the same
parsing of `48万`, `88%`, `¥5000`, `480,000.00`, yes/no words and dates, the same
limits. It is vectorised: no Python object per row. Whenever anything is off —
a bad cell, a duplicate key, a header problem, an odd CSV shape — it declines
(Declined), and the caller reads the file with data.read_csv, which lists every
problem in its own words.

A Parquet file means: every cell as polars renders it as text (null: empty), then
exactly the CSV rules. `parquet_as_csv_text` gives the exact path that same text.

Writing: CSV cells are exactly render.format_csv's (exact decimals; money with at
least two places; ten places, half-up, for values whose decimals do not end);
Parquet holds those same numbers as decimals (Decimal(38, s)), text, booleans and dates.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
import io
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import polars as pl

from pkrules.engine import plan as P
from pkrules.io.formats import is_parquet
from pkrules.values.cells import NO_LIST, YES_LIST
from pkrules.values.numbers import twos_and_fives
from pkrules.values.types import MONEY, PERCENT, WHOLE
from pkrules.engine.results import Declined
from pkrules.engine.columnar.numeric import Den, LIMIT, dtype_for
from pkrules.engine.columnar.values import ColMeta
from pkrules.engine.columnar.exact_text import decimal_of as exact_decimal
from pkrules.engine.columnar.results import ColumnarResults
from pkrules.messages import tr

# Python's str.strip() removes exactly these (str.isspace()); polars must strip the same.
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                 "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")  # (written out: 0.1 s of start-up otherwise)

@dataclass
class InputTable:
    frame: pl.DataFrame  # one column per input, named by the input
    meta: dict  # name → ColMeta
    size: int
    row_numbers: Sequence[int]  # a range when no row was left out


# ---- from Python rows (the API and the tests) ---------------------------------------------


def table_from_rows(plan: P.Plan, rows: list[dict]) -> InputTable:
    """The population evaluate() takes (dicts of Fractions, bools, str, dates) as columns."""
    columns: dict[str, pl.Series] = {}
    meta: dict[str, ColMeta] = {}
    for spec in plan.inputs:
        values = [r.get(spec.name) for r in rows]
        if spec.kind == P.NUM:
            fractions = [Fraction(v) for v in values]
            common = 1
            for f in fractions:
                common = math.lcm(common, f.denominator)
            if common >= (1 << 60):
                raise Declined(f"the values of {spec.name} have too fine fractions for columns")
            nums = [f.numerator * (common // f.denominator) for f in fractions]
            lo, hi = (min(nums), max(nums)) if nums else (0, 0)
            columns[spec.name] = pl.Series(spec.name, nums, dtype=dtype_for(max(abs(lo), abs(hi))))
            meta[spec.name] = ColMeta(P.NUM, Den(common), lo, hi)
        else:
            dtype = {P.BOOL: pl.Boolean, P.TEXT: pl.String, P.DATE: pl.Date}[spec.kind]
            columns[spec.name] = pl.Series(spec.name, values, dtype=dtype)
            meta[spec.name] = ColMeta(spec.kind)
    frame = pl.DataFrame(columns) if columns else pl.DataFrame()
    return InputTable(frame, meta, len(rows), list(range(1, len(rows) + 1)))


# ---- reading files ---------------------------------------------------------------------------


def read_table(plan: P.Plan, graph, path) -> InputTable:
    path = Path(path)
    floats: set[str] = set()
    parquet = is_parquet(path)
    if parquet:
        # the header from the file's schema, then only the columns the policy reads
        names = _parquet_names(path)
        everywhere = _match_header(graph, [str(c).strip() for c in names])
        wanted = sorted(set(everywhere.values()))
        cells, floats = _read_parquet_cells(path, [names[k] for k in wanted])
        positions = {name: wanted.index(k) for name, k in everywhere.items()}
    else:
        header, cells = _read_csv_cells(path)
        positions = _match_header(graph, header)
    for spec in plan.inputs:
        if spec.type.kind == MONEY and cells.columns[positions[spec.name]] in floats and cells.select(
                pl.col(cells.columns[positions[spec.name]]).str.contains(r"\.[0-9]{3,}$").any()).item():
            raise Declined(f"money beyond the cent in the binary numbers of {spec.name}")  # the exact path reports it
    row_numbers = pl.int_range(1, cells.height + 1, dtype=pl.Int64, eager=True)
    filtered = False
    try:
        columns, meta = _parse_inputs(plan, cells, positions, parquet)
    except _EmptyCell:
        # Rows whose every cell is blank are skipped by data.read_csv (they still count as rows): every column counts.
        if parquet and cells.width < len(names):
            cells, _ = _read_parquet_cells(path)
            positions = everywhere
        blank = cells.select(pl.all_horizontal([_strip(_text_of(pl.col(c), cells.schema[c])) == ""
                                                for c in cells.columns]).alias("b")).get_column("b")
        if not blank.any():
            raise Declined("an empty cell") from None
        cells, row_numbers = cells.filter(~blank), row_numbers.filter(~blank)
        filtered = True
        try:
            columns, meta = _parse_inputs(plan, cells, positions, parquet)
        except _EmptyCell:
            raise Declined("an empty cell") from None
    frame = pl.DataFrame(columns)
    if frame.height:
        ids = [plan.key] + ([plan.period] if plan.period else [])  # each employee once (per period)
        keys = frame.get_column(plan.key)
        key = pl.col(plan.key)
        # ids often come in order: each above the one before (one pass) means none twice
        if plan.period is None and frame.select((key > key.shift(1)).all()).item():
            twice = False
        elif plan.period is None and keys.is_sorted():  # in order with a twin: it is the neighbour's
            twice = bool((keys == keys.shift(1)).any())
        else:
            hashed = frame.select(pl.struct(ids).hash().alias("h")).get_column("h")
            twice = hashed.n_unique() != frame.height and frame.select(pl.struct(ids).is_duplicated().any()).item()
        if twice:
            raise Declined("a key appears twice")
    # rows numbered 1, 2, 3…: a range (a million Python ints are 0.1 s); else the numbers kept
    numbers = range(1, frame.height + 1) if not filtered else row_numbers.to_list()
    return InputTable(frame, meta, frame.height, numbers)


class _EmptyCell(Exception):
    pass


def _parquet_names(path: Path) -> list[str]:
    """The column names of a Parquet file, from its schema (nothing else is read)."""
    from pkrules.errors import DataError
    from pkrules.files import require_regular

    try:
        require_regular(path, DataError, "")
        return list(pl.read_parquet_schema(path))
    except Exception as e:  # unreadable: let the exact path say so
        raise Declined(f"cannot read {path} as Parquet: {e}") from None


def _read_parquet_cells(path: Path, columns: list[str] | None = None) -> tuple[pl.DataFrame, set[str]]:
    """A Parquet file's columns (those named, else all): those whose type says their values as they are
    (integers, decimals, yes/no, dates, text); every other column as the text the exact path reads
    (io/formats.py: parquet_text_columns — floats to 15 significant digits, lists and durations as their
    Python text). Also: which columns held floats."""
    from pkrules.errors import DataError
    from pkrules.files import require_regular
    from pkrules.io.formats import parquet_text_columns

    try:
        require_regular(path, DataError, "")
        cells = pl.read_parquet(path, columns=columns)
    except Exception as e:  # unreadable: let the exact path say so
        raise Declined(f"cannot read {path} as Parquet: {e}") from None
    other = [c for c in cells.columns if not _keeps_its_type(cells.schema[c])]
    if not other:
        return cells, set()
    text, floats = parquet_text_columns(cells.select(other))
    return cells.with_columns(text.get_columns()), set(floats)


def _keeps_its_type(dtype) -> bool:
    return dtype.is_integer() or isinstance(dtype, pl.Decimal) or dtype in (pl.Boolean, pl.Date, pl.String)


def _parse_inputs(plan: P.Plan, cells: pl.DataFrame, positions: dict[str, int], parquet: bool = False):
    """Every input column parsed and checked in three queries over all the columns (polars runs the columns
    in parallel): the text of the text columns and the integers of the typed numbers; every check at once
    (empty cells, plain-number shapes, one-of values, each typed number's range, decimals and limits);
    then each column is finished, the typed numbers in one more query. A problem is declined in the order
    of the inputs, as a column at a time would find it."""
    parsed: dict[str, tuple[pl.Series, ColMeta]] = {}
    sources: dict[str, str] = {}  # name → its column in cells, for the inputs read from their text
    numeric: list[str] = []
    typed: dict[str, tuple[pl.Expr, object, int]] = {}  # name → (its exact integers n, their dtype, scale: n / 10^scale)
    for spec in plan.inputs:
        source = cells.columns[positions[spec.name]]
        column = cells.get_column(source)
        direct = _typed_column(spec, column)
        if direct is not None:
            parsed[spec.name] = direct
            continue
        number = _typed_number(spec, column)
        if number is not None:
            typed[spec.name] = number
            continue
        sources[spec.name] = source
        if spec.kind == P.NUM:
            numeric.append(spec.name)
    spaced = _with_whitespace(cells, sources)
    # A column without whitespace is its own stripped text, and has no carriage return (one is whitespace)
    texts = {name: (_strip(_text_of(pl.col(source), cells.schema[source])) if name in spaced
                    else _text_of(pl.col(source), cells.schema[source])).alias(name) for name, source in sources.items()}
    if not texts and not typed:
        return _assemble(plan, parsed)
    lazy = cells.lazy().select(list(texts.values()) + [n.alias(f"{name}#n") for name, (n, _, _) in typed.items()])
    parts = []
    for name in numeric:
        parts += _plain_number_parts(name)
    frame = (lazy.with_columns(parts) if parts else lazy).collect()
    checks = [(pl.col(name) == "").any().alias(f"{name}#empty") for name in texts]
    for name in numeric:
        checks += [pl.col(f"{name}#ok").all().alias(f"{name}#ok"), pl.col(f"{name}#pct").any().alias(f"{name}#pct"),
                   pl.col(f"{name}#e").max().alias(f"{name}#emax"), pl.col(f"{name}#e").min().alias(f"{name}#emin")]
    for spec in plan.inputs:
        if spec.name == plan.key and spec.name in numeric:
            checks.append(pl.col(spec.name).str.contains(r"^[-+－]?\s*0[0-9]").any().alias(f"{spec.name}#zeros"))
        if spec.name in texts and spec.kind == P.TEXT and spec.type.kind == "enum":
            checks.append(pl.col(spec.name).is_in(list(spec.enum_values)).all().alias(f"{spec.name}#oneof"))
        if spec.name in spaced and spec.kind == P.TEXT and parquet:  # (as bytes: twice as fast as str.contains)
            checks.append(pl.col(spec.name).cast(pl.Binary).bin.contains(b"\r").any().alias(f"{spec.name}#cr"))
        if spec.name in typed:
            _, dtype, scale = typed[spec.name]
            checks += _number_facts(spec, f"{spec.name}#n", dtype, scale, spec.name)
    found = frame.select(checks).row(0, named=True)
    finished: dict[str, pl.Expr] = {}
    for spec in plan.inputs:  # in the order a column at a time declines
        if spec.name in typed:
            _, dtype, scale = typed[spec.name]
            finished[spec.name], meta = _finish_number_from(spec, frame, f"{spec.name}#n", dtype, scale, found, spec.name)
            parsed[spec.name] = (None, meta)
        elif found.get(f"{spec.name}#zeros"):
            raise Declined("a key with leading zeros")
    if finished:
        made = frame.select([e.alias(name) for name, e in finished.items()])
        for name in finished:
            parsed[name] = (made.get_column(name), parsed[name][1])
    if any(found[f"{name}#empty"] for name in texts):
        raise _EmptyCell()
    for spec in plan.inputs:
        if spec.name not in texts:
            continue
        text = frame.get_column(spec.name)
        if found.get(f"{spec.name}#cr"):
            # the exact path reads a Parquet file through CSV text, where a lone CR ends a line: let it
            raise Declined(f"a carriage return in a text cell of {spec.name}")
        if spec.kind != P.NUM:
            parsed[spec.name] = _parse_text_column(spec, text, found.get(f"{spec.name}#oneof"))
        elif found[f"{spec.name}#ok"]:
            if spec.type.kind != PERCENT and found[f"{spec.name}#pct"]:
                raise Declined(f"a percentage in {spec.name}")
            parsed[spec.name] = _scaled(spec, frame.select(pl.col(f"{spec.name}#m").alias("m"),
                                                           pl.col(f"{spec.name}#e").alias("e")),
                                        found[f"{spec.name}#emin"], found[f"{spec.name}#emax"])
        else:
            df = _parse_numbers_general(spec, text)
            parsed[spec.name] = _scaled(spec, df, df.get_column("e").min(), df.get_column("e").max())
    return _assemble(plan, parsed)


def _with_whitespace(cells: pl.DataFrame, sources: dict[str, str]) -> set[str]:
    """Which of the text columns (name → its column in cells) hold whitespace anywhere, in one query: only those
    need stripping (a copy of every cell, three times the time of this search) and a search for carriage
    returns. Columns that are not text are counted in (their text is made for them)."""
    searched = {name: source for name, source in sources.items() if cells.schema[source] == pl.String}
    spaced = set(sources) - set(searched)
    if searched:
        found = cells.select([pl.col(source).str.contains_any(_WHITESPACE_CHARS).any().alias(name)
                              for name, source in searched.items()]).row(0, named=True)
        spaced |= {name for name, there in found.items() if there}
    return spaced


_WHITESPACE_CHARS = list(PY_WHITESPACE)


def _assemble(plan: P.Plan, parsed: dict) -> tuple[list[pl.Series], dict]:
    columns = [parsed[spec.name][0].alias(spec.name) for spec in plan.inputs]
    meta = {spec.name: parsed[spec.name][1] for spec in plan.inputs}
    return columns, meta


def _read_csv_cells(path: Path) -> tuple[list[str], pl.DataFrame]:
    from pkrules.errors import DataError
    from pkrules.files import read_bytes
    from pkrules.io.tables import read_text

    try:
        raw = read_bytes(path, DataError, "")  # a regular file only: /dev/zero has no end, a FIFO may wait for ever
    except DataError as e:
        raise Declined(f"cannot read the file: {e}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        raw.decode("utf-8")  # as data.read_text: UTF-8 (with or without BOM), else GB18030
    except UnicodeDecodeError:
        try:
            raw = read_text(path).encode("utf-8")
        except DataError as e:
            raise Declined(str(e)) from None
    if b"\x00" in raw or not raw.strip():
        raise Declined("not a CSV file the fast path reads")
    frame = None
    if b'"' not in raw and raw.count(b"\r") == raw.count(b"\r\n"):
        # No quoting and plain line ends: polars splits exactly as the csv module does.
        try:
            frame = pl.read_csv(io.BytesIO(raw), has_header=False, infer_schema=False,
                                quote_char=None, raise_if_empty=False)
        except Exception:
            frame = None
    if frame is None:
        from pkrules.io.tables import csv_reader

        try:
            records = list(csv_reader(raw.decode("utf-8")))
        except csv.Error as e:  # a cell over the csv module's limit…: the exact path says where and why
            raise Declined(f"the csv module cannot read it: {e}") from None
        if not records:
            raise Declined("an empty file")
        width = len(records[0])
        if any(len(r) > width for r in records[1:]):
            raise Declined("a row has more cells than the header")
        data = {f"column_{k + 1}": [r[k] if k < len(r) else "" for r in records] for k in range(width)}
        frame = pl.DataFrame(data, schema={k: pl.String for k in data})
    if frame.height == 0:
        raise Declined("an empty file")
    first = frame.row(0)
    header = [("" if v is None else str(v)).strip() for v in first]
    cells = frame.slice(1)
    cells.columns = [f"#c{k}" for k in range(cells.width)]
    return header, cells


def _match_header(graph, header: list[str]) -> dict[str, int]:
    """Input name → position in the header, as data.read_csv matches them (else Declined)."""
    aliases = {(n.decl.column or n.name): n.name for n in graph.inputs}
    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        name = aliases.get(column, column if column in graph.nodes and graph.nodes[column].is_input else None)
        if name is not None:
            if name in positions:
                raise Declined("a column appears twice in the header")
            positions[name] = index
    if any(n.name not in positions for n in graph.inputs):
        raise Declined("the header lacks a column")
    return positions


def _text_of(expr: pl.Expr, dtype) -> pl.Expr:
    """A column as the text data.read_csv would see (null → empty)."""
    if dtype != pl.String:
        expr = expr.cast(pl.String)
    return expr.fill_null("")


def _strip(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars(PY_WHITESPACE)


# data.parse_cell's numbers (numbers.parse_literal), for the common ASCII shapes; any
# other cell goes to parse_cell itself.
_NUMBER = (r"^([-+－]?)[ \t]*([¥￥]?)[ \t]*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?"
           r"[ \t]*(万|亿)?[ \t]*(元|%|％)?$")


def _typed_column(spec: P.PlanInput, column: pl.Series) -> tuple[pl.Series, ColMeta] | None:
    """A Parquet column of yes/no or dates whose type already says its values (the same as their text would)."""
    kind = spec.kind
    if column.null_count():
        return None
    if kind == P.BOOL and column.dtype == pl.Boolean:
        return column, ColMeta(P.BOOL)
    if kind == P.DATE and column.dtype == pl.Date:
        return column, ColMeta(P.DATE)
    return None


def _typed_number(spec: P.PlanInput, column: pl.Series) -> tuple[pl.Expr, object, int] | None:
    """A Parquet column of integers or decimals as exact integers n over 10^scale: (the expression of n, its
    dtype, scale), to be checked and finished with the other columns; None when its type does not say it."""
    if spec.kind != P.NUM or column.null_count():
        return None
    source = pl.col(column.name)
    if column.dtype.is_integer():
        return (source, pl.Int64, 0) if column.dtype == pl.Int64 else (source.cast(pl.Int128), pl.Int128, 0)
    if isinstance(column.dtype, pl.Decimal) and column.dtype.scale <= 30:
        # a decimal is held as its unscaled integer: that integer over 10^scale is the exact value
        precision = column.dtype.precision
        dtype = pl.Int64 if precision is not None and precision <= 18 else pl.Int128
        return source.to_physical().cast(dtype), dtype, column.dtype.scale
    return None


def _parse_text_column(spec: P.PlanInput, text: pl.Series, one_of: bool | None = None) -> tuple[pl.Series, ColMeta]:
    """Text, one-of, yes/no and date cells (stripped, none empty); one_of: whether every cell is one of the
    values, when already known."""
    kind = spec.kind
    if kind == P.TEXT and spec.type.kind == "enum":
        if not (text.is_in(list(spec.enum_values)).all() if one_of is None else one_of):
            raise Declined(f"a value of {spec.name} is not one of its values")
        return text, ColMeta(P.TEXT)
    if kind == P.TEXT:
        return text, ColMeta(P.TEXT)
    if kind == P.BOOL:
        lowered = text.str.to_lowercase()
        yes, no = lowered.is_in(YES_LIST), lowered.is_in(NO_LIST)
        if not (yes | no).all():
            raise Declined(f"a value of {spec.name} is not yes or no")
        return yes.alias(spec.name), ColMeta(P.BOOL)
    if kind == P.DATE:
        from pkrules.values.cells import parse_date

        mapping = {}
        for value in text.unique().to_list():
            parsed = parse_date(value)
            if parsed is None:
                raise Declined(f"a value of {spec.name} is not a date")
            mapping[value] = parsed
        return text.replace_strict(mapping, return_dtype=pl.Date), ColMeta(P.DATE)
    raise AssertionError(kind)


# Plain decimals (with a sign, a percent sign): the common case, parsed without a regex per cell.
_PLAIN = r"^[-+]?[0-9]{1,18}(\.[0-9]{1,18})?%?$"


def _plain_number_parts(name: str) -> list[pl.Expr]:
    """For a column of plain decimals: ok (the cell is one), pct, the mantissa m and the places e (value = m / 10^e)."""
    t = pl.col(name)
    pct = t.str.ends_with("%")
    body = t.str.strip_chars_end("%").str.strip_chars_start("+-")
    dot = body.str.find(".", literal=True)
    places = pl.when(dot.is_null()).then(0).otherwise(body.str.len_bytes().cast(pl.Int32) - dot.cast(pl.Int32) - 1)
    ok = t.str.contains(_PLAIN)
    mant = pl.when(ok).then(body.str.replace(".", "", literal=True).cast(pl.Int128, strict=False)).otherwise(
        pl.lit(0, dtype=pl.Int128))
    return [
        ok.alias(f"{name}#ok"), pct.alias(f"{name}#pct"),
        pl.when(t.str.starts_with("-")).then(pl.lit(0, dtype=pl.Int128) - mant).otherwise(mant).alias(f"{name}#m"),
        (places + pl.when(pct).then(2).otherwise(0)).cast(pl.Int32).alias(f"{name}#e"),
    ]


def _scaled(spec: P.PlanInput, df: pl.DataFrame, e_min, e_max) -> tuple[pl.Series, ColMeta]:
    """m / 10^e per row (columns m, e) as one column of n / 10^scale."""
    scale = max(0, int(e_max or 0))
    if e_min == scale:
        n = df.get_column("m")
    else:
        shift = scale - pl.col("e")
        biggest = df.select(pl.col("m").abs().max()).item() or 0
        if len(str(biggest)) + scale - int(e_min or 0) > 36:  # (a bound: the biggest mantissa, shifted the most)
            raise Declined(f"a number in {spec.name} is too long for the fast path")
        n = df.select((pl.col("m") * pl.lit(10, dtype=pl.Int128).pow(shift.cast(pl.UInt32))).alias("n")).get_column("n")
    return _finish_number(spec, n, scale)


def _parse_numbers_general(spec: P.PlanInput, text: pl.Series) -> pl.DataFrame:
    """Every shape numbers.parse_literal reads: 48万, 1.2亿, ¥5000, 5000元, 480,000.00, 88%."""
    from pkrules.values.cells import parse_cell
    from pkrules.values.numbers import decimal_places

    parts = pl.DataFrame({"t": text}).select(pl.col("t").str.extract_groups(_NUMBER).alias("g")).unnest("g")
    parts.columns = ["sign", "cur", "digits", "frac", "scale", "unit"]
    df = pl.DataFrame({"t": text}).hstack(parts)
    df = df.with_columns(
        matched=pl.col("digits").is_not_null(),
        mantissa_text=pl.col("digits").str.replace_all(",", "", literal=True)
        + pl.col("frac").fill_null("").str.slice(1),
        places=pl.col("frac").fill_null("").str.len_chars().cast(pl.Int32) - 1,
        pct=pl.col("unit").is_in(["%", "％"]).fill_null(False),
        negative=pl.col("sign").is_in(["-", "－"]).fill_null(False),
    ).with_columns(places=pl.max_horizontal(pl.col("places"), pl.lit(0)))
    df = df.with_columns(
        exponent=pl.col("places") + pl.when(pl.col("pct")).then(2).otherwise(0)
        - pl.when(pl.col("scale") == "万").then(4).when(pl.col("scale") == "亿").then(8).otherwise(0),
        too_long=pl.col("mantissa_text").str.len_chars() > 30,
    )
    if spec.type.kind != PERCENT and df.get_column("pct").any():
        raise Declined(f"a percentage in {spec.name}")
    if spec.type.kind != MONEY and df.select(((pl.col("cur").fill_null("") != "") | (pl.col("unit") == "元")).any()).item():
        raise Declined(f"an amount of money in {spec.name}")
    unmatched = df.filter(~pl.col("matched") | pl.col("too_long").fill_null(False))
    extra: dict[str, tuple[int, int]] = {}
    if unmatched.height:
        for raw in unmatched.get_column("t").unique().to_list():
            try:
                value = parse_cell(spec.type, raw)
            except ValueError:
                raise Declined(f"a bad cell in {spec.name}") from None
            e = decimal_places(value)
            mant = value * 10**e
            if mant.denominator != 1 or abs(mant.numerator) >= 10**30:
                raise Declined(f"a number in {spec.name} is too long for the fast path")
            extra[raw] = (int(mant.numerator), e)
    mant = pl.col("mantissa_text").cast(pl.Int128, strict=False)
    signed = pl.when(pl.col("negative")).then(pl.lit(0, dtype=pl.Int128) - mant).otherwise(mant)
    df = df.with_columns(m=signed, e=pl.col("exponent").cast(pl.Int32))
    if extra:
        keys = list(extra)
        table = pl.DataFrame({"t": keys, "xm": pl.Series([extra[k][0] for k in keys], dtype=pl.Int128),
                              "xe": pl.Series([extra[k][1] for k in keys], dtype=pl.Int32)})
        df = df.join(table, on="t", how="left", maintain_order="left").with_columns(
            m=pl.when(pl.col("xm").is_not_null()).then(pl.col("xm")).otherwise(pl.col("m")),
            e=pl.when(pl.col("xm").is_not_null()).then(pl.col("xe")).otherwise(pl.col("e")))
    return df.select("m", "e")


def _finish_number(spec: P.PlanInput, n: pl.Series, scale: int) -> tuple[pl.Series, ColMeta]:
    """Exact numbers n / 10^scale: drop needless decimals, check whole numbers and limits."""
    df = pl.DataFrame({"n": n})
    dtype = n.dtype if n.dtype in (pl.Int64, pl.Int128) else pl.Int128
    found = df.select(_number_facts(spec, "n", dtype, scale, "n")).row(0, named=True)
    expr, meta = _finish_number_from(spec, df, "n", dtype, scale, found, "n")
    return df.select(expr.alias("n")).get_column("n"), meta


def _number_facts(spec: P.PlanInput, col: str, dtype, scale: int, at: str) -> list[pl.Expr]:
    """Aggregates over a column of exact integers n (the values n / 10^scale), for _finish_number_from:
    the range (at#lo, at#hi), the decimals every value can drop (at#zK: 10^K divides them all) and, when
    no product can overflow, whether every value is within the input's limits (at#in)."""
    n = pl.col(col)
    aggs = [n.min().alias(f"{at}#lo"), n.max().alias(f"{at}#hi")]
    if scale:  # (the further powers of ten only when 10 divides them all: _finish_number_from asks)
        aggs.append(_divisible(n, 1, dtype).all().alias(f"{at}#z1"))
    limits = _limits(spec)
    # n × a denominator and a numerator × 10^scale stay below 2^126 (the check is exact at any scale:
    # dropping decimals divides both sides by the same power of ten)
    if limits and dtype == pl.Int64 and all(b.denominator < (1 << 63) and abs(b.numerator * 10**scale) < LIMIT
                                            for _, b in limits):
        aggs.append(_within_limits(n, limits, 10**scale).alias(f"{at}#in"))
    return aggs


def _divisible(n: pl.Expr, k: int, dtype) -> pl.Expr:
    """Whether 10^k divides n (n − ⌊n / 10^k⌋ · 10^k is 0): three times as fast as polars' n % 10^k, which also
    makes the sign of the remainder Python's."""
    p = pl.lit(10**k, dtype=dtype if k <= 18 else pl.Int128)
    return n - (n // p) * p == 0


def _within_limits(n: pl.Expr, limits: list[tuple[str, Fraction]], den: int) -> pl.Expr:
    """Whether every value n / den is within the limits (an aggregate)."""
    checks = []
    for op, bound in limits:
        left = n.cast(pl.Int128) * pl.lit(bound.denominator, dtype=pl.Int128)
        right = pl.lit(bound.numerator * den, dtype=pl.Int128)
        checks.append({">=": left >= right, ">": left > right, "<=": left <= right, "<": left < right,
                       "=": left == right, "!=": left != right}[op])
    return pl.all_horizontal(checks).all()


def _finish_number_from(spec: P.PlanInput, frame: pl.DataFrame, col: str, dtype, scale: int, found: dict,
                        at: str) -> tuple[pl.Expr, ColMeta]:
    """The column of exact integers n (values n / 10^scale) with needless decimals dropped, as an expression
    over frame, from its facts (_number_facts); declines a fraction of a whole number, a value too large
    for the fast path, a value outside the input's limits."""
    lo, hi = int(found[f"{at}#lo"] or 0), int(found[f"{at}#hi"] or 0)
    n = pl.col(col)
    drop = 0
    if scale and found[f"{at}#z1"]:
        more = frame.select([_divisible(n, k, dtype).all().alias(f"z{k}") for k in range(2, scale + 1)]).row(0) \
            if scale > 1 else ()
        drop = 1 + sum(1 for _ in itertools.takewhile(bool, more))
    if drop:
        n = n // pl.lit(10**drop, dtype=dtype if drop <= 18 else pl.Int128)
        scale, lo, hi = scale - drop, lo // 10**drop, hi // 10**drop
    if spec.type.kind == WHOLE and scale > 0:
        raise Declined(f"a value of {spec.name} is not a whole number")
    den = 10**scale
    limits = _limits(spec)
    for _, bound in limits:
        if max(abs(lo), abs(hi)) * bound.denominator >= LIMIT or abs(bound.numerator * den) >= LIMIT:
            raise Declined(f"a value of {spec.name} is too large for the fast path")
    within = found.get(f"{at}#in")
    if within is None and limits:
        within = frame.select(_within_limits(n, limits, den)).item()
    if limits and not within:
        raise Declined(f"a value of {spec.name} is outside its limits")
    return n.cast(dtype_for(max(abs(lo), abs(hi)))), ColMeta(P.NUM, Den(den), lo, hi)


def _limits(spec: P.PlanInput) -> list[tuple[str, Fraction]]:
    out = []
    if spec.low is not None and spec.high is not None:
        out += [(">=", Fraction(spec.low)), ("<=", Fraction(spec.high))]
    out += [(op, Fraction(b)) for op, b in spec.compares]
    return out


def _round_ten(n: pl.Expr, d: pl.Expr) -> pl.Expr:
    """round_half_up(n / d, 1e-10) × 10^10, for d ≥ 1 (Int128)."""
    big = n.abs() * pl.lit(10**10, dtype=pl.Int128)
    k = (big * 2 + d) // (d * 2)
    return pl.when(n < 0).then(pl.lit(0, dtype=pl.Int128) - k).otherwise(k)


DIGITS_38 = 10**38


class _Formatter:
    """The fast path's columns as numbers.format_exact writes them, and as Parquet decimals.

    Each numeric column is brought to fixed point: where `term` holds, the value is exactly
    m / 10^k; elsewhere (decimals that do not end) it is q / 10^10, rounded half-up — the two
    cases of format_exact. Text and decimals come from the same integers; all the columns are
    computed in one polars query (in parallel).
    """

    def __init__(self, results: ColumnarResults):
        self.results = results
        self.work = results.frame
        self.fixed: dict[str, tuple | None] = {}

    def _fixed(self, name: str):
        """(term, m, k, q) expressions, or None when the numbers would not fit 38 digits."""
        if name in self.fixed:
            return self.fixed[name]
        results = self.results
        meta = results.meta[name]
        n = pl.col(name).cast(pl.Int128)
        lo, hi = self.work.select(pl.col(name).min().alias("lo"), pl.col(name).max().alias("hi")).row(0)
        bound = max(abs(lo or 0), abs(hi or 0))  # the data's own range (the plan's is wider)
        den = meta.den
        out = None
        if den.const:
            c = den.c
            a, b, r = twos_and_fives(c)
            k = max(a, b)
            if bound * 10**k // (c // r) < DIGITS_38 and bound * 10**10 * 2 + c < LIMIT:
                if r == 1:
                    out = (None, n * pl.lit(10**k // c, dtype=pl.Int128), k, None)
                else:
                    m = (n // pl.lit(r, dtype=pl.Int128)) * pl.lit(10**k // (c // r), dtype=pl.Int128)
                    out = (n % pl.lit(r, dtype=pl.Int128) == 0, m, k, _round_ten(n, pl.lit(c, dtype=pl.Int128)))
        else:
            out = self._fixed_rational(name, n, bound, den)
        self.fixed[name] = out
        return out

    def _fixed_rational(self, name: str, n: pl.Expr, bound: int, den: Den):
        # D = c × Π factors: the value's decimals end iff the part of D prime to 10 divides n
        results = self.results
        a0, b0, r0 = twos_and_fives(den.c)
        r, v2, v5 = pl.lit(r0, dtype=pl.Int128), pl.lit(a0, dtype=pl.Int32), pl.lit(b0, dtype=pl.Int32)
        d, d_hi = pl.lit(den.c, dtype=pl.Int128), den.c
        for fid, mult in den.factors:
            fr, fa, fb = self._factor_parts(fid)
            f = results.factors[fid].n.expr.cast(pl.Int128)
            f_hi = self.work.select(f.max()).item() or 1
            for _ in range(mult):
                r, v2, v5, d = r * pl.col(fr), v2 + pl.col(fa), v5 + pl.col(fb), d * f
                d_hi *= f_hi
        if bound * 10**10 * 2 + d_hi >= LIMIT:
            return None
        term = n % r == 0
        k, biggest = self.work.select(
            pl.when(term).then(pl.max_horizontal(v2, v5)).max().alias("k"),
            pl.when(term).then(n.abs().cast(pl.Float64) / d.cast(pl.Float64)).max().alias("x")).row(0)
        k, biggest = int(k or 0), biggest or 0
        if (biggest + 1) * 10.0**k >= 1e36:
            return None
        two = pl.lit(2, dtype=pl.Int128).pow((k - v2).clip(0).cast(pl.UInt32))
        five = pl.lit(5, dtype=pl.Int128).pow((k - v5).clip(0).cast(pl.UInt32))
        m = pl.when(term).then((n // r) * two * five).otherwise(pl.lit(0, dtype=pl.Int128))
        return (term, m, k, _round_ten(n, d))

    def _factor_parts(self, fid) -> tuple[str, str, str]:
        """Columns with a factor's powers of 2 and 5 and what is left (computed on its distinct values)."""
        names = (f"#fr{id(fid)}", f"#fa{id(fid)}", f"#fb{id(fid)}")
        if names[0] in self.work.columns:
            return names
        f = self.results.factors[fid].n.expr.cast(pl.Int128)
        values = self.work.select(f.alias("f")).get_column("f").unique()
        parts = pl.DataFrame({"f": values}).with_columns(
            pl.col("f").alias("r"), pl.lit(0, dtype=pl.Int32).alias("v2"), pl.lit(0, dtype=pl.Int32).alias("v5"))
        for p, col in ((2, "v2"), (5, "v5")):
            while True:
                divisible = pl.col("r") % pl.lit(p, dtype=pl.Int128) == 0
                if not parts.select(divisible.any()).item():
                    break
                parts = parts.with_columns(
                    pl.when(divisible).then(pl.col("r") // pl.lit(p, dtype=pl.Int128)).otherwise(pl.col("r")).alias("r"),
                    (pl.col(col) + divisible.cast(pl.Int32)).alias(col))
        parts = parts.rename({"r": names[0], "v2": names[1], "v5": names[2]})
        self.work = self.work.with_columns(f.alias("#f")).join(parts, left_on="#f", right_on="f", how="left",
                                                               maintain_order="left").drop("#f")
        return names

    def text(self, name: str, min_places: int):
        """format_exact(value, min_places) of every value: an expression over self.work, or a Series."""
        fixed = self._fixed(name)
        if fixed is None:
            return _python_text(self.results, name, min_places)
        term, m, k0, q = fixed
        k = max(k0, min_places)
        if k > k0:
            m = m * pl.lit(10 ** (k - k0), dtype=pl.Int128)
        exact = exact_decimal(m, k).cast(pl.String)
        if k > min_places:
            exact = _strip_zeros(exact, min_places)
        if term is None:
            return exact.alias(name)
        return pl.when(term).then(exact).otherwise(exact_decimal(q, 10).cast(pl.String)).alias(name)

    def fixed_frame(self, name: str, min_places: int) -> tuple[pl.DataFrame, int, bool]:
        """One column in fixed point, computed once: (frame of term, m, q; k; whether some value does not end)."""
        term, m, k0, q = self._fixed(name)
        k = max(k0, min_places)
        if k > k0:
            m = m * pl.lit(10 ** (k - k0), dtype=pl.Int128)
        cols = [m.alias("m")]
        if term is not None:
            cols += [term.alias("term"), q.alias("q")]
        frame = self.work.lazy().select(cols).collect()
        return frame, k, term is not None

    def scale_of(self, frame: pl.DataFrame, k: int, has_q: bool, min_places: int) -> int | None:
        """decimal_scale of the column's text, from its fixed point: the most decimals any value's text
        has (format_exact: the exact digits, at least min_places; ten where they do not end), or None
        when a value would need more than 38 digits."""
        spare = k - min_places  # decimals that may be trailing zeros
        ended = pl.col("m") if not has_q else pl.when(pl.col("term")).then(pl.col("m"))
        aggs = [(pl.col("term").any() if has_q else pl.lit(True)).alias("e"),
                ((~pl.col("term")).any() if has_q else pl.lit(False)).alias("n"),
                ended.abs().max().alias("w")]
        if has_q:
            aggs.append(pl.when(~pl.col("term")).then(pl.col("q").abs()).max().alias("q"))
        row = frame.select(aggs).row(0, named=True)
        zeros = 0
        if spare and row["e"]:
            # the trailing zeros every ending value has among its last `spare` decimals
            tail = frame.select((ended % pl.lit(10**spare, dtype=pl.Int128)).alias("t"))
            if spare <= 18:
                tail = tail.select(pl.col("t").cast(pl.Int64))
            unit = pl.Int64 if spare <= 18 else pl.Int128
            checks = tail.select([(pl.col("t") % pl.lit(10**j, dtype=unit) == 0).all().alias(f"z{j}")
                                  for j in range(1, spare + 1)]).row(0)
            zeros = max([j for j, ok in enumerate(checks, start=1) if ok], default=0)
        places = 0
        if row["e"]:
            places = k - zeros
        if row["n"]:
            places = max(places, 10)
        biggest = max((row["w"] or 0) // 10**k, ((row.get("q") or 0) // 10**10) if has_q else 0)
        return places if len(str(biggest)) + places <= 38 else None

    def decimal_of(self, frame: pl.DataFrame, k: int, has_q: bool, scale: int, name: str) -> pl.Series:
        """The column as Decimal(38, scale): the text's values, from its fixed point."""
        def at(value: pl.Expr, places: int) -> pl.Expr:
            if scale >= places:
                return value * pl.lit(10 ** (scale - places), dtype=pl.Int128)
            return value // pl.lit(10 ** (places - scale), dtype=pl.Int128)  # exact: only zeros go

        value = at(pl.col("m"), k) if not has_q else pl.when(pl.col("term")).then(at(pl.col("m"), k)).otherwise(
            at(pl.col("q"), 10))
        return frame.select(exact_decimal(value, scale).alias(name)).get_column(name)


def _strip_zeros(text: pl.Expr, min_places: int) -> pl.Expr:
    """Drop trailing zeros of a decimal's text (which has a point), keeping at least min_places decimals."""
    if min_places == 0:
        return text.str.strip_chars_end("0").str.strip_chars_end(".")
    return text.str.replace(r"(\.[0-9]{%d}[0-9]*?)0+$" % min_places, "${1}")


def _python_text(results: ColumnarResults, name: str, min_places: int) -> pl.Series:
    from pkrules.values.numbers import format_exact

    return pl.Series(name, [format_exact(v, min_places=min_places) for v in results.python_column(name)], dtype=pl.String)


def _min_places(graph, name: str) -> int:
    return 2 if graph.nodes[name].type.kind == MONEY else 0


def text_frame(results: ColumnarResults, names: list[str], formatter: _Formatter | None = None) -> pl.DataFrame:
    """render.format_csv of every value of the named columns (one query for all of them)."""
    fmt = formatter or _Formatter(results)
    exprs: dict[str, object] = {}
    for name in names:
        meta = results.meta[name]
        if meta.kind == P.NUM:
            exprs[name] = fmt.text(name, _min_places(results.graph, name))
        elif meta.kind == P.BOOL:
            exprs[name] = pl.when(pl.col(name)).then(pl.lit("yes")).otherwise(pl.lit("no")).alias(name)
        elif meta.kind == P.DATE:
            exprs[name] = pl.col(name).dt.to_string("%Y-%m-%d").alias(name)
        else:
            exprs[name] = pl.col(name)
    lazy = [e for e in exprs.values() if isinstance(e, pl.Expr)]
    computed = fmt.work.lazy().select(lazy).collect() if lazy else pl.DataFrame()
    return pl.DataFrame([exprs[n] if isinstance(exprs[n], pl.Series) else computed.get_column(n) for n in names])


def _percent_expr(text: pl.Expr) -> pl.Expr:
    """values/format.py: percent_text on a column of exact decimal text ('0.96' → '96%'), as polars string operations."""
    negative = text.str.starts_with("-")
    body = text.str.strip_prefix("-")
    parts = body.str.split_exact(".", 1)
    whole = parts.struct.field("field_0")
    frac = parts.struct.field("field_1").fill_null("").str.pad_end(2, "0")
    digits = (whole + frac.str.slice(0, 2)).str.strip_chars_start("0")
    digits = pl.when(digits == "").then(pl.lit("0")).otherwise(digits)
    rest = frac.str.slice(2).str.strip_chars_end("0")
    return (pl.when(negative).then(pl.lit("-")).otherwise(pl.lit("")) + digits
            + pl.when(rest == "").then(pl.lit("")).otherwise(pl.lit(".") + rest) + pl.lit("%"))


def _cents_text(fmt: _Formatter, name: str):
    """values/format.py: format_cell of a money column (half-up to the cent, two decimals), from the integers."""
    results = fmt.results
    meta = results.meta[name]
    if meta.den.const:
        c = meta.den.c
        lo, hi = fmt.work.select(pl.col(name).min().alias("lo"), pl.col(name).max().alias("hi")).row(0)
        bound = max(abs(lo or 0), abs(hi or 0))
        if bound * 200 + 2 * c < LIMIT and bound * 100 // c < DIGITS_38:
            n = pl.col(name).cast(pl.Int128)
            if 100 % c == 0:  # whole cents already (money is held in cents or coarser): nothing to round
                cents = n * pl.lit(100 // c, dtype=pl.Int128) if c != 100 else n
            else:
                k = (n.abs() * pl.lit(200, dtype=pl.Int128) + pl.lit(c, dtype=pl.Int128)) // pl.lit(2 * c, dtype=pl.Int128)
                cents = pl.when(n < 0).then(pl.lit(0, dtype=pl.Int128) - k).otherwise(k)
            return exact_decimal(cents, 2).cast(pl.String).alias(name)
    from pkrules.values.format import format_cell

    return pl.Series(name, [format_cell(v, "money") for v in results.python_column(name)], dtype=pl.String)


def people_frame(results: ColumnarResults, names: list[str], lang: str) -> pl.DataFrame:
    """values/format.py: format_cell of every value of the named columns — the results file people open."""
    from pkrules.engine.display import display_units
    from pkrules.messages import say

    units = display_units(results.graph)
    fmt = _Formatter(results)
    exprs: dict[str, object] = {}
    for name in names:
        meta = results.meta[name]
        unit = units.get(name)
        if meta.kind == P.NUM and unit == "money":
            exprs[name] = _cents_text(fmt, name)
        elif meta.kind == P.NUM and unit == "percent":
            text = fmt.text(name, 0)
            if isinstance(text, pl.Series):
                from pkrules.values.format import percent_text

                exprs[name] = pl.Series(name, [percent_text(t) for t in text.to_list()], dtype=pl.String)
            else:
                exprs[name] = _percent_expr(text).alias(name)
        elif meta.kind == P.NUM:
            exprs[name] = fmt.text(name, 0)
        elif meta.kind == P.BOOL:
            exprs[name] = pl.when(pl.col(name)).then(pl.lit(say(lang, "yes"))).otherwise(pl.lit(say(lang, "no"))).alias(name)
        elif meta.kind == P.DATE:
            exprs[name] = pl.col(name).dt.to_string("%Y-%m-%d").alias(name)
        else:
            exprs[name] = pl.col(name)
    lazy = [e for e in exprs.values() if isinstance(e, pl.Expr)]
    computed = fmt.work.lazy().select(lazy).collect() if lazy else pl.DataFrame()
    return pl.DataFrame([exprs[n] if isinstance(exprs[n], pl.Series) else computed.get_column(n) for n in names])


def exact_people_frame(graph, results, names: list[str], lang: str) -> pl.DataFrame:
    """The same frame from the exact evaluator's results (good rows only)."""
    from pkrules.engine.display import display_units
    from pkrules.values.format import format_cell

    units = display_units(graph)
    failed = results.failed_rows()
    good = [i for i in range(results.size) if i not in failed]
    return pl.DataFrame({n: pl.Series([format_cell(results.columns[n][i], units.get(n, "other"), lang) for i in good],
                                      dtype=pl.String) for n in names})


def text_column(results: ColumnarResults, name: str) -> pl.Series:
    """render.format_csv of every value of one column."""
    return text_frame(results, [name]).get_column(name)


def output_names(graph) -> list[str]:
    return [graph.key] + [n.name for n in graph.definitions]


def exact_text_frame(graph, results, names: list[str]) -> pl.DataFrame:
    """The same text frame from the exact evaluator's results (good rows only)."""
    from pkrules.values.format import format_csv

    failed = results.failed_rows()
    good = [i for i in range(results.size) if i not in failed]
    return pl.DataFrame({n: pl.Series([format_csv(results.columns[n][i], graph.nodes[n].type) for i in good],
                                      dtype=pl.String) for n in names})


def write_csv_text(frame: pl.DataFrame, path, bom: bool = False, texts: list[str] | None = None) -> None:
    """As csv.writer would write it (QUOTE_MINIMAL, \\r\\n), to a temporary file renamed into place (files.py);
    with bom, a UTF-8 byte order mark first (for Excel). texts: the columns that may hold an empty text or a
    carriage return, which polars would not write as csv.writer does (default: every column; a number's,
    a yes/no's or a date's text never does)."""
    from pkrules.files import atomic_path, atomic_write

    checked = frame.columns if texts is None else texts
    needs_python = bool(checked) and any(frame.select(
        [((pl.col(c) == "") | pl.col(c).str.contains("\r", literal=True)).any() for c in checked]).row(0))
    if needs_python:
        with atomic_write(path, newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(frame.columns)
            writer.writerows(frame.iter_rows())
        return
    with atomic_path(path) as temporary:
        _polars_write(lambda: frame.write_csv(temporary, line_terminator="\r\n", quote_style="necessary",
                                              include_bom=bom))


def spreadsheet_safe_text(graph, frame: pl.DataFrame) -> pl.DataFrame:
    """values/format.py: spreadsheet_safe on every text column (a leading ' before = + - @ tab CR)."""
    from pkrules.values.format import FORMULA_STARTS, is_text_type

    pattern = "^[" + "".join("\\" + c if c in "-" else c for c in FORMULA_STARTS) + "]"
    texts = [n for n in frame.columns if is_text_type(graph.nodes[n].type)]
    if not texts:
        return frame
    # which columns have a cell to change (one pass over them all): most have none, and stay as they are
    found = frame.select([pl.col(n).str.contains(pattern).any().alias(n) for n in texts]).row(0, named=True)
    changes = [pl.when(pl.col(n).str.contains(pattern)).then(pl.lit("'") + pl.col(n)).otherwise(pl.col(n)).alias(n)
               for n in texts if found[n]]
    return frame.with_columns(changes) if changes else frame


def _polars_write(write) -> None:
    """Run a polars writer; its I/O failures as OSError with the errno (polars raises them as OSError without
    one, "No space left on device (os error 28)", or as ComputeError with the OS's words, or worse)."""
    import errno as errnos
    import os
    import re

    try:
        write()
    except Exception as e:
        if isinstance(e, OSError) and e.errno is not None:
            raise
        text = str(e)
        number = re.search(r"os error (\d+)", text)
        if number:
            code = int(number[1])
            raise OSError(code, os.strerror(code)) from None
        for code in (errnos.ENOSPC, getattr(errnos, "EDQUOT", errnos.ENOSPC), errnos.EFBIG, errnos.EACCES, errnos.EROFS):
            if os.strerror(code) in text:
                raise OSError(code, os.strerror(code)) from None
        # A writer that fails half way (the file system refused a write) can report it in its own terms
        # ("Invalid thrift: transport error"): it is still a failure to write, said as the writer says it.
        raise OSError(errnos.EIO, tr("the writer failed: {text}", text=text.splitlines()[0] if text else type(e).__name__)) from None


def decimal_scale(text: pl.Series) -> int | None:
    """The scale of the Decimal(38, s) that holds every value of a column of exact decimal text
    (its most decimals), or None when some value would need more than 38 digits (then: text)."""
    parts = pl.DataFrame({"t": text}).select(
        pl.col("t").str.find(".", literal=True).alias("dot"), pl.col("t").str.len_bytes().alias("len"),
        pl.col("t").str.starts_with("-").cast(pl.Int64).alias("neg"))
    places = parts.select(pl.when(pl.col("dot").is_null()).then(0)
                          .otherwise(pl.col("len") - pl.col("dot") - 1).max()).item() or 0
    whole = parts.select((pl.when(pl.col("dot").is_null()).then(pl.col("len")).otherwise(pl.col("dot"))
                          - pl.col("neg")).max()).item() or 0
    return int(places) if whole + places <= 38 else None


def parquet_frame(graph, frame: pl.DataFrame, decimals: "_Formatter | None" = None) -> pl.DataFrame:
    """Typed columns from the exact text: numbers as Decimal(38, s), yes/no as booleans, dates.

    decimals: on the fast path, the formatter that made the text, which gives the same
    Decimal columns from its exact integers (without parsing the text).
    """
    out = []
    from_integers: dict[str, pl.Expr] = {}
    for name in frame.columns:
        col = frame.get_column(name)
        node = graph.nodes[name]
        kind = P.kind_of(node.type)
        if kind == P.NUM:
            scale = decimal_scale(col)
            if scale is None:
                out.append(col)
            elif decimals is not None:
                from_integers[name] = decimals.decimal(name, scale)
                out.append(name)
            else:
                out.append(col.cast(pl.Decimal(38, scale)))
        elif kind == P.BOOL:
            out.append(col == "yes")
        elif kind == P.DATE:
            out.append(col.str.to_date("%Y-%m-%d"))
        else:
            out.append(col)
    if from_integers:
        computed = decimals.work.lazy().select(list(from_integers.values())).collect()
        out = [computed.get_column(c) if isinstance(c, str) else c for c in out]
    return pl.DataFrame(out)


def write_parquet(frame: pl.DataFrame, path, graph=None) -> None:
    """To a temporary file renamed into place (files.py): the old file stays whole if anything fails."""
    from pkrules.files import atomic_path

    if graph is not None:
        frame = whole_numbers_as_integers(graph, frame)
    with atomic_path(path) as temporary:
        # lz4: twice as fast to write as zstd, files twice as large
        _polars_write(lambda: frame.write_parquet(temporary, compression="lz4"))


def whole_numbers_as_integers(graph, frame: pl.DataFrame) -> pl.DataFrame:
    """Whole-number columns (ranks, counts, visits) as 64-bit integers rather than Decimal(38, 0), when they fit."""
    from pkrules.values.types import WHOLE

    changed = []
    for name in frame.columns:
        col = frame.get_column(name)
        node = graph.nodes.get(name)
        if node is None or node.type.kind != WHOLE or not isinstance(col.dtype, pl.Decimal) or col.dtype.scale != 0:
            continue
        biggest = frame.select(pl.col(name).abs().max()).item() if frame.height else 0
        if biggest is None or biggest < 10**18:
            changed.append(col.cast(pl.Int64))
    return frame.with_columns(changed) if changed else frame


def write_results(graph, frame: pl.DataFrame, path, decimals: "_Formatter | None" = None, bom: bool = False,
                  texts: list[str] | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_parquet(path):
        write_parquet(parquet_frame(graph, frame, decimals), path, graph)
    else:
        write_csv_text(spreadsheet_safe_text(graph, frame), path, bom=bom, texts=texts)


def write_output(graph, results, names: list[str], path, people: bool = False, bom: bool = False,
                 lang: str = "en") -> None:
    """Write results (fast path or exact evaluator) as CSV or Parquet, the same bytes either way.

    people: a CSV for people (values/format.py: format_cell — money to the cent, 96%, 是/否 in
    lang) instead of the exact values; bom: a byte order mark first, so that Excel reads UTF-8.
    Parquet is always exact and typed.
    """
    if isinstance(results, ColumnarResults) and is_parquet(path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The streaming engine leaves each column in a dozen chunks; computed and written chunk by chunk, every
        # column of a million employees peaked at 1.14 GB, against 0.92 GB from one chunk each (in the same time).
        if not isinstance(getattr(type(results), "frame", None), property):  # (SQL results fetch theirs)
            results.frame = results.frame.rechunk()
        write_parquet(parquet_from_integers(results, names), path, graph)
        return
    if people and not is_parquet(path):
        frame = people_frame(results, names, lang) if isinstance(results, ColumnarResults) else \
            exact_people_frame(graph, results, names, lang)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_csv_text(spreadsheet_safe_text(graph, frame), path, bom=bom, texts=_text_columns(results, names))
        return
    if isinstance(results, ColumnarResults):
        frame = text_frame(results, names)
    else:
        frame = exact_text_frame(graph, results, names)
    write_results(graph, frame, path, bom=bom, texts=_text_columns(results, names))


def _text_columns(results, names: list[str]) -> list[str] | None:
    """The fast path's columns of text among names (the others' cells are never empty); None: not known."""
    if not isinstance(results, ColumnarResults):
        return None
    return [n for n in names if results.meta[n].kind == P.TEXT]


def parquet_from_integers(results: ColumnarResults, names: list[str]) -> pl.DataFrame:
    """parquet_frame(text_frame(…)) — the same columns — without making the text of the numbers."""
    fmt = _Formatter(results)
    exprs: list = []
    for name in names:
        meta = results.meta[name]
        if meta.kind == P.NUM and fmt._fixed(name) is not None:
            # one column at a time: its fixed point is computed once, for the scale and for the decimals
            min_places = _min_places(results.graph, name)
            frame, k, has_q = fmt.fixed_frame(name, min_places)
            scale = fmt.scale_of(frame, k, has_q, min_places)
            exprs.append(fmt.decimal_of(frame, k, has_q, scale, name) if scale is not None else
                         text_frame(results, [name], fmt).get_column(name))
            del frame
        elif meta.kind == P.NUM:  # too large for 128-bit fixed point: from the text, as the exact path does
            text = text_frame(results, [name], fmt).get_column(name)
            scale = decimal_scale(text)
            exprs.append(text if scale is None else text.cast(pl.Decimal(38, scale)))
        else:
            exprs.append(pl.col(name))
    lazy = [e for e in exprs if isinstance(e, pl.Expr)]
    computed = fmt.work.lazy().select(lazy).collect() if lazy else pl.DataFrame()
    columns = []
    for name, e in zip(names, exprs):
        columns.append(e if isinstance(e, pl.Series) else computed.get_column(name))
    return pl.DataFrame(columns)
