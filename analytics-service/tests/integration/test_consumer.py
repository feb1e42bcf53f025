"""The analytics consumer on a suffixed exchange: once-only projection and dead-lettering."""
import threading
import uuid
from datetime import datetime, timezone

import orjson
import pytest

from analytics_service.app import create_app
from analytics_service.consumer import build_consumer
from support_shared import dependencies
from support_shared.manifest import SUITE
from support_shared.testing.clients import trusted
from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)
ROUTING_KEYS = [c.routing_key for c in SUITE.service("analytics-service").consumes]


@pytest.fixture
def consumer(settings, engine, broker_probe):
    consumer = build_consumer(settings, engine)
    watcher = broker_probe(settings.exchange)
    consumer.declare(watcher.channel)   # queues exist before anyone publishes
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    # Consumer.stop() is lost if it comes before run() has connected: wait until it consumes.
    wait_until(lambda: all(
        watcher.channel.queue_declare(q, passive=True).method.consumer_count == 1
        for q in consumer.queues), message="consumer attached to its four queues")
    yield consumer
    consumer.stop()  # before the fixtures delete the queues
    thread.join(10)
    assert not thread.is_alive()


@pytest.fixture
def probe(broker_probe, settings, consumer):
    return broker_probe(settings.exchange)


@pytest.fixture
def client(settings):
    app = trusted(create_app(settings, clock=lambda: T0))
    yield app.test_client()
    dependencies.of(app).close()


def _events_processed(client):
    return sum(client.get("/api/analytics/tickets", headers={"X-Tenant-ID": "acme"})
               .get_json()["events_processed"].values())


def test_consumes_one_queue_per_event_on_the_suffixed_exchange(settings, consumer):
    assert consumer.service == "analytics-service"
    assert consumer.queues == [f"{settings.queue_prefix}analytics-service.{key}" for key in ROUTING_KEYS]
    assert settings.exchange.startswith("tickets.t")


def test_each_event_counts_once_and_malformed_ones_are_dead_lettered(
        settings, consumer, probe, client, events):
    ticket = events(1, T0)
    routed = ticket.routed(30, "Facilities", 0.8)
    status_v4 = ticket.status(600, "in_progress", "resolved", 4)
    stale = ticket.status(300, "pending", "in_progress", 3)
    for envelope in [ticket.created("low"), ticket.categorized(10, "high", 0.8, "local_model"),
                     routed, status_v4]:
        probe.publish(envelope.routing_key, envelope.to_json())
    probe.publish(routed.routing_key, routed.to_json())          # duplicate delivery
    wait_until(lambda: _events_processed(client) == 4, message="four events applied")
    probe.publish(stale.routing_key, stale.to_json())            # stale status, after v4
    probe.publish("ticket.routed", b"{not json")
    bad_data = orjson.loads(routed.to_json())
    bad_data.update(event_id=str(uuid.uuid4()), data={**bad_data["data"], "confidence": 7})
    probe.publish("ticket.routed", orjson.dumps(bad_data))

    # Both poison messages come after the duplicate on the same queue, so it has been handled.
    dlq = consumer.topology.dead_letter_queue(consumer.queue_for("ticket.routed"))
    dead = []
    wait_until(lambda: dead.extend(probe.drain(dlq)) or len(dead) >= 2, message="two dead letters")
    assert [props.headers["x-error-type"] for props, _ in dead] == ["InvalidEventError"] * 2
    assert dead[0][1] == b"{not json"
    wait_until(lambda: _events_processed(client) == 5, message="stale status event logged")

    headers = {"X-Tenant-ID": "acme"}
    summary = client.get("/api/dashboard/summary", headers=headers).get_json()
    assert summary["total_tickets"] == 1
    assert summary["by_status"] == {"pending": 0, "in_progress": 0, "resolved": 1, "closed": 0,
                                    "waiting": 0}
    assert summary["by_department"] == {"Facilities": 1}
    assert summary["by_priority"]["high"] == 1
    routing = client.get("/api/dashboard/routing", headers=headers).get_json()
    assert routing["total_routed"] == 1
    assert routing["by_categorization_method"]["local_model"] == 1
    tickets = client.get("/api/analytics/tickets", headers=headers).get_json()
    assert tickets["events_processed"] == {"ticket.created": 1, "ticket.categorized": 1,
                                           "ticket.routed": 1, "ticket.status.updated": 2,
                                           "ticket.updated": 0, "ticket.commented": 0,
                                           "ticket.deleted": 0,
                                           "ticket.assignment.applied": 0}
    performance = client.get("/api/analytics/performance", headers=headers).get_json()
    assert performance["time_to_resolve"]["max_seconds"] == 600.0
    assert performance["time_to_route"]["count"] == 1
