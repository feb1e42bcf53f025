"""``ticket.created`` and ``ticket.categorized`` for a whole consumer batch, set-based.

The same effects as ``handlers.handle_ticket_created`` / ``handle_ticket_categorized`` one
event at a time, in a few statements per batch: every event claimed once in the inbox, each
tenant's defaults ensured once, the tickets upserted (and locked, in key order) together, the
routings, their history rows and ``ticket.routed`` events written with one statement each.
Two events of one batch for the same ticket, or anything unexpected, raise: the consumer then
handles the batch one event at a time, where each message gets its own outcome.
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Callable, Sequence

from support_shared.events import Envelope, EventType, TicketCategorized, TicketCreated, utcnow

from .domain import RoutedTicket, RoutingRecord
from .handlers import auto_route, routed_event, typed_payload
from .persistence import RoutingUnitOfWork

logger = logging.getLogger(__name__)


class SameTicketTwiceError(Exception):
    """Two events of one batch are for the same ticket: the batch goes one event at a time."""


def _fresh(envelopes: Sequence[Envelope], uow: RoutingUnitOfWork) -> list[Envelope]:
    """The batch's events not applied before, each once; one ticket at most once."""
    fresh = uow.inbox.fresh(envelopes)
    tickets = set()
    for envelope in fresh:
        key = (envelope.tenant_id, envelope.ticket_id)
        if key in tickets:
            raise SameTicketTwiceError(f"ticket {key[1]} of tenant {key[0]} twice in a batch")
        tickets.add(key)
    for tenant in sorted({e.tenant_id for e in fresh}):
        uow.departments.ensure_defaults(tenant)
    return fresh


def handle_tickets_created(envelopes: Sequence[Envelope], *, uow: RoutingUnitOfWork) -> None:
    payloads = {e.event_id: typed_payload(e, EventType.TICKET_CREATED, TicketCreated)
                for e in envelopes}
    with uow:
        fresh = _fresh(envelopes, uow)
        uow.tickets.record_created_many([
            (e.tenant_id, e.ticket_id, payloads[e.event_id].title,
             payloads[e.event_id].created_at, e.ticket_version) for e in fresh])
        uow.commit()


def handle_tickets_categorized(envelopes: Sequence[Envelope], *, uow: RoutingUnitOfWork,
                               clock: Callable[[], datetime] = utcnow) -> None:
    payloads = {e.event_id: typed_payload(e, EventType.TICKET_CATEGORIZED,
                                          TicketCategorized)
                for e in envelopes}
    routed: list[tuple[Envelope, RoutedTicket, RoutingRecord]] = []
    with uow:
        fresh = _fresh(envelopes, uow)
        tickets = uow.tickets.touch_many([
            (e.tenant_id, e.ticket_id, e.ticket_version, payloads[e.event_id].ticket_created_at)
            for e in fresh])
        departments = {tenant: uow.departments.list(tenant)
                       for tenant in sorted({e.tenant_id for e in fresh})}
        for envelope in fresh:
            payload = payloads[envelope.event_id]
            ticket = tickets[(envelope.tenant_id, envelope.ticket_id)]
            record = auto_route(ticket, partial(departments.__getitem__, envelope.tenant_id),
                                envelope, payload, clock())
            if record is None:
                continue
            routed.append((envelope, ticket, record))
        uow.tickets.save_many([ticket for _, ticket, _ in routed])
        uow.history.add_many([record for _, _, record in routed])
        uow.outbox.add_each(
            routed_event(record, ticket_version=envelope.ticket_version,
                         correlation_id=envelope.correlation_id,
                         causation_id=str(envelope.event_id))
            for envelope, _, record in routed)
        uow.commit()
    for envelope, _, record in routed:
        logger.info("ticket %s routed to %s (needs_review=%s) by event %s", record.ticket_id,
                    record.department, record.needs_review, envelope.event_id)

