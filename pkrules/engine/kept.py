"""A kept run: every value of an evaluation and its population terms' groups, to explain one employee in milliseconds.

    kept = keep(results)                         # any backend's results (the fast path keeps its own, vectorised)
    write_kept_file(kept, graph, "march.pkrun")  # engine/kept_file.py — or a store of its own (the workflow)
    results = KeptResults(graph, kept.spec, source)   # source: where the kept data is read from (KeptSource)
    explain(results, results.index_of("E042"), "total")

Per employee (row) a kept run holds every node's exact value as text (values/stored.py) and, for
every population term of the policy — a sum or count within a group, a rank, a top N%, a pool
split, another employee's value, previous() and consecutive(), an aggregate over a related
table — the term's value for that row (for a top N%, also how many members are strictly better;
over a related table, the rows counted). Per group of each term it holds the group's statistic
(members, value, rows counted, weight total, places). Terms are found again by their place in
the policy text (policy_terms), so a run is read back with the policy it was computed with.

Explaining one employee then reads that employee's values and their groups' statistics only:
the exact evaluator's closures run for that one row, and read the kept terms instead of the
population (engine/exact.py: TermSource).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

from pkrules.engine.exact import Compiled
from pkrules.engine.results import EvalError, GroupStat, RowError, Upstream, same_key
from pkrules.errors import PkrulesError
from pkrules.language import ast
from pkrules.language.builtins import function_of
from pkrules.language.source import Span
from pkrules.messages import tr
from pkrules.values.stored import value_from_text, value_text

FORMAT = "pkrules kept run"
VERSION = 1
CHUNK = 50_000  # rows handed to a store at a time


class KeptRunError(PkrulesError):
    """A kept run that cannot be read with this policy (another policy, another format)."""


# ---- which terms: found again by their place in the policy -------------------------------------


@dataclass(frozen=True)
class KeptTerm:
    """A term of the policy that reads other rows, named by its definition and its place in the text."""

    id: str  # "team_fund@70:13-70:45"
    kind: str  # aggregate | related | rank | top | split | value_of | previous | consecutive
    expr: object = field(compare=False, repr=False)

    @property
    def extra(self) -> tuple[str, ...]:
        """What is kept per row besides the value."""
        return {"top": ("better",), "related": ("counted", "rows")}.get(self.kind, ())

    @property
    def grouped(self) -> bool:
        return self.kind in ("aggregate", "rank", "top", "split")


def _kind(e: object) -> str | None:
    if isinstance(e, ast.Aggregate) and getattr(e, "to_date", None) is not None:
        # a year-to-date sum is the employee's own earlier periods, not a group's statistic: not kept, so the
        # exact closure computes it from the kept values (engine/exact.py: Compiled.group without a stored term)
        return None
    if isinstance(e, ast.Aggregate):
        return "related" if e.source is not None else "aggregate"
    if isinstance(e, ast.Rank):
        return "rank"
    if isinstance(e, ast.Top):
        return "top"
    if isinstance(e, ast.Split):
        return "split"
    if isinstance(e, ast.ValueOf):
        return "value_of"
    if isinstance(e, ast.Call) and function_of(e.func) in ("previous", "consecutive"):
        return function_of(e.func)
    return None


def policy_terms(graph) -> list[KeptTerm]:
    """Every term of the policy that reads other rows, in a stable order: definitions in evaluation
    order, terms in source order. The same policy text gives the same ids."""
    out: list[KeptTerm] = []
    seen: set[int] = set()
    ids: set[str] = set()
    for name in graph.order:
        for e in ast.walk(graph.nodes[name].decl):
            kind = _kind(e)
            if kind is None or id(e) in seen:
                continue
            seen.add(id(e))
            s = e.span
            tid = f"{name}@{s.line}:{s.column}-{s.end_line}:{s.end_column}"
            while tid in ids:  # (two terms at one place cannot be written; a guard only)
                tid += "'"
            ids.add(tid)
            out.append(KeptTerm(tid, kind, e))
    return out


# ---- the records: fields joined by a separator no value holds -------------------------------------
#
# A record is its fields joined by \x1f: a value's text (values/stored.py), "\x1e" for no value,
# "\x1d" + message for a value that failed, "\x1c" for one an earlier error of the row stopped.
# Free text has its backslashes, these four characters and newlines escaped; numbers, yes/no
# and dates never hold them. (Joined by polars on whole columns, it is three times faster to make than JSON.)

SEP, NONE, FAILED, STOPPED = "\x1f", "\x1e", "\x1d", "\x1c"
# backslashes first; a newline too, so that a store may put records one per line
ESCAPES = (("\\", "\\\\"), (SEP, "\\x1f"), (NONE, "\\x1e"), (FAILED, "\\x1d"), (STOPPED, "\\x1c"), ("\n", "\\n"))


class Failed:
    """A kept value that failed: the row error's message (None: an earlier error of the row stopped it)."""

    __slots__ = ("message",)

    def __init__(self, message: str | None):
        self.message = message

    def __eq__(self, other) -> bool:
        return isinstance(other, Failed) and other.message == self.message

    def __repr__(self) -> str:
        return f"Failed({self.message!r})"


def escape(text: str) -> str:
    for plain, escaped in ESCAPES:
        if plain in text:
            text = text.replace(plain, escaped)
    return text


def _unescape(text: str) -> str:
    return re.sub(r"\\(\\|x1[c-f]|n)", _unescaped, text)


def _unescaped(m: re.Match) -> str:
    code = m.group(1)
    return "\\" if code == "\\" else "\n" if code == "n" else chr(int(code[1:], 16))


def encode_field(value: object) -> str:
    """One field of a record: a text, None, Failed, or a count."""
    if value is None:
        return NONE
    if isinstance(value, Failed):
        return STOPPED if value.message is None else FAILED + escape(value.message)
    if isinstance(value, int):
        return str(value)
    return escape(value)  # type: ignore[arg-type]


def decode_record(record: str) -> list:
    """A record's fields: texts, None, Failed."""
    out: list = []
    for field_ in record.split(SEP):  # (an empty record is one empty field: a record is never empty)
        if field_ == NONE:
            out.append(None)
        elif field_ == STOPPED:
            out.append(Failed(None))
        elif field_.startswith(FAILED):
            out.append(Failed(_unescape(field_[1:])))
        else:
            out.append(_unescape(field_) if "\\" in field_ else field_)
    return out


def encode_record(fields) -> str:
    return SEP.join(encode_field(f) for f in fields)


def group_text(group: object) -> str:
    """A group (a team; (period, team); (team, week)) as the text a kept run files its statistic under."""
    return SEP.join(encode_field(value_text(v)) for v in _flat(group))


def _flat(group: object) -> list:
    if isinstance(group, tuple):
        return [x for part in group for x in _flat(part)]
    return [group]


def stat_data(stat: GroupStat) -> dict:
    """A group's statistic as kept (JSON): members, value, rows counted, weight total, places."""
    data: dict = {"m": stat.members}
    if stat.value is not None:
        data["v"] = value_text(stat.value)
    detail = stat.detail
    if "counted" in detail:
        data["c"] = detail["counted"]
    if "weight_total" in detail:
        data["w"] = value_text(detail["weight_total"])
    if "places" in detail:
        data["p"] = detail["places"]
        values, places = detail.get("sorted"), detail["places"]
        if values and places > 0:  # the values a cut-off is read from, at the last place of a bottom and of a top N
            q = min(places, len(values))
            data["kb"], data["kt"] = value_text(values[q - 1]), value_text(values[len(values) - q])
    return data


# ---- a kept run, ready for a store ----------------------------------------------------------------


@dataclass
class KeptRun:
    """What a store keeps of one evaluation.

    spec: what the records hold (JSON): the nodes in order, the terms (id, kind), the size.
    rows(chunk): the rows in chunks, each row (position, key field, period field or None, row
      number, values record — every node's value in spec["nodes"] order —, terms record — per
      term of spec["terms"] its value, then for a top N% how many are better, over a related
      table the rows counted and the employee's rows; a value nobody kept is None, computed again
      when asked). Records and fields: see encode_record (a key field is its text, escaped).
    groups: (term id, group text, statistic JSON) of every group of every population term.
    errors: the row errors of the run (JSON-ready dicts).
    texts(name): one node's value texts (values/stored.py: value_text), in row order (None where it failed).
    """

    spec: dict
    rows: Callable[[int], Iterator[list[tuple]]]
    groups: list[tuple[str, str, str]]
    errors: list[dict]
    texts: Callable[[str], Sequence]
    order: Callable[[], Sequence[int]] | None = None  # positions sorted by key field (None: a store sorts)
    # The same rows in blocks of n, each (block number, row numbers joined by SEP, values records and
    # terms records one per line), and the (first key, "key SEP position" lines) of the keys in order
    # cut into blocks of about n that never split an employee — made faster by a backend (None: from rows).
    blocks: Callable[[int], Iterator[list[tuple]]] | None = None
    key_blocks: Callable[[int], list[tuple[str, str]]] | None = None


def policy_digest(graph) -> str:
    return hashlib.sha256(graph.source.text.encode("utf-8")).hexdigest()


def lookups_digest(graph) -> str:
    """A digest of the lookup tables read from files next to the policy (they can change while the policy does not)."""
    tables = getattr(graph, "lookup_tables", None) or {}
    data = {name: sorted([value_text(k), value_text(v)] for k, v in table.items())
            for name, (table, _lines) in sorted(tables.items())}
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def run_spec(results, terms: list[KeptTerm]) -> dict:
    graph = results.graph
    return {"format": FORMAT, "version": VERSION, "backend": getattr(results, "backend", "exact"),
            "policy_sha256": policy_digest(graph), "lookups_sha256": lookups_digest(graph),
            "size": results.size, "key": graph.key, "period": graph.period, "nodes": list(graph.nodes),
            "terms": [[t.id, t.kind] for t in terms]}


def error_data(results) -> list[dict]:
    """The run's row errors, each with its row's position (JSON-ready)."""
    if not results.errors:
        return []
    position: dict[int, int] = {}
    for pos, number in enumerate(results.row_numbers):
        position.setdefault(number, pos)
    out = []
    for e in results.errors:
        span = [e.span.line, e.span.column, e.span.end_line, e.span.end_column] if e.span else None
        out.append({"pos": position.get(e.row), "row": e.row, "key": value_text(e.key), "node": e.node,
                    "message": e.message, "span": span})
    return out


def keep(results) -> KeptRun:
    """Everything a kept run holds of these results (any backend). A backend may keep its own
    results faster (the fast path: with column expressions) through a `keep(terms)` method."""
    terms = policy_terms(results.graph)
    own = getattr(results, "keep", None)
    if own is not None:
        return own(terms)
    return keep_exact(results, terms)


def term_fields(probe, term: KeptTerm, i: int) -> list:
    """One row's kept fields of one term, asked of a probe (engine/results.py): the value, then its extras."""
    try:
        value: object = value_text(probe.value(term.expr, i))
    except RowError as e:
        value = Failed(e.message)
    except Upstream:
        value = Failed(None)
    except ArithmeticError as e:  # (defensive, as the evaluator: reported, never a crash)
        value = Failed(str(e))
    if term.kind == "top":
        stat = probe.group(term.expr, i) if isinstance(value, str) else None
        return [value, stat.detail.get("better") if stat is not None else None]
    if term.kind == "related":
        counted, rows = probe.related(term.expr, i)
        return [value, counted, rows]
    return [value]


def term_groups(probe, term: KeptTerm, rows: Sequence[int]) -> dict[str, str]:
    """group text → statistic JSON of every group a row of `rows` belongs to, asked of a probe."""
    groups: dict[str, str] = {}
    for i in rows:
        stat = probe.group(term.expr, i)
        if stat is None:
            continue
        text = group_text(stat.group)
        if text not in groups:
            groups[text] = json.dumps(stat_data(stat), ensure_ascii=False, separators=(",", ":"))
    return groups


def keep_exact(results, terms: list[KeptTerm]) -> KeptRun:
    """A kept run of results held as Python values (the exact evaluator's): each value made text once."""
    graph = results.graph
    probe = results.probe
    size = results.size
    nodes = list(graph.nodes)
    columns = [results.columns[name] for name in nodes]
    keys = results.keys
    periods = results.columns[graph.period] if graph.period else None
    numbers = results.row_numbers

    def rows(chunk: int = CHUNK) -> Iterator[list[tuple]]:
        for start in range(0, size, chunk):
            out = []
            for i in range(start, min(size, start + chunk)):
                values = encode_record([value_text(column[i]) for column in columns])
                entries = encode_record([f for t in terms for f in term_fields(probe, t, i)])
                out.append((i, encode_field(value_text(keys[i])),
                            encode_field(value_text(periods[i])) if periods is not None else None,
                            numbers[i], values, entries))
            yield out

    groups = []
    everyone = range(size)
    for t in terms:
        if t.grouped:
            groups.extend((t.id, g, s) for g, s in term_groups(probe, t, everyone).items())
    return KeptRun(run_spec(results, terms), rows, groups, error_data(results),
                   lambda name: [value_text(v) for v in results.columns[name]])


# ---- reading a kept run back -------------------------------------------------------------------------


class KeptSource(Protocol):
    """Where a kept run is read from (a kept-run file, the workflow's store): one row, one group at a time."""

    def record(self, pos: int) -> tuple[int, list | str, list | str] | None:
        """The row at this position: (row number, values, terms) — KeptRun.rows' records, as stored
        or decoded (decode_record); values may also be a list of texts with "" for no value."""

    def positions(self, key: str) -> list[int]:
        """The positions of the rows of an employee (one per period), by key text."""

    def group(self, term: str, group: str) -> dict | None:
        """A group's statistic (KeptRun.groups' JSON, decoded), or None."""

    def errors(self) -> list[dict]:
        """The run's row errors (KeptRun.errors)."""

    def keys(self) -> list[str]:
        """Every row's key text, in order (to suggest a close one when an id is not found)."""


class KeptResults:
    """A kept run read back as Results (engine/results.py): each value decoded when it is read.

    Explaining one employee reads that row's values and its groups' statistics; anything else
    (another row, a whole column) is read from the source too, row by row — correct, only slower.
    """

    backend = "kept"

    def __init__(self, graph, spec: dict, source: KeptSource):
        if spec.get("format") != FORMAT or spec.get("version") != VERSION:
            raise KeptRunError(tr("a kept run of another format ({format} {version}); keep the run again",
                                  format=spec.get("format"), version=spec.get("version")))
        terms = policy_terms(graph)
        if (spec.get("policy_sha256") != policy_digest(graph) or spec.get("nodes") != list(graph.nodes)
                or [[t.id, t.kind] for t in terms] != spec.get("terms")):
            raise KeptRunError(tr("this run was kept with another version of the policy"))
        if spec.get("lookups_sha256") != lookups_digest(graph):
            raise KeptRunError(tr("a lookup file of the policy changed since this run was kept; "
                                  "its explanations would not match its figures"))
        self.graph = graph
        self.spec = spec
        self.source = source
        self.terms = terms
        self.kept_backend = spec.get("backend")
        self._node_index = {name: k for k, name in enumerate(spec["nodes"])}
        self._offsets = []  # where each term's fields start in a terms record
        at = 0
        for t in terms:
            self._offsets.append(at)
            at += 1 + len(t.extra)
        self._records: OrderedDict[int, tuple] = OrderedDict()
        self._decoded: dict[tuple[str, int], object] = {}
        self.columns = _KeptColumns(self)
        self.row_numbers = _RowNumbers(self)
        errors = source.errors()
        self.errors = [_eval_error(e) for e in errors]
        self._failed = {e["pos"] for e in errors if e.get("pos") is not None}
        self.probe = Compiled(graph, self.columns, self.size, terms=KeptTerms(self))

    @property
    def size(self) -> int:
        return self.spec["size"]

    @property
    def keys(self):
        return self.columns[self.graph.key]

    def failed_rows(self) -> set[int]:
        return set(self._failed)

    # -- one row
    def record(self, pos: int) -> tuple:
        found = self._records.get(pos)
        if found is None:
            if not 0 <= pos < self.size:
                raise IndexError(pos)
            found = self.source.record(pos)
            if found is None:
                raise KeptRunError(tr("the kept run has no row {row}: it is damaged", row=pos + 1))
            number, values, terms = found
            found = (number, decode_record(values) if isinstance(values, str) else values,
                     decode_record(terms) if isinstance(terms, str) else terms)
            self._records[pos] = found
            if len(self._records) > 256:  # a few rows are read again and again; keep those
                self._records.popitem(last=False)
        return found

    def value(self, name: str, index: int) -> object:
        key = (name, index)
        if key in self._decoded:
            return self._decoded[key]
        text = self.record(index)[1][self._node_index[name]]
        value = value_from_text(text, self.graph.nodes[name].type)
        if len(self._decoded) < 100_000:
            self._decoded[key] = value
        return value

    def term_fields(self, index: int, k: int) -> list:
        """Row index's kept fields of term k: [value, extras…] (value: text, None, or Failed)."""
        at = self._offsets[k]
        return self.record(index)[2][at:at + 1 + len(self.terms[k].extra)]

    # -- finding rows
    def rows_of(self, key: object) -> list[int]:
        """The positions of an employee's rows (every period), by key."""
        return self.source.positions(value_text(key) or "")

    def index_of(self, key: object, period: object = None) -> int | None:
        """The row of an employee (given as text or value); with periods, the latest unless one is named."""
        found = self.source.positions(key if isinstance(key, str) else (value_text(key) or ""))
        if not found and not isinstance(key, str):
            found = self.source.positions(str(key))
        if not found:
            return None
        period_name = self.graph.period
        if period_name is None:
            return found[0]
        periods = {pos: self.value(period_name, pos) for pos in found}
        if period is not None:
            return next((pos for pos in found if same_key(periods[pos], period)), None)
        return max(found, key=lambda pos: periods[pos])


def _eval_error(data: dict) -> EvalError:
    span = Span(*data["span"]) if data.get("span") else None
    return EvalError(data["row"], data["key"], data["node"], data["message"], span)


class _KeptColumn(Sequence):
    """One node's values: one decoded when one is read; the whole column read row by row when iterated."""

    def __init__(self, results: KeptResults, name: str):
        self._results = results
        self._name = name

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return self._results.value(self._name, index)

    def __len__(self) -> int:
        return self._results.size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"<kept column {self._name} of {len(self)} rows>"


class _KeptColumns(dict):
    """name → _KeptColumn, made on first use."""

    def __init__(self, results: KeptResults):
        super().__init__()
        self._results = results

    def __missing__(self, name: str) -> _KeptColumn:
        if name not in self._results.graph.nodes:
            raise KeyError(name)
        column = _KeptColumn(self._results, name)
        self[name] = column
        return column

    def __contains__(self, name: object) -> bool:
        return name in self._results.graph.nodes

    def get(self, name, default=None):
        return self[name] if name in self else default


class _RowNumbers(Sequence):
    def __init__(self, results: KeptResults):
        self._results = results

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._results.record(index)[0]

    def __len__(self) -> int:
        return self._results.size


class KeptTerms:
    """A kept run's population terms for the exact evaluator's closures (engine/exact.py: TermSource)."""

    def __init__(self, results: KeptResults):
        self.results = results
        self.by_expr = {id(t.expr): (k, t) for k, t in enumerate(results.terms)}

    def _find(self, term) -> tuple[int, KeptTerm] | None:
        found = self.by_expr.get(id(term))
        if found is None or found[1].expr is not term:
            return None
        return found

    def values(self, term, fallback):
        found = self._find(term)
        if found is None:
            return None
        k, kept = found
        results = self.results
        type_ = results.graph.types.get(id(term))
        exact: list = []

        def read(i: int) -> object:
            value = results.term_fields(i, k)[0]
            if isinstance(value, str):
                return value_from_text(value, type_)
            if isinstance(value, Failed):
                if value.message is not None:
                    raise RowError(value.message, term.span)
                raise Upstream()
            if not exact:  # not kept for this row: the exact closure over the whole population
                exact.append(fallback(term))
            return exact[0](i)

        return read

    def group(self, term, row: int) -> GroupStat | None:
        found = self._find(term)
        if found is None:
            return None
        k, kept = found
        results = self.results
        graph = results.graph
        within = getattr(term, "within", None)
        try:
            inner = None if within is None else results.probe.value(within, row)
        except (RowError, Upstream, ArithmeticError):
            return None  # the row's own error: it joins no group
        group = (results.columns[graph.period][row], inner) if graph.period and not getattr(term, "across", False) else inner
        data = results.source.group(kept.id, group_text(group))
        if data is None:
            return None
        detail: dict = {}
        value = None
        if kept.kind == "aggregate":
            value = value_from_text(data.get("v"), graph.types.get(id(term)))
            detail["counted"] = data.get("c", data["m"])
        elif kept.kind == "top":
            better = results.term_fields(row, k)[1]
            detail["places"] = data["p"]
            # not the group's values: the two a cut-off is read from, placed where explain.py reads them
            operand = graph.types.get(id(term.operand))
            cuts = [value_from_text(data[c], operand) for c in ("kb", "kt")] if "kb" in data else []
            detail["sorted"] = [cuts[0]] * data["p"] + [cuts[1]] * data["p"] if cuts else []
            detail["better"] = int(better) if better is not None else None
        elif kept.kind == "split":
            value = value_from_text(data.get("v"), graph.types.get(id(term.pool)))
            detail["weight_total"] = value_from_text(data.get("w"), graph.types.get(id(term.weight)))
            detail["shares"] = _Shares(self, term)
        return GroupStat(group, data["m"], value, detail)

    def related(self, term, row: int) -> tuple[int, int] | None:
        found = self._find(term)
        if found is None:
            return None
        fields = self.results.term_fields(row, found[0])
        if fields[1] is None:
            return None
        return int(fields[1]), int(fields[2])


class _Shares(Mapping):
    """row → the row's share of a split (its kept value, through the probe), for the rows asked about."""

    def __init__(self, terms: KeptTerms, term):
        self._probe = terms.results.probe
        self._term = term

    def __getitem__(self, i):
        return self._probe.value(self._term, i)

    def __len__(self) -> int:
        return 0

    def __iter__(self):
        return iter(())


class MemorySource:
    """A kept run held in memory (KeptSource): for tests, and for a run kept and read in one process."""

    def __init__(self, kept: KeptRun):
        self._records: dict[int, tuple] = {}
        self._positions: dict[str, list[int]] = {}
        self._keys: list[str] = []
        for chunk in kept.rows(CHUNK):
            for pos, key, _period, number, values, terms in chunk:
                self._records[pos] = (number, decode_record(values), decode_record(terms))
                self._positions.setdefault(key, []).append(pos)
                self._keys.append(decode_record(key)[0])
        self._groups = {(term, group): json.loads(stat) for term, group, stat in kept.groups}
        self._errors = list(kept.errors)

    def record(self, pos: int):
        return self._records.get(pos)

    def positions(self, key: str) -> list[int]:
        return list(self._positions.get(escape(key), ()))

    def group(self, term: str, group: str):
        return self._groups.get((term, group))

    def errors(self) -> list[dict]:
        return self._errors

    def keys(self) -> list[str]:
        return self._keys
