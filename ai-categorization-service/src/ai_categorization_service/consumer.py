"""The consumer: ticket.created -> categorize, store, publish (off the AMQP I/O thread);
ticket.routed by an agent -> a training example."""
from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from support_shared.config import ServiceSettings
from support_shared.events import Envelope, EventType
from support_shared.messaging.consumer import Consumer, Subscription

from .bootstrap import build_categorizer
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

    # A Claude call can outlast the heartbeat timeout: handle off the I/O thread.
    return Consumer(settings, SERVICE_NAME,
                    [Subscription(EventType.TICKET_CREATED.value, on_ticket_created),
                     Subscription(EventType.TICKET_ROUTED.value, on_ticket_routed)], offload=True)
