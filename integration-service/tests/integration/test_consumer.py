"""The integration consumer on a suffixed exchange (real RabbitMQ): ticket events become
webhook deliveries once, through the queues the manifest declares, and the worker sends them."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from integration_service.consumer import build_consumer
from integration_service.worker import Worker
from support_shared.events import EventType, TicketCreated, TicketStatusUpdated, new_event
from support_shared.manifest import SUITE, WEBHOOK_EVENTS
from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration
H = {"X-Tenant-ID": "acme"}


@pytest.fixture
def consumer(settings, engine, broker_probe):
    consumer = build_consumer(settings, engine)
    watcher = broker_probe(settings.exchange)
    consumer.declare(watcher.channel)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    wait_until(lambda: all(
        watcher.channel.queue_declare(q, passive=True).method.consumer_count == 1
        for q in consumer.queues), timeout=30, message="consumer attached to its queues")
    yield consumer
    consumer.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_the_consumer_takes_the_webhook_events_from_the_manifest(settings, consumer):
    events = [*WEBHOOK_EVENTS, EventType.REQUESTER_ERASED]    # erasure scrubs deliveries
    assert [c.event for c in SUITE.service("integration-service").consumes] == events
    assert consumer.queues == [f"{settings.queue_prefix}integration-service.{e.value}"
                               for e in events]


def test_published_events_are_delivered_once_to_matching_subscriptions(
        settings, engine, consumer, broker_probe, client, receiver):
    rx = receiver()
    hook = client.post("/api/webhooks", json={"url": rx.url, "event_types": [
        "ticket.created", "ticket.status.updated"]}, headers=H).get_json()
    probe = broker_probe(settings.exchange)
    created = new_event(EventType.TICKET_CREATED, TicketCreated(
        title="Printer", description="Jammed", user_name="Ann", user_email="ann@example.com",
        priority="low", created_at=datetime.now(timezone.utc)),
        tenant_id="acme", ticket_id=5, ticket_version=1)
    status = new_event(EventType.TICKET_STATUS_UPDATED, TicketStatusUpdated(
        old_status="pending", new_status="in_progress"),
        tenant_id="acme", ticket_id=5, ticket_version=2)
    other = new_event(EventType.TICKET_CREATED, created.payload(), tenant_id="other",
                      ticket_id=6, ticket_version=1)
    for envelope in (created, created, status, other):      # one duplicate delivery
        probe.publish(envelope.routing_key, envelope.to_json())
    wait_until(lambda: len(client.get(f"/api/webhooks/{hook['id']}/deliveries",
                                      headers=H).get_json()["deliveries"]) == 2,
               timeout=30, message="two deliveries queued")
    worker = Worker(settings, engine)
    try:
        deadline = time.monotonic() + 30
        while len(rx.received) < 2 and time.monotonic() < deadline:
            worker.sender.run_once() or time.sleep(0.05)
    finally:
        worker.sender.close()
    assert sorted(r.headers["X-Webhook-Event"] for r in rx.wait_for(2)) == [
        "ticket.created", "ticket.status.updated"]
    deliveries = client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=H).get_json()
    assert len(deliveries["deliveries"]) == 2           # the duplicate and the other tenant's: none
