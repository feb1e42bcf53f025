"""Agents' routings (ticket.routed) -> training examples, through the real consumer and broker."""
from datetime import datetime, timezone

import pika
import pytest
import sqlalchemy as sa

from ai_categorization_service.config import SERVICE_NAME
from ai_categorization_service.consumer import build_consumer
from support_shared.events import EventType, TicketCreated, TicketRouted, new_event
from support_shared.service import declare_queues
from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration

CREATED_AT = datetime(2025, 6, 2, 8, 0, tzinfo=timezone.utc)


def created(ticket_id, title="Heating broken", description="Room 4 is freezing since Monday"):
    payload = TicketCreated(title=title, description=description, user_name="Cy",
                            user_email="cy@example.com", priority="medium", created_at=CREATED_AT)
    return new_event(EventType.TICKET_CREATED, payload, tenant_id="acme", ticket_id=ticket_id,
                     ticket_version=1)


def routed(ticket_id, method="reroute", department="Facilities", routing_version=2):
    payload = TicketRouted(department=department, previous_department="IT Support",
                           method=method, routing_version=routing_version)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id="acme", ticket_id=ticket_id,
                     ticket_version=2)


def examples(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT ticket_id, text, department, source, routing_version, event_id"
            " FROM training_examples ORDER BY id")).all()


def categorized(engine, ticket_id):
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM categorizations WHERE ticket_id = :t"),
                           {"t": ticket_id})


def test_migrate_declares_the_routed_queue_with_its_dead_letter_queue(settings, engine,
                                                                      broker_probe):
    consumer = build_consumer(settings, engine)
    declare_queues(consumer, settings)            # what `ai-categorization-service migrate` does
    queue = settings.queue(SERVICE_NAME, "ticket.routed")
    assert queue in consumer.queues
    probe = broker_probe(settings.exchange)
    probe.channel.confirm_delivery()
    # Only people's routings reach it: an automatic one is not even delivered.
    probe.publish("ticket.routed", routed(1, method="auto", routing_version=1).to_json())
    probe.publish(routed(1).routing_key, routed(1).to_json())
    assert routed(1).routing_key == "ticket.routed.manual"
    assert probe.channel.queue_declare(queue, passive=True).method.message_count == 1
    assert probe.channel.queue_declare(f"{queue}.dlq", passive=True).method.message_count == 0
    probe.channel.basic_publish(settings.dead_letter_exchange, queue, b"dead",
                                pika.BasicProperties(delivery_mode=2))
    assert probe.channel.queue_declare(f"{queue}.dlq", passive=True).method.message_count == 1


def test_a_reroute_becomes_one_training_example(engine, run_consumer):
    _, probe = run_consumer()
    probe.publish("ticket.created", created(5).to_json())
    wait_until(lambda: categorized(engine, 5), timeout=30, message="ticket 5 categorized")
    reroute = routed(5)
    for event in (reroute, reroute, routed(5, method="auto", routing_version=1)):
        probe.publish(event.routing_key, event.to_json())
    # One consumer takes a queue in order: once this example is stored, those before it were
    # handled too (the duplicate and the automatic routing included).
    sentinel = routed(6, method="manual", department="HR")
    probe.publish(sentinel.routing_key, sentinel.to_json())
    wait_until(lambda: any(r.event_id == sentinel.event_id for r in examples(engine)),
               timeout=30, message="the sentinel's example")

    first, second = examples(engine)
    assert (first.ticket_id, first.department, first.source, first.routing_version) == (
        5, "Facilities", "reroute", 2)
    assert first.text == "Heating broken\n\nRoom 4 is freezing since Monday"
    assert first.event_id == reroute.event_id
    assert (second.ticket_id, second.source, second.text) == (6, "manual", None)  # text unknown


def test_a_correction_before_its_ticket_gets_the_text_later(engine, run_consumer):
    _, probe = run_consumer()
    correction = routed(7, method="manual", department="Finance")
    probe.publish(correction.routing_key, correction.to_json())
    wait_until(lambda: examples(engine), timeout=30, message="example stored")
    assert examples(engine)[0].text is None
    probe.publish("ticket.created", created(7, "Invoice", "Vendor invoice unpaid").to_json())
    wait_until(lambda: examples(engine)[0].text == "Invoice\n\nVendor invoice unpaid",
               timeout=30, message="text filled in")
