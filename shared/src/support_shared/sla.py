"""Public shapes of service levels: a tenant's targets per priority and its business-hours
calendar (ticket-service validates with them, the gateway documents them)."""
from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import date, datetime

from pydantic import BaseModel, Field, field_validator, model_validator

from .schemas import _Strict

MAX_TARGET_MINUTES = 525_600          # a year of business minutes
MAX_HOLIDAYS = 1000
MAX_SPANS_PER_DAY = 8
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")


class SlaTarget(_Strict):
    """Targets in business minutes (fractions allowed: 0.5 is 30 seconds)."""

    first_response_minutes: float = Field(gt=0, le=MAX_TARGET_MINUTES)
    resolution_minutes: float = Field(gt=0, le=MAX_TARGET_MINUTES)


class SlaTargets(_Strict):
    critical: SlaTarget
    high: SlaTarget
    medium: SlaTarget
    low: SlaTarget


class SlaPolicyUpdate(_Strict):
    """The tenant's whole policy: a target for every priority."""

    targets: SlaTargets


class SlaPolicy(BaseModel):
    targets: SlaTargets
    default: bool = Field(description="true: the tenant set none, these are the suite's")
    updated_at: datetime | None


def minutes_of(clock: str) -> int:
    """``"HH:MM"`` (``"24:00"``: the end of the day) -> minutes since midnight."""
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


Span = list[str]


def _check_day(spans: list[Span]) -> list[Span]:
    previous_end = -1
    for span in spans:
        if len(span) != 2 or not all(isinstance(c, str) and _CLOCK.match(c) for c in span):
            raise ValueError('each interval is ["HH:MM", "HH:MM"] (24:00 ends the day)')
        start, end = minutes_of(span[0]), minutes_of(span[1])
        if start >= end:
            raise ValueError(f"{span[0]}-{span[1]}: the start must come before the end")
        if start < previous_end:
            raise ValueError("intervals must be in order and must not overlap")
        previous_end = end
    return spans


class WeeklyHours(_Strict):
    """Open intervals per weekday in the calendar's time zone; a day left out is closed."""

    mon: list[Span] = Field(default_factory=list, max_length=MAX_SPANS_PER_DAY)
    tue: list[Span] = Field(default_factory=list, max_length=MAX_SPANS_PER_DAY)
    wed: list[Span] = Field(default_factory=list, max_length=MAX_SPANS_PER_DAY)
    thu: list[Span] = Field(default_factory=list, max_length=MAX_SPANS_PER_DAY)
    fri: list[Span] = Field(default_factory=list, max_length=MAX_SPANS_PER_DAY)
    sat: list[Span] = Field(default_factory=list, max_length=MAX_SPANS_PER_DAY)
    sun: list[Span] = Field(default_factory=list, max_length=MAX_SPANS_PER_DAY)

    _check = field_validator(*DAYS)(_check_day)

    @model_validator(mode="after")
    def _open_some_time(self) -> WeeklyHours:
        if not any(getattr(self, day) for day in DAYS):
            raise ValueError("the calendar must be open at some time of the week")
        return self

    def spans(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Per weekday (Monday first) the intervals in minutes since midnight."""
        return tuple(tuple((minutes_of(a), minutes_of(b)) for a, b in getattr(self, day))
                     for day in DAYS)


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class SlaCalendarUpdate(_Strict):
    time_zone: str = Field(min_length=1, max_length=64, description="an IANA zone: Europe/Paris")
    hours: WeeklyHours
    holidays: list[date] = Field(default_factory=list, max_length=MAX_HOLIDAYS,
                                 description="local dates on which the clock does not run")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"unknown time zone {value!r} (an IANA name: Europe/Paris)")
        return value


class SlaCalendar(SlaCalendarUpdate):
    default: bool = Field(description="true: the tenant set none (open always, in UTC)")
    updated_at: datetime | None


class SlaReportQuery(BaseModel):
    model_config = {"extra": "ignore"}

    days: int = Field(30, ge=1, le=365)


class Percentiles(BaseModel):
    p50: float | None
    p90: float | None


class SlaBreaches(BaseModel):
    first_response: int
    resolution: int


class SlaFigures(BaseModel):
    tickets: int = Field(description="tickets opened in the window")
    breached_tickets: int
    compliance: float | None = Field(description="share of the tickets without a breach")
    breaches: SlaBreaches
    warnings: int
    first_response_minutes: Percentiles = Field(
        description="wall-clock minutes from creation to the first public agent comment")
    resolution_minutes: Percentiles = Field(
        description="wall-clock minutes from creation to resolved")


class SlaGroup(SlaFigures):
    department: str | None
    priority: str | None


class SlaReport(BaseModel):
    days: int
    total: SlaFigures
    groups: list[SlaGroup]
