"""Fixtures for ticket-service integration tests: migrated throwaway schema, app, client, UoW."""
import pytest

from support_shared.db import migrate
from support_shared.service import engine_for
from ticket_service.api import GROUP_COMMIT_EXTENSION
from ticket_service.app import ENGINE_EXTENSION, create_app
from ticket_service.config import Settings
from ticket_service.persistence import unit_of_work


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
    application = create_app(settings)
    yield application
    committer = application.extensions.get(GROUP_COMMIT_EXTENSION)
    if committer is not None:
        committer.close()
    application.extensions[ENGINE_EXTENSION].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_uow(engine, settings):
    return lambda: unit_of_work(engine, settings.db_schema)
