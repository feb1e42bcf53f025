"""Fixtures for integration tests: a migrated throwaway schema, the app and its client."""
import pytest

from ai_categorization_service.app import ENGINE_EXTENSION, create_app
from ai_categorization_service.config import SERVICE_NAME, Settings
from ai_categorization_service.persistence import unit_of_work
from support_shared.db import migrate
from support_shared.service import engine_for


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings(Settings, schema="ai", anthropic_api_key=None)


@pytest.fixture
def engine(settings):
    eng = engine_for(settings)
    migrate(eng, settings.db_schema, "ai_categorization_service")
    yield eng
    eng.dispose()


@pytest.fixture
def app(settings, engine):
    application = create_app(settings)
    yield application
    application.extensions[ENGINE_EXTENSION].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_uow(engine, settings):
    return lambda: unit_of_work(engine, settings.db_schema, SERVICE_NAME)
