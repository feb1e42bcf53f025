"""The transactional outbox: events written in the business transaction, published by the relay."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from .events import Envelope

metadata = sa.MetaData()

outbox_table = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("routing_key", sa.Text, nullable=False),
    sa.Column("payload", pg.JSONB, nullable=False),
    sa.Column("headers", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    # What the relay polls (``create_outbox_table`` makes the same in each service's schema).
    sa.Index("outbox_unpublished", "id", postgresql_where=sa.text("published_at IS NULL")),
)


def create_outbox_table(op: Any) -> None:
    """Create the outbox in the current migration's schema (used by each service's first migration)."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("routing_key", sa.Text, nullable=False),
        sa.Column("payload", pg.JSONB, nullable=False),
        sa.Column("headers", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )
    op.create_index(
        "outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel that wakes ``schema``'s relay."""
    return f"{schema}_outbox"


# One statement per batch (see the inbox): each column travels as one array.
_INSERT = sa.text(
    "INSERT INTO outbox (event_id, routing_key, payload, headers, occurred_at)"
    " SELECT * FROM unnest(CAST(:event_ids AS uuid[]), CAST(:routing_keys AS text[]),"
    " CAST(:payloads AS jsonb[]), CAST(:headers AS jsonb[]), CAST(:occurred AS timestamptz[]))"
)
_NOTIFY = sa.text("SELECT pg_notify(:c, '')")


def event_headers(envelope: Envelope) -> dict[str, str]:
    """The AMQP headers an event travels with, derived from its envelope."""
    headers = {"x-tenant-id": envelope.tenant_id}
    if envelope.correlation_id:
        headers["x-request-id"] = envelope.correlation_id
    return headers


class AbstractOutbox(ABC):
    """Where a unit of work puts the events its transaction announces."""

    def add(self, envelope: Envelope) -> None:
        self.add_each([envelope])

    @abstractmethod
    def add_each(self, envelopes: Iterable[Envelope]) -> None:
        """Add events in the open transaction (headers come from each envelope)."""


class Outbox(AbstractOutbox):
    """Adds events to the outbox inside the caller's open transaction."""

    def __init__(self, conn: Connection, channel: str | None = None) -> None:
        self.conn = conn
        self.channel = channel
        self._notified = False

    def add_each(self, envelopes: Iterable[Envelope]) -> None:
        batch = list(envelopes)
        if not batch:
            return
        self.conn.execute(_INSERT, {
            "event_ids": [str(env.event_id) for env in batch],
            "routing_keys": [env.routing_key for env in batch],
            "payloads": [env.model_dump_json() for env in batch],
            "headers": [orjson.dumps(event_headers(env)).decode() for env in batch],
            "occurred": [env.occurred_at for env in batch],
        })
        if self.channel and not self._notified:
            # NOTIFY is delivered at commit, so the relay wakes only for committed rows.
            self.conn.execute(_NOTIFY, {"c": self.channel})
            self._notified = True
