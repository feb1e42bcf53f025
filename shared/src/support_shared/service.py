"""The command line every service process starts from: ``<service> web|consumer|relay|migrate``."""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sqlalchemy.engine import Engine

from .config import CommonSettings, ServiceSettings
from .db import ensure_database, make_engine, migrate
from .logging import configure_logging
from .manifest import SUITE, Service
from .metrics import MULTIPROC_ENV, prepare_multiprocess_dir, start_worker_endpoint
from .messaging.connection import connect_with_retry
from .messaging.consumer import Consumer
from .messaging.publisher import Publisher
from .messaging.topology import Topology
from .outbox import notify_channel
from .relay import OutboxRelay

logger = logging.getLogger(__name__)

WORKER_CLASS = "support_shared.gunicorn_worker.GreenWorker"
WORKER_CONNECTIONS = 5000     # per worker; each idle client costs a greenlet and a descriptor
HEADER_DEADLINE_S = 10


@dataclass(frozen=True)
class ServiceSpec:
    """What a service's command line adds to its manifest entry (name, package, processes)."""

    service: str                                # as ``manifest.SUITE`` names it
    settings: Callable[[], CommonSettings]
    consumer: Callable[[ServiceSettings, Engine], Consumer] | None = None
    seed: Callable[[Engine, ServiceSettings], None] | None = None
    # Commands the service's own entry point handles before ``main`` (named in --help).
    more_commands: str = ""
    # Runners of the manifest commands beyond web, relay and consumer (ticket-service: clock).
    runners: Mapping[str, Callable[[ServiceSpec, Any], None]] = field(default_factory=dict)

    @property
    def manifest(self) -> Service:
        return SUITE.service(self.service)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def package(self) -> str:
        return self.manifest.package

    @property
    def publishes(self) -> bool:
        return self.manifest.publishes

    @property
    def app_factory(self) -> str:
        return f"{self.package}.app:create_app()"


def engine_for(settings: ServiceSettings, application_name: str | None = None) -> Engine:
    return make_engine(
        settings.database_url,
        settings.db_schema,
        pool_size=settings.db_pool_size,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        application_name=application_name,
    )


def run_migrate(spec: ServiceSpec, settings: ServiceSettings) -> None:
    # migrate declares the topology, as the broker's admin user (RABBITMQ_ADMIN_URL) when one
    # is given: the long-running processes' users may not configure anything.
    admin_url = settings.rabbitmq_admin_url or settings.rabbitmq_url
    settings = settings.model_copy(update={"rabbitmq_declare": True, "rabbitmq_url": admin_url})
    ensure_database(settings.database_url)
    engine = engine_for(settings)
    try:
        migrate(engine, settings.db_schema, spec.package)
        if spec.seed is not None:
            spec.seed(engine, settings)
        if spec.consumer is not None:
            declare_queues(spec.consumer(settings, engine), settings)
    finally:
        engine.dispose()


def declare_queues(consumer: Consumer, settings: ServiceSettings) -> None:
    """Declare the service's queues up front, so events published before its consumer first
    connects are queued rather than sent to the unroutable queue."""
    connection = connect_with_retry(settings.rabbitmq_url, f"{consumer.service}-migrate",
                                    settings.heartbeat_seconds, give_up_after_s=60)
    try:
        consumer.declare(connection.channel())
    finally:
        connection.close()


def run_relay(spec: ServiceSpec, settings: ServiceSettings) -> None:
    engine = engine_for(settings, f"{spec.name}-relay")
    publisher = Publisher(settings.rabbitmq_url, Topology.from_settings(settings),
                          f"{spec.name}-relay", settings.heartbeat_seconds)
    relay = OutboxRelay(engine, publisher, schema=settings.db_schema,
                        batch_size=settings.relay_batch_size,
                        poll_seconds=settings.relay_poll_seconds)
    assert notify_channel(settings.db_schema) == relay.channel
    start_worker_endpoint(settings.bind_host)
    relay.install_signal_handlers()
    relay.run()
    engine.dispose()


def run_consumer(spec: ServiceSpec, settings: ServiceSettings) -> None:
    assert spec.consumer is not None
    engine = engine_for(settings, f"{spec.name}-consumer")
    consumer = spec.consumer(settings, engine)
    start_worker_endpoint(settings.bind_host)
    consumer.install_signal_handlers()
    consumer.run()
    engine.dispose()


def run_web(spec: ServiceSpec, settings: CommonSettings) -> None:
    """Replace this process with gunicorn serving ``spec.app_factory`` (``settings.port``).

    Its workers share a fresh Prometheus multiprocess directory (``$METRICS_DIR`` or
    ``<tmp>/ticket-triage-metrics``, then ``<service>-<port>``), so ``/metrics`` adds them all up.
    """
    # Imported here: Flask is a web process's import, not a relay's or a consumer's (6 MB each).
    from .internal import InternalTokenError, check_internal_token

    try:   # refuse here, with one clear line, rather than in every worker gunicorn boots
        check_internal_token(settings, spec.name)
    except InternalTokenError as exc:
        logger.critical("%s", exc)
        sys.exit(2)
    gunicorn = shutil.which("gunicorn") or os.path.join(os.path.dirname(sys.executable), "gunicorn")
    os.environ["SERVICE_NAME"] = spec.name
    os.environ[MULTIPROC_ENV] = str(prepare_multiprocess_dir(spec.name, settings.port))
    args = [
        gunicorn,
        "--config", "python:support_shared.gunicorn_conf",
        "--bind", f"{settings.bind_host}:{settings.port}",
        "--workers", str(settings.web_workers),
        *(["--worker-class", "gthread", "--threads", str(settings.web_threads)]
          if settings.web_worker_class == "gthread" else
          # A greenlet per connection: slow and idle clients hold no thread (gunicorn_worker).
          ["--worker-class", WORKER_CLASS, "--worker-connections", str(WORKER_CONNECTIONS)]),
        "--timeout", "30",
        "--graceful-timeout", "10",
        "--keep-alive", str(HEADER_DEADLINE_S),   # also the deadline for a request's headers
        "--no-control-socket",  # one per host otherwise ($HOME/.gunicorn): processes would clash
        "--name", spec.name,
        spec.app_factory,
    ]
    os.execv(gunicorn, args)


def main(spec: ServiceSpec, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=spec.name, description=f"Run a {spec.name} process.",
                                     epilog=spec.more_commands or None)
    commands = ["migrate", *spec.manifest.commands]
    parser.add_argument("command", choices=commands)
    args = parser.parse_args(argv)
    settings = spec.settings()
    configure_logging(spec.name, settings.log_level, settings.log_format)
    runners = {"migrate": run_migrate, "relay": run_relay, "consumer": run_consumer, "web": run_web,
               **spec.runners}
    runners[args.command](spec, settings)
