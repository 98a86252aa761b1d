"""The population as the SQL backends read it: the data's own typed columns, checked as the exact reader checks them.

An engine provides the data as a raw relation (`pk_raw`: the file's or table's
columns, plus `_row`, the row's place in the data from 0, and `_line`, its number
for people). This module, which knows no dialect, turns it into the input
relation the compiled query reads (`pk_input`): one column per input, numbers
as exact integer numerators over 10^scale, text stripped as a CSV cell is.

A column is read only when its type already says its values exactly, and
exactly as the exact evaluator reads the same file (which sees each cell as
text): integers and DECIMAL(p, s) for numbers, text (and integers) for text,
booleans or yes/no words for yes/no, dates for dates. Anything else — a
floating-point amount, an empty cell, a value outside its limits, an unknown
one-of value, a key that appears twice — makes the backend decline (naming the
column), and the exact evaluator reads the data and says what is wrong in its
own words. One aggregate query over the data checks everything and gives each
number's range, which the compiler's range analysis starts from.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from pkrules.engine import plan as P
from pkrules.engine.results import Declined
import pkrules.engine.sql.tree as T
from pkrules.messages import tr
from pkrules.engine.sql.compile import InputColumn
from pkrules.engine.sql.numeric import LIMIT, wide_for
from pkrules.values.cells import NO_LIST, YES_LIST
from pkrules.values.types import WHOLE



@dataclass(frozen=True)
class RawType:
    """A raw column's type, in neutral words: int, decimal (with precision and scale), float, text, bool, date,
    or other (with the engine's name for it)."""

    kind: str
    precision: int = 0
    scale: int = 0
    name: str = ""


@dataclass
class Reading:
    """How each input is read from the raw relation, and what the checks found."""

    inputs: dict  # input name → InputColumn (ranges filled in by finish())
    exprs: dict  # input name → the expression of its value (numbers: the numerator)
    size: int = 0
    columns: dict | None = None  # input name → the raw column it is read from


def allocate_names(graph) -> dict[str, str]:
    """A column name for every input: its own, unless taken (SQL compares names without case)."""
    used = {"_row", "_line"}
    out = {}
    for node in graph.inputs:
        name, k = node.name, 1
        while name.lower() in used:
            k += 1
            name = f"{node.name}_{k}"
        used.add(name.lower())
        out[node.name] = name
    return out


def match_header(graph, raw: dict[str, RawType]) -> dict[str, str]:
    """Input name → raw column, as the exact reader matches a header (stripped names, `column` aliases)."""
    aliases = {(n.decl.column or n.name): n.name for n in graph.inputs}
    found: dict[str, str] = {}
    for column in raw:
        text = column.strip()
        name = aliases.get(text, text if text in graph.nodes and graph.nodes[text].is_input else None)
        if name is None or column.startswith("_") and column in ("_row", "_line"):
            continue
        if name in found:
            raise Declined(tr("the column {column} appears twice", column=text))
        found[name] = column
    missing = [n.name for n in graph.inputs if n.name not in found]
    if missing:
        raise Declined(tr("the data has no column {column}", column=missing[0]))
    return found


def plan_reading(graph, plan: P.Plan, raw: dict[str, RawType], relation: str,
                 stripped: set[str] = frozenset()) -> tuple[Reading, T.Select]:
    """How to read each input, and the one query that checks the data and measures its numbers.

    Text is stripped as a CSV cell is (Python's str.strip()), but only in the columns named in
    stripped: the query says (padded{k}) which text columns have a cell that starts or ends with
    white space, which is cheap to find, and stripping is not; ask again with those."""
    columns = match_header(graph, raw)
    names = allocate_names(graph)
    inputs: dict[str, InputColumn] = {}
    exprs: dict[str, T.E] = {}
    checks: list[tuple[T.E, str]] = [(T.Cast(T.Agg("count"), "i64"), "n")]
    for k, spec in enumerate(plan.inputs):
        source = columns[spec.name]
        rtype = raw[source]
        x = T.Col(source)
        checks.append((T.Cast(T.Bin("-", T.Agg("count"), T.Agg("count", x)), "i64"), f"null{k}"))
        column = names[spec.name]
        if spec.kind == P.NUM:
            if rtype.kind == "int":
                num, scale = T.Cast(x, "i128"), 0
            elif rtype.kind == "decimal" and rtype.precision + rtype.scale + 2 <= 38:
                num, scale = T.Unscaled(x, rtype.scale), rtype.scale
            else:
                raise Declined(_unreadable(source, rtype, "number"))
            exprs[spec.name] = num
            inputs[spec.name] = InputColumn(spec.name, column, P.NUM, 10**scale)
            checks += [(T.Agg("min", num), f"lo{k}"), (T.Agg("max", num), f"hi{k}")]
            if spec.type.kind == WHOLE and scale:
                checks.append((T.Agg("all", T.Bin("=", T.Mod(T.Fn("abs", (num,)), T.Int(10**scale, True), True),
                                                  T.Int(0, True))), f"whole{k}"))
            for j, (op, bound) in enumerate(spec.compares):
                if op == "!=":
                    scaled = Fraction(bound) * 10**scale
                    if scaled.denominator == 1 and abs(scaled) <= LIMIT:
                        hit = T.Bin("=", num, T.Int(int(scaled), True))
                        checks.append((T.Cast(T.Agg("sum", T.Case(((hit, T.Int(1)),), T.Int(0))), "i64"), f"ne{k}_{j}"))
        elif spec.kind == P.TEXT:
            if rtype.kind == "text":
                value = T.Fn("strip", (x,)) if source in stripped else x
                if source not in stripped:
                    checks.append((T.Agg("any", T.Fn("edge_space", (x,))), f"padded{k}"))
            elif rtype.kind == "int":
                value = T.Cast(x, "text")
            else:
                raise Declined(_unreadable(source, rtype, "text"))
            exprs[spec.name] = value
            inputs[spec.name] = InputColumn(spec.name, column, P.TEXT)
            checks.append((T.Agg("any", T.Bin("=", value, T.Str(""))), f"empty{k}"))
            if spec.type.kind == "enum":
                allowed = T.Fn("in_list", (value,) + tuple(T.Str(v) for v in spec.enum_values))
                checks.append((T.Agg("all", allowed), f"enum{k}"))
        elif spec.kind == P.BOOL:
            if rtype.kind == "bool":
                exprs[spec.name] = x
            elif rtype.kind == "text":
                word = T.Fn("lower", (T.Fn("strip", (x,)) if source in stripped else x,))
                if source not in stripped:
                    checks.append((T.Agg("any", T.Fn("edge_space", (x,))), f"padded{k}"))
                exprs[spec.name] = T.Fn("in_list", (word,) + tuple(T.Str(v) for v in YES_LIST))
                known = T.Fn("in_list", (word,) + tuple(T.Str(v) for v in YES_LIST + NO_LIST))
                checks.append((T.Agg("all", known), f"yesno{k}"))
            else:
                raise Declined(_unreadable(source, rtype, "yesno"))
            inputs[spec.name] = InputColumn(spec.name, column, P.BOOL)
        elif spec.kind == P.DATE:
            if rtype.kind != "date":
                raise Declined(_unreadable(source, rtype, "date"))
            exprs[spec.name] = x
            inputs[spec.name] = InputColumn(spec.name, column, P.DATE)
        else:
            raise Declined(tr("the SQL backends do not read inputs of kind {kind}", kind=spec.kind))
    return Reading(inputs, exprs, columns=columns), T.Select(checks, relation)


def _unreadable(column: str, rtype: RawType, wanted: str) -> str:
    kind = rtype.name or rtype.kind
    return {
        "number": tr("column {column} is {type}: the SQL backends read numbers from integer or DECIMAL columns",
                     column=column, type=kind),
        "text": tr("column {column} is {type}: the SQL backends read text from text or integer columns",
                   column=column, type=kind),
        "yesno": tr("column {column} is {type}: the SQL backends read yes/no from boolean columns or yes/no words",
                    column=column, type=kind),
        "date": tr("column {column} is {type}: the SQL backends read dates from DATE columns", column=column, type=kind),
    }[wanted]


def padded(plan: P.Plan, columns: dict[str, str], found: dict) -> set[str]:
    """The raw text columns with a cell that starts or ends with white space (to be stripped)."""
    return {columns[spec.name] for k, spec in enumerate(plan.inputs) if found.get(f"padded{k}")}


def finish(reading: Reading, plan: P.Plan, found: dict) -> Reading:
    """Check what the query found (raises Declined on anything the exact reader would report); fill in ranges."""
    size = int(found["n"] or 0)
    if size == 0:
        raise Declined(tr("no rows to evaluate"))
    for k, spec in enumerate(plan.inputs):
        column = reading.inputs[spec.name]
        if found[f"null{k}"]:
            raise Declined(tr("{name} has an empty cell", name=spec.name))
        if found.get(f"empty{k}"):
            raise Declined(tr("{name} has an empty cell", name=spec.name))
        if found.get(f"enum{k}") is False:
            raise Declined(tr("a value of {name} is not one of its values", name=spec.name))
        if found.get(f"yesno{k}") is False:
            raise Declined(tr("a value of {name} is not yes or no", name=spec.name))
        if spec.kind != P.NUM:
            continue
        if found.get(f"whole{k}") is False:
            raise Declined(tr("a value of {name} is not a whole number", name=spec.name))
        lo, hi = int(found[f"lo{k}"]), int(found[f"hi{k}"])
        den = column.den
        if not _within_limits(spec, Fraction(lo, den), Fraction(hi, den), found, k):
            raise Declined(tr("a value of {name} is outside its limits", name=spec.name))
        column.lo, column.hi = lo, hi
    reading.size = size
    return reading


def _within_limits(spec: P.PlanInput, lo: Fraction, hi: Fraction, found: dict, k: int) -> bool:
    """Every value within the input's declared limits: the limits are bounds, so the least and the
    greatest value tell (and a count, for !=)."""
    limits = []
    if spec.low is not None and spec.high is not None:
        limits += [(">=", Fraction(spec.low)), ("<=", Fraction(spec.high))]
    limits += [(op, Fraction(b)) for op, b in spec.compares]
    for j, (op, bound) in enumerate(limits):
        ok = {">=": lo >= bound, ">": lo > bound, "<=": hi <= bound, "<": hi < bound,
              "=": lo == bound == hi}.get(op)
        if op == "!=":
            index = j - (2 if spec.low is not None and spec.high is not None else 0)
            ok = not found.get(f"ne{k}_{index}", 0)
        if not ok:
            return False
    return True


def input_query(reading: Reading, relation: str) -> T.Select:
    """pk_input: _row, _line and every input in its exact form (numbers in the width their range needs)."""
    columns: list = [(T.Col("_row"), "_row"), (T.Col("_line"), "_line")]
    for name, column in reading.inputs.items():
        e = reading.exprs[name]
        if column.kind == P.NUM:
            e = T.Cast(e, "i128" if wide_for(max(abs(column.lo), abs(column.hi))) else "i64")
        columns.append((e, column.column))
    return T.Select(columns, relation)


def duplicates_query(plan: P.Plan, reading: Reading, relation: str) -> T.Select:
    """How many (key, period) appear more than once in pk_input (each employee once, per period)."""
    ids = [T.Col(reading.inputs[plan.key].column)]
    if plan.period:
        ids.append(T.Col(reading.inputs[plan.period].column))
    counts = T.Select([(T.Agg("count"), "c")], relation, group_by=ids)
    return T.Select([(T.Cast(T.Agg("sum", T.Case(((T.Bin(">", T.Col("c"), T.Int(1)), T.Int(1)),), T.Int(0))), "i64"),
                      "d")], counts)


def numbered(source: str) -> T.Select:
    """The rows of source (with _file and _pos, a row's place in its file or partition) numbered in the
    order of the data, without one window over all of them: each file's rows counted, the counts summed
    over the few files in order, and added to each row's place."""
    counts = T.Select([(T.Col("_file"), "_f"), (T.Cast(T.Agg("count"), "i64"), "_n")], source, group_by=[T.Col("_file")])
    offsets = T.Select([(T.Col("_f"), "_f"),
                        (T.Fn("coalesce", (T.Win("sum", T.Col("_n"), (), ((T.Col("_f"), False),), "before"), T.Int(0))),
                         "_o")], counts)
    row = T.Cast(T.Bin("+", T.Col("_o", "r"), T.Col("_pos", "l")), "i64")
    return T.Select([(T.Star("l"), None), (row, "_row"), (T.Bin("+", row, T.Int(1)), "_line")],
                    T.Joined(T.Select([(T.Star(None), None)], source), offsets, [("_file", "_f")]))


def local_raw(meta: dict, plan: P.Plan, names: dict[str, str]) -> tuple[dict[str, RawType], dict[str, InputColumn]]:
    """The raw types and input columns of a table pkrules wrote itself (exact numerators over known
    denominators, already checked): read as it is."""
    raw: dict[str, RawType] = {}
    inputs: dict[str, InputColumn] = {}
    for spec in plan.inputs:
        m = meta[spec.name]
        column = names[spec.name]
        if m.kind == P.NUM:
            raw[column] = RawType("int")
            inputs[spec.name] = InputColumn(spec.name, column, P.NUM, m.den.c, m.lo, m.hi)
        else:
            raw[column] = RawType(m.kind)
            inputs[spec.name] = InputColumn(spec.name, column, m.kind)
    return raw, inputs
