"""Business time: a tenant's time zone, weekly opening hours and holidays, and the arithmetic
on them (plain Python and zoneinfo; no I/O). Instants are aware datetimes, answers are UTC."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from typing import Iterator
from zoneinfo import ZoneInfo

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
# How far the arithmetic looks for open hours before it gives up (a calendar whose holidays
# close every open day for ten years has no due moment).
HORIZON_DAYS = 3660

Span = tuple[int, int]   # an open interval of a local day: (start minute, end minute), end <= 1440
ALWAYS_OPEN: tuple[tuple[Span, ...], ...] = (((0, DAY_MINUTES),),) * 7


@dataclass(frozen=True)
class Calendar:
    """When a tenant's business minutes pass: its open hours per weekday (Monday first) in
    its time zone, except on its holidays (local dates). The default is open all the time."""

    time_zone: str = "UTC"
    hours: tuple[tuple[Span, ...], ...] = ALWAYS_OPEN
    holidays: frozenset[date] = field(default_factory=frozenset)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of the local ``day`` as UTC instants."""
        if day in self.holidays:
            return []
        return [(self._instant(day, start), self._instant(day, end))
                for start, end in self.hours[day.weekday()]]

    def _instant(self, day: date, minute: int) -> datetime:
        if minute >= DAY_MINUTES:
            day, minute = day + timedelta(days=1), 0
        local = datetime.combine(day, time(minute // 60, minute % 60), self.zone)
        return local.astimezone(timezone.utc)

    def _days(self, start: datetime, step: int) -> Iterator[date]:
        day = start.astimezone(self.zone).date()
        for _ in range(HORIZON_DAYS):
            yield day
            day += timedelta(days=step)

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
        total = 0.0
        if end <= start:
            return total
        for day in self._days(start, 1):
            spans = self._spans(day)
            if self._instant(day, 0) >= end:
                break
            for open_at, close_at in spans:
                lo, hi = max(open_at, start), min(close_at, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
        return total

    def add(self, start: datetime, seconds: float) -> datetime | None:
        """The instant ``seconds`` of business time after ``start`` (before it when negative);
        with 0, ``start`` itself. None when the calendar has no open hours within reach."""
        if seconds == 0:
            return start.astimezone(timezone.utc)
        return self._forward(start, seconds) if seconds > 0 else self._backward(start, -seconds)

    def _forward(self, start: datetime, seconds: float) -> datetime | None:
        left = seconds
        for day in self._days(start, 1):
            for open_at, close_at in self._spans(day):
                lo = max(open_at, start)
                if close_at <= lo:
                    continue
                span = (close_at - lo).total_seconds()
                if left <= span:
                    return lo + timedelta(seconds=left)
                left -= span
        return None

    def _backward(self, start: datetime, seconds: float) -> datetime | None:
        left = seconds
        for day in self._days(start, -1):
            for open_at, close_at in reversed(self._spans(day)):
                hi = min(close_at, start)
                if hi <= open_at:
                    continue
                span = (hi - open_at).total_seconds()
                if left <= span:
                    return hi - timedelta(seconds=left)
                left -= span
        return None
