"""Erasing personal data from a service's own schema: a whole tenant, or one requester's tickets.

Tenant removal: every service registers ``DELETE /internal/tenants/<tenant_id>/data`` (``erasure_api``) on its
internal port; it deletes, in its own schema only, every row with that ``tenant_id`` (children
before parents) and the outbox rows whose event names the tenant. ``ticketctl tenants remove``
calls each service in turn; no service touches another's schema.

Requester erasure (``POST /api/users/{id}/erase``): ticket-service scrubs its own rows and
announces ``requester.erased`` (ids only); each consumer's handler then overwrites, in the
transaction of its inbox claim, the texts its own tables and outbox hold of those tickets
(``ErasableTable``, ``SqlErasure``, ``erase_requesters``). Rows stay, so every count stays.
"""
from __future__ import annotations

import abc
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine

from .events import Envelope, RequesterErased

logger = logging.getLogger(__name__)

def erase_tenant(engine: Engine, schema: str, tenant_id: str) -> dict[str, int]:
    """Delete ``tenant_id``'s rows from every table of ``schema`` in one transaction; return
    how many rows each table lost."""
    deleted: dict[str, int] = {}
    with engine.begin() as conn:
        tables = sa.MetaData()
        tables.reflect(conn, schema=schema)
        for table in reversed(tables.sorted_tables):     # rows that refer to others first
            if "tenant_id" in table.c:
                where = table.c.tenant_id == tenant_id
            elif table.name == "outbox":
                where = sa.text("payload->>'tenant_id' = :tenant").bindparams(tenant=tenant_id)
            else:
                continue
            deleted[table.name] = conn.execute(table.delete().where(where)).rowcount
    logger.info("erased tenant %s from schema %s: %s", tenant_id, schema, deleted)
    return deleted


# What an erased text becomes: a fixed marker, so the row (and every count) stays.
ERASED = "[erased]"
# Keys of an event's data (at any depth) whose values are a person's words or identity.
PERSONAL_KEYS = frozenset({"title", "description", "user_name", "user_email", "author_name",
                           "author_email", "body", "text"})


def _blank(value: Any) -> Any:
    if isinstance(value, str):
        return ERASED
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return value


def scrub_json(value: Any) -> Any:
    """``value`` with every string under a ``PERSONAL_KEYS`` key replaced by ``ERASED`` (so
    ``{"changes": {"title": {"old": .., "new": ..}}}`` loses both texts); the rest as is."""
    if isinstance(value, dict):
        return {k: _blank(v) if k in PERSONAL_KEYS else scrub_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    return value


@dataclass(frozen=True)
class ErasableTable:
    """A table of a service's schema that holds texts of tickets: ``texts`` become ``ERASED``,
    ``documents`` (jsonb) go through ``scrub_json``; rows found by tenant and ``ticket_column``."""

    name: str
    key: tuple[str, ...] = ("id",)
    texts: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    ticket_column: str = "ticket_id"


class AbstractErasure(abc.ABC):
    """Where a unit of work overwrites the texts its schema holds of some tickets."""

    @abc.abstractmethod
    def erase_tickets(self, tenant_id: str, ticket_ids: Sequence[int]) -> dict[str, int]:
        """Scrub the texts of these tickets of the tenant, outbox rows (published or not)
        included; return how many rows changed per table. Idempotent."""


def _quote(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


_OUTBOX = ErasableTable("outbox", documents=("payload",))
_OUTBOX_ROWS = sa.text(
    "SELECT id, payload FROM outbox WHERE payload->>'tenant_id' = :tenant "
    "AND payload->>'ticket_id' = ANY(:ids) ORDER BY id FOR UPDATE")


class SqlErasure(AbstractErasure):
    """``erase_tickets`` over ``tables`` and the outbox, in the caller's open transaction."""

    def __init__(self, conn: Connection, tables: Iterable[ErasableTable], *,
                 outbox: bool = True) -> None:
        self.conn = conn
        self.tables = tuple(tables)
        self.outbox = outbox

    def erase_tickets(self, tenant_id: str, ticket_ids: Sequence[int]) -> dict[str, int]:
        ids = sorted({int(i) for i in ticket_ids})
        changed: dict[str, int] = {}
        if not ids:
            return changed
        for table in self.tables:
            changed[table.name] = self._texts(table, tenant_id, ids)
            if table.documents:
                changed[table.name] += self._documents(table, tenant_id, ids)
        if self.outbox:
            rows = self.conn.execute(_OUTBOX_ROWS, {"tenant": tenant_id,
                                                    "ids": [str(i) for i in ids]}).all()
            changed["outbox"] = self._rewrite(_OUTBOX, rows)
        return changed

    def _where(self, table: ErasableTable) -> str:
        return f"tenant_id = :tenant AND {_quote(table.ticket_column)} = ANY(:ids)"

    def _texts(self, table: ErasableTable, tenant_id: str, ids: list[int]) -> int:
        if not table.texts:
            return 0
        sets = ", ".join(f"{_quote(c)} = CASE WHEN {_quote(c)} IS NULL THEN NULL ELSE :erased END"
                         for c in table.texts)
        unchanged = " AND ".join(f"{_quote(c)} IS NOT DISTINCT FROM "
                                 f"CASE WHEN {_quote(c)} IS NULL THEN NULL ELSE :erased END"
                                 for c in table.texts)
        stmt = sa.text(f"UPDATE {_quote(table.name)} SET {sets} "
                       f"WHERE {self._where(table)} AND NOT ({unchanged})")
        return self.conn.execute(stmt, {"tenant": tenant_id, "ids": ids,
                                        "erased": ERASED}).rowcount

    def _documents(self, table: ErasableTable, tenant_id: str, ids: list[int]) -> int:
        columns = ", ".join(_quote(c) for c in (*table.key, *table.documents))
        rows = self.conn.execute(sa.text(
            f"SELECT {columns} FROM {_quote(table.name)} WHERE {self._where(table)} "
            f"ORDER BY {', '.join(_quote(c) for c in table.key)} FOR UPDATE"),
            {"tenant": tenant_id, "ids": ids}).all()
        return self._rewrite(table, rows)

    def _rewrite(self, table: ErasableTable, rows: Sequence[sa.Row]) -> int:
        """Write back the scrubbed documents of ``rows`` that change; how many did."""
        updates = []
        for row in rows:
            values = row._mapping
            new = {c: scrub_json(values[c]) for c in table.documents}
            if any(new[c] != values[c] for c in table.documents):
                updates.append({**{f"k_{k}": values[k] for k in table.key}, **new})
        if updates:
            sets = ", ".join(f"{_quote(c)} = :{c}" for c in table.documents)
            where = " AND ".join(f"{_quote(k)} = :k_{k}" for k in table.key)
            stmt = sa.text(f"UPDATE {_quote(table.name)} SET {sets} WHERE {where}").bindparams(
                *(sa.bindparam(c, type_=pg.JSONB) for c in table.documents))
            self.conn.execute(stmt, updates)
        return len(updates)


def erase_requesters(events: Sequence[Envelope], uow: Any) -> int:
    """The body of every consumer's ``requester.erased`` handler: in one transaction with the
    inbox claims, scrub the tickets each fresh event names (``uow.erasure``); how many rows
    changed. Logs ids and counts only, never what was erased."""
    total = 0
    with uow:
        for event in uow.inbox.fresh(events):
            payload = event.payload()
            assert isinstance(payload, RequesterErased)
            changed = uow.erasure.erase_tickets(event.tenant_id, payload.ticket_ids)
            total += sum(changed.values())
            logger.info("requester %s of tenant %s erased: %d tickets, rows changed %s",
                        payload.requester_id, event.tenant_id, len(payload.ticket_ids), changed)
        uow.commit()
    return total
