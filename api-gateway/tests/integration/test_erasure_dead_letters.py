"""An erasure's dead-letter removal against the real RabbitMQ: the tenant's dead letters of the
erased tickets go, from every DLQ of the manifest; the others stay, in order of arrival."""
from __future__ import annotations

from typing import Iterator

import orjson
import pika
import pytest

from api_gateway.admin import AdminSettings, init_admin
from api_gateway.app import create_app
from api_gateway.auth import Principal
from api_gateway.config import GatewaySettings
from api_gateway.erasure import remove_dead_letters
from support_shared.messaging.connection import connect
from support_shared.messaging.topology import Topology
from support_shared.testing.helpers import MANAGEMENT_URL, delete_broker_objects, wait_until

pytestmark = pytest.mark.integration

# (queue, tenant, ticket) of each dead letter: two of tenant "acme"'s ticket 7 on two queues.
DEAD = (("routing-service.ticket.created", "acme", 7), ("routing-service.ticket.created", "acme", 8),
        ("routing-service.ticket.created", "other", 7), ("analytics-service.ticket.created",
                                                         "acme", 7))


@pytest.fixture
def setup(rabbitmq_url: str, suffix: str) -> Iterator[tuple[pika.BlockingConnection, dict]]:
    names = {"rabbitmq_url": rabbitmq_url, "exchange": f"tickets.{suffix}",
             "dead_letter_exchange": f"tickets.{suffix}.dlx", "queue_prefix": f"{suffix}."}
    topology = Topology(names["exchange"], names["dead_letter_exchange"])
    connection = connect(rabbitmq_url, "test-erasure-dlq", heartbeat=0)
    channel = connection.channel()
    topology.declare_exchanges(channel)
    channel.confirm_delivery()
    for n, (queue, tenant, ticket) in enumerate(DEAD):
        topology.declare_queue(channel, f"{suffix}.{queue}", [queue])
        body = orjson.dumps({"event_id": f"ev-{n}", "event_type": "ticket.created",
                             "ticket_id": ticket, "tenant_id": tenant,
                             "data": {"user_email": "erase.me@example.com"}})
        channel.basic_publish(names["dead_letter_exchange"], f"{suffix}.{queue}", body,
                              pika.BasicProperties(message_id=f"msg-{n}", delivery_mode=2))
    for queue, count in (("routing-service.ticket.created", 3),
                         ("analytics-service.ticket.created", 1)):
        wait_until(lambda: channel.queue_declare(f"{suffix}.{queue}.dlq", passive=True)
                   .method.message_count == count, timeout=5, message="dead letters in place")
    yield connection, names
    connection.close()
    delete_broker_objects(f"{suffix}.", f"tickets.{suffix}")


def _left(connection: pika.BlockingConnection, queue: str) -> list[str]:
    channel = connection.channel()
    ids = []
    while True:
        method, props, _body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            break
        ids.append(props.message_id)
    channel.close()   # puts them back
    return ids


def test_only_the_tenants_dead_letters_of_the_erased_tickets_are_removed(setup, suffix):
    connection, names = setup
    app = create_app(GatewaySettings(**names),
                     authenticator=lambda _r: Principal("acme", frozenset({"admin"})))
    init_admin(app, AdminSettings(management_url=MANAGEMENT_URL, **names))
    with app.app_context():
        result = remove_dead_letters("acme", [7, 9])
        again = remove_dead_letters("acme", [7, 9])

    assert result.removed == 2 and again.removed == 0
    assert result.queues == {f"{suffix}.routing-service.ticket.created.dlq": 1,
                             f"{suffix}.analytics-service.ticket.created.dlq": 1}
    assert _left(connection, f"{suffix}.routing-service.ticket.created.dlq") == ["msg-1", "msg-2"]
    assert _left(connection, f"{suffix}.analytics-service.ticket.created.dlq") == []
