"""The `sql` command: the statements pkrules runs on DuckDB or Spark for a policy, printed for review or a scheduler."""

from __future__ import annotations

import math
from fractions import Fraction

from pkrules.cli.console import EXIT_OK, Fail, error
from pkrules.cli.policy import compile_or_fail
from pkrules.messages import tr

# Without data, what the inputs are assumed to hold (the printed script checks it): the decimals of
# each kind of number, and how large a number may be when its declaration gives no limit.
PLACES = {"money": 2, "percent": 4, "number": 4, "whole": 0}
MAGNITUDE = {"money": 10**12, "percent": 100, "number": 10**9, "whole": 10**9}


def assumed_inputs(plan) -> dict:
    """Each input's column as the script expects it when no data is given: numbers over 10^places, within
    their declared limits, else within ±MAGNITUDE (percent: ±10,000%)."""
    from pkrules.engine import plan as P
    from pkrules.engine.sql.compile import InputColumn
    from pkrules.engine.sql.sources import allocate_names

    class _Graph:  # allocate_names reads graph.inputs' names only
        def __init__(self, names):
            self.inputs = [type("N", (), {"name": n})() for n in names]

    names = allocate_names(_Graph([spec.name for spec in plan.inputs]))
    out = {}
    for spec in plan.inputs:
        column = names[spec.name]
        if spec.kind != P.NUM:
            out[spec.name] = InputColumn(spec.name, column, spec.kind)
            continue
        kind = spec.type.kind if spec.type.kind in PLACES else "number"
        places = PLACES[kind]
        den = 10**places
        lo, hi = -MAGNITUDE[kind] * den, MAGNITUDE[kind] * den
        limits = [(op, Fraction(b)) for op, b in spec.compares]
        if spec.low is not None and spec.high is not None:
            limits += [(">=", Fraction(spec.low)), ("<=", Fraction(spec.high))]
        for op, bound in limits:  # numerators are integers: > 0 means ≥ 1
            scaled = bound * den
            if op == ">":
                lo = max(lo, math.floor(scaled) + 1)
            elif op == ">=":
                lo = max(lo, math.ceil(scaled))
            elif op == "<":
                hi = min(hi, math.ceil(scaled) - 1)
            elif op == "<=":
                hi = min(hi, math.floor(scaled))
        out[spec.name] = InputColumn(spec.name, column, P.NUM, den, lo, hi)
    return out


def measured_inputs(graph, plan, path: str) -> tuple[dict, int]:
    """Each input's column as this data holds it (read by the columnar reader: the same rules as the exact one)."""
    from pkrules.engine import plan as P
    from pkrules.engine.columnar.io import read_table
    from pkrules.engine.results import Declined
    from pkrules.engine.sql.compile import InputColumn
    from pkrules.engine.sql.sources import allocate_names

    try:
        table = read_table(plan, graph, path)
    except Declined as e:
        raise Fail(error(tr("{data}: cannot measure the inputs on this data ({reason}); check it with "
                            "pkrules run {policy} {data}", data=path, reason=e.reason, policy=graph.source.path))) from None
    names = allocate_names(graph)
    out = {}
    for spec in plan.inputs:
        meta = table.meta[spec.name]
        if meta.kind == P.NUM:
            out[spec.name] = InputColumn(spec.name, names[spec.name], P.NUM, meta.den.c, meta.lo, meta.hi)
        else:
            out[spec.name] = InputColumn(spec.name, names[spec.name], meta.kind)
    order = None
    if graph.period and graph.nodes[graph.period].type.kind in ("text", "enum"):  # labels in time order
        from pkrules.engine.population import period_key
        from pkrules.values.periods import PeriodLabelError

        labels = table.frame.get_column(graph.period).unique().to_list()
        try:
            order = sorted(labels, key=period_key(graph, labels))
        except PeriodLabelError as problem:
            raise Fail(error(tr("a period label cannot be put in order: {problem}", problem=str(problem)))) from None
    return out, table.size, order


def _describe(column, printer) -> str:
    from pkrules.engine import plan as P
    from pkrules.engine.sql.numeric import wide_for

    if column.kind != P.NUM:
        return f"{column.column} {printer.type_name({'text': 'text', 'bool': 'bool', 'date': 'date'}[column.kind])}"
    type_ = printer.type_name("i128" if wide_for(max(abs(column.lo), abs(column.hi))) else "i64")
    scale = f" (the value × {column.den:,})" if column.den != 1 else ""
    return f"{column.column} {type_}{scale}, from {column.lo:,} to {column.hi:,}"


def check_statement(inputs: dict, printer, relation: str) -> str:
    """A query that fails (the engine's error function) when pk_input holds a number outside the assumed range."""
    from pkrules.engine import plan as P
    from pkrules.engine.sql import tree as T

    bad = None
    for column in inputs.values():
        if column.kind != P.NUM:
            continue
        col = T.Cast(T.Col(column.column), "i128")
        out = T.Bin("OR", T.Bin("<", col, T.Int(column.lo, True)), T.Bin(">", col, T.Int(column.hi, True)))
        bad = out if bad is None else T.Bin("OR", bad, out)
    if bad is None:
        bad = T.Bool(False)
    message = T.Str(f"{relation}: a number outside the ranges this script was compiled for; print it again with --data")
    check = T.Select([(T.Case(((T.Agg("any", bad), T.Fn("fail", (message,))),), T.Bool(True)), "ok")], relation)
    return printer.select(check, {}) + ";"


def cmd_sql(args) -> int:
    from pkrules.engine.plan import compile_plan
    from pkrules.engine.results import Declined
    from pkrules.engine.sql.compile import TooWide
    from pkrules.engine.sql.run import script_for
    from pkrules.engine.sql.script import readable

    graph = compile_or_fail(args.policy, show_warnings=False)
    if graph.related:
        raise Fail(error(tr("the SQL backends do not read related tables yet (input {table} by …)",
                            table=next(iter(graph.related)))))
    if args.dialect == "spark":
        from pkrules.engine.sql.spark import SparkPrinter as Printer
    else:
        from pkrules.engine.sql.duckdb import DuckDBPrinter as Printer
    printer = Printer()
    try:
        plan = compile_plan(graph)
        if args.data:
            inputs, size, order = measured_inputs(graph, plan, args.data)
        else:
            inputs, size, order = assumed_inputs(plan), args.rows, None
        caps = None
        if args.dialect == "spark":
            from pkrules.engine.sql.compile import Caps
            from pkrules.engine.sql.spark import QUOTIENT_LIMIT, SMALL_ROWS

            caps = Caps(quotient_limit=QUOTIENT_LIMIT, buckets_from=SMALL_ROWS)
        program, script = script_for(printer, graph, inputs, size, caps, period_order=order)
    except Declined as e:
        message = error(tr("{policy}: not expressible in exact SQL: {reason}", policy=args.policy, reason=e.reason))
        if not args.data and isinstance(e, TooWide):  # the assumed ranges are generous; real data is often smaller
            message += "\n" + tr("  hint: {hint}", hint=tr(
                "without --data every number is assumed to reach its declared limits (money up to {money:,}); "
                "--data FILE compiles the statements for the ranges of real data", money=MAGNITUDE["money"]))
        raise Fail(message) from None
    title = graph.policy.title or args.policy
    version = f" {graph.policy.version}" if graph.policy.version else ""
    where = f"the data in {args.data}" if args.data else f"up to {size:,} rows within the inputs' declared types"
    lines = [f"-- pkrules sql: {title}{version}, for {'Spark' if args.dialect == 'spark' else 'DuckDB'}",
             "-- Exact integer arithmetic (every value an integer numerator over a known denominator), checked",
             f"-- to stay within 38 digits for {where}.",
             f"-- Reads {program.input_relation}: one row per employee"
             + (" and period" if graph.period else "") + ", with _row (0, 1, 2 … in the data's order),",
             "-- _line (its number for people) and:"]
    lines += [f"--   {_describe(c, printer)}" for c in inputs.values()]
    lines += ["", "-- 1. The inputs are within the ranges the statements were compiled for (else an error).",
              check_statement(inputs, printer, program.input_relation), "",
              "-- 2. Every definition, population term and denominator, as exact integers."]
    for statement in script:
        lines.append(printer.create_table(statement.name, statement.query))
        lines.append("")
    lines.append("-- 3. The results: exact decimals, or numerator and denominator where the decimals do not end.")
    outputs = [graph.key] + ([graph.period] if graph.period else []) + [n.name for n in graph.definitions]
    lines.append(readable(program, printer, script[-1].name, outputs) + ";")
    print("\n".join(lines))
    return EXIT_OK
