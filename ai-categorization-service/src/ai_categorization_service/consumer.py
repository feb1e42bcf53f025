"""The consumer: ticket.created -> categorize, store, publish (off the AMQP I/O thread);
ticket.routed by an agent -> a training example."""
from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from support_shared.config import ServiceSettings
from support_shared.events import Envelope, EventType, InvalidEventError, TicketCreated
from support_shared.messaging.consumer import Consumer, Subscription

from .bootstrap import build_categorizer
from .bulk import handle_tickets_created
from .categorizer import Categorizer
from .config import SERVICE_NAME, Settings
from .handlers import handle_ticket_created, handle_ticket_routed
from .persistence import unit_of_work

logger = logging.getLogger(__name__)


def build_consumer(settings: ServiceSettings, engine: Engine, *,
                   categorizer: Categorizer | None = None) -> Consumer:
    assert isinstance(settings, Settings)
    chain = categorizer or build_categorizer(settings, engine=engine)
    chain.warm_up()  # train/load the local model now, not while the first ticket waits

    def on_ticket_created(envelope: Envelope) -> None:
        handle_ticket_created(
            envelope, uow=unit_of_work(engine, settings.db_schema, SERVICE_NAME), categorizer=chain
        )

    def on_ticket_routed(envelope: Envelope) -> None:
        handle_ticket_routed(envelope, uow=unit_of_work(engine, settings.db_schema, SERVICE_NAME))

    def prepare(envelopes: list[Envelope]) -> None:
        tickets = []
        for envelope in envelopes:
            try:
                ticket = envelope.payload()
            except InvalidEventError:
                continue   # its handler dead-letters it
            if isinstance(ticket, TicketCreated):
                tickets.append((ticket.title, ticket.description))
        chain.prepare(tickets)

    # Without Claude, what arrives together is predicted in one call and stored in one
    # transaction. With Claude, one ticket at a time: a batch would hold its transaction open
    # across network calls. Either way off the I/O thread (a Claude call can outlast the
    # heartbeat timeout).
    key = settings.anthropic_api_key
    batch_size = 1 if key is not None and key.get_secret_value() else settings.consumer_batch_size
    def on_tickets_created(envelopes: list[Envelope]) -> None:
        handle_tickets_created(envelopes, uow=unit_of_work(engine, settings.db_schema,
                                                           SERVICE_NAME), categorizer=chain)

    return Consumer(settings, SERVICE_NAME,
                    [Subscription(EventType.TICKET_CREATED.value, on_ticket_created, prepare,
                                  on_tickets_created if batch_size > 1 else None),
                     Subscription(EventType.TICKET_ROUTED.value, on_ticket_routed)],
                    offload=True, engine=engine, batch_size=batch_size)
