"""Fixtures for integration tests: a migrated throwaway schema, the app and its client, and
tiny trained models to store as versions."""
import functools
import threading

import pytest

from ai_categorization_service.app import create_app
from ai_categorization_service.config import Settings
from ai_categorization_service.consumer import build_consumer
from ai_categorization_service.model import TextClassifier
from ai_categorization_service.persistence import unit_of_work
from support_shared import dependencies
from support_shared.db import migrate
from support_shared.testing.clients import trusted
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
    application = trusted(create_app(settings))
    yield application
    dependencies.of(application).close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def run_consumer(settings, engine, broker_probe):
    """Start the real consumer in a thread (own categorizer optional); stopped at the end."""
    started = []

    def start(settings_=settings, categorizer=None):
        consumer = build_consumer(settings_, engine, categorizer=categorizer)
        probe = broker_probe(settings_.exchange)
        consumer.topology.declare_exchanges(probe.channel)
        consumer.declare(probe.channel)
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        started.append((consumer, thread))
        return consumer, probe

    yield start
    for consumer, thread in started:       # before the fixtures delete the queues
        consumer.stop()
        thread.join(15)
        assert not thread.is_alive()


@pytest.fixture
def make_uow(engine, settings):
    return functools.partial(unit_of_work, engine, settings.db_schema)


@pytest.fixture(scope="session")
def tiny_models(labelled_rows) -> tuple[TextClassifier, TextClassifier]:
    """Two small trained classifiers (labels Building, Money, Network), about a second each."""
    return (TextClassifier.train(*labelled_rows(seed=1)),
            TextClassifier.train(*labelled_rows(seed=2)))
