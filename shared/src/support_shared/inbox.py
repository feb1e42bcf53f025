"""The inbox: which events a consumer has already applied, so redelivery has no second effect."""
from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from .events import Envelope

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

inbox_table = sa.Table(
    "inbox",
    metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


def create_inbox_table(op: Any) -> None:
    """Create the inbox in the current migration's schema."""
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


# One statement per batch, whatever its size: the ids travel as one array parameter and
# UNNEST makes the rows (a multi-row VALUES costs SQLAlchemy and PostgreSQL a parameter set,
# and a new statement text to parse, per size of batch).
_CLAIM = sa.text(
    "INSERT INTO inbox (consumer, event_id)"
    " SELECT :consumer, unnest(CAST(:event_ids AS uuid[]))"
    " ON CONFLICT DO NOTHING RETURNING event_id"
).columns(event_id=pg.UUID(as_uuid=True))


class AbstractInbox(ABC):
    """Which events a consumer has applied; claims are part of the open transaction."""

    @abstractmethod
    def claim_many(self, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Record each event as applied; the ones that were not yet."""

    def claim(self, event_id: uuid.UUID) -> bool:
        """Record ``event_id`` as applied; False if it already was."""
        return bool(self.claim_many([event_id]))

    def fresh(self, envelopes: Sequence[Envelope]) -> list[Envelope]:
        """Claim the batch's events; the ones not applied before, each once, in batch order.

        A duplicate (claimed earlier, or a second copy in the batch) is logged and left out.
        """
        claimed = self.claim_many([envelope.event_id for envelope in envelopes])
        fresh = []
        for envelope in envelopes:
            if envelope.event_id in claimed:
                claimed.discard(envelope.event_id)
                fresh.append(envelope)
            else:
                logger.info("duplicate event %s (%s) for ticket %s ignored", envelope.event_id,
                            envelope.event_type, envelope.ticket_id)
        return fresh


class Inbox(AbstractInbox):
    def __init__(self, conn: Connection, consumer: str) -> None:
        self.conn = conn
        self.consumer = consumer

    def claim_many(self, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        unique = list(dict.fromkeys(event_ids))
        if not unique:
            return set()
        rows = self.conn.execute(_CLAIM, {"consumer": self.consumer,
                                          "event_ids": [str(e) for e in unique]})
        return set(rows.scalars())
