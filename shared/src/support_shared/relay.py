"""The outbox relay: publishes committed outbox rows in id order and marks them after the confirm.

Woken by LISTEN/NOTIFY when a transaction adds events, with a poll as a safety net. Several
relays may run: ``FOR UPDATE SKIP LOCKED`` hands each row to one of them.
"""
from __future__ import annotations

import logging
import select
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson
import psycopg2
import sqlalchemy as sa
from pika.exceptions import AMQPError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from .messaging.publisher import Message, Publisher
from .metrics import EVENTS_PUBLISHED, PUBLISH_FAILURES
from .outbox import notify_channel, outbox_table

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)


def _log_fields(row: sa.Row) -> dict[str, object]:
    """Structured log fields of an outbox row; its correlation id travels with the event."""
    headers = row.headers or {}
    return {
        "correlation_id": row.payload.get("correlation_id") or headers.get("x-request-id") or None,
        "event_id": str(row.event_id),
        "routing_key": row.routing_key,
        "ticket_id": row.payload.get("ticket_id"),
        "outbox_id": row.id,
    }


@dataclass(frozen=True)
class OutboxStatus:
    backlog: int
    oldest_unpublished_age_s: float | None
    failing: int


def outbox_status(conn: Connection) -> OutboxStatus:
    row = conn.execute(
        sa.text(
            "SELECT count(*) AS backlog, extract(epoch FROM now() - min(occurred_at)) AS age,"
            " count(*) FILTER (WHERE attempts > 0) AS failing"
            " FROM outbox WHERE published_at IS NULL"
        )
    ).one()
    return OutboxStatus(int(row.backlog), float(row.age) if row.age is not None else None,
                        int(row.failing))


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        *,
        schema: str,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.channel = notify_channel(schema)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        t = outbox_table
        self._claim = (sa.select(t.c.id, t.c.event_id, t.c.routing_key, t.c.payload, t.c.headers)
                       .where(t.c.published_at.is_(None))
                       .order_by(t.c.id)
                       .limit(batch_size)
                       .with_for_update(skip_locked=True))   # built once, not per poll
        self._stopping = False
        self._listen: Connection | None = None

    def publish_pending(self) -> int:
        """Publish one batch; return how many rows were published and marked.

        A broker error mid-batch is raised only after the transaction that marks the rows the
        broker already confirmed has committed, so those are not published again.
        """
        t = outbox_table
        with self.engine.connect() as conn, conn.begin():
            rows = conn.execute(self.claim(conn)).all()
            published, broker_error = self._publish_rows(conn, rows)
            if published:
                conn.execute(
                    t.update().where(t.c.id.in_(published))
                    .values(published_at=datetime.now(timezone.utc))
                )
        if broker_error is not None:
            raise broker_error
        if published:
            logger.info("%d outbox rows published", len(published))
        return len(published)

    def claim(self, conn: Connection) -> sa.Select:
        """The statement that takes the next batch, with the plan it must have.

        A row leaves the partial index ``outbox_unpublished`` when it is marked, but its index
        entry stays until a vacuum. A bitmap scan (the planner's choice for a few hundred
        expected rows) visits the heap page of every entry, so a poll cost grew with the rows
        published since the last vacuum (about 1 ms after 6,000). An index scan in id order
        marks each dead entry it meets once, and later polls skip it: the poll stays at tens
        of microseconds. ``SET LOCAL`` keeps the setting to this transaction.
        """
        conn.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
        return self._claim

    def _publish_rows(self, conn: Connection,
                      rows: list[sa.Row]) -> tuple[list[int], AMQPError | None]:
        """Publish ``rows`` pipelined (one wait for all confirms): the ids the broker
        confirmed, and the broker error that cut the batch short (None if none did).

        A refused row (returned or nacked) is recorded and retried next round, after the rows
        behind it: consumers take events in any order (versions decide, the inbox drops
        copies), so order is kept for what the broker takes, not forced for what it refuses.
        """
        t = outbox_table
        outcome = self.publisher.publish_many([
            Message(row.routing_key, orjson.dumps(row.payload), str(row.event_id),
                    headers=row.headers, correlation_id=row.payload.get("correlation_id"),
                    event_type=row.routing_key)
            for row in rows])
        tracing = logger.isEnabledFor(logging.DEBUG)
        published: list[int] = []
        for index in sorted(outcome.confirmed):
            row = rows[index]
            published.append(row.id)
            EVENTS_PUBLISHED.labels(row.routing_key).inc()
            if tracing:
                logger.debug("published %s %s", row.routing_key, row.event_id,
                             extra=_log_fields(row))
        for index, reason in sorted(outcome.refused.items()):
            row = rows[index]
            PUBLISH_FAILURES.labels(row.routing_key).inc()
            logger.error("outbox row %s (%s) refused: %s", row.id, row.event_id, reason,
                         extra=_log_fields(row))
            conn.execute(
                t.update().where(t.c.id == row.id)
                .values(attempts=t.c.attempts + 1, last_error=reason[:2000])
            )
        if outcome.error is not None:
            # The connection dropped: what was confirmed so far is still marked (by the
            # caller, before it re-raises), the rest waits for the next round.
            for index in set(range(len(rows))) - set(outcome.confirmed) - set(outcome.refused):
                PUBLISH_FAILURES.labels(rows[index].routing_key).inc()
        return published, outcome.error

    def _wait(self) -> None:
        if self._listen is None:
            self._listen = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._listen.execute(sa.text(f'LISTEN "{self.channel}"'))
        raw = self._listen.connection.dbapi_connection
        readable, _, _ = select.select([raw], [], [], self.poll_seconds)
        if readable:
            try:
                raw.poll()
            except psycopg2.Error as exc:
                # The raw DBAPI connection's errors are not wrapped by SQLAlchemy: a crashed
                # server must be retried like any other database error, not end the relay.
                raise OperationalError("LISTEN connection poll", None, exc) from exc
            raw.notifies.clear()

    def _drop_listen(self) -> None:
        if self._listen is not None:
            try:
                self._listen.invalidate()
            finally:
                self._listen = None

    def run(self) -> None:
        logger.info("relay started (channel %s)", self.channel)
        backoff = 0.2
        while not self._stopping:
            try:
                if self.publish_pending() >= self.batch_size:
                    continue
                self.publisher.process_events()
                self._wait()
                backoff = 0.2
            except DB_ERRORS as exc:
                logger.warning("database unavailable (%s); retrying in %.1fs", exc, backoff)
                self._drop_listen()
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except AMQPError as exc:
                logger.warning("broker unavailable (%r); retrying in %.1fs", exc, backoff)
                self.publisher.close()
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        self._drop_listen()
        self.publisher.close()
        logger.info("relay stopped")

    def stop(self) -> None:
        self._stopping = True

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
