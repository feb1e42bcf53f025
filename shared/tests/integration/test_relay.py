"""The relay against the real PostgreSQL: what the broker confirmed before the connection
dropped stays marked published; the rest waits for the next round."""
import pytest
import sqlalchemy as sa
from pika.exceptions import AMQPConnectionError

from support_shared.db import UnitOfWork
from support_shared.events import EventType, TicketStatusUpdated, new_event
from support_shared.messaging.publisher import Message, Outcome
from support_shared.outbox import outbox_table
from support_shared.relay import OutboxRelay

pytestmark = pytest.mark.integration


class _DroppingPublisher:
    """Confirms the first ``confirms`` messages, then the connection drops."""

    def __init__(self, confirms: int) -> None:
        self.confirms = confirms
        self.sent: list[str] = []

    def publish_many(self, messages: list[Message]) -> Outcome:
        outcome = Outcome()
        for index, message in enumerate(messages):
            if len(self.sent) >= self.confirms:
                outcome.error = AMQPConnectionError("connection dropped mid-batch")
                break
            self.sent.append(message.message_id)
            outcome.confirmed.append(index)
        return outcome


def _add_events(engine, n: int) -> None:
    with UnitOfWork(engine) as uow:
        uow.outbox.add_each(
            new_event(EventType.TICKET_STATUS_UPDATED,
                      TicketStatusUpdated(old_status="pending", new_status="in_progress"),
                      tenant_id="default", ticket_id=i, ticket_version=2)
            for i in range(1, n + 1))
        uow.commit()


def _published(engine) -> list[bool]:
    t = outbox_table
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.published_at).order_by(t.c.id)).all()
    return [row.published_at is not None for row in rows]


def test_rows_confirmed_before_the_connection_dropped_stay_published(settings, engine):
    _add_events(engine, 5)
    publisher = _DroppingPublisher(confirms=3)
    relay = OutboxRelay(engine, publisher, schema=settings.db_schema)  # type: ignore[arg-type]
    with pytest.raises(AMQPConnectionError):
        relay.publish_pending()
    assert _published(engine) == [True, True, True, False, False]

    publisher.confirms = 5                                      # the broker is back
    assert relay.publish_pending() == 2
    assert len(publisher.sent) == 5 == len(set(publisher.sent))  # none published twice
    assert _published(engine) == [True] * 5
