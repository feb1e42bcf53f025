"""Applying routing-service's assignment decisions (``ticket.assigned``, ``ticket.unassigned``)
to the tickets' ``assignee``.

Like a routing: the newest ``assignment_version`` of a ticket wins, duplicates and older
decisions are dropped, a deleted ticket takes none; each applied decision makes a ticket
version with one audit entry and one ``ticket.assignment.applied`` carrying that version.
"""
from __future__ import annotations

import logging
from typing import Sequence, cast

from support_shared.events import (Envelope, EventType, TicketAssigned, TicketUnassigned,
                                   utcnow)
from support_shared.messaging.errors import PermanentError

from ..activity.domain import ASSIGNED, AuditEntry
from ..activity.handlers import audit_entry
from . import events
from .domain import Ticket
from .persistence import TicketUnitOfWork

logger = logging.getLogger(__name__)


def _apply(ticket: Ticket, envelope: Envelope) -> AuditEntry | None:
    data = envelope.payload()
    if envelope.event_type == EventType.TICKET_ASSIGNED:
        assigned = cast(TicketAssigned, data)
        agent_id, name, version = assigned.agent_id, assigned.agent_name, assigned.assignment_version
        details = {"agent_id": agent_id, "agent_name": name, "method": assigned.method,
                   "policy": assigned.policy}
    else:
        unassigned = cast(TicketUnassigned, data)
        agent_id, name, version = None, None, unassigned.assignment_version
        details = {"agent_id": None, "reason": unassigned.reason}
    previous = ticket.assignee_id
    if not ticket.apply_assignment(agent_id, name, version, utcnow()):
        logger.info("stale assignment v%s for ticket %s (at v%s); ignored (event %s)", version,
                    ticket.id, ticket.assignment_version, envelope.event_id)
        return None
    details.update(previous_agent_id=previous, assignment_version=version)
    return audit_entry(ticket, ASSIGNED, details, actor="routing-service",
                       request_id=envelope.correlation_id)


def handle_tickets_assignment(envelopes: Sequence[Envelope], *, uow: TicketUnitOfWork) -> None:
    """Store each ticket's assignee; a batch is locked together (id order) and applied in
    batch order, each changed ticket written once. An unknown ticket raises
    ``PermanentError`` (the consumer then takes the batch one event at a time)."""
    entries, applied = [], []
    with uow:
        fresh = uow.inbox.fresh(envelopes)
        tickets = uow.tickets.get_many_for_update(
            {(envelope.tenant_id, envelope.ticket_id) for envelope in fresh})
        changed: dict[tuple[str, int], Ticket] = {}
        for envelope in fresh:
            key = (envelope.tenant_id, envelope.ticket_id)
            ticket = tickets.get(key)
            if ticket is None:
                raise PermanentError(f"ticket {envelope.ticket_id} of tenant "
                                     f"{envelope.tenant_id} does not exist")
            if ticket.deleted_at is not None:
                continue
            entry = _apply(ticket, envelope)
            if entry is not None:
                changed[key] = ticket
                entries.append(entry)
                applied.append(events.assignment_applied(ticket, envelope))
        uow.tickets.save_many(list(changed.values()))
        uow.audit.add_many(entries)
        uow.outbox.add_each(applied)
        uow.commit()
    logger.info("applied %d assignments of %d events to %d tickets", len(entries),
                len(envelopes), len(changed))
