"""A kept run (engine/kept.py) of the fast path's results, made with column expressions.

Every row's records — each node's exact value, each term's value (and for a top N%, how many
members are strictly better) — are one polars query over the stored columns. Each term's
groups are one group_by over its stored group keys (members, rows counted, weight total, the
first member's value), their names and statistics made by polars too: never one query per
group. A term the fast path left to the exact evaluator is kept through the probe, row by row
(rare: a definition too large for 128-bit columns).
"""

from __future__ import annotations

import polars as pl

from pkrules.engine import plan as P
from pkrules.engine.columnar.exact_text import exact_expr, text_series
from pkrules.engine.columnar.values import ColMeta, group_keys, python_values
from pkrules.engine.kept import (CHUNK, ESCAPES, NONE, SEP, KeptRun, KeptTerm, encode_record, run_spec,
                                 term_fields, term_groups)
from pkrules.values.stored import value_text


def keep_columnar(results, terms: list[KeptTerm]) -> KeptRun:
    graph = results.graph
    frame = results.frame
    size = results.size
    nodes = list(graph.nodes)
    value_fields = [_field(frame, pl.col(name), results.meta[name], results, name) for name in nodes]
    source = results.probe.terms  # the fast path's stored terms (results.py: ColumnarTerms)
    term_parts: list[pl.Expr] = []
    extra: dict[str, pl.Series] = {}  # fields computed row by row, by column name
    groups: list[tuple[str, str, str]] = []
    for k, term in enumerate(terms):
        info = source.info(term.expr) if term.kind != "related" else None
        if info is None:  # not a stored column of the fast path: through the probe, row by row
            column = f"#kept{k}"
            extra[column] = pl.Series(column, [encode_record(term_fields(results.probe, term, i)) for i in range(size)],
                                      dtype=pl.String)
            term_parts.append(pl.col(column))
            if term.grouped:
                groups.extend((term.id, g, s) for g, s in term_groups(results.probe, term, range(size)).items())
            continue
        value = _field(frame, pl.col(info.column), info.meta, results, info.column)
        if info.err_column is not None:  # rows where the term fails (only where not reached): not kept
            value = pl.when(pl.col(info.err_column)).then(pl.lit(NONE)).otherwise(value)
        term_parts.append(value)
        if term.kind == "top":
            term_parts.append(_better(term, info).cast(pl.String))
        if term.grouped:
            groups.extend(_groups(results, term, info))
    work = frame.with_columns(list(extra.values())) if extra else frame
    records = work.lazy().select(
        pl.concat_str(value_fields, separator=SEP).alias("values"),
        (pl.concat_str(term_parts, separator=SEP) if term_parts else pl.lit("")).alias("terms"),
        value_fields[nodes.index(graph.key)].alias("key"),
        *([value_fields[nodes.index(graph.period)].alias("period")] if graph.period else []),
    ).collect()
    numbers = pl.Series("number", results.row_numbers, dtype=pl.Int64)

    def rows(chunk: int = CHUNK):
        for start in range(0, size, chunk):
            part = records.slice(start, chunk)
            stop = start + part.height
            yield list(zip(range(start, stop), part.get_column("key").to_list(),
                           part.get_column("period").to_list() if graph.period else [None] * part.height,
                           numbers.slice(start, part.height).to_list(),
                           part.get_column("values").to_list(), part.get_column("terms").to_list()))

    def texts(name: str) -> list:
        return text_series(frame, name, results.meta[name], results.factors).to_list()

    def order() -> list[int]:
        return records.select(pl.arg_sort_by(["key", pl.int_range(pl.len())])).to_series().to_list()

    def blocks(n: int):
        """n rows at a time, joined by polars (no Python string per row)."""
        whole = size // n * n
        table = records.select(numbers.cast(pl.String).alias("number"), "values", "terms")
        joined = table.slice(0, whole).select(
            pl.int_range(pl.len() // n, dtype=pl.Int64).alias("block"),
            pl.col("number").reshape((-1, n)).arr.join(SEP), pl.col("values").reshape((-1, n)).arr.join("\n"),
            pl.col("terms").reshape((-1, n)).arr.join("\n")) if whole else None
        step = max(1, CHUNK // n)
        for start in range(0, joined.height if joined is not None else 0, step):
            yield list(joined.slice(start, step).iter_rows())
        if whole < size:  # the last block, shorter
            tail = table.slice(whole)
            yield [(whole // n, SEP.join(tail.get_column("number").to_list()), "\n".join(tail.get_column("values").to_list()),
                    "\n".join(tail.get_column("terms").to_list()))]

    def key_blocks(n: int) -> list[tuple[str, str]]:
        ordered = records.lazy().select(pl.col("key"), pl.int_range(pl.len()).alias("pos")).sort(["key", "pos"])
        cut = ordered.with_columns(((pl.col("key").rank("dense") - 1) // n).alias("block")).group_by(
            "block", maintain_order=True).agg(pl.col("key").first().alias("first"),
                                              (pl.col("key") + pl.lit(SEP) + pl.col("pos").cast(pl.String)).str.join("\n"))
        return list(cut.select("first", "key").collect().iter_rows())

    return KeptRun(run_spec(results, terms), rows, groups, [], texts, order, blocks, key_blocks)


def _field(frame: pl.DataFrame, expr: pl.Expr, meta: ColMeta, results, name: str) -> pl.Expr:
    """A column as record fields: exact text (free text escaped), NONE where there is no value."""
    text = exact_expr(expr, meta, results.factors)
    if text is None:  # numbers beyond 128-bit arithmetic: their text made value by value
        values = [value_text(v) for v in python_values(frame, name, meta, results.factors)]
        text = pl.lit(pl.Series(name, values, dtype=pl.String))
    if meta.kind == P.TEXT:
        for plain, escaped in ESCAPES:
            text = text.str.replace_all(plain, escaped, literal=True)
    return text.fill_null(NONE)


def _first_rows(frame: pl.DataFrame, keys: list[tuple[pl.Expr, object]]) -> list[int]:
    """The first row of each group, in row order: a group's statistic is the same for every member, so the probe is
    asked once per group (asking every row made each of a million employees bisect the top 10%: 18 s)."""
    if not keys:
        return [0] if frame.height else []
    names = [f"#g{i}" for i in range(len(keys))]
    firsts = (frame.lazy().select([k.alias(n) for n, (k, _) in zip(names, keys)]).with_row_index("#i")
              .group_by(names).agg(pl.col("#i").min()).collect())
    return firsts.get_column("#i").sort().to_list()


def _over(expr: pl.Expr, keys: list[pl.Expr]) -> pl.Expr:
    return expr.over(keys) if keys else expr


def _better(term: KeptTerm, info) -> pl.Expr:
    """How many members of the row's group are strictly better (higher; lower for bottom N)."""
    keys = info.parts["keys"]
    key = keys[0] if len(keys) == 1 else pl.struct([k.alias(f"k{i}") for i, k in enumerate(keys)])
    g = [k for k, _ in group_keys(info)]
    if term.expr.bottom:
        return _over(key.rank("min"), g).cast(pl.Int64) - 1
    return _over(pl.len(), g).cast(pl.Int64) - _over(key.rank("max"), g).cast(pl.Int64)


def _groups(results, term: KeptTerm, info) -> list[tuple[str, str, str]]:
    """(term id, group text, statistic JSON) of every group of a stored term: one group_by, made text by polars."""
    frame = results.frame
    keys = group_keys(info)
    names = [f"#g{i}" for i in range(len(keys))]
    parts = info.parts
    kind = term.kind
    if kind == "top":  # (its cut-off values, which explanations show, are asked of the probe: engine/kept.py stat_data)
        return [(term.id, g, s) for g, s in term_groups(results.probe, term, _first_rows(frame, keys)).items()]
    columns = {n: k for n, (k, _) in zip(names, keys)}
    aggs = [pl.len().alias("m")]
    if kind == "aggregate":
        value = exact_expr(pl.col(info.column), info.meta, results.factors)
        if value is None:  # (values beyond 128-bit text: as the probe says)
            return [(term.id, g, s) for g, s in term_groups(results.probe, term, _first_rows(frame, keys)).items()]
        columns["#v"] = value
        columns["#n"] = pl.col(info.column)
        aggs += [pl.col("#v").first().alias("v"), pl.col("#n").first().alias("n")]
        if parts.get("chosen") is not None and term.expr.func != "count":
            columns["#c"] = parts["chosen"].cast(pl.Int64)
            aggs.append(pl.col("#c").sum().alias("c"))
    if kind == "split":
        columns["#pool"] = parts["pool"].n.expr.cast(pl.Int128)
        columns["#w"] = parts["weight"].n.expr.cast(pl.Int128)
        aggs += [pl.col("#pool").first().alias("v"), pl.col("#w").sum().alias("w")]
    if info.err_column is not None:
        columns["#err"] = pl.col(info.err_column)
        aggs.append(pl.col("#err").any().alias("#err"))
    if not columns:
        columns["#i"] = pl.int_range(pl.len())  # (a column, so that the select keeps every row)
    table = frame.lazy().select([e.alias(n) for n, e in columns.items()])
    stats = (table.group_by(names).agg(aggs) if names else table.select(aggs)).collect()
    if "#err" in stats.columns:
        stats = stats.filter(~pl.col("#err")).drop("#err")  # a group whose term fails has no statistic
    if not stats.height:
        return []
    fields = {"m": pl.col("m")}
    if kind == "aggregate":
        fields["v"] = pl.col("v")
        if term.expr.func == "count":
            fields["c"] = pl.col("n").cast(pl.Int64)
        else:
            fields["c"] = pl.col("c") if "c" in stats.columns else pl.col("m")
    elif kind == "top":
        share, count = info.expr.share, info.expr.count
        fields["p"] = ((pl.col("m").cast(pl.Int64) * share.numerator + (share.denominator - 1)) // share.denominator
                       if share is not None else pl.lit(int(count), dtype=pl.Int64))
    elif kind == "split":
        fields["v"] = exact_expr(pl.col("v"), ColMeta(P.NUM, parts["pool"].den), {})
        fields["w"] = exact_expr(pl.col("w"), ColMeta(P.NUM, parts["weight"].den), {})
    label = _group_label(names, [m for _, m in keys], parts.get("period") is not None and parts.get("group") is None)
    out = stats.select(label.alias("g"), pl.struct([e.alias(k) for k, e in fields.items()]).struct.json_encode().alias("s"))
    return [(term.id, g, s) for g, s in zip(out.get_column("g").to_list(), out.get_column("s").to_list())]


def _group_label(names: list[str], metas: list, no_within: bool) -> pl.Expr:
    """engine/kept.py's group_text of each group, from its key columns (no_within: the group is (period, None))."""
    if not names:
        return pl.lit(NONE)  # everyone: the group None
    fields = []
    for name, meta in zip(names, metas):
        text = exact_expr(pl.col(name), meta, {}) if meta is not None else pl.col(name).cast(pl.String)
        if meta is not None and meta.kind == P.NUM and not (meta.den.const and meta.den.c == 1):
            text = None  # a group of numbers: named as value_text names them (in lowest terms)
        if text is None:
            fields.append(pl.col(name).map_batches(lambda s, m=meta: _lowest(s, m), return_dtype=pl.String))
            continue
        if meta is None or meta.kind == P.TEXT:
            for plain, escaped in ESCAPES:
                text = text.str.replace_all(plain, escaped, literal=True)
        fields.append(text.fill_null(NONE))
    if no_within:
        fields.append(pl.lit(NONE))
    return pl.concat_str(fields, separator=SEP)


def _lowest(series: pl.Series, meta: ColMeta) -> pl.Series:
    """Group keys that are numbers over a constant denominator, as value_text writes them."""
    from pkrules.engine.columnar.exact_text import number_text

    return number_text(series.cast(pl.Int128), meta.den.c)
