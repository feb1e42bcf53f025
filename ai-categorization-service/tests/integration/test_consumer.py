"""ticket.created -> consumer -> row + outbox -> relay -> ticket.categorized on the real servers."""
import logging
import threading
import time
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from ai_categorization_service.categorizer import Categorizer, Decision
from support_shared.events import EventType, TicketCategorized, TicketCreated, decode, new_event
from support_shared.messaging.publisher import Publisher
from support_shared.messaging.topology import Topology
from support_shared.relay import OutboxRelay
from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration

CREATED_AT = datetime(2025, 5, 2, 8, 0, tzinfo=timezone.utc)


def ticket_created(ticket_id, title="Wi-Fi down on floor 2",
                   description="Nobody on floor 2 can connect to the wifi, urgent"):
    payload = TicketCreated(title=title, description=description, user_name="Bo",
                            user_email="bo@example.com", priority="medium",
                            created_at=CREATED_AT)
    return new_event(EventType.TICKET_CREATED, payload, tenant_id="acme", ticket_id=ticket_id,
                     ticket_version=1, correlation_id=f"req-{ticket_id}")


def rows(engine, sql):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def test_ticket_created_is_categorized_once_and_relayed(settings, engine, run_consumer):
    consumer, probe = run_consumer()
    first, second = ticket_created(1), ticket_created(2, "Payslip missing", "Where is my payslip?")
    for body in (first.to_json(), first.to_json(), second.to_json()):   # first one delivered twice
        probe.publish("ticket.created", body)

    wait_until(lambda: len(rows(engine, "SELECT 1 FROM categorizations")) == 2, timeout=30,
               message="both tickets categorized")
    stored = rows(engine, "SELECT ticket_id, department, priority, requested_priority, method,"
                          " source_event_id FROM categorizations ORDER BY ticket_id")
    assert [r.ticket_id for r in stored] == [1, 2]
    assert stored[0].department == "IT Support" and stored[0].priority == "high"
    assert stored[0].requested_priority == "medium"
    assert stored[0].method in ("local_model", "keywords")
    assert stored[0].source_event_id == first.event_id
    assert stored[1].department == "Finance"
    outbox = rows(engine, "SELECT routing_key, payload FROM outbox ORDER BY id")
    assert [o.routing_key for o in outbox] == ["ticket.categorized"] * 2

    listen = probe.listen(f"{settings.queue_prefix}probe", "ticket.categorized")
    publisher = Publisher(settings.rabbitmq_url, Topology.from_settings(settings), "test-relay")
    try:
        assert OutboxRelay(engine, publisher, schema=settings.db_schema).publish_pending() == 2
    finally:
        publisher.close()
    got = []
    wait_until(lambda: got.extend(probe.drain(listen)) or len(got) >= 2, message="relayed")
    props, body = got[0]
    event = decode(body)
    assert event.event_type == EventType.TICKET_CATEGORIZED
    assert (event.tenant_id, event.ticket_id, event.ticket_version) == ("acme", 1, 1)
    assert event.causation_id == str(first.event_id)
    assert event.correlation_id == "req-1"
    assert props.headers == {"x-request-id": "req-1", "x-tenant-id": "acme"}
    payload = TicketCategorized.model_validate(event.data)
    assert payload.department == "IT Support" and payload.ticket_created_at == CREATED_AT
    assert len(got) == 2


class SlowCategorizer(Categorizer):
    """Stands in for a Claude call slower than the AMQP heartbeat timeout."""

    name = "slow"

    def __init__(self, seconds):
        self.seconds = seconds
        self.threads = []

    def categorize(self, title, description, requested_priority=None, *, departments=None):
        self.threads.append(threading.current_thread().name)
        time.sleep(self.seconds)
        return Decision(department="HR", priority="low", confidence=0.5, method="keywords")


def test_slow_categorization_keeps_the_connection_alive(settings, engine, run_consumer, caplog):
    caplog.set_level(logging.WARNING, logger="support_shared.messaging.consumer")
    slow = SlowCategorizer(seconds=5)
    consumer, probe = run_consumer(settings.model_copy(update={"heartbeat_seconds": 1}), slow)
    probe.publish("ticket.created", ticket_created(3).to_json())
    wait_until(lambda: rows(engine, "SELECT 1 FROM categorizations"), timeout=20,
               message="slow ticket categorized")
    time.sleep(0.5)                                        # let the ack go out
    assert len(slow.threads) == 1                          # handled once: never redelivered
    assert slow.threads[0].startswith("ai-categorization-service-work")
    assert "connection lost" not in caplog.text
