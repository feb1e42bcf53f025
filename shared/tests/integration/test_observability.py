"""Metrics and structured logs on the real servers: a service's /metrics, consumer and relay
counters, log fields, and a gunicorn web process with two workers behind one /metrics."""
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from routing_service.app import create_app
from routing_service.config import Settings as RoutingSettings
from support_shared.config import ServiceSettings
from support_shared.db import UnitOfWork, migrate
from support_shared.events import EventType, TicketStatusUpdated, new_event
from support_shared.logging import _ContextFilter
from support_shared.messaging.consumer import Consumer, PermanentError, Subscription
from support_shared.messaging.publisher import Message, Outcome, Publisher
from support_shared.messaging.topology import Topology
from support_shared.metrics import (METRICS_DIR_ENV, METRICS_PORT_ENV, record_consumed,
                                    start_worker_endpoint)
from support_shared.outbox import notify_channel
from support_shared.relay import OutboxRelay
from support_shared.service import engine_for
from support_shared.testing.clients import trusted
from support_shared.testing.helpers import each_event, wait_until

pytestmark = pytest.mark.integration

KEY = EventType.TICKET_STATUS_UPDATED.value


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _event(ticket_id: int = 1, correlation: str | None = None):
    return new_event(EventType.TICKET_STATUS_UPDATED,
                     TicketStatusUpdated(old_status="pending", new_status="in_progress"),
                     tenant_id="default", ticket_id=ticket_id, ticket_version=2,
                     correlation_id=correlation)


@pytest.fixture
def settings(make_settings):
    return make_settings(ServiceSettings, schema="obs")


@pytest.fixture
def records(caplog):
    """Captured records, with service and correlation id added as the JSON handler adds them."""
    caplog.handler.addFilter(_ContextFilter("test"))
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="support_shared")  # per-message lines are DEBUG
    return caplog


@pytest.fixture
def routing(make_settings):
    settings = make_settings(RoutingSettings, schema="routing_obs")
    engine = engine_for(settings)
    migrate(engine, settings.db_schema, "routing_service")
    yield settings, engine
    engine.dispose()


def test_a_service_app_counts_its_requests_and_reports_its_outbox(routing):
    settings, engine = routing
    client = trusted(create_app(settings)).test_client()

    def scrape() -> dict[tuple[str, frozenset], float]:
        return _samples(client.get("/metrics").get_data(as_text=True))

    listed = frozenset({"method": "GET", "route": "/api/departments", "status": "200"}.items())
    before = scrape().get(("http_requests_total", listed), 0.0)
    for _ in range(3):
        assert client.get("/api/departments", headers={"X-Request-ID": "m-1"}).status_code == 200
    after = scrape()
    assert after[("http_requests_total", listed)] == before + 3
    assert after[("outbox_backlog", frozenset())] == 0
    assert after[("outbox_oldest_unpublished_age_seconds", frozenset())] == 0


def _run(consumer: Consumer) -> threading.Thread:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


def test_consumer_counts_acks_dead_letters_and_requeues(settings, engine, broker_probe, records):
    crashed: set = set()

    def handle(envelope):
        if envelope.ticket_id == 13:
            raise PermanentError("cursed")
        if envelope.ticket_id == 7 and envelope.event_id not in crashed:
            crashed.add(envelope.event_id)
            raise RuntimeError("first delivery crashes")

    consumer = Consumer(settings, "svc", [Subscription(KEY, each_event(handle))])
    probe = broker_probe(settings.exchange)
    consumer.declare(probe.channel)
    before = {o: _value("events_consumed_total", event_type=KEY, outcome=o)
              for o in ("ack", "dead_lettered", "requeued")}
    timed = _value("event_handler_duration_seconds_count", event_type=KEY)
    good = _event(ticket_id=5, correlation="corr-5")
    probe.publish(KEY, good.to_json())
    probe.publish(KEY, _event(ticket_id=13).to_json())
    probe.publish(KEY, b"{not json")
    probe.publish(KEY, _event(ticket_id=7).to_json())

    def delta(outcome: str) -> float:
        return _value("events_consumed_total", event_type=KEY, outcome=outcome) - before[outcome]

    thread = _run(consumer)
    try:
        wait_until(lambda: delta("ack") >= 2 and delta("dead_lettered") >= 2,
                   message="two acks and two dead letters")
    finally:
        consumer.stop()
        thread.join(10)
    assert (delta("ack"), delta("dead_lettered"), delta("requeued")) == (2, 2, 1)
    # Every decoded message is timed (the invalid one never reaches a handler).
    assert _value("event_handler_duration_seconds_count", event_type=KEY) - timed == 4
    handled = [r for r in records.records if r.getMessage().endswith("handled")
               and r.event_id == str(good.event_id)]
    assert len(handled) == 1
    assert (handled[0].ticket_id, handled[0].routing_key, handled[0].correlation_id) == (
        5, KEY, "corr-5")


def test_relay_counts_what_it_publishes_and_logs_each_rows_correlation_id(settings, engine,
                                                                         broker_probe, records):
    topology = Topology.from_settings(settings)
    probe = broker_probe(settings.exchange)
    topology.declare_exchanges(probe.channel)
    probe.listen(f"{settings.queue_prefix}probe")
    with UnitOfWork(engine, notify_channel=notify_channel(settings.db_schema)) as uow:
        uow.outbox.add(_event(ticket_id=3, correlation="trace-relay"))
        uow.outbox.add(_event(ticket_id=4))
        uow.commit()
    before = _value("events_published_total", routing_key=KEY)
    publisher = Publisher(settings.rabbitmq_url, topology, "test-relay")
    try:
        assert OutboxRelay(engine, publisher, schema=settings.db_schema).publish_pending() == 2
    finally:
        publisher.close()
    assert _value("events_published_total", routing_key=KEY) - before == 2
    logged = {r.ticket_id: r for r in records.records if r.getMessage().startswith("published ")}
    assert logged[3].correlation_id == "trace-relay"
    assert logged[4].correlation_id is None                    # headers come from the envelope
    assert logged[3].routing_key == KEY and logged[3].event_id


class _RefusingPublisher:
    """The broker returns every message (no queue and no alternate exchange would take it)."""

    def publish_many(self, messages: list[Message]) -> Outcome:
        return Outcome(refused={i: f"{m.routing_key}: 312 NO_ROUTE"
                                for i, m in enumerate(messages)})


def test_relay_counts_refused_publishes(settings, engine, records):
    with UnitOfWork(engine) as uow:
        uow.outbox.add(_event(ticket_id=9, correlation="trace-refused"))
        uow.commit()
    before = _value("event_publish_failures_total", routing_key=KEY)
    relay = OutboxRelay(engine, _RefusingPublisher(),  # type: ignore[arg-type]
                        schema=settings.db_schema)
    assert relay.publish_pending() == 0
    assert _value("event_publish_failures_total", routing_key=KEY) - before == 1
    refused = [r for r in records.records if "refused" in r.getMessage()]
    assert [(r.ticket_id, r.correlation_id) for r in refused] == [(9, "trace-refused")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web_process(routing, tmp_path):
    """``routing-service web`` under gunicorn with two workers, JSON logs to a file."""
    settings, _engine = routing
    port, log = _free_port(), tmp_path / "web.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({
        "ROUTING_SERVICE_DATABASE_URL": settings.database_url,
        "ROUTING_SERVICE_DB_SCHEMA": settings.db_schema,
        "ROUTING_SERVICE_PORT": str(port), "WEB_WORKERS": "2", "WEB_THREADS": "2",
        "LOG_FORMAT": "json", METRICS_DIR_ENV: str(tmp_path / "metrics"),
        "INTERNAL_API_TOKEN": settings.internal_token,
        "WEB_ACCESS_LOG": "all",   # an internal service logs only its errors by default
    })
    env.pop(METRICS_PORT_ENV, None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "routing-service"), "web"],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return requests.get(f"{base}/metrics", timeout=2).status_code == 200
        except requests.RequestException:   # not listening yet, or workers still booting
            return False

    try:
        wait_until(up, timeout=45, interval=0.2, message="gunicorn answering")
        yield base, log, tmp_path / "metrics" / f"routing-service-{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_gunicorn_workers_share_one_metrics_view_and_log_json(routing, web_process):
    base, log, metrics_dir = web_process
    token = routing[0].internal_token
    session = requests.Session()
    for i in range(20):
        resp = requests.get(f"{base}/api/departments", timeout=5,
                            headers={"X-Request-ID": f"gw-{i}", "X-Internal-Token": token})   # new connection each: gunicorn spreads them over workers
        assert resp.status_code == 200
    listed = frozenset({"method": "GET", "route": "/api/departments", "status": "200"}.items())
    for _ in range(5):   # whichever worker answers the scrape sees all twenty
        samples = _samples(session.get(f"{base}/metrics", timeout=5).text)
        assert samples[("http_requests_total", listed)] == 20
    assert any(p.name.startswith("counter_") for p in metrics_dir.iterdir())
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    access = [r for r in lines if r["logger"] == "gunicorn.access"]
    assert {r["correlation_id"] for r in access} >= {f"gw-{i}" for i in range(20)}
    assert all(r["path"] == "/api/departments" and r["status"] == 200 for r in access)
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in lines)


def test_a_worker_serves_its_metrics_on_metrics_port(monkeypatch):
    monkeypatch.setenv(METRICS_PORT_ENV, str(_free_port()))
    server = start_worker_endpoint("127.0.0.1")
    assert server is not None
    try:
        record_consumed("ticket.routed", "ack", 0.01)
        text = requests.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
    samples = _samples(text)
    assert samples[("events_consumed_total",
                    frozenset({"event_type": "ticket.routed", "outcome": "ack"}.items()))] >= 1
