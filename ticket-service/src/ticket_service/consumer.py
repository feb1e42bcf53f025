"""The ticket-service consumer: applies ticket.routed decisions to tickets."""
from __future__ import annotations

from sqlalchemy.engine import Engine
from support_shared.config import ServiceSettings
from support_shared.events import Envelope, EventType
from support_shared.messaging.consumer import Consumer, Subscription

from .config import SERVICE_NAME
from .handlers import handle_ticket_routed, handle_tickets_routed
from .persistence import unit_of_work


def build_consumer(settings: ServiceSettings, engine: Engine) -> Consumer:
    """Consumer of queue ``<prefix>ticket-service.ticket.routed``; in batches, set-based."""

    def on_routed(envelope: Envelope) -> None:
        handle_ticket_routed(envelope, uow=unit_of_work(engine, settings.db_schema))

    def on_routed_batch(envelopes: list[Envelope]) -> None:
        handle_tickets_routed(envelopes, uow=unit_of_work(engine, settings.db_schema))

    subscription = Subscription(EventType.TICKET_ROUTED.value, on_routed,
                                batch_handler=on_routed_batch)
    return Consumer(settings, SERVICE_NAME, [subscription], engine=engine,
                    batch_size=settings.consumer_batch_size)
