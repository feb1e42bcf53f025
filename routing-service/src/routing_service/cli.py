"""Command line of routing-service: ``routing-service migrate|web|consumer|relay``."""
from __future__ import annotations

from sqlalchemy.engine import Engine

from support_shared.config import ServiceSettings
from support_shared.service import ServiceSpec, main as service_main

from .config import SERVICE_NAME, Settings
from .consumer import build_consumer
from .handlers import seed_departments
from .persistence import unit_of_work


def seed(engine: Engine, settings: ServiceSettings) -> None:
    """Give the default tenant its departments (idempotent; run after ``migrate``)."""
    from support_shared.web import DEFAULT_TENANT   # Flask: not for the relay and consumer

    seed_departments(DEFAULT_TENANT, uow=unit_of_work(engine, settings.db_schema))


SPEC = ServiceSpec(SERVICE_NAME, Settings, consumer=build_consumer, seed=seed)


def main() -> None:
    service_main(SPEC)
