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


class _ConfirmingPublisher:
    def publish_many(self, messages: list[Message]) -> Outcome:
        return Outcome(confirmed=list(range(len(messages))))


def test_the_poll_reads_the_partial_index_in_id_order(settings, engine):
    """Published rows leave dead entries in ``outbox_unpublished`` until a vacuum: the poll
    must be an index scan (which marks them once), not a bitmap scan of every one of them."""
    _add_events(engine, 5000)
    relay = OutboxRelay(engine, _ConfirmingPublisher(), schema=settings.db_schema,  # type: ignore[arg-type]
                        batch_size=1000)
    assert sum(relay.publish_pending() for _ in range(5)) == 5000
    _add_events(engine, 5)
    with engine.connect() as conn, conn.begin():
        statement = relay.claim(conn)
        compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {compiled}").scalars())
    assert "Index Scan using outbox_unpublished" in plan, plan
    assert "Bitmap" not in plan, plan
    assert relay.publish_pending() == 5
    assert all(_published(engine))
