"""The consumer's handler: ticket events become webhook deliveries, one per matching active
subscription. Set-based and fast: nothing is sent here (the worker sends), so a slow or dead
receiver never holds the consumer or the pipeline."""
from __future__ import annotations

import logging
import uuid
from typing import Any, Sequence

from support_shared.events import Envelope

from .persistence import IntegrationUnitOfWork

logger = logging.getLogger(__name__)


def event_body(delivery_id: uuid.UUID, envelope: Envelope) -> dict[str, Any]:
    """What a receiver gets: the delivery id (the same on every retry) and the event."""
    return {
        "id": str(delivery_id),
        "event_id": str(envelope.event_id),
        "type": envelope.event_type.value,
        "occurred_at": envelope.occurred_at.isoformat(),
        "tenant_id": envelope.tenant_id,
        "ticket_id": envelope.ticket_id,
        "ticket_version": envelope.ticket_version,
        "data": envelope.data,
    }


def handle_ticket_events(events: Sequence[Envelope], *, uow: IntegrationUnitOfWork) -> int:
    """Queue a delivery per (event, matching subscription); how many were queued.

    Every event is delivered (no stale-version filter: a receiver orders by
    ``ticket_version``); the inbox drops redeliveries, and (subscription, event) is unique.
    An event no active subscription wants writes nothing, not even its inbox row: most
    tenants subscribe to few events or none, and the unique (subscription, event) key, not
    the inbox, is what keeps a delivery from being queued twice.
    """
    with uow:
        subscribed: dict[str, list[Any]] = {}
        for sub in uow.subscriptions.matching({e.tenant_id for e in events}):
            subscribed.setdefault(sub.tenant_id, []).append(sub)
        wanted = [e for e in events
                  if any(e.event_type.value in sub.event_types
                         for sub in subscribed.get(e.tenant_id, ()))]
        if not wanted:
            return 0
        fresh = uow.inbox.fresh(wanted)
        rows = []
        for envelope in fresh:
            for sub in subscribed.get(envelope.tenant_id, ()):
                if envelope.event_type.value in sub.event_types:
                    delivery_id = uuid.uuid4()
                    rows.append({"id": delivery_id, "subscription_id": sub.id,
                                 "tenant_id": envelope.tenant_id,
                                 "event_id": envelope.event_id,
                                 "event_type": envelope.event_type.value,
                                 "ticket_id": envelope.ticket_id,
                                 "payload": event_body(delivery_id, envelope),
                                 "status": "pending", "next_attempt_at": envelope.occurred_at})
        queued = uow.deliveries.add_many(rows)
        uow.commit()
    if queued:
        logger.info("queued %d webhook deliveries for %d events", queued, len(fresh))
    return queued
