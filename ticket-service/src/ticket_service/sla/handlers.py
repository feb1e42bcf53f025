"""Service-level commands (a tenant's policy and calendar), the clocks' part of every ticket
change (called by the ticket commands inside their unit of work, before the ticket is saved)
and the clock process's firing. Timers change only under their ticket's lock or the clock's
``SKIP LOCKED`` claim, and a warning or breach is marked fired in the transaction that writes
its event: never missed, never sent twice."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from support_shared.events import Envelope, EventType, SlaBreached, SlaWarning, new_event, utcnow

from ..tickets.domain import Ticket
from ..tickets.persistence import TicketUnitOfWork
from .calendar import Calendar
from .domain import BREACHED, FIRST_RESPONSE, KINDS, RESOLUTION, Target, Timer
from .persistence import Stored

logger = logging.getLogger(__name__)

RESOLVED = ("resolved", "closed")


def sla_event(fired: str, timer: Timer, department: str | None, priority: str,
              now: datetime) -> Envelope:
    """``sla.warning`` or ``sla.breached`` of ``timer`` (a tenant event)."""
    assert timer.due_at is not None
    fields = dict(ticket_id=timer.ticket_id, kind=timer.kind, target_minutes=timer.target_minutes,
                  due_at=timer.due_at, department=department, priority=priority)
    if fired == BREACHED:
        return new_event(EventType.SLA_BREACHED, SlaBreached(**fields), tenant_id=timer.tenant_id,
                         ticket_id=None, ticket_version=None, occurred_at=now)
    return new_event(EventType.SLA_WARNING, SlaWarning(**fields, warning_at=timer.warning_at),
                     tenant_id=timer.tenant_id, ticket_id=None, ticket_version=None,
                     occurred_at=now)


def _fire(timers: Iterable[Timer], department: str | None, priority: str,
          now: datetime) -> list[Envelope]:
    return [sla_event(fired, timer, department, priority, now)
            for timer in timers for fired in timer.fire(now)]


def _show(ticket: Ticket, timers: Mapping[str, Timer]) -> None:
    for kind in KINDS:
        if kind in timers:
            setattr(ticket, f"{kind}_due_at", timers[kind].due_at)


def start_clocks(uow: TicketUnitOfWork, tickets: Sequence[Ticket], now: datetime
                 ) -> list[list[Timer]]:
    """The new tickets' running timers (before they have ids) and their due moments shown on
    them; ``save_started`` writes the timers once the tickets have ids."""
    settings: dict[str, tuple[Mapping[str, Target], Calendar]] = {}
    started = []
    for ticket in tickets:
        if ticket.tenant_id not in settings:
            settings[ticket.tenant_id] = (uow.sla.policy(ticket.tenant_id).value,
                                          uow.sla.calendar(ticket.tenant_id).value)
        targets, calendar = settings[ticket.tenant_id]
        target = targets[ticket.priority]
        timers = {kind: Timer.start(ticket.tenant_id, 0, kind, target.minutes(kind), calendar, now)
                  for kind in KINDS}
        _show(ticket, timers)
        started.append(list(timers.values()))
    return started


def save_started(uow: TicketUnitOfWork, tickets: Sequence[Ticket],
                 started: Sequence[Sequence[Timer]]) -> None:
    for ticket, timers in zip(tickets, started):
        assert ticket.id is not None
        for timer in timers:
            timer.ticket_id = ticket.id
    uow.sla.save_timers([timer for timers in started for timer in timers])


def _status_moves(timers: Mapping[str, Timer], old: str, new: str, calendar: Calendar,
                  now: datetime) -> None:
    first, resolution = timers.get(FIRST_RESPONSE), timers.get(RESOLUTION)
    if resolution is not None:
        if new == "waiting":
            resolution.pause(calendar, now)
        elif new in RESOLVED:
            resolution.stop(calendar, now)
        elif old == "waiting":
            resolution.resume(calendar, now)
        elif old in RESOLVED:
            resolution.restart(calendar, now)
    if first is not None:
        if new in RESOLVED:
            first.pause(calendar, now)     # nothing left to answer while resolved
        elif old in RESOLVED:
            first.resume(calendar, now)


def clocks_follow(uow: TicketUnitOfWork, ticket: Ticket, now: datetime, *,
                  old_status: str | None = None, priority_changed: bool = False,
                  agent_replied: bool = False, deleted: bool = False) -> None:
    """Move ``ticket``'s clocks with the change just made to it (status, priority, a public
    agent comment, a delete): first fire what fell due before it, then pause, resume, stop or
    retarget, and show the new due moments on the ticket."""
    assert ticket.id is not None
    timers = uow.sla.timers(ticket.tenant_id, ticket.id)
    if not timers:   # a ticket opened before service levels existed
        return
    calendar: Calendar = uow.sla.calendar(ticket.tenant_id).value
    events = _fire(timers.values(), ticket.department, ticket.priority, now)
    if old_status is not None:
        _status_moves(timers, old_status, ticket.status, calendar, now)
    if priority_changed:
        target: Target = uow.sla.policy(ticket.tenant_id).value[ticket.priority]
        for timer in timers.values():
            if timer.stopped_at is None:
                timer.retarget(target.minutes(timer.kind), calendar, now)
    if agent_replied and FIRST_RESPONSE in timers:
        timers[FIRST_RESPONSE].stop(calendar, now)
    if deleted:
        for timer in timers.values():
            timer.pause(calendar, now)
    _show(ticket, timers)
    uow.sla.save_timers(list(timers.values()))
    uow.outbox.add_each(events)


def _retarget_tenant(uow: TicketUnitOfWork, tenant_id: str, old_calendar: Calendar,
                     now: datetime) -> int:
    """Every running or paused timer of the tenant under its current policy and calendar;
    time counted so far stays counted (under ``old_calendar``), paused timers stay paused."""
    targets: Mapping[str, Target] = uow.sla.policy(tenant_id).value
    calendar: Calendar = uow.sla.calendar(tenant_id).value
    timers = uow.sla.unstopped(tenant_id)
    facts = uow.sla.ticket_facts({(t.tenant_id, t.ticket_id) for t in timers})
    events = []
    for timer in timers:
        fact = facts[(timer.tenant_id, timer.ticket_id)]
        events.extend(_fire([timer], fact.department, fact.priority, now))
        timer.retarget(targets[fact.priority].minutes(timer.kind), calendar, now,
                       counted_under=old_calendar)
    uow.sla.save_timers(timers)
    uow.sla.show_due(timers)
    uow.outbox.add_each(events)
    return len(timers)


def set_policy(tenant_id: str, targets: Mapping[str, Target], *, uow: TicketUnitOfWork,
               now: datetime | None = None) -> Stored:
    """Replace the tenant's targets; its open tickets' clocks follow at once."""
    now = now or utcnow()
    with uow:
        calendar = uow.sla.calendar(tenant_id).value
        uow.sla.save_policy(tenant_id, targets, now)
        moved = _retarget_tenant(uow, tenant_id, calendar, now)
        stored = uow.sla.policy(tenant_id)
        uow.commit()
    logger.info("tenant %s: new SLA policy, %d timers rescheduled", tenant_id, moved)
    return stored


def set_calendar(tenant_id: str, calendar: Calendar, *, uow: TicketUnitOfWork,
                 now: datetime | None = None) -> Stored:
    """Replace the tenant's calendar; what was counted under the old one stays counted."""
    now = now or utcnow()
    with uow:
        old = uow.sla.calendar(tenant_id).value
        uow.sla.save_calendar(tenant_id, calendar, now)
        moved = _retarget_tenant(uow, tenant_id, old, now)
        stored = uow.sla.calendar(tenant_id)
        uow.commit()
    logger.info("tenant %s: new SLA calendar, %d timers rescheduled", tenant_id, moved)
    return stored


def get_policy(tenant_id: str, *, uow: TicketUnitOfWork) -> Stored:
    with uow:
        return uow.sla.policy(tenant_id)


def get_calendar(tenant_id: str, *, uow: TicketUnitOfWork) -> Stored:
    with uow:
        return uow.sla.calendar(tenant_id)


def fire_due(now: datetime, limit: int, *, uow: TicketUnitOfWork) -> list[Envelope]:
    """Claim up to ``limit`` timers due by ``now``, mark what they fire and write its events,
    in one transaction (the clock process's tick)."""
    with uow:
        timers = uow.sla.claim_due(now, limit)
        facts = uow.sla.ticket_facts({(t.tenant_id, t.ticket_id) for t in timers})
        events = []
        for timer in timers:
            fact = facts[(timer.tenant_id, timer.ticket_id)]
            if fact.deleted:
                timer.due_at = timer.warning_at = None   # a late claim: deleted tickets are quiet
                continue
            events.extend(_fire([timer], fact.department, fact.priority, now))
        uow.sla.save_timers(timers)
        uow.outbox.add_each(events)
        uow.commit()
    for event in events:
        logger.info("%s ticket %s %s (due %s, event %s)", event.event_type,
                    event.data["ticket_id"], event.data["kind"], event.data["due_at"],
                    event.event_id)
    return events
