"""Command line of every ticket-service process:
``ticket-service migrate|web|consumer|relay|clock``."""
from __future__ import annotations

import functools

from support_shared.metrics import start_worker_endpoint
from support_shared.service import ServiceSpec, engine_for
from support_shared.service import main as service_main

from .config import SERVICE_NAME, Settings
from .consumer import build_consumer
from .sla.clock import SlaClock
from .tickets.persistence import unit_of_work


def run_clock(spec: ServiceSpec, settings: Settings) -> None:
    """The SLA clock process (one is enough; more share the due timers)."""
    engine = engine_for(settings, f"{spec.name}-clock")
    clock = SlaClock(functools.partial(unit_of_work, engine, settings.db_schema),
                     poll_seconds=settings.sla_poll_seconds)
    start_worker_endpoint(settings.bind_host)
    clock.install_signal_handlers()
    clock.run()
    engine.dispose()


SPEC = ServiceSpec(SERVICE_NAME, Settings, consumer=build_consumer,
                   runners={"clock": run_clock})


def main() -> None:
    service_main(SPEC)
