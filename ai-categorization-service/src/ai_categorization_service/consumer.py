"""The consumer: ticket.created -> categorize, store, publish (off the AMQP I/O thread);
ticket.routed by an agent -> a training example. Subscriptions come from the suite manifest."""
from __future__ import annotations

import functools

from sqlalchemy.engine import Engine

from support_shared.config import ServiceSettings
from support_shared.messaging.consumer import Consumer
from support_shared.messaging.wiring import build_consumer as build

from .bootstrap import build_categorizer
from .categorizer import Categorizer
from .config import SERVICE_NAME, Settings
from .persistence import unit_of_work


def build_consumer(settings: ServiceSettings, engine: Engine, *,
                   categorizer: Categorizer | None = None) -> Consumer:
    assert isinstance(settings, Settings)
    chain = categorizer or build_categorizer(settings, engine=engine)
    chain.warm_up()  # train/load the local model now, not while the first ticket waits
    # Without Claude, what arrives together is predicted in one call and stored in one
    # transaction. With Claude, one ticket at a time: no ticket's decision waits for the Claude
    # calls of the others in its batch. Either way off the I/O thread (a Claude call can
    # outlast the heartbeat timeout), and never inside a transaction (see the handler).
    key = settings.anthropic_api_key
    batch_size = 1 if key is not None and key.get_secret_value() else settings.consumer_batch_size
    return build(SERVICE_NAME, settings, engine,
                 {"uow": functools.partial(unit_of_work, engine, settings.db_schema),
                  "categorizer": lambda: chain},
                 offload=True, batch_size=batch_size)
