"""Tables of the analytics schema, their repositories and the unit of work of the projection."""
from __future__ import annotations

from dataclasses import fields
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine
from support_shared.bulk import bulk_upsert
from support_shared.db import UnitOfWork, row_of
from support_shared.erasure import AbstractErasure, ErasableTable, SqlErasure
from support_shared.events import Envelope

from .config import SERVICE_NAME
from .projection import EventLog, FactsRepository, Key, TicketFacts

metadata = sa.MetaData()

TS = sa.DateTime(timezone=True)

event_log = sa.Table(
    "event_log",
    metadata,
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, nullable=False),
    sa.Column("ticket_version", sa.Integer, nullable=False),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("received_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("data", pg.JSONB, nullable=False),
)

ticket_facts = sa.Table(
    "ticket_facts",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("ticket_id", sa.BigInteger, primary_key=True),
    sa.Column("priority", sa.Text),
    sa.Column("requested_priority", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("status_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("department", sa.Text),
    sa.Column("confidence", sa.Float),
    sa.Column("categorization_method", sa.Text),
    sa.Column("model_version", sa.Text),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("routing_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", TS),
    sa.Column("categorized_at", TS),
    sa.Column("first_routed_at", TS),
    sa.Column("routed_at", TS),
    sa.Column("in_progress_at", TS),
    sa.Column("resolved_at", TS),
    sa.Column("closed_at", TS),
    sa.Column("updated_at", TS),
    sa.Column("priority_version", sa.Integer, nullable=False, server_default="0"),  # 0002
    sa.Column("deleted_at", TS),                                                     # 0002
    sa.Column("assignee_id", sa.BigInteger),                                         # 0003
    sa.Column("assignee_name", sa.Text),
    sa.Column("assignment_version", sa.Integer, nullable=False, server_default="0"),
)

_FACT_FIELDS = [f.name for f in fields(TicketFacts)]


# Statements built once and executed with parameters: building them per batch was most of
# the consumer's CPU.
_LOG_EVENT = sa.insert(event_log)
# A batch's tickets: blank rows inserted or existing ones locked, all returned (DO UPDATE, a
# no-op, rather than DO NOTHING, so a row is locked and returned in both cases and concurrent
# first events of a ticket serialize on it; the keys come sorted, so concurrent consumers lock
# in the same order); then all written back in one multi-row upsert of every column.
_ENSURE_AND_LOCK = (
    pg.insert(ticket_facts)
    .on_conflict_do_update(index_elements=[ticket_facts.c.tenant_id, ticket_facts.c.ticket_id],
                           set_={"tenant_id": sa.text("excluded.tenant_id")})
    .returning(*(ticket_facts.c[name] for name in _FACT_FIELDS))
)
# One statement per batch, every column as an array (``support_shared.bulk``).
_SAVE = bulk_upsert(ticket_facts, key=("tenant_id", "ticket_id"), columns=_FACT_FIELDS)


class SqlFactsRepository(FactsRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_many(self, keys: Sequence[Key]) -> dict[Key, TicketFacts]:
        if not keys:
            return {}
        rows = self.conn.execute(_ENSURE_AND_LOCK, [
            {"tenant_id": tenant_id, "ticket_id": ticket_id}
            for tenant_id, ticket_id in sorted(set(keys))])
        found = {(row.tenant_id, row.ticket_id): TicketFacts(**row._asdict()) for row in rows}
        if len(found) != len(set(keys)):
            raise RuntimeError(f"locked {len(found)} ticket facts of {len(set(keys))}")
        return found

    def save_many(self, facts: Sequence[TicketFacts]) -> None:
        _SAVE.execute(self.conn, [row_of(one) for one in facts])


def _log_row(envelope: Envelope) -> dict[str, object]:
    return {"event_id": envelope.event_id, "tenant_id": envelope.tenant_id,
            "event_type": envelope.event_type.value, "ticket_id": envelope.ticket_id,
            "ticket_version": envelope.ticket_version, "occurred_at": envelope.occurred_at,
            "data": envelope.data}


class SqlEventLog(EventLog):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, envelopes: Sequence[Envelope]) -> None:
        if envelopes:
            self.conn.execute(_LOG_EVENT, [_log_row(e) for e in envelopes])


# The event log keeps every event's data: an erased requester's tickets lose their texts there
# (the rows and so every count stay).
ERASABLE = (ErasableTable("event_log", key=("event_id",), documents=("data",)),)


class AnalyticsUnitOfWork(UnitOfWork):
    """Inbox, event log and facts in one transaction (analytics publishes nothing)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, consumer=SERVICE_NAME)

    def _start(self, conn: Connection) -> None:
        self.facts = SqlFactsRepository(conn)
        self.events = SqlEventLog(conn)
        self.erasure: AbstractErasure = SqlErasure(conn, ERASABLE, outbox=False)


def unit_of_work(engine: Engine) -> AnalyticsUnitOfWork:
    """The unit of work every entrypoint of this service uses (no outbox, so no relay to wake)."""
    return AnalyticsUnitOfWork(engine)
