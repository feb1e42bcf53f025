"""Outbox -> relay -> RabbitMQ -> consumer -> inbox, and dead-lettering, on the real servers."""
import threading

import pytest

from support_shared.db import UnitOfWork
from support_shared.events import EventType, TicketStatusUpdated, decode, new_event
from support_shared.messaging.consumer import Consumer, PermanentError, Subscription
from support_shared.messaging.publisher import Publisher
from support_shared.messaging.topology import Topology
from support_shared.outbox import notify_channel
from support_shared.relay import OutboxRelay, outbox_status
from support_shared.testing.helpers import each_event, wait_until

pytestmark = pytest.mark.integration


def _event(ticket_id=1, version=2, correlation_id=None):
    return new_event(EventType.TICKET_STATUS_UPDATED,
                     TicketStatusUpdated(old_status="pending", new_status="in_progress"),
                     tenant_id="default", ticket_id=ticket_id, ticket_version=version,
                     correlation_id=correlation_id)


def _start(consumer):
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


def _stop(consumer, thread):
    consumer.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_uncommitted_events_never_leave_and_committed_ones_arrive_once(settings, engine, broker_probe):
    topology = Topology.from_settings(settings)
    publisher = Publisher(settings.rabbitmq_url, topology, "test-relay")
    relay = OutboxRelay(engine, publisher, schema=settings.db_schema, batch_size=10)
    probe = broker_probe(settings.exchange)
    topology.declare_exchanges(probe.channel)
    queue = probe.listen(f"{settings.queue_prefix}probe")

    with UnitOfWork(engine) as uow:
        uow.outbox.add(_event(ticket_id=1))          # rolled back: must never be published
    committed = [_event(ticket_id=i, correlation_id="r1") for i in range(2, 27)]
    with UnitOfWork(engine, notify_channel=notify_channel(settings.db_schema)) as uow:
        uow.outbox.add_each(committed)
        uow.commit()

    published = 0
    while (n := relay.publish_pending()):
        published += n
    assert published == 25
    with engine.connect() as conn:
        assert outbox_status(conn).backlog == 0
    got = wait_until(lambda: (msgs := probe.drain(queue)) and msgs, message="published events")
    ids = [decode(body).event_id for _props, body in got]
    assert ids == [e.event_id for e in committed]             # in commit order, once each
    assert got[0][0].headers["x-request-id"] == "r1"
    assert got[0][0].delivery_mode == 2
    publisher.close()


def test_consumer_applies_once_and_dead_letters_poison(settings, engine, broker_probe):
    applied = []

    def handle(envelope):
        if envelope.ticket_id == 13:
            raise PermanentError("ticket 13 is cursed")
        with UnitOfWork(engine, consumer="test") as uow:
            if uow.inbox.claim(envelope.event_id):
                applied.append(envelope.event_id)
            uow.commit()

    consumer = Consumer(settings, "svc", [Subscription("ticket.status.updated", each_event(handle))])
    probe = broker_probe(settings.exchange)
    consumer.topology.declare_exchanges(probe.channel)
    consumer.declare(probe.channel)
    good = _event(ticket_id=5)
    for _ in range(3):                               # the same event delivered three times
        probe.publish("ticket.status.updated", good.to_json())
    probe.publish("ticket.status.updated", b"{not json")
    probe.publish("ticket.status.updated", _event(ticket_id=13).to_json())
    thread = _start(consumer)
    try:
        dlq = consumer.topology.dead_letter_queue(consumer.queue_for("ticket.status.updated"))
        dead = []
        wait_until(lambda: dead.extend(probe.drain(dlq)) or len(dead) >= 2, message="two dead letters")
        assert applied == [good.event_id]
        reasons = sorted(props.headers["x-error-type"] for props, _ in dead)
        assert reasons == ["InvalidEventError", "PermanentError"]
        assert any("cursed" in props.headers["x-error-reason"] for props, _ in dead)
        assert all(props.headers["x-original-routing-key"] == "ticket.status.updated" for props, _ in dead)
    finally:
        _stop(consumer, thread)


def test_crashing_handler_is_dead_lettered_by_delivery_limit(settings, engine, broker_probe):
    calls = []

    def handle(envelope):
        calls.append(envelope.event_id)
        raise RuntimeError("bug")

    consumer = Consumer(settings.model_copy(update={"delivery_limit": 2}), "svc",
                        [Subscription("ticket.status.updated", each_event(handle))])
    probe = broker_probe(settings.exchange)
    consumer.declare(probe.channel)
    probe.publish("ticket.status.updated", _event().to_json())
    thread = _start(consumer)
    try:
        dlq = consumer.topology.dead_letter_queue(consumer.queue_for("ticket.status.updated"))
        dead = wait_until(lambda: probe.drain(dlq), message="dead letter after delivery limit")
        assert len(dead) == 1
        assert dead[0][0].headers["x-death"][0]["reason"] == "delivery_limit"
        assert len(calls) == 3  # first delivery + 2 redeliveries
    finally:
        _stop(consumer, thread)
