"""The routing-service consumer: ticket.created and ticket.categorized, one queue each."""
from __future__ import annotations

from sqlalchemy.engine import Engine

from support_shared.config import ServiceSettings
from support_shared.events import Envelope, EventType
from support_shared.messaging.consumer import Consumer, Subscription

from .config import SERVICE_NAME
from .bulk import handle_tickets_categorized, handle_tickets_created
from .handlers import handle_ticket_categorized, handle_ticket_created
from .persistence import uow_factory


def build_consumer(settings: ServiceSettings, engine: Engine) -> Consumer:
    new_uow = uow_factory(engine, settings.db_schema)

    def on_created(envelope: Envelope) -> None:
        handle_ticket_created(envelope, uow=new_uow())

    def on_categorized(envelope: Envelope) -> None:
        handle_ticket_categorized(envelope, uow=new_uow())

    def on_created_batch(envelopes: list[Envelope]) -> None:
        handle_tickets_created(envelopes, uow=new_uow())

    def on_categorized_batch(envelopes: list[Envelope]) -> None:
        handle_tickets_categorized(envelopes, uow=new_uow())

    return Consumer(settings, SERVICE_NAME, [
        Subscription(EventType.TICKET_CREATED.value, on_created, batch_handler=on_created_batch),
        Subscription(EventType.TICKET_CATEGORIZED.value, on_categorized,
                     batch_handler=on_categorized_batch),
    ], engine=engine, batch_size=settings.consumer_batch_size)
