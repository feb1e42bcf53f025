"""Consumer on the real broker (both orders, duplicates); the relay publishing ticket.routed."""
import threading

import pytest

from routing_service.consumer import build_consumer
from support_shared.events import EventType, decode
from support_shared.messaging.publisher import Publisher
from support_shared.messaging.topology import Topology
from support_shared.relay import OutboxRelay
from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def consumer(settings, engine, broker_probe):
    consumer = build_consumer(settings, engine)
    probe = broker_probe(settings.exchange)
    consumer.declare(probe.channel)          # queues exist before anything is published
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    # Attached to both queues before the test publishes (and before stop() can race connect).
    wait_until(lambda: all(_consumers(probe, q) for q in consumer.queues),
               message="consumer attached to its queues")
    yield consumer
    consumer.stop()                          # before the fixtures delete the queues
    thread.join(10)
    assert not thread.is_alive()


def _consumers(probe, queue):
    return probe.channel.queue_declare(queue, passive=True).method.consumer_count


@pytest.fixture
def probe(settings, broker_probe):
    return broker_probe(settings.exchange)


def _history(query, ticket_id):
    return query("SELECT department, method FROM routing_history WHERE ticket_id = :t",
                 t=ticket_id)


def test_queue_names_follow_the_contract(consumer, settings):
    assert consumer.queues == [f"{settings.queue_prefix}routing-service.ticket.created",
                               f"{settings.queue_prefix}routing-service.ticket.categorized",
                               f"{settings.queue_prefix}routing-service.ticket.status.updated",
                               f"{settings.queue_prefix}routing-service.ticket.deleted",
                               f"{settings.queue_prefix}routing-service.requester.erased",

                               f"{settings.queue_prefix}routing-service.ticket.updated"]


def test_created_then_categorized_routes_the_ticket(consumer, probe, events, query):
    created, categorized = events.created(1), events.categorized(1, "Finance", 0.75)
    probe.publish("ticket.created", created.to_json())
    probe.publish("ticket.categorized", categorized.to_json())
    wait_until(lambda: _history(query, 1), message="history row")
    assert _history(query, 1) == [("Finance", "auto")]
    wait_until(lambda: query("SELECT title FROM routed_tickets WHERE ticket_id = 1")[0][0],
               message="title stored")
    [(payload,)] = query("SELECT payload FROM outbox")
    assert payload["event_type"] == "ticket.routed"
    assert payload["causation_id"] == str(categorized.event_id)
    assert payload["data"]["department"] == "Finance"


def test_categorized_before_created(consumer, probe, events, query):
    probe.publish("ticket.categorized", events.categorized(2, "HR").to_json())
    wait_until(lambda: _history(query, 2), message="history row")
    probe.publish("ticket.created", events.created(2, title="Payslip missing").to_json())
    row = wait_until(lambda: query("SELECT title, department, routing_version FROM routed_tickets"
                                   " WHERE ticket_id = 2 AND title IS NOT NULL"),
                     message="title stored")
    assert row == [("Payslip missing", "HR", 1)]
    assert query("SELECT count(*) FROM outbox") == [(1,)]


def test_duplicate_delivery_routes_once(consumer, probe, events, query):
    event = events.categorized(3, "Facilities")
    for _ in range(3):
        probe.publish("ticket.categorized", event.to_json())
    marker = events.categorized(4, "HR")      # queued after the duplicates: processed after them
    probe.publish("ticket.categorized", marker.to_json())
    wait_until(lambda: _history(query, 4), message="marker processed")
    assert _history(query, 3) == [("Facilities", "auto")]
    assert query("SELECT count(*) FROM outbox") == [(2,)]


def test_relay_publishes_ticket_routed(settings, engine, probe, apply, events, query):
    topology = Topology.from_settings(settings)
    topology.declare_exchanges(probe.channel)
    queue = probe.listen(f"{settings.queue_prefix}probe.routed", "ticket.routed")
    apply(events.categorized(5, "IT Support", 0.2))
    publisher = Publisher(settings.rabbitmq_url, topology, "test-relay")
    relay = OutboxRelay(engine, publisher, schema=settings.db_schema)
    try:
        assert relay.publish_pending() == 1
        assert relay.publish_pending() == 0
    finally:
        publisher.close()
    [(props, body)] = wait_until(lambda: probe.drain(queue), message="ticket.routed")
    envelope = decode(body)
    assert envelope.event_type == EventType.TICKET_ROUTED
    assert (envelope.tenant_id, envelope.ticket_id) == ("default", 5)
    payload = envelope.payload()
    assert (payload.department, payload.needs_review, payload.method) == (
        "General", True, "auto")
    assert props.headers == {"x-request-id": "req-1", "x-tenant-id": "default"}
    assert query("SELECT count(*) FROM outbox WHERE published_at IS NULL") == [(0,)]
