"""Pytest fixtures for integration tests against the real PostgreSQL and RabbitMQ.

Enable with ``pytest_plugins = ["support_shared.testing.plugin"]`` in a conftest. Each test
gets its own schema and suffixed exchange/queue names; both are removed afterwards. When a
server is unreachable the test is skipped locally and fails in CI (``CI`` set).
"""
from __future__ import annotations

import os
import secrets
from typing import Callable, Iterator, TypeVar

import pika
import pytest
import sqlalchemy as sa
from pika.exceptions import AMQPError

from ..config import ServiceSettings
from ..db import drop_schema, ensure_database, make_engine
from ..messaging.connection import connect
from .helpers import delete_broker_objects, unique_suffix

S = TypeVar("S", bound=ServiceSettings)

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/ticket_triage_test"
)
TEST_RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def _unavailable(what: str, exc: BaseException) -> None:
    msg = f"{what} unavailable: {exc}"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def database_url() -> str:
    try:
        ensure_database(TEST_DATABASE_URL)
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    return TEST_DATABASE_URL


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    try:
        connect(TEST_RABBITMQ_URL, "test-probe", heartbeat=0).close()
    except (AMQPError, OSError) as exc:
        _unavailable("RabbitMQ", exc)
    return TEST_RABBITMQ_URL


@pytest.fixture
def suffix() -> str:
    return unique_suffix()


@pytest.fixture
def make_settings(database_url: str, rabbitmq_url: str, suffix: str) -> Iterator[Callable[..., ServiceSettings]]:
    """Build service settings isolated to this test: own schema, exchange and queue names, and
    a random internal credential (``support_shared.testing.clients.trusted`` apps send it)."""
    schemas: list[tuple[str, str]] = []

    def factory(cls: type[S], schema: str = "svc", **overrides: object) -> S:
        db_schema = f"{schema}_{suffix}"
        schemas.append((database_url, db_schema))
        values: dict[str, object] = {
            "database_url": database_url,
            "db_schema": db_schema,
            "rabbitmq_url": rabbitmq_url,
            "exchange": f"tickets.{suffix}",
            "dead_letter_exchange": f"tickets.{suffix}.dlx",
            "queue_prefix": f"{suffix}.",
            "relay_poll_seconds": 0.2,
            "internal_token": secrets.token_urlsafe(24),
        }
        values.update(overrides)
        return cls(**values)

    yield factory
    for url, schema in schemas:
        engine = make_engine(url, "public")
        try:
            drop_schema(engine, schema)
        finally:
            engine.dispose()
    delete_broker_objects(f"{suffix}.", f"tickets.{suffix}")


class BrokerProbe:
    """A test's own view of the broker: bind a queue, publish raw bodies, read messages."""

    def __init__(self, url: str, exchange: str) -> None:
        self.connection = connect(url, "test-probe", heartbeat=0)
        self.channel = self.connection.channel()
        self.exchange = exchange

    def listen(self, queue: str, routing_key: str = "#") -> str:
        self.channel.queue_declare(queue, durable=False, auto_delete=False, exclusive=True)
        self.channel.queue_bind(queue, self.exchange, routing_key=routing_key)
        return queue

    def get(self, queue: str) -> tuple[pika.spec.Basic.GetOk, pika.BasicProperties, bytes] | None:
        method, props, body = self.channel.basic_get(queue, auto_ack=True)
        if method is None:
            return None
        return method, props, body

    def drain(self, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
        out = []
        while (msg := self.get(queue)) is not None:
            out.append((msg[1], msg[2]))
        return out

    def publish(self, routing_key: str, body: bytes, exchange: str | None = None,
                headers: dict | None = None) -> None:
        self.channel.basic_publish(
            self.exchange if exchange is None else exchange, routing_key, body,
            pika.BasicProperties(delivery_mode=2, headers=headers or {}),
        )

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


@pytest.fixture
def broker_probe(rabbitmq_url: str, suffix: str) -> Iterator[Callable[[str], BrokerProbe]]:
    probes: list[BrokerProbe] = []

    def factory(exchange: str) -> BrokerProbe:
        probe = BrokerProbe(rabbitmq_url, exchange)
        probes.append(probe)
        return probe

    yield factory
    for probe in probes:
        probe.close()
