"""Fixtures for routing-service integration tests: migrated schema, app client, event builders."""
from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from routing_service.app import create_app
from routing_service.cli import seed
from routing_service.config import Settings
from routing_service.handlers import (handle_tickets_categorized, handle_tickets_created,
                                      handle_tickets_status_updated)
from routing_service.persistence import RoutingUnitOfWork, unit_of_work
from support_shared import dependencies
from support_shared.db import migrate
from support_shared.testing.clients import trusted
from support_shared.events import (
    Envelope,
    EventType,
    TicketCategorized,
    TicketCreated,
    new_event,
)
from support_shared.service import engine_for

CREATED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings(Settings, schema="routing")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = engine_for(settings)
    migrate(eng, settings.db_schema, "routing_service")
    seed(eng, settings)
    yield eng
    eng.dispose()


@pytest.fixture
def new_uow(engine: Engine, settings: Settings) -> Callable[[], RoutingUnitOfWork]:
    return functools.partial(unit_of_work, engine, settings.db_schema)


@pytest.fixture
def query(engine: Engine) -> Callable[..., list[Any]]:
    """Run one SQL statement in the service schema and return its rows."""

    def run(sql: str, **params: Any) -> list[Any]:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql), params)
            return result.all() if result.returns_rows else []

    return run


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    application = trusted(create_app(settings))
    application.config["TESTING"] = True
    yield application
    dependencies.of(application).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Events:
    """Builds the envelopes routing-service consumes."""

    @staticmethod
    def created(ticket_id: int = 1, *, tenant: str = "default", version: int = 1,
                title: str = "Laptop broken") -> Envelope:
        payload = TicketCreated(title=title, description="screen dead", user_name="Ann",
                                user_email="ann@example.com", priority="high",
                                created_at=CREATED_AT)
        return new_event(EventType.TICKET_CREATED, payload, tenant_id=tenant,
                         ticket_id=ticket_id, ticket_version=version, correlation_id="req-1")

    @staticmethod
    def categorized(ticket_id: int = 1, department: str = "IT Support", confidence: float = 0.9,
                    *, tenant: str = "default", version: int = 1) -> Envelope:
        payload = TicketCategorized(department=department, priority="high",
                                    confidence=confidence, method="claude")
        return new_event(EventType.TICKET_CATEGORIZED, payload, tenant_id=tenant,
                         ticket_id=ticket_id, ticket_version=version, correlation_id="req-1")


@pytest.fixture
def events() -> type[Events]:
    return Events


@pytest.fixture
def apply(new_uow: Callable[[], RoutingUnitOfWork]) -> Callable[[Envelope], None]:
    """Apply one event through the real handlers and database (no broker), as a batch of one."""

    def run(envelope: Envelope) -> None:
        if envelope.event_type == EventType.TICKET_CREATED:
            handle_tickets_created([envelope], uow=new_uow())
        elif envelope.event_type == EventType.TICKET_STATUS_UPDATED:
            handle_tickets_status_updated([envelope], uow=new_uow())
        else:
            handle_tickets_categorized([envelope], uow=new_uow())

    return run
