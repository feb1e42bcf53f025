"""The relay publishing this service's events and the consumer applying ticket.routed."""
import threading

import orjson
import pytest
import sqlalchemy as sa

from support_shared.events import EventType, TicketRouted, decode, new_event
from support_shared.messaging.publisher import Publisher
from support_shared.messaging.topology import Topology
from support_shared.relay import OutboxRelay, outbox_status
from support_shared.testing.helpers import wait_until
from ticket_service.consumer import build_consumer

pytestmark = pytest.mark.integration

BODY = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
        "user_email": "ann@example.com", "priority": "high"}


@pytest.fixture
def relay(settings, engine):
    publisher = Publisher(settings.rabbitmq_url, Topology.from_settings(settings), "test-relay")
    yield OutboxRelay(engine, publisher, schema=settings.db_schema, batch_size=50)
    publisher.close()


@pytest.fixture
def consumer(settings, engine, broker_probe):
    """A running consumer; stopped before the plugin deletes the queues."""
    consumer = build_consumer(settings, engine)
    probe = broker_probe(settings.exchange)
    consumer.topology.declare_exchanges(probe.channel)
    consumer.declare(probe.channel)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    yield consumer
    consumer.stop()
    thread.join(10)
    assert not thread.is_alive()


def _drain_relay(relay):
    total = 0
    while (n := relay.publish_pending()):
        total += n
    return total


def test_relay_publishes_created_and_status_events(client, relay, settings, engine, broker_probe):
    probe = broker_probe(settings.exchange)
    Topology.from_settings(settings).declare_exchanges(probe.channel)
    queue = probe.listen(f"{settings.queue_prefix}probe")
    created = client.post("/api/tickets", json=BODY,
                          headers={"X-Request-ID": "req-relay", "X-Tenant-ID": "acme"}).get_json()
    client.put(f"/api/tickets/{created['id']}/status", json={"status": "in_progress"},
               headers={"X-Tenant-ID": "acme"})

    assert _drain_relay(relay) == 2
    with engine.connect() as conn:
        assert outbox_status(conn).backlog == 0
    got = []
    wait_until(lambda: got.extend(probe.drain(queue)) or len(got) >= 2, message="two events")
    (props, body), (_, status_body) = got
    event = decode(body)
    assert event.event_type == EventType.TICKET_CREATED
    assert (event.ticket_id, event.ticket_version, event.tenant_id) == (created["id"], 1, "acme")
    assert event.data["title"] == "VPN down" and event.data["priority"] == "high"
    assert props.headers == {"x-request-id": "req-relay", "x-tenant-id": "acme"}
    assert props.correlation_id == "req-relay" and props.message_id == str(event.event_id)
    status_event = decode(status_body)
    assert status_event.event_type == EventType.TICKET_STATUS_UPDATED
    assert status_event.ticket_version == 2
    assert status_event.data == {"old_status": "pending", "new_status": "in_progress"}


def _routed(ticket_id, version, department, tenant="default"):
    payload = TicketRouted(department=department, confidence=0.91, method="auto",
                           categorization_method="claude", needs_review=version > 1,
                           routing_version=version)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=version, correlation_id="req-route")


def _claimed(engine, event_id):
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM inbox WHERE event_id = :e"),
                           {"e": event_id}) == 1


def _ticket(client, ticket_id):
    return client.get(f"/api/tickets/{ticket_id}").get_json()


def test_consumer_applies_routed_ignores_stale_and_dedupes(client, consumer, settings, engine,
                                                            broker_probe):
    ticket_id = client.post("/api/tickets", json=BODY).get_json()["id"]
    probe = broker_probe(settings.exchange)

    probe.publish("ticket.routed", _routed(ticket_id, 1, "IT Support").to_json())
    wait_until(lambda: _ticket(client, ticket_id)["department"] == "IT Support",
               message="routing applied")
    ticket = _ticket(client, ticket_id)
    assert (ticket["confidence_score"], ticket["categorization_method"]) == (0.91, "claude")
    assert (ticket["version"], ticket["needs_review"]) == (2, False)

    stale = _routed(ticket_id, 1, "Finance")
    probe.publish("ticket.routed", stale.to_json())
    wait_until(lambda: _claimed(engine, stale.event_id), message="stale event claimed")
    assert _ticket(client, ticket_id)["department"] == "IT Support"
    assert _ticket(client, ticket_id)["version"] == 2

    newer = _routed(ticket_id, 2, "HR")
    for _ in range(3):                              # one event, delivered three times
        probe.publish("ticket.routed", newer.to_json())
    marker = _routed(ticket_id, 1, "General")      # stale: applied after the three, no effect
    probe.publish("ticket.routed", marker.to_json())
    wait_until(lambda: _claimed(engine, marker.event_id), message="marker claimed")
    ticket = _ticket(client, ticket_id)
    assert (ticket["department"], ticket["needs_review"], ticket["version"]) == ("HR", True, 3)


def test_routed_for_unknown_ticket_is_dead_lettered(client, consumer, settings, engine,
                                                    broker_probe):
    created = client.post("/api/tickets", json=BODY, headers={"X-Tenant-ID": "b"})
    ticket_id = created.get_json()["id"]
    probe = broker_probe(settings.exchange)
    probe.publish("ticket.routed", _routed(ticket_id, 1, "HR", tenant="a").to_json())
    probe.publish("ticket.routed", orjson.dumps({"event_type": "ticket.routed"}))
    dlq = consumer.topology.dead_letter_queue(consumer.queue_for("ticket.routed"))
    assert dlq == f"{settings.queue_prefix}ticket-service.ticket.routed.dlq"
    dead = []
    wait_until(lambda: dead.extend(probe.drain(dlq)) or len(dead) >= 2, message="dead letters")
    reasons = sorted(props.headers["x-error-type"] for props, _ in dead)
    assert reasons == ["InvalidEventError", "PermanentError"]
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM inbox")) == 0
    ticket = client.get(f"/api/tickets/{ticket_id}", headers={"X-Tenant-ID": "b"}).get_json()
    assert ticket["department"] is None and ticket["version"] == 1
