"""The pipelined publisher against the real RabbitMQ: a batch is confirmed as a whole, a
returned message is refused on its own, and a closed connection is reopened."""
import pytest

from support_shared.messaging.publisher import Message, Publisher, PublishError
from support_shared.messaging.topology import Topology

pytestmark = pytest.mark.integration


def _messages(n: int, routing_key: str = "ticket.created", start: int = 0) -> list[Message]:
    return [Message(routing_key, f'{{"n": {i}}}'.encode(), f"m-{i}",
                    headers={"x-tenant-id": "t"}, correlation_id=f"c-{i}")
            for i in range(start, start + n)]


@pytest.fixture
def topology(settings):
    return Topology.from_settings(settings)


def test_a_batch_is_confirmed_whole_and_arrives_in_order(settings, topology, broker_probe):
    probe = broker_probe(settings.exchange)
    topology.declare_exchanges(probe.channel)
    queue = probe.listen(f"{settings.queue_prefix}pipelined")
    publisher = Publisher(settings.rabbitmq_url, topology, "test-pipelined")
    try:
        outcome = publisher.publish_many(_messages(500))
        second = publisher.publish_many(_messages(3, start=500))   # same channel, tags go on
    finally:
        publisher.close()
    assert (sorted(outcome.confirmed), outcome.refused, outcome.error) == (
        list(range(500)), {}, None)
    assert sorted(second.confirmed) == [0, 1, 2]
    got = probe.drain(queue)
    assert [props.message_id for props, _body in got] == [f"m-{i}" for i in range(503)]
    assert got[7][0].correlation_id == "c-7" and got[7][0].headers == {"x-tenant-id": "t"}
    assert got[7][0].delivery_mode == 2                        # persistent


def test_a_returned_message_is_refused_alone(settings, topology, broker_probe):
    probe = broker_probe(settings.exchange)
    topology.declare_exchanges(probe.channel)
    queue = probe.listen(f"{settings.queue_prefix}returned")
    # An exchange with no queue bound and no alternate exchange: mandatory messages come back.
    lonely = f"{settings.exchange}.lonely"
    probe.channel.exchange_declare(lonely, "topic", auto_delete=True)
    batch = _messages(5)
    batch[2] = Message("ticket.created", b"{}", "m-lost", exchange=lonely)
    publisher = Publisher(settings.rabbitmq_url, topology, "test-pipelined")
    try:
        outcome = publisher.publish_many(batch)
        with pytest.raises(PublishError, match="NO_ROUTE"):
            publisher.publish("ticket.created", b"{}", message_id="m-alone", exchange=lonely)
        publisher.publish("ticket.created", b"{}", message_id="m-after")   # still usable
    finally:
        publisher.close()
    assert sorted(outcome.confirmed) == [0, 1, 3, 4]
    assert list(outcome.refused) == [2] and "NO_ROUTE" in outcome.refused[2]
    assert outcome.error is None
    assert [p.message_id for p, _ in probe.drain(queue)] == ["m-0", "m-1", "m-3", "m-4",
                                                            "m-after"]


def test_a_closed_channel_is_reported_then_reopened(settings, topology, broker_probe):
    probe = broker_probe(settings.exchange)
    topology.declare_exchanges(probe.channel)
    queue = probe.listen(f"{settings.queue_prefix}reopened")
    publisher = Publisher(settings.rabbitmq_url, topology, "test-pipelined")
    try:
        # Publishing to an exchange that does not exist closes the channel (404).
        broken = publisher.publish_many([Message("ticket.created", b"{}", "m-404",
                                                 exchange=f"{settings.exchange}.missing")])
        again = publisher.publish_many(_messages(2))
    finally:
        publisher.close()
    assert broken.confirmed == [] and broken.error is not None
    assert "404" in repr(broken.error)
    assert sorted(again.confirmed) == [0, 1] and again.error is None
    assert [p.message_id for p, _ in probe.drain(queue)] == ["m-0", "m-1"]
