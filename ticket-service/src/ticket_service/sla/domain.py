"""A ticket's service-level clocks (first response, resolution) and a tenant's targets: when
each is due, when it warns, what pauses and stops it (plain Python; no I/O).

A timer counts business seconds while it runs: ``consumed_s`` up to ``running_since``, plus
the calendar's business time since then. Every change first checkpoints what was consumed
under the calendar and target in force, then schedules the due and warning moments afresh,
so a pause, a new priority, policy or calendar never recounts time already counted, and a
paused timer stays paused whatever changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from ..tickets.domain import DomainError
from .calendar import Calendar

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
KINDS: tuple[str, ...] = (FIRST_RESPONSE, RESOLUTION)
WARNING = "warning"
BREACHED = "breached"
WARNING_SHARE = 0.8   # sla.warning fires when this share of the target is used


class SlaError(DomainError):
    """Base of the errors of the service-level rules."""


@dataclass(frozen=True)
class Target:
    first_response_minutes: float
    resolution_minutes: float

    def minutes(self, kind: str) -> float:
        return self.first_response_minutes if kind == FIRST_RESPONSE else self.resolution_minutes


# A tenant that set no policy gets these (business minutes).
DEFAULT_TARGETS: Mapping[str, Target] = {
    "critical": Target(60, 240),
    "high": Target(240, 1440),
    "medium": Target(480, 2880),
    "low": Target(1440, 5760),
}


@dataclass
class Timer:
    """One clock of one ticket. Running while ``running_since`` is set; stopped (met, or the
    ticket resolved) when ``stopped_at`` is set; otherwise paused."""

    tenant_id: str
    ticket_id: int
    kind: str
    target_minutes: float
    consumed_s: float = 0.0
    running_since: datetime | None = None
    stopped_at: datetime | None = None
    due_at: datetime | None = None
    warning_at: datetime | None = None
    warned: bool = False
    breached: bool = False

    @classmethod
    def start(cls, tenant_id: str, ticket_id: int, kind: str, target_minutes: float,
              calendar: Calendar, now: datetime) -> Timer:
        timer = cls(tenant_id, ticket_id, kind, target_minutes, running_since=now)
        timer._schedule(calendar)
        return timer

    @property
    def running(self) -> bool:
        return self.running_since is not None

    @property
    def next_fire_at(self) -> datetime | None:
        """When the clock process must next look at this timer (None: never, as it is)."""
        pending = [at for at, done in ((self.warning_at, self.warned), (self.due_at, self.breached))
                   if at is not None and not done]
        return min(pending, default=None)

    def elapsed_s(self, calendar: Calendar, now: datetime) -> float:
        """Business seconds counted so far."""
        if self.running_since is None:
            return self.consumed_s
        return self.consumed_s + calendar.between(self.running_since, now)

    def fire(self, now: datetime) -> list[str]:
        """Mark the warning or breach due by ``now``; return it (each fires only once, and a
        warning overtaken by its breach is not sent: only the breach)."""
        if not self.breached and self.due_at is not None and self.due_at <= now:
            self.warned = self.breached = True
            return [BREACHED]
        if not self.warned and self.warning_at is not None and self.warning_at <= now:
            self.warned = True
            return [WARNING]
        return []

    def pause(self, calendar: Calendar, now: datetime) -> None:
        self._checkpoint(calendar, now)
        self.running_since = None
        self._schedule(calendar)

    def resume(self, calendar: Calendar, now: datetime) -> None:
        """Run again from ``now`` unless running or stopped."""
        if self.running_since is None and self.stopped_at is None:
            self.running_since = now
            self._schedule(calendar)

    def stop(self, calendar: Calendar, now: datetime) -> None:
        """Met (or resolved): the clock stops with what it counted (once)."""
        if self.stopped_at is not None:
            return
        self.pause(calendar, now)
        self.stopped_at = now

    def restart(self, calendar: Calendar, now: datetime) -> None:
        """A reopened ticket: a stopped clock runs on from what it had counted."""
        self.stopped_at = None
        self.resume(calendar, now)

    def retarget(self, target_minutes: float, calendar: Calendar, now: datetime,
                 counted_under: Calendar | None = None) -> None:
        """A new target or calendar: what was counted stays (under ``counted_under``, the
        calendar in force until now, by default the same), the rest counts under the new."""
        self._checkpoint(counted_under or calendar, now)
        self.target_minutes = target_minutes
        self._schedule(calendar)

    def _checkpoint(self, calendar: Calendar, now: datetime) -> None:
        if self.running_since is not None:
            self.consumed_s += calendar.between(self.running_since, now)
            self.running_since = now

    def _schedule(self, calendar: Calendar) -> None:
        if self.running_since is None:
            self.due_at = self.warning_at = None
            return
        target_s = self.target_minutes * 60
        self.due_at = calendar.add(self.running_since, target_s - self.consumed_s)
        self.warning_at = calendar.add(self.running_since,
                                       WARNING_SHARE * target_s - self.consumed_s)
