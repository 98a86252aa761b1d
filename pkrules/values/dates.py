"""Date arithmetic HR uses: days and completed months between dates, a month's or a period's first and last day.

A date argument may also be a period label (2025年3月, 2025Q3): its first day, or
for the ends of a period, its days. Every function raises ValueError with what was
wrong, which the evaluator reports as an error of that employee's row.
"""

from __future__ import annotations

import calendar
import datetime as dt

from pkrules.values.periods import parse_period, why_not_a_period


def as_period(value: object):
    """A date or a period label → the Period it names (a date is a period of one day)."""
    from pkrules.values.periods import Period

    if isinstance(value, dt.date):
        return Period("date", value.toordinal(), value, value)
    period = parse_period(str(value))
    if period is None or period.start is None:
        raise ValueError(why_not_a_period(str(value)))
    return period


def as_date(value: object) -> dt.date:
    """A date, or the first day of the period a label names."""
    if isinstance(value, dt.date):
        return value
    return as_period(value).start  # type: ignore[return-value]


def months_between(start: dt.date, end: dt.date) -> int:
    """Completed months from start to end, as Excel's DATEDIF(start, end, "m"): a month is complete on the
    same day of a later month (2024-01-15 → 2024-02-15 is 1; → 2024-02-14 is 0); negative backwards."""
    if end < start:
        return -months_between(end, start)
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def years_between(start: dt.date, end: dt.date) -> int:
    """Completed years from start to end, as DATEDIF(start, end, "y")."""
    if end < start:
        return -years_between(end, start)
    return months_between(start, end) // 12


def month_start(value: object) -> dt.date:
    day = as_date(value)
    return day.replace(day=1)


def month_end(value: object) -> dt.date:
    day = as_date(value)
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_start(value: object) -> dt.date:
    return as_period(value).start  # type: ignore[return-value]


def period_end(value: object) -> dt.date:
    return as_period(value).end  # type: ignore[return-value]


def period_days(value: object) -> int:
    """The days of the period a label names (a month's 28 to 31 days); of a date, the days of its month."""
    if isinstance(value, dt.date):
        return calendar.monthrange(value.year, value.month)[1]
    return as_period(value).days  # type: ignore[return-value]


def year_of(value: object) -> int:
    return as_date(value).year


def month_of_year(value: object) -> int:
    return as_date(value).month


def quarter_of_year(value: object) -> int:
    return (as_date(value).month - 1) // 3 + 1


def day_of_month(value: object) -> int:
    return as_date(value).day


def add_days(day: dt.date, days: int) -> dt.date:
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        from pkrules.messages import tr

        raise ValueError(tr("{day} + {days} days is not a date", day=day.isoformat(), days=days)) from None
