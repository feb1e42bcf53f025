"""Fixtures for ticket-service integration tests: migrated throwaway schema, app, client, UoW."""
import pytest

from support_shared.db import migrate
from support_shared.testing.clients import trusted
from support_shared.service import engine_for
from ticket_service.app import create_app
from ticket_service.config import Settings
from ticket_service.tickets.persistence import unit_of_work
from support_shared import dependencies


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings(Settings, schema="ticket")


@pytest.fixture
def engine(settings):
    eng = engine_for(settings)
    migrate(eng, settings.db_schema, "ticket_service")
    yield eng
    eng.dispose()


@pytest.fixture
def app(settings, engine):
    application = trusted(create_app(settings))
    yield application
    dependencies.of(application).close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_uow(engine, settings):
    return lambda: unit_of_work(engine, settings.db_schema)
