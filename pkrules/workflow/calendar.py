"""Working days: China's statutory holidays and make-up days (调休), or weekdays only, plus company days off."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .messages import msg


@dataclass(frozen=True)
class Deadline:
    """A due date; `note` says when it was counted on weekdays only because the calendar lacks that year."""

    due: dt.date
    note: str = ""

    @property
    def flagged(self) -> bool:
        return bool(self.note)


class WorkCalendar:
    """Counts working days. calendar "china": chinesecalendar's data (2004–2026 in its current release);
    a year it does not know is counted on weekdays and the result flagged. "weekdays": Monday–Friday."""

    def __init__(self, kind: str = "china", days_off: list[dt.date] | tuple = ()):
        if kind not in ("china", "weekdays"):
            raise ValueError(f"unknown calendar {kind!r}: china or weekdays")
        self.kind = kind
        self.days_off = frozenset(days_off)

    def known(self, day: dt.date) -> bool:
        """Whether the calendar has data for this day's year (weekdays: always)."""
        if self.kind == "weekdays":
            return True
        import chinese_calendar

        try:
            chinese_calendar.is_workday(day)
        except NotImplementedError:
            return False
        return True

    def is_working_day(self, day: dt.date) -> tuple[bool, bool]:
        """(is it a working day, was it counted on weekdays only because the calendar lacks the year)."""
        if day in self.days_off:
            return False, False
        if self.kind == "weekdays":
            return day.weekday() < 5, False
        import chinese_calendar

        try:
            return chinese_calendar.is_workday(day), False
        except NotImplementedError:
            return day.weekday() < 5, True

    def add_working_days(self, start: dt.date, days: int, lang: str = "en") -> Deadline:
        """The end of the `days`-th working day after `start` (start itself is not counted).

        lang: the language of the note, which is stored with the deadline (the cycle's)."""
        if days <= 0:
            raise ValueError("a deadline counts at least one working day")
        day = start
        counted = 0
        guessed: set[int] = set()
        while counted < days:
            day += dt.timedelta(days=1)
            working, guess = self.is_working_day(day)
            if guess:
                guessed.add(day.year)
            if working:
                counted += 1
        note = ""
        if guessed:
            years = ", ".join(str(y) for y in sorted(guessed))
            note = msg("counted on weekdays only: the China calendar has no data for {years}", years=years)
            note = note.zh if lang == "zh" else note.en
        return Deadline(day, note)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count = 0
        day = start
        while day < end:
            day += dt.timedelta(days=1)
            if self.is_working_day(day)[0]:
                count += 1
        return count
