"""Per-service broker users on the real RabbitMQ: each can do its job and nothing else."""
import threading
from datetime import datetime, timezone
import uuid

import pytest
from pika.exceptions import ChannelClosedByBroker

from support_shared.config import ServiceSettings
from support_shared.events import EventType, TicketCreated, new_event
from support_shared.manifest import SUITE
from support_shared.messaging.connection import connect
from support_shared.messaging.consumer import Consumer, Subscription
from support_shared.messaging.publisher import Publisher
from support_shared.messaging.topology import Topology
from support_shared.testing.broker_users import throwaway_broker_users
from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration

ROUTING = SUITE.service("routing-service")
OWN = ROUTING.queues()[0]                                  # routing-service.ticket.created
OTHER = SUITE.service("ticket-service").queues()[0]        # ticket-service.ticket.routed


@pytest.fixture(scope="module")
def broker(rabbitmq_url):
    suffix = "t" + uuid.uuid4().hex[:10]
    with throwaway_broker_users(suffix, rabbitmq_url) as access:
        admin = connect(access.url("admin"), "test-admin")
        channel = admin.channel()
        topology = Topology()
        topology.declare_exchanges(channel)            # what `migrate` does as the admin user
        for service, consumes in SUITE.subscriptions():
            queue = f"{service}.{consumes.routing_key}"
            topology.declare_queue(channel, queue, [consumes.routing_key])
        admin.close()
        yield access


def _refused(url: str, action) -> str:
    """The broker's refusal of ``action(channel)``; fails the test if it is allowed."""
    connection = connect(url, "test-permissions")
    try:
        with pytest.raises(ChannelClosedByBroker) as refused:
            channel = connection.channel()
            channel.confirm_delivery()
            action(channel)
        assert refused.value.reply_code == 403, refused.value
        return refused.value.reply_text
    finally:
        if connection.is_open:
            connection.close()


def test_a_service_cannot_consume_another_services_queue(broker):
    _refused(broker.url("routing-service"), lambda ch: ch.basic_get(OTHER))
    _refused(broker.url("routing-service"), lambda ch: ch.basic_consume(OTHER, lambda *a: None))
    _refused(broker.url("routing-service"), lambda ch: ch.basic_get(OWN + ".dlq"))
    _refused(broker.url("operator"), lambda ch: ch.basic_get(OWN))


def test_a_service_cannot_publish_to_a_dead_letter_queue_or_an_exchange_it_does_not_use(broker):
    for user in ("routing-service", "analytics-service", "ticket-service"):
        _refused(broker.url(user), lambda ch: ch.basic_publish("", OWN + ".dlq", b"{}"))
        _refused(broker.url(user), lambda ch: ch.basic_publish("", OWN, b"{}"))
    # analytics has no relay: it may not publish events at all.
    _refused(broker.url("analytics-service"),
             lambda ch: ch.basic_publish("tickets", "ticket.created", b"{}"))


def test_a_service_cannot_declare_or_delete_anything(broker):
    for queue in (OWN, OWN + ".dlq", OTHER):
        _refused(broker.url("routing-service"), lambda ch, q=queue: ch.queue_delete(q))
    _refused(broker.url("routing-service"),
             lambda ch: ch.exchange_declare("tickets", "topic", durable=True,
                                            arguments={"alternate-exchange": "tickets.unroutable"}))
    _refused(broker.url("routing-service"), lambda ch: ch.exchange_delete("tickets"))
    _refused(broker.url("operator"), lambda ch: ch.queue_delete(OWN + ".dlq"))


def test_relay_and_consumer_do_their_job_with_their_own_users(broker):
    """ticket-service's relay publishes ticket.created (a good event and a poison message);
    routing's consumer, checking the topology passively, handles the one and dead-letters the
    other itself; the operator finds it in the DLQ."""
    good = new_event(EventType.TICKET_CREATED, TicketCreated(
        title="VPN", description="VPN is down", user_name="Dana", user_email="d@example.com",
        priority="high", created_at=datetime.now(timezone.utc)),
        tenant_id="default", ticket_id=1, ticket_version=1)
    publisher = Publisher(broker.url("ticket-service"), Topology(declare=False), "test-relay")
    publisher.publish("ticket.created", good.to_json(), message_id=str(good.event_id))
    publisher.publish("ticket.created", b"not json", message_id=str(uuid.uuid4()))
    publisher.close()
    settings = ServiceSettings(rabbitmq_url=broker.url("routing-service"), rabbitmq_declare=False)
    seen = []
    consumer = Consumer(settings, "routing-service",
                        [Subscription("ticket.created", lambda envs: seen.extend(envs))])
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: seen, timeout=30, message="the event consumed")
        operator = connect(broker.url("operator"), "test-operator")
        channel = operator.channel()
        wait_until(lambda: channel.queue_declare(OWN + ".dlq", passive=True).method.message_count,
                   timeout=30, message="the poison message dead-lettered")
        operator.close()
    finally:
        consumer.stop()
        thread.join(10)
    assert [e.event_id for e in seen] == [good.event_id]
