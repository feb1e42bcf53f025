"""The integration consumer: ticket events into webhook deliveries (queues from the manifest)."""
from __future__ import annotations

import functools

from sqlalchemy.engine import Engine
from support_shared.config import ServiceSettings
from support_shared.messaging.consumer import Consumer
from support_shared.messaging.wiring import build_consumer as build

from .config import SERVICE_NAME
from .persistence import unit_of_work


def build_consumer(settings: ServiceSettings, engine: Engine) -> Consumer:
    return build(SERVICE_NAME, settings, engine, {"uow": functools.partial(unit_of_work, engine)})
