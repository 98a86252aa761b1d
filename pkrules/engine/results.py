"""What every backend gives back: the shape of results, the probe explanations read, and how a backend declines.

A backend (engine/backend.py) evaluates a population into an object with the
`Results` shape: every node's exact value for every employee, the row errors,
and a `Probe` that answers the questions an explanation asks — the value of any
sub-expression for one row, the statistic of that row's group for a population
term (a team's sum, the sorted values behind a top 10%, a pool's split), the
rows of a related table that were counted (and which they were). Explanations and coverage use only
this shape, whatever backend computed the values.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence

from pkrules.errors import PkrulesError
from pkrules.io.tables import row_label
from pkrules.messages import tr
from pkrules.values.numbers import format_human

if TYPE_CHECKING:
    from pkrules.language import ast
    from pkrules.language.rule_graph import RuleGraph
    from pkrules.language.source import Span


class Declined(PkrulesError):
    """A backend cannot give the exact evaluator's answer by itself; the next backend runs instead.

    notable: worth telling the user (a construct it does not do yet), not just a routine
    hand-over (a bad cell or a row error, which the exact evaluator reports in its own words).
    """

    def __init__(self, reason: str, notable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.notable = notable


class BackendUnavailable(PkrulesError, ImportError):
    """A backend's engine cannot run here (not installed; Spark without Java): the message says what to do.

    An ImportError too: a backend that cannot be made is like a module that cannot be imported
    (the differential test skips it, and says why)."""


class RowError(Exception):
    """A value that cannot be computed for one employee (division by zero, a missing lookup…).

    causes: the cells (definition, row) whose failure this one reports (a group member's error,
    an earlier period's): when this error matters, so do theirs.
    """

    def __init__(self, message: str, span: "Span | None" = None, causes: tuple = ()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.causes = tuple(causes)


class Upstream(Exception):
    """A value this row needs is missing because an earlier value failed: cause is that cell (definition, row).

    Failed values are stored as None; a row is still evaluated for the nodes
    that do not depend on what failed, so one error does not hide the rest.
    An error is reported only where it matters: for an output of the policy, or
    for a value that one needs (a branch not taken needs nothing).
    """

    def __init__(self, cause: "tuple[str, int] | None" = None):
        super().__init__()
        self.cause = cause


def causes_of(failure: Exception) -> tuple:
    """The cells behind a failure caught while reading another value."""
    if isinstance(failure, Upstream):
        return (failure.cause,) if failure.cause is not None else ()
    return getattr(failure, "causes", ())


@dataclass
class EvalError:
    """A row error as reported to the user."""

    row: int  # the row's number in the data (1 = first data row)
    key: object
    node: str
    message: str
    span: "Span | None"

    def describe(self, path: str, data: str | None = None) -> str:
        """path: the policy; data: the data file, to name the row as Excel shows it (else the data row)."""
        where = f"{path}:{self.span.line}" if self.span else path
        row = row_label(self.row, data) if data is not None else tr("row {n}", n=self.row)
        return tr("{row} ({key}): {node}: {message}  [{where}]", row=row, key=self.key, node=self.node,
                  message=self.message, where=where)


@dataclass
class GroupStat:
    """What a population term computed for one group (shown in explanations).

    detail by term: an aggregate has "counted"; a rank "ranks" (value → rank);
    a top N% "sorted" (the group's values, ascending), "places" and, asked for
    one row (Probe.group), "better" (how many members are strictly better) — and,
    from a backend that counts them without sorting the group, "selected" (how many
    are in it) and "cut" (the value at the cut-off, when ties widen it; else None); a
    split "weight_total" and "shares" (row → share).
    """

    group: object
    members: int
    value: object = None
    detail: dict = field(default_factory=dict)


class Beyond:
    """How many of a group's values (sorted ascending) are strictly greater than a value, or strictly less: by
    bisection for the first few rows asked, then from one table of every value's counts made in one pass —
    evaluating everyone's top N%, or a workbook row for every employee, asks once per member, and each
    bisection compares exact Fractions some fifteen times."""

    def __init__(self, values: Sequence) -> None:
        self.values = values
        self._asked = 0
        self._counts: dict[tuple[int, int], tuple[int, int]] | None = None

    def __call__(self, v: object, bottom: bool) -> int:
        self._asked += 1
        if self._asked == _ASKED_BEFORE_COUNTING and len(self.values) <= _COUNTED_AT_MOST:
            self._counts = _counts(self.values)
        if self._counts is not None and type(v) is Fraction:
            # (found by numerator and denominator: a Fraction's own hash costs a modular power)
            found = self._counts.get((v.numerator, v.denominator))
            if found is not None:
                return found[0] if bottom else found[1]
        values = self.values
        return bisect.bisect_left(values, v) if bottom else len(values) - bisect.bisect_right(values, v)


# Rows asked about one group before the counts of all its values are worked out at once; and the largest group
# counted so (a table of a million values would hold some 150 MB: a larger group is bisected, as before).
_ASKED_BEFORE_COUNTING = 32
_COUNTED_AT_MOST = 1 << 18


def _counts(values: Sequence) -> dict[tuple[int, int], tuple[int, int]] | None:
    """(how many below, how many above) each distinct value, from the values sorted ascending; None unless
    every value is a Fraction (whose numerator and denominator say when two are equal)."""
    values = list(values)
    counts: dict[tuple[int, int], tuple[int, int]] = {}
    n, start = len(values), 0
    for k in range(1, n + 1):
        if k == n or values[k] != values[start]:  # values[start:k] are one value
            first = values[start]
            if type(first) is not Fraction:
                return None
            counts[(first.numerator, first.denominator)] = (start, n - k)
            start = k
    return counts


class Probe(Protocol):
    """Questions an explanation asks about one row, answered from a backend's results."""

    failed: set[int]  # rows with a row error

    def value(self, expr: "ast.Expr", row: int) -> object:
        """The value of any expression of the policy for this row (raises RowError or Upstream)."""

    def group(self, term: "ast.Expr", row: int) -> GroupStat | None:
        """The statistic of this row's group for a population term (None: not computed for it)."""

    def related(self, term: "ast.Aggregate", row: int) -> tuple[int, int]:
        """For an aggregate over a related table: (rows counted, rows of this employee)."""

    def related_entries(self, term: "ast.Aggregate", row: int) -> list[tuple[dict, bool, object]]:
        """For an aggregate over a related table: this employee's rows (row, counted, operand's value)."""


class Results(Protocol):
    """Every node's value for every employee of a population, from any backend."""

    graph: "RuleGraph"
    errors: list[EvalError]
    row_numbers: list[int]
    columns: Mapping[str, Sequence]

    @property
    def size(self) -> int: ...

    @property
    def keys(self) -> Sequence: ...

    @property
    def probe(self) -> Probe: ...

    def value(self, name: str, index: int) -> object: ...

    def index_of(self, key: object, period: object = None) -> int | None: ...

    def rows_of(self, key: object) -> list[int]:
        """The rows of one employee (one per period), by key: an indexed lookup, not a scan."""

    def failed_rows(self) -> set[int]: ...


def same_key(value: object, wanted: object) -> bool:
    """Whether a stored key (or period) is the one a person typed: 'E001', '7', '2024-06'."""
    if value == wanted:
        return True
    text = str(wanted)
    return str(value) == text or (isinstance(value, Fraction) and format_human(value, group=False) == text)


def row_of(keys: Sequence, periods: Sequence | None, key: object, period: object = None,
           index: "RowIndex | None" = None) -> int | None:
    """The row of an employee; with several periods, the latest unless one is named."""
    matches = index.find(key) if index is not None else [i for i, k in enumerate(keys) if same_key(k, key)]
    if periods is None or not matches:
        return matches[0] if matches else None
    if period is not None:
        return next((i for i in matches if same_key(periods[i], period)), None)
    from pkrules.values.periods import PeriodLabelError, period_sort_key

    try:
        order = period_sort_key(periods[i] for i in matches)
    except PeriodLabelError:
        order = lambda v: v  # noqa: E731 - unordered labels were refused when read; keep the old answer
    return max(matches, key=lambda i: order(periods[i]))


class RowIndex:
    """An employee's rows by key, built once: finding one is a dict lookup, not a scan of every key.

    find() matches as same_key does (the key as stored, or as a person types it); rows() by the key itself.
    """

    def __init__(self, keys: Sequence):
        self._by_value: dict[object, list[int]] = {}
        self._by_text: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            try:
                self._by_value.setdefault(k, []).append(i)
            except TypeError:
                pass
            texts = {str(k)}
            if isinstance(k, Fraction):
                texts.add(format_human(k, group=False))
            for text in texts:
                self._by_text.setdefault(text, []).append(i)

    def rows(self, key: object) -> list[int]:
        """The rows whose key equals this one (every period of an employee)."""
        try:
            return list(self._by_value.get(key, ()))
        except TypeError:
            return []

    def find(self, wanted: object) -> list[int]:
        try:
            found = set(self._by_value.get(wanted, ()))
        except TypeError:
            found = set()
        found.update(self._by_text.get(str(wanted), ()))
        return sorted(found)
