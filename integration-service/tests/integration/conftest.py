"""Fixtures of the integration tests: a migrated throwaway schema, the fake helpdesk, the fake
ticket-service batch endpoint, a webhook receiver, and a clock the tests move."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone

import pytest

from integration_service.config import Settings
from integration_service.crypto import new_key
from integration_service.persistence import unit_of_work
from integration_service.testing import FakeHelpdesk, FakeTicketService, WebhookReceiver
from support_shared.db import migrate
from support_shared.service import engine_for


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tickets(make_settings):
    fake = FakeTicketService(token="t" * 24)
    yield fake
    fake.close()


@pytest.fixture
def settings(make_settings, tickets) -> Settings:
    return make_settings(Settings, schema="integration", credentials_key=new_key(),
                         internal_token=tickets.token, ticket_service_url=tickets.url,
                         allow_private_targets="127.0.0.1", fetch_backoff_s=0.01,
                         fetch_backoff_cap_s=5, fetch_max_attempts=3, worker_poll_seconds=0.05,
                         delivery_backoff_s=0.2, delivery_backoff_cap_s=1.0,
                         delivery_max_attempts=6, http_read_timeout_s=1.0)


@pytest.fixture
def engine(settings):
    eng = engine_for(settings)
    migrate(eng, settings.db_schema, "integration_service")
    yield eng
    eng.dispose()


@pytest.fixture
def uow(engine):
    return functools.partial(unit_of_work, engine)


@pytest.fixture
def helpdesk():
    desk = FakeHelpdesk(page_size=2)
    yield desk
    desk.close()


@pytest.fixture
def receiver():
    made = []

    def factory(script=None, slow_s: float = 3.0) -> WebhookReceiver:
        made.append(WebhookReceiver(script, slow_s=slow_s))
        return made[-1]

    yield factory
    for one in made:
        one.close()


@pytest.fixture
def app(settings, engine, clock):
    from integration_service.app import create_app
    from support_shared.testing.clients import trusted

    return trusted(create_app(settings, clock=clock))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def add_source(client):
    """Create a source through the API; its JSON."""

    def add(name: str, base_url: str, kind: str = "zendesk", tenant: str = "acme", **more):
        resp = client.post("/api/sources", json={"name": name, "kind": kind,
                                                 "base_url": base_url, **more},
                           headers={"X-Tenant-ID": tenant})
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    return add


@pytest.fixture
def runner(settings, engine, clock):
    """The worker's job runner, with the real HTTP adapter to the fake ticket-service and
    the sleeps it asked for recorded instead of slept."""
    from integration_service.worker import Worker

    sleeps: list[float] = []
    worker = Worker(settings, engine, clock=clock, sleep=sleeps.append)
    worker.jobs.sleeps = sleeps
    yield worker.jobs
    worker.sender.close()
