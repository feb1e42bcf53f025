"""Event handlers (ticket.created, ticket.categorized) and commands (seed, manual routing)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, TypeVar

from support_shared.events import (
    Envelope,
    EventType,
    InvalidEventError,
    TicketCategorized,
    TicketCreated,
    TicketRouted,
    new_event,
    utcnow,
)
from support_shared.messaging.consumer import PermanentError

from .domain import (
    Department,
    DepartmentNotFoundError,
    Method,
    NoTriageDepartmentError,
    RoutedTicket,
    RoutingRecord,
    TicketNotFoundError,
    choose_department,
)
from .persistence import RoutingUnitOfWork

logger = logging.getLogger(__name__)

P = TypeVar("P")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RouteResult:
    ticket_id: int
    department: str
    previous_department: str | None
    method: str
    routing_version: int
    needs_review: bool
    routed_at: datetime
    changed: bool


def typed_payload(envelope: Envelope, event_type: EventType, model: type[P]) -> P:
    """The typed payload; a message that can never fit goes to the DLQ."""
    if envelope.event_type != event_type:
        raise PermanentError(f"expected {event_type}, got {envelope.event_type}")
    try:
        payload = envelope.payload()
    except InvalidEventError as exc:
        raise PermanentError(str(exc)) from exc
    assert isinstance(payload, model)
    return payload


def seed_departments(tenant_id: str, *, uow: RoutingUnitOfWork) -> int:
    """Give ``tenant_id`` the default departments unless it has some; return how many were added."""
    with uow:
        added = uow.departments.ensure_defaults(tenant_id)
        uow.commit()
    if added:
        logger.info("seeded %d default departments for tenant %s", added, tenant_id)
    return added


def handle_ticket_created(envelope: Envelope, *, uow: RoutingUnitOfWork) -> None:
    payload = typed_payload(envelope, EventType.TICKET_CREATED, TicketCreated)
    with uow:
        if not uow.inbox.claim(envelope.event_id):
            logger.info("duplicate event %s for ticket %s ignored", envelope.event_id,
                        envelope.ticket_id)
            return
        uow.departments.ensure_defaults(envelope.tenant_id)
        uow.tickets.record_created(envelope.tenant_id, envelope.ticket_id, title=payload.title,
                                   created_at=payload.created_at,
                                   ticket_version=envelope.ticket_version)
        uow.commit()


def handle_ticket_categorized(envelope: Envelope, *, uow: RoutingUnitOfWork,
                              clock: Clock = utcnow) -> None:
    payload = typed_payload(envelope, EventType.TICKET_CATEGORIZED, TicketCategorized)
    tenant = envelope.tenant_id
    with uow:
        if not uow.inbox.claim(envelope.event_id):
            logger.info("duplicate event %s for ticket %s ignored", envelope.event_id,
                        envelope.ticket_id)
            return
        uow.departments.ensure_defaults(tenant)
        ticket = uow.tickets.touch(tenant, envelope.ticket_id,
                                   ticket_version=envelope.ticket_version,
                                   created_at=payload.ticket_created_at)
        record = auto_route(ticket, lambda: uow.departments.list(tenant), envelope, payload,
                            clock())
        if record is not None:
            _record(uow, ticket, record, ticket_version=envelope.ticket_version,
                    correlation_id=envelope.correlation_id, causation_id=str(envelope.event_id))
        uow.commit()
    if record is not None:
        logger.info("ticket %s routed to %s (needs_review=%s) by event %s", record.ticket_id,
                    record.department, record.needs_review, envelope.event_id)


def auto_route(ticket: RoutedTicket, departments: Callable[[], list[Department]],
               envelope: Envelope, payload: TicketCategorized,
               at: datetime) -> RoutingRecord | None:
    """Route ``ticket`` as its categorization says, or None when it keeps its department
    (routed by hand, or a newer categorization was applied). ``departments`` is asked only
    when needed."""
    if ticket.manually_routed or ticket.is_stale_categorization(envelope.ticket_version):
        logger.info("ticket %s keeps department %s (last routing %s); event %s not applied",
                    ticket.ticket_id, ticket.department, ticket.last_method, envelope.event_id)
        return None
    try:
        decision = choose_department(departments(), payload.department, payload.confidence)
    except NoTriageDepartmentError as exc:
        raise PermanentError(str(exc)) from exc
    return ticket.route_auto(decision, confidence=payload.confidence, priority=payload.priority,
                             categorization_method=payload.method,
                             ticket_version=envelope.ticket_version, at=at)


def route_ticket(tenant_id: str, ticket_id: int, department: str, method: Method, *,
                 uow: RoutingUnitOfWork, correlation_id: str | None = None,
                 clock: Clock = utcnow) -> RouteResult:
    """Assign a ticket by hand (``manual`` or ``reroute``); nothing recorded if already there."""
    with uow:
        uow.departments.ensure_defaults(tenant_id)
        ticket = uow.tickets.get(tenant_id, ticket_id, lock=True)
        if ticket is None:
            raise TicketNotFoundError(ticket_id)
        target = uow.departments.get(tenant_id, department)
        if target is None or not target.active:
            raise DepartmentNotFoundError(department)
        previous = ticket.department
        record = ticket.route_manual(target, method, at=clock())
        if record is None:
            latest = uow.history.latest(tenant_id, ticket_id)
            uow.commit()
            return RouteResult(ticket_id, target.name, previous, method, ticket.routing_version,
                               ticket.needs_review, latest.routed_at if latest else clock(),
                               changed=False)
        _record(uow, ticket, record, ticket_version=ticket.ticket_version,
                correlation_id=correlation_id, causation_id=None)
        uow.commit()
    logger.info("ticket %s %s to %s (was %s)", ticket_id, method, record.department, previous)
    return RouteResult(ticket_id, record.department, previous, method, record.routing_version,
                       record.needs_review, record.routed_at, changed=True)


def routed_event(record: RoutingRecord, *, ticket_version: int, correlation_id: str | None,
                 causation_id: str | None) -> Envelope:
    payload = TicketRouted(
        department=record.department,
        previous_department=record.previous_department,
        confidence=record.confidence,
        priority=record.priority,
        method=record.method,
        categorization_method=record.categorization_method,
        needs_review=record.needs_review,
        routing_version=record.routing_version,
    )
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=record.tenant_id,
                     ticket_id=record.ticket_id, ticket_version=ticket_version,
                     correlation_id=correlation_id, causation_id=causation_id,
                     occurred_at=record.routed_at)


def _record(uow: RoutingUnitOfWork, ticket: RoutedTicket, record: RoutingRecord, *,
            ticket_version: int, correlation_id: str | None, causation_id: str | None) -> None:
    """Save the assignment, its history row and its ticket.routed event in the open transaction."""
    uow.tickets.save(ticket)
    uow.history.add(record)
    uow.outbox.add(routed_event(record, ticket_version=ticket_version,
                                correlation_id=correlation_id, causation_id=causation_id))
