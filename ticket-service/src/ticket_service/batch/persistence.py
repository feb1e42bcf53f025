"""Tickets by their external identity: locked look-ups and race-safe inserts for the upsert."""
from __future__ import annotations

import dataclasses
from typing import Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine
from support_shared.outbox import notify_channel

from ..config import SERVICE_NAME
from ..tickets.domain import Ticket
from ..tickets.persistence import TicketUnitOfWork, _to_ticket, tickets_table

t = tickets_table
_FIELDS = tuple(f.name for f in dataclasses.fields(Ticket) if f.name != "id")
ExternalKey = tuple[str, str]   # (source, external_id)

# Locked in id order, so two batches naming overlapping tickets cannot deadlock; deleted
# tickets too (the pair stays taken).
_LOCK_EXTERNAL = (sa.select(t)
                  .where(t.c.tenant_id == sa.bindparam("k_tenant_id"),
                         sa.tuple_(t.c.source, t.c.external_id)
                         .in_(sa.bindparam("k_keys", expanding=True)))
                  .order_by(t.c.id).with_for_update())
# A concurrent batch that created the same pair first wins: this insert waits for it to commit,
# then skips the row, and the caller takes that ticket as an update instead.
_INSERT_KEYED = (pg.insert(t)
                 .on_conflict_do_nothing(index_elements=["tenant_id", "source", "external_id"])
                 .returning(t.c.id, t.c.source, t.c.external_id))


class SqlExternalTicketRepository:
    """The tenant's tickets by (source, external_id), on the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock(self, tenant_id: str, keys: Collection[ExternalKey]) -> dict[ExternalKey, Ticket]:
        """The tickets with these keys that exist (deleted ones too), row-locked, keyed."""
        if not keys:
            return {}
        rows = self.conn.execute(_LOCK_EXTERNAL, {"k_tenant_id": tenant_id,
                                                  "k_keys": sorted(keys)})
        found = (_to_ticket(row) for row in rows)
        return {(tk.source, tk.external_id): tk for tk in found  # type: ignore[misc]
                if tk.source is not None and tk.external_id is not None}

    def insert_new(self, tickets: Sequence[Ticket]) -> list[Ticket]:
        """Insert tickets with unique keys unless taken; set ids; return those inserted."""
        if not tickets:
            return []
        # In key order: two batches inserting the same new keys wait on each other's first
        # common key in the same order, never crosswise (a deadlock).
        tickets = sorted(tickets, key=lambda tk: (tk.source or "", tk.external_id or ""))
        rows = [{name: getattr(tk, name) for name in _FIELDS} for tk in tickets]
        by_key = {(tk.source, tk.external_id): tk for tk in tickets}
        inserted = []
        for new_id, source, external_id in self.conn.execute(_INSERT_KEYED, rows):
            ticket = by_key[(source, external_id)]
            ticket.id = new_id
            inserted.append(ticket)
        return inserted


_STATEMENT_TIMEOUT = sa.text("SELECT set_config('statement_timeout', :ms, true)")


class BatchUnitOfWork(TicketUnitOfWork):
    """The ticket unit of work plus the look-ups by external identity, with a statement
    timeout of its own for the transaction (multi-row statements of a whole batch)."""

    external: SqlExternalTicketRepository

    def __init__(self, engine: Engine, *, statement_timeout_ms: int | None = None,
                 **options: str | None) -> None:
        super().__init__(engine, **options)  # type: ignore[arg-type]
        self.statement_timeout_ms = statement_timeout_ms

    def _start(self, conn: Connection) -> None:
        super()._start(conn)
        if self.statement_timeout_ms is not None:
            conn.execute(_STATEMENT_TIMEOUT, {"ms": str(self.statement_timeout_ms)})
        self.external = SqlExternalTicketRepository(conn)


def unit_of_work(engine: Engine, schema: str,
                 statement_timeout_ms: int | None = None) -> BatchUnitOfWork:
    return BatchUnitOfWork(engine, consumer=SERVICE_NAME, notify_channel=notify_channel(schema),
                           statement_timeout_ms=statement_timeout_ms)
