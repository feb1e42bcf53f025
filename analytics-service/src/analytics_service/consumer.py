"""The analytics consumer: one queue per ticket event, each applied to the projection once."""
from __future__ import annotations

from sqlalchemy.engine import Engine
from support_shared.config import ServiceSettings
from support_shared.events import Envelope, EventType, InvalidEventError
from support_shared.messaging.consumer import Consumer, PermanentError, Subscription

from .config import SERVICE_NAME
from .persistence import AnalyticsUnitOfWork
from .projection import handle_event, handle_events

ROUTING_KEYS = tuple(event_type.value for event_type in EventType)


def build_consumer(settings: ServiceSettings, engine: Engine) -> Consumer:
    """A consumer of all four ticket events (``analytics-service.<routing key>`` queues)."""

    def handle(envelope: Envelope) -> None:
        try:
            handle_event(envelope, uow=AnalyticsUnitOfWork(engine, consumer=SERVICE_NAME))
        except InvalidEventError as exc:
            raise PermanentError(str(exc)) from exc

    def handle_batch(envelopes: list[Envelope]) -> None:
        handle_events(envelopes, uow=AnalyticsUnitOfWork(engine, consumer=SERVICE_NAME))

    return Consumer(settings, SERVICE_NAME,
                    [Subscription(key, handle, batch_handler=handle_batch)
                     for key in ROUTING_KEYS],
                    engine=engine, batch_size=settings.consumer_batch_size)
