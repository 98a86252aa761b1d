"""Today and now, injectable: the system clock, a fixed clock for tests, PKRULES_TODAY for demos."""

from __future__ import annotations

import datetime as dt
import os


class Clock:
    """The system's clock; PKRULES_TODAY=YYYY-MM-DD pins today (for demos and walk-throughs)."""

    def today(self) -> dt.date:
        pinned = os.environ.get("PKRULES_TODAY")
        if pinned:
            return dt.date.fromisoformat(pinned)
        return dt.date.today()

    def now(self) -> str:
        pinned = os.environ.get("PKRULES_TODAY")
        if pinned:
            return f"{pinned}T{dt.datetime.now().strftime('%H:%M:%S')}"
        return dt.datetime.now().replace(microsecond=0).isoformat()


class FixedClock(Clock):
    """A clock that says what it is told: tests move it with `advance`."""

    def __init__(self, today: dt.date, time: str = "09:00:00"):
        self._today = today
        self._time = time

    def today(self) -> dt.date:
        return self._today

    def now(self) -> str:
        return f"{self._today.isoformat()}T{self._time}"

    def set(self, day: dt.date) -> None:
        self._today = day

    def advance(self, days: int = 1) -> None:
        self._today += dt.timedelta(days=days)
