"""The events a ticket's changes publish: one per version of the ticket, carrying that version."""
from __future__ import annotations

from typing import Any, Mapping

from support_shared.events import (
    Envelope,
    EventType,
    Payload,
    TicketCommented,
    TicketCreated,
    TicketAssignmentApplied,
    TicketDeleted,
    TicketRoutingApplied,
    TicketStatusUpdated,
    TicketUpdated,
    new_event,
)

from .domain import Ticket


def ticket_event(event_type: EventType, ticket: Ticket, payload: Payload,
                 correlation_id: str | None = None, causation_id: str | None = None
                 ) -> Envelope:
    """``event_type`` of ``ticket`` at its current version (the change just made)."""
    assert ticket.id is not None
    return new_event(event_type, payload, tenant_id=ticket.tenant_id, ticket_id=ticket.id,
                     ticket_version=ticket.version, correlation_id=correlation_id,
                     causation_id=causation_id)


def created(ticket: Ticket, correlation_id: str | None) -> Envelope:
    payload = TicketCreated(
        title=ticket.title, description=ticket.description, user_name=ticket.user_name,
        user_email=ticket.user_email, priority=ticket.priority, status=ticket.status,
        created_at=ticket.created_at, tags=list(ticket.tags),
    )
    return ticket_event(EventType.TICKET_CREATED, ticket, payload, correlation_id)


def status_updated(ticket: Ticket, old_status: str, correlation_id: str | None) -> Envelope:
    payload = TicketStatusUpdated(old_status=old_status, new_status=ticket.status)
    return ticket_event(EventType.TICKET_STATUS_UPDATED, ticket, payload, correlation_id)


def updated(ticket: Ticket, changes: Mapping[str, Mapping[str, Any]],
            correlation_id: str | None) -> Envelope:
    payload = TicketUpdated.model_validate({"changes": changes})
    return ticket_event(EventType.TICKET_UPDATED, ticket, payload, correlation_id)


def commented(ticket: Ticket, comment_id: int, author_kind: str,
              correlation_id: str | None) -> Envelope:
    """Who commented by kind only: requester, agent or internal (a note); no body, no address."""
    payload = TicketCommented.model_validate({"comment_id": comment_id,
                                              "author_kind": author_kind})
    return ticket_event(EventType.TICKET_COMMENTED, ticket, payload, correlation_id)


def routing_applied(ticket: Ticket, routed: Envelope) -> Envelope:
    """ticket-service took ``routed`` (its causation): the department at the new version."""
    assert ticket.department is not None
    payload = TicketRoutingApplied(department=ticket.department,
                                   routing_version=ticket.routing_version,
                                   priority=ticket.priority, ai_status=ticket.ai_status,
                                   ai_priority=ticket.ai_priority)
    return ticket_event(EventType.TICKET_ROUTING_APPLIED, ticket, payload,
                        routed.correlation_id, str(routed.event_id))


def deleted(ticket: Ticket, correlation_id: str | None) -> Envelope:
    assert ticket.deleted_at is not None
    payload = TicketDeleted(deleted_at=ticket.deleted_at)
    return ticket_event(EventType.TICKET_DELETED, ticket, payload, correlation_id)


def assignment_applied(ticket: Ticket, decision: Envelope) -> Envelope:
    """ticket-service took ``decision`` (a ticket.assigned or .unassigned, its causation): the
    assignee at the new version."""
    payload = TicketAssignmentApplied(assignee_id=ticket.assignee_id,
                                      assignee_name=ticket.assignee_name,
                                      assignment_version=ticket.assignment_version)
    return ticket_event(EventType.TICKET_ASSIGNMENT_APPLIED, ticket, payload,
                        decision.correlation_id, str(decision.event_id))
