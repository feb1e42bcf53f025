"""The export's read: the tenant's tickets in the order their changes committed, keyset-paged.

Each row carries ``change_xid``, the id of the transaction that last wrote it (a trigger sets
it on every insert and update, migration 0007). A page ends at the oldest transaction still
running (``pg_snapshot_xmin``): every transaction below that horizon has ended, so no row can
later appear below it. Paging on (change_xid, id) therefore never skips a ticket whose
transaction committed after a later one (an ``updated_at`` order would), and never repeats a
ticket unless it changed again, at a new version, after it was read.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..tickets.domain import Ticket
from ..tickets.persistence import _to_ticket, tickets_table

t = tickets_table
_CHANGE = sa.literal_column("change_xid")
_AFTER = sa.text("(change_xid, id) > (CAST(:after_xid AS xid8), :after_id)")
_SETTLED = sa.text("change_xid < pg_snapshot_xmin(pg_current_snapshot())")


@dataclass(frozen=True)
class Position:
    """Where an export stands: after the row written by ``xid`` with ``ticket_id``."""

    xid: str = "0"
    ticket_id: int = 0


def changed_since(conn: Connection, tenant_id: str, since: datetime | None, after: Position,
                  limit: int) -> list[tuple[Ticket, Position]]:
    """Up to ``limit`` live tickets changed since ``since`` whose last change is after
    ``after`` and below the horizon, in change order, each with its position."""
    stmt = (sa.select(t, sa.cast(_CHANGE, sa.Text).label("change_pos"))
            .where(t.c.tenant_id == tenant_id, t.c.deleted_at.is_(None), _SETTLED,
                   _AFTER.bindparams(after_xid=after.xid, after_id=after.ticket_id))
            .order_by(_CHANGE, t.c.id).limit(limit))
    if since is not None:
        stmt = stmt.where(t.c.updated_at >= since)
    rows = conn.execute(stmt).all()
    return [(_to_ticket(row), Position(row.change_pos, row.id)) for row in rows]
