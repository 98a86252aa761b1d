"""Period labels as HR writes them (2025-03, 2025年3月, 2025Q3, 2025-W07, dates), read as time and ordered by it.

A text period column keeps its labels as written (outputs show them so); its
order is the order of the times they name. Every label of one column must
name the same kind of period (all months, all quarters …); a label that names
no time (`9月` has no year) or another kind is refused, naming the label.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable

KINDS = ("year", "half", "quarter", "month", "week", "date", "number")

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "上": 1, "下": 2}


@dataclass(frozen=True)
class Period:
    """What a label names: its kind, its place in time among labels of that kind, and its days."""

    kind: str
    ordinal: int  # months since year 0 for a month, quarters for a quarter …; the number itself for "number"
    start: dt.date | None = None
    end: dt.date | None = None  # the last day (inclusive)

    @property
    def year(self) -> int | None:
        return self.start.year if self.start is not None else None

    @property
    def days(self) -> int | None:
        return (self.end - self.start).days + 1 if self.start is not None and self.end is not None else None


def _month(year: int, month: int) -> Period | None:
    if not 1 <= month <= 12 or not 1 <= year <= 9999:
        return None
    last = calendar.monthrange(year, month)[1]
    return Period("month", year * 12 + month - 1, dt.date(year, month, 1), dt.date(year, month, last))


def _quarter(year: int, quarter: int) -> Period | None:
    if not 1 <= quarter <= 4 or not 1 <= year <= 9999:
        return None
    first = 3 * quarter - 2
    last_month = first + 2
    return Period("quarter", year * 4 + quarter - 1, dt.date(year, first, 1),
                  dt.date(year, last_month, calendar.monthrange(year, last_month)[1]))


def _half(year: int, half: int) -> Period | None:
    if half not in (1, 2) or not 1 <= year <= 9999:
        return None
    return Period("half", year * 2 + half - 1, dt.date(year, 6 * half - 5, 1), dt.date(year, 6 * half, 30 if half == 1 else 31))


def _week(year: int, week: int) -> Period | None:
    try:
        start = dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        return None
    monday_of_week_one = dt.date.fromisocalendar(1, 1, 1)
    return Period("week", (start - monday_of_week_one).days // 7, start, start + dt.timedelta(days=6))


def _day(year: int, month: int, day: int) -> Period | None:
    try:
        d = dt.date(year, month, day)
    except ValueError:
        return None
    return Period("date", d.toordinal(), d, d)


def _year(year: int) -> Period | None:
    if not 1 <= year <= 9999:
        return None
    return Period("year", year, dt.date(year, 1, 1), dt.date(year, 12, 31))


def _number(text: str) -> int:
    return _CN_DIGITS[text] if text in _CN_DIGITS else int(text)


_FORMS: list[tuple[re.Pattern, object]] = [
    (re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"), lambda m: _day(int(m[1]), int(m[2]), int(m[3]))),
    (re.compile(r"(\d{4})\s*[-/.]?\s*[Qq]([1-4])"), lambda m: _quarter(int(m[1]), int(m[2]))),
    (re.compile(r"(\d{4})年\s*第?([1-4一二三四])季度?"), lambda m: _quarter(int(m[1]), _number(m[2]))),
    (re.compile(r"(\d{4})\s*[-/.]?\s*[Hh]([12])"), lambda m: _half(int(m[1]), int(m[2]))),
    (re.compile(r"(\d{4})年\s*([上下])半年"), lambda m: _half(int(m[1]), _number(m[2]))),
    (re.compile(r"(\d{4})\s*-?\s*[Ww](\d{1,2})"), lambda m: _week(int(m[1]), int(m[2]))),
    (re.compile(r"(\d{4})年\s*第(\d{1,2})周"), lambda m: _week(int(m[1]), int(m[2]))),
    (re.compile(r"(\d{4})[-/.](\d{1,2})"), lambda m: _month(int(m[1]), int(m[2]))),
    (re.compile(r"(\d{4})年\s*(\d{1,2})月(份)?"), lambda m: _month(int(m[1]), int(m[2]))),
    (re.compile(r"(\d{4})(0[1-9]|1[0-2])"), lambda m: _month(int(m[1]), int(m[2]))),
    (re.compile(r"(\d{4})年?(度)?"), lambda m: _year(int(m[1]))),
]

# Labels that name a time but not which one: a month or a quarter without its year.
_NO_YEAR = re.compile(r"(\d{1,2}|[一二三四五六七八九十]+)月(份)?|第?[1-4一二三四]季度?|[Qq][1-4]|[Hh][12]|[上下]半年|第?\d{1,2}周|[Ww]\d{1,2}")


def parse_period(text: str) -> Period | None:
    """The period a label names, or None. Plain whole numbers (1, 2, 12) are periods of kind "number"."""
    raw = text.strip()
    if re.fullmatch(r"-?\d{1,3}", raw) or re.fullmatch(r"-?\d{5}", raw) or re.fullmatch(r"-?\d{7,}", raw):
        return Period("number", int(raw))
    for pattern, make in _FORMS:
        m = pattern.fullmatch(raw)
        if m:
            return make(m)  # type: ignore[operator]
    return None


class PeriodLabelError(ValueError):
    """A label that cannot be ordered with the others; the message says why and what to write."""

    def __init__(self, label: str, message: str):
        super().__init__(message)
        self.label = label


_EXAMPLES = {"year": "2025", "half": "2025H1", "quarter": "2025Q3", "month": "2025-03 or 2025年3月", "week": "2025-W07",
             "date": "2025-03-01", "number": "3"}


def describe_kind(kind: str) -> str:
    """'a month', 'a quarter' … in the language being spoken."""
    from pkrules.messages import tr

    return {"year": tr("a year"), "half": tr("a half-year"), "quarter": tr("a quarter"), "month": tr("a month"),
            "week": tr("a week"), "date": tr("a date"), "number": tr("a number")}[kind]


def _plural(kind: str) -> str:
    from pkrules.messages import tr

    return {"year": tr("years"), "half": tr("half-years"), "quarter": tr("quarters"), "month": tr("months"),
            "week": tr("weeks"), "date": tr("dates"), "number": tr("numbers")}[kind]


def example_of(kind: str) -> str:
    return _EXAMPLES[kind]


def why_not_a_period(label: str) -> str:
    """What is wrong with a label that names no period, in words an author can act on."""
    from pkrules.messages import tr

    raw = label.strip()
    if raw == "":
        return tr("a period is required")
    if _NO_YEAR.fullmatch(raw):
        return tr("'{label}' has no year, so it cannot be put in order with other periods: write the year too, "
                  "e.g. 2024年{label}", label=raw)
    return tr("'{label}' is not a period pkrules can put in order: write a month as 2025-03 or 2025年3月, a quarter "
              "as 2025Q3 or 2025年第3季度, a week as 2025-W07, or a date", label=raw)


def order_periods(labels: Iterable[str]) -> dict[str, Period]:
    """Each label with the period it names; raises PeriodLabelError for the first label that cannot be
    ordered with the rest (it names no period, another kind than most labels, or a period an earlier
    label already names in another spelling)."""
    found: dict[str, Period] = {}
    counts: dict[str, int] = {}
    for label in labels:
        if label in found:
            counts[found[label].kind] += 1
            continue
        period = parse_period(label)
        if period is None:
            raise PeriodLabelError(label, why_not_a_period(label))
        found[label] = period
        counts[period.kind] = counts.get(period.kind, 0) + 1
    if len(counts) > 1:
        main = max(counts, key=lambda k: (counts[k], -KINDS.index(k)))
        odd = next(label for label, period in found.items() if period.kind != main)
        raise PeriodLabelError(odd, mixed_kinds(odd, found[odd].kind, main, next(
            label for label, period in found.items() if period.kind == main)))
    # Two spellings of one period (2024-08 and 2024-8) would be two periods to everything that groups
    # or looks back by label, silently; the second spelling is refused, naming the first.
    first: dict[tuple[str, int], str] = {}
    for label, period in found.items():
        seen = first.setdefault((period.kind, period.ordinal), label)
        if seen != label:
            raise PeriodLabelError(label, same_period(label, seen))
    return found


def same_period(label: str, seen: str) -> str:
    from pkrules.messages import tr

    return tr("'{label}' is the same period as '{seen}', written another way: write each period of the column "
              "one way (here {seen})", label=label, seen=seen)


def mixed_kinds(label: str, kind: str, main: str, sample: str) -> str:
    from pkrules.messages import tr

    return tr("'{label}' is {kind}, but the other periods are {main} (such as {sample}); periods of one column "
              "must all be of one kind", label=label, kind=describe_kind(kind), main=_plural(main), sample=sample)


def period_sort_key(values: Iterable[object]):
    """A sort key for a column's periods: by time for text labels, by value for numbers and dates.

    Raises PeriodLabelError when text labels cannot be ordered."""
    values = list(values)
    texts = [v for v in values if isinstance(v, str)]
    if not texts:
        return lambda v: v
    periods = order_periods(texts)
    return lambda v: periods[v].ordinal if isinstance(v, str) else v


def month_start(period: Period) -> dt.date | None:
    return period.start


def days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]
