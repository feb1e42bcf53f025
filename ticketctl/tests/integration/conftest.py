"""Fixtures: suffixed exchange/DLX/queues on the real broker, dead messages, the CLI in-process."""
from datetime import datetime, timezone

import pika
import pytest
from click.testing import CliRunner

from support_shared.config import ServiceSettings
from support_shared.events import EventType, TicketCreated, new_event
from support_shared.messaging.topology import Topology
from ticketctl.cli import cli


@pytest.fixture
def settings(make_settings) -> ServiceSettings:
    return make_settings(ServiceSettings, schema="ctl")


@pytest.fixture
def topology(settings) -> Topology:
    return Topology(exchange=settings.exchange, dead_letter_exchange=settings.dead_letter_exchange)


@pytest.fixture
def probe(broker_probe, settings, topology):
    """A confirm-mode channel: what a test publishes is in its queue before the CLI runs."""
    probe = broker_probe(settings.exchange)
    probe.channel.confirm_delivery()
    topology.declare_exchanges(probe.channel)
    return probe


@pytest.fixture
def make_queue(settings, topology, probe):
    def declare(name: str = "svc.ticket.created", routing_key: str = "ticket.created") -> str:
        queue = f"{settings.queue_prefix}{name}"
        topology.declare_queue(probe.channel, queue, [routing_key])
        return queue

    return declare


@pytest.fixture
def queue(make_queue) -> str:
    return make_queue()


def envelope(ticket_id: int):
    payload = TicketCreated(title="VPN down", description="cannot connect", user_name="Ann",
                            user_email="ann@example.com", priority="high",
                            created_at=datetime.now(timezone.utc))
    return new_event(EventType.TICKET_CREATED, payload, tenant_id="acme", ticket_id=ticket_id,
                     ticket_version=1, correlation_id="req-1")


@pytest.fixture
def dead_letter(settings, probe):
    """Put ``n`` dead messages in ``queue``'s DLQ the way the shared consumer does: published to
    the DLX with routing key = the queue name and the x-error-* headers."""

    def put(queue: str, n: int = 1, original_queue: str | None = None, **extra_headers):
        envelopes = [envelope(100 + i) for i in range(n)]
        for i, env in enumerate(envelopes):
            headers = {
                "x-error-type": "PermanentError",
                "x-error-reason": f"unknown department #{i}",
                "x-original-queue": original_queue or queue,
                "x-original-routing-key": "ticket.created",
                "x-failed-at": "2026-03-01T11:00:00+00:00",
                "x-consumer": "svc",
                "x-request-id": "req-1",
                **extra_headers,
            }
            props = pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=str(env.event_id),
                correlation_id="req-1", type="ticket.created", headers=headers,
            )
            probe.channel.basic_publish(settings.dead_letter_exchange, queue, env.to_json(), props)
        return envelopes

    return put


@pytest.fixture
def depth(probe):
    def count(queue: str) -> int:
        return probe.channel.queue_declare(queue, passive=True).method.message_count

    return count


@pytest.fixture
def ctl(settings):
    """Run ``ticketctl ARGS`` in-process against this test's exchange, DLX and queue prefix."""
    base_env = {
        "RABBITMQ_URL": settings.rabbitmq_url,
        "EVENT_EXCHANGE": settings.exchange,
        "DEAD_LETTER_EXCHANGE": settings.dead_letter_exchange,
        "QUEUE_PREFIX": settings.queue_prefix,
    }

    def run(*args: str, env: dict[str, str] | None = None):
        return CliRunner().invoke(cli, list(args), env={**base_env, **(env or {})})

    return run
