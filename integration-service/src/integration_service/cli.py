"""Command line of integration-service: ``integration-service migrate|web|consumer|worker``."""
from __future__ import annotations

import sys

from support_shared.logging import configure_logging
from support_shared.metrics import start_worker_endpoint
from support_shared.service import ServiceSpec, engine_for
from support_shared.service import main as service_main

from .config import SERVICE_NAME, Settings
from .consumer import build_consumer

SPEC = ServiceSpec(SERVICE_NAME, Settings, consumer=build_consumer)


def run_worker(settings: Settings) -> None:
    """Ingestion jobs, webhook deliveries, inbound webhooks and schedules (worker.py)."""
    from .worker import Worker   # HTTP clients and Flask: not the consumer's imports

    engine = engine_for(settings, f"{SERVICE_NAME}-worker")
    worker = Worker(settings, engine)
    start_worker_endpoint(settings.bind_host)
    worker.install_signal_handlers()
    try:
        worker.run()
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["worker"]:
        settings = Settings()
        configure_logging(SERVICE_NAME, settings.log_level, settings.log_format)
        run_worker(settings)
        return
    service_main(SPEC, argv)
