"""The analytics projection: how each ticket event changes a ticket's facts (pure, order-tolerant).

Events may arrive late, twice or out of order. Each event writes only the columns it owns:
- ``ticket.created``: created_at, requested_priority, priority (only if none known yet) and the
  initial status, treated like a status event at its ticket_version.
- ``ticket.categorized``: priority, method, model, confidence (unless routing already set it);
  categorized_at keeps the earliest value.
- ``ticket.routed``: department and routing columns only if its routing_version is higher than the
  one applied; first_routed_at keeps the earliest value whatever the order.
- ``ticket.status.updated``: status only if its ticket_version is higher than the one applied
  (a late event never rolls back); the timestamp of the status it reports keeps the earliest value.
- ``ticket.updated``: a changed priority (requested and counted) if its ticket_version is higher
  than the last edit's (``priority_version``); categorization and routing, which answer the
  ticket as created, then no longer replace the priority a person set.
- ``ticket.deleted``: deleted_at; the ticket leaves every count (the queries skip it) for good.
- ``ticket.assignment.applied``: the assignee if its assignment_version is higher than the one
  applied (open tickets per agent).
- ``ticket.commented``: only updated_at (counted in the event log).
- ``ticket.routing.applied``, ``ticket.assigned``, ``ticket.unassigned``: only updated_at; no
  longer delivered (``manifest.PROJECTED_EVENTS``), applied when an older event log is rebuilt.
Duplicates are stopped earlier, by the inbox claim in the same transaction.
"""
from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Protocol, Sequence, cast

from support_shared.events import (
    Envelope,
    EventType,
    TicketCategorized,
    TicketCreated,
    TicketAssignmentApplied,
    TicketDeleted,
    TicketRouted,
    TicketStatusUpdated,
    TicketUpdated,
)
from support_shared.inbox import AbstractInbox

logger = logging.getLogger(__name__)

STATUS_TIMESTAMPS = {
    "in_progress": "in_progress_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}


@dataclass(frozen=True)
class TicketFacts:
    """One ticket as analytics sees it; a blank one before its first event."""

    tenant_id: str
    ticket_id: int
    priority: str | None = None
    requested_priority: str | None = None
    status: str = "pending"
    status_version: int = 0
    department: str | None = None
    confidence: float | None = None
    categorization_method: str | None = None
    model_version: str | None = None
    needs_review: bool = False
    routing_version: int = 0
    created_at: datetime | None = None
    categorized_at: datetime | None = None
    first_routed_at: datetime | None = None
    routed_at: datetime | None = None
    in_progress_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    priority_version: int = 0
    deleted_at: datetime | None = None
    assignee_id: int | None = None
    assignee_name: str | None = None
    assignment_version: int = 0


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def _apply_status(facts: TicketFacts, status: str, version: int, at: datetime) -> TicketFacts:
    if version > facts.status_version:
        facts = replace(facts, status=status, status_version=version)
    column = STATUS_TIMESTAMPS.get(status)
    if column is not None:
        facts = replace(facts, **{column: _earliest(getattr(facts, column), at)})
    return facts


def apply_created(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    data = cast(TicketCreated, envelope.payload())
    facts = replace(
        facts,
        created_at=data.created_at,
        # an edit of the priority that arrived first is newer than the creation's
        requested_priority=data.priority if facts.priority_version == 0
        else facts.requested_priority,
        priority=facts.priority or data.priority,
    )
    return _apply_status(facts, data.status, envelope.ticket_version, data.created_at)


def _suggested_priority(facts: TicketFacts, priority: str | None) -> str | None:
    """The AI's priority (which routing carries along), unless a person edited the priority:
    categorization answers the ticket as created, so an edit is always the newer word."""
    if priority is None or facts.priority_version > 0:
        return facts.priority
    return priority


def apply_categorized(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    data = cast(TicketCategorized, envelope.payload())
    routed = facts.routing_version > 0
    return replace(
        facts,
        priority=_suggested_priority(facts, data.priority),
        requested_priority=facts.requested_priority or data.requested_priority,
        confidence=facts.confidence if routed and facts.confidence is not None else data.confidence,
        categorization_method=data.method,
        model_version=data.model_version,
        categorized_at=_earliest(facts.categorized_at, envelope.occurred_at),
    )


def apply_routed(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    data = cast(TicketRouted, envelope.payload())
    facts = replace(facts, first_routed_at=_earliest(facts.first_routed_at, envelope.occurred_at))
    if data.routing_version <= facts.routing_version:
        logger.info("stale routing v%s for ticket %s (have v%s)", data.routing_version,
                    facts.ticket_id, facts.routing_version)
        return facts
    return replace(
        facts,
        department=data.department,
        routing_version=data.routing_version,
        needs_review=data.needs_review,
        routed_at=envelope.occurred_at,
        confidence=data.confidence if data.confidence is not None else facts.confidence,
        priority=_suggested_priority(facts, data.priority),
        categorization_method=data.categorization_method or facts.categorization_method,
    )


def apply_status_updated(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    data = cast(TicketStatusUpdated, envelope.payload())
    if envelope.ticket_version <= facts.status_version:
        logger.info("stale status v%s for ticket %s (have v%s)", envelope.ticket_version,
                    facts.ticket_id, facts.status_version)
    return _apply_status(facts, data.new_status, envelope.ticket_version, envelope.occurred_at)


def apply_updated(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    change = cast(TicketUpdated, envelope.payload()).changes.get("priority")
    if change is None:
        return facts
    if envelope.ticket_version <= facts.priority_version:
        logger.info("stale priority v%s for ticket %s (have v%s)", envelope.ticket_version,
                    facts.ticket_id, facts.priority_version)
        return facts
    return replace(facts, priority=change.new, requested_priority=change.new,
                   priority_version=envelope.ticket_version)


def apply_deleted(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    data = cast(TicketDeleted, envelope.payload())
    return replace(facts, deleted_at=data.deleted_at)


def apply_assignment(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    data = cast(TicketAssignmentApplied, envelope.payload())
    if data.assignment_version <= facts.assignment_version:
        return facts
    return replace(facts, assignee_id=data.assignee_id, assignee_name=data.assignee_name,
                   assignment_version=data.assignment_version)


def _touched(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    return facts


_APPLIERS: dict[EventType, Callable[[TicketFacts, Envelope], TicketFacts]] = {
    EventType.TICKET_CREATED: apply_created,
    EventType.TICKET_CATEGORIZED: apply_categorized,
    EventType.TICKET_ROUTED: apply_routed,
    EventType.TICKET_STATUS_UPDATED: apply_status_updated,
    EventType.TICKET_UPDATED: apply_updated,
    EventType.TICKET_COMMENTED: _touched,
    EventType.TICKET_ROUTING_APPLIED: _touched,
    EventType.TICKET_DELETED: apply_deleted,
    EventType.TICKET_ASSIGNED: _touched,
    EventType.TICKET_UNASSIGNED: _touched,
    EventType.TICKET_ASSIGNMENT_APPLIED: apply_assignment,
}


def project(facts: TicketFacts, envelope: Envelope) -> TicketFacts:
    """The ticket's facts after ``envelope``.

    The event type selects the payload type (the consumer dead-letters a mismatch before the
    handler); data that does not fit it still raises ``InvalidEventError`` from ``payload()``.
    """
    if (facts.tenant_id, facts.ticket_id) != (envelope.tenant_id, envelope.ticket_id):
        raise ValueError("event applied to another ticket's facts")
    facts = _APPLIERS[envelope.event_type](facts, envelope)
    return replace(facts, updated_at=_latest(facts.updated_at, envelope.occurred_at))


Key = tuple[str, int]   # (tenant_id, ticket_id)


class FactsRepository(abc.ABC):
    """The tickets' facts, read and written a batch at a time."""

    @abc.abstractmethod
    def lock_many(self, keys: Sequence[Key]) -> dict[Key, TicketFacts]:
        """The facts of each ticket, locked for this transaction (blank if it has none yet)."""

    @abc.abstractmethod
    def save_many(self, facts: Sequence[TicketFacts]) -> None:
        """Store ``facts`` (rows ``lock_many`` returned, changed)."""


class EventLog(abc.ABC):
    """Every applied event, in the order applied: the basis of a rebuild."""

    @abc.abstractmethod
    def add_many(self, envelopes: Sequence[Envelope]) -> None:
        """Record applied events."""


class ProjectionUnitOfWork(Protocol):
    inbox: AbstractInbox
    facts: FactsRepository
    events: EventLog

    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...


def handle_events(envelopes: Sequence[Envelope], *, uow: ProjectionUnitOfWork) -> int:
    """Apply a batch of ticket events, each once; how many were new (the rest: duplicates).

    Set-based: the new events are logged together, their tickets' facts locked together (in
    key order, so two consumers cannot deadlock), each event projected in batch order onto its
    ticket, and the facts saved together. Data that does not fit its event type raises before
    the commit, so nothing of the batch is written.
    """
    with uow:
        fresh = uow.inbox.fresh(envelopes)
        uow.events.add_many(fresh)
        keys = sorted({(envelope.tenant_id, envelope.ticket_id) for envelope in fresh})
        facts = uow.facts.lock_many(keys)
        for envelope in fresh:
            key = (envelope.tenant_id, envelope.ticket_id)
            facts[key] = project(facts[key], envelope)
        uow.facts.save_many([facts[key] for key in keys])
        uow.commit()
    logger.debug("applied %d of %d events to %d tickets", len(fresh), len(envelopes), len(keys))
    return len(fresh)
