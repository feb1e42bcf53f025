"""The tickets table and repository, and the unit of work that carries them with users, comments
and the audit trail (``unit_of_work``: the one every entrypoint uses)."""
from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from datetime import timezone
from typing import Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine
from support_shared.bulk import bulk_update
from support_shared.db import UnitOfWork
from support_shared.outbox import notify_channel

from ..activity.persistence import (AbstractAuditRepository, AbstractCommentRepository,
                                    AbstractUserRepository, SqlAuditRepository,
                                    SqlCommentRepository, SqlUserRepository)
from ..config import SERVICE_NAME
from ..erasure.persistence import AbstractRequesterErasure, SqlRequesterErasure
from ..db import TS, claim_key, created_at, metadata
from ..settings.persistence import AbstractSettingsRepository, SqlSettingsRepository
from ..sla.persistence import AbstractSlaRepository, SqlSlaRepository
from .domain import Ticket

tickets_table = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("user_name", sa.Text, nullable=False),
    sa.Column("user_email", sa.Text, nullable=False),
    sa.Column("priority", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("department", sa.Text),
    sa.Column("confidence_score", sa.Float),
    sa.Column("categorization_method", sa.Text),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("routing_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("request_fingerprint", sa.Text),
    created_at(),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("requester_id", sa.BigInteger, sa.ForeignKey("users.id")),
    sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("follow_up_of", sa.BigInteger),          # migration 0005; same tenant's ticket
    sa.Column("deleted_at", TS),                        # migration 0006; soft delete
    # migration 0008_ai_decision: the AI's decision as routing passed it on
    sa.Column("requested_priority", sa.Text),
    sa.Column("ai_outcome", sa.Text),
    sa.Column("ai_priority", sa.Text),
    sa.Column("ai_confidence", sa.Float),
    sa.Column("ai_model_version", sa.Text),
    sa.Column("ai_urgency", sa.Float),
    sa.Column("ai_priority_applied", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("sentiment", sa.Text),
    sa.Column("requires_action", sa.Boolean),
    sa.Column("priority_edited", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source", sa.Text),                       # migration 0007; batch upsert
    sa.Column("external_id", sa.Text),
    sa.Column("external_updated_at", TS),
    # (change_xid, xid8: set by a trigger on every write, migration 0007; only the export
    # reads it, ticket_service.export.persistence)
    sa.Column("assignee_id", sa.BigInteger),            # migration 0010_assignee
    sa.Column("assignee_name", sa.Text),
    sa.Column("assignment_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_response_due_at", TS),             # migration 0007_sla
    sa.Column("resolution_due_at", TS),
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="tickets_tenant_idempotency_key"),
)

_FIELDS = tuple(f.name for f in dataclasses.fields(Ticket))
# What may change after creation; everything else is written once.
_MUTABLE = ("status", "department", "confidence_score", "categorization_method", "needs_review",
            "routing_version", "version", "updated_at", "title", "description", "priority",
            "tags", "deleted_at", "requested_priority", "ai_outcome", "ai_priority",
            "ai_confidence", "ai_model_version", "ai_urgency", "ai_priority_applied",
            "sentiment", "requires_action", "priority_edited", "external_updated_at",
            "assignee_id", "assignee_name", "assignment_version",
            "first_response_due_at", "resolution_due_at")
# The expression of the GIN index "tickets_fulltext" (migration 0001): searches must use it as is.
_SEARCH = sa.text("to_tsvector('english', title || ' ' || description) "
                  "@@ websearch_to_tsquery('english', :q)")


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    priority: str | None = None
    department: str | None = None
    q: str | None = None
    tag: str | None = None
    requester_id: int | None = None
    ai_status: str | None = None
    sentiment: str | None = None
    requires_action: bool | None = None


def ai_status_clause(t: sa.Table, status: str) -> sa.ColumnElement[bool]:
    """The rows whose ``Ticket.ai_status`` is ``status`` (needs_review wins, as there)."""
    if status == "needs_review":
        return t.c.needs_review.is_(True)
    outcome = t.c.ai_outcome.is_(None) if status == "pending" else t.c.ai_outcome == status
    return sa.and_(t.c.needs_review.is_(False), outcome)


class AbstractTicketRepository(abc.ABC):
    """Tickets of every tenant; every method is scoped to tenants, and set-based where a
    batch needs it (``add_many``, ``get_many_for_update``, ``save_many``)."""

    @abc.abstractmethod
    def add_many(self, tickets: Sequence[Ticket]) -> None:
        """Insert new tickets (none may reuse a taken idempotency key) and set their ids."""

    @abc.abstractmethod
    def get(self, tenant_id: str, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
        """The tenant's ticket unless deleted, row-locked until commit when ``for_update``."""

    @abc.abstractmethod
    def get_many_for_update(self, keys: Collection[tuple[str, int]]
                            ) -> dict[tuple[str, int], Ticket]:
        """The tickets of these ``(tenant_id, ticket_id)`` that exist, row-locked, keyed;
        deleted ones included (``deleted_at`` set), so a late event can tell them apart."""

    @abc.abstractmethod
    def get_by_idempotency_key(self, tenant_id: str, key: str) -> Ticket | None:
        """The ticket the tenant created with ``key``."""

    @abc.abstractmethod
    def claim_idempotency_key(self, tenant_id: str, key: str) -> bool:
        """Hold ``key`` until the transaction ends; False while another transaction holds it."""

    @abc.abstractmethod
    def save(self, ticket: Ticket) -> None:
        """Write the mutable fields of an existing ticket."""

    @abc.abstractmethod
    def save_many(self, tickets: Sequence[Ticket]) -> None:
        """``save`` each of ``tickets``."""

    @abc.abstractmethod
    def list(self, tenant_id: str, filters: TicketFilter, limit: int,
             before_id: int | None = None) -> list[Ticket]:
        """Up to ``limit`` tickets not deleted, newest first, with ids below ``before_id``."""


def _to_ticket(row: sa.Row) -> Ticket:
    mapping = row._mapping
    values = {name: mapping[name] for name in _FIELDS}
    # The session time zone is the server's; the domain and the API speak UTC.
    for name in ("created_at", "updated_at", "external_updated_at", "first_response_due_at",
                 "resolution_due_at"):
        if values[name] is not None:
            values[name] = values[name].astimezone(timezone.utc)
    values["tags"] = list(values["tags"] or [])
    return Ticket(**values)


_TICKET_KEY = (tickets_table.c.tenant_id == sa.bindparam("k_tenant_id"),
               tickets_table.c.id == sa.bindparam("k_id"))
_LIVE = tickets_table.c.deleted_at.is_(None)
_GET = sa.select(tickets_table).where(*_TICKET_KEY, _LIVE)
_GET_FOR_UPDATE = _GET.with_for_update()
_BY_KEY = sa.select(tickets_table).where(
    tickets_table.c.tenant_id == sa.bindparam("k_tenant_id"),
    tickets_table.c.idempotency_key == sa.bindparam("k_key"))
# Many rows in one statement, ids returned in the order of the rows (SQLAlchemy's
# "insertmanyvalues" with a sentinel); a taken idempotency key fails the whole statement.
_ADD_MANY = tickets_table.insert().returning(tickets_table.c.id, sort_by_parameter_order=True)
# Locked in id order, so two consumers locking overlapping sets cannot deadlock.
_GET_MANY_FOR_UPDATE = (sa.select(tickets_table)
                        .where(sa.tuple_(tickets_table.c.tenant_id, tickets_table.c.id)
                               .in_(sa.bindparam("k_keys", expanding=True)))
                        .order_by(tickets_table.c.id).with_for_update())
_SAVE = tickets_table.update().where(*_TICKET_KEY)   # SET: the columns given at execution


# A batch's changed tickets in one statement (``support_shared.bulk``).
_SAVE_MANY = bulk_update(tickets_table, key=("tenant_id", "id"), columns=_MUTABLE)


def _saved_values(ticket: Ticket) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(ticket, name) for name in _MUTABLE}
    values.update(k_tenant_id=ticket.tenant_id, k_id=ticket.id)
    return values


class SqlTicketRepository(AbstractTicketRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, tickets: Sequence[Ticket]) -> None:
        if not tickets:
            return
        rows = [{name: getattr(t, name) for name in _FIELDS if name != "id"} for t in tickets]
        ids = self.conn.execute(_ADD_MANY, rows).scalars().all()
        if len(ids) != len(tickets):
            raise RuntimeError(f"inserted {len(ids)} tickets of {len(tickets)}")
        for ticket, new_id in zip(tickets, ids):
            ticket.id = new_id

    def get(self, tenant_id: str, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
        row = self.conn.execute(_GET_FOR_UPDATE if for_update else _GET,
                                {"k_tenant_id": tenant_id, "k_id": ticket_id}).first()
        return _to_ticket(row) if row is not None else None

    def get_by_idempotency_key(self, tenant_id: str, key: str) -> Ticket | None:
        row = self.conn.execute(_BY_KEY, {"k_tenant_id": tenant_id, "k_key": key}).first()
        return _to_ticket(row) if row is not None else None

    def claim_idempotency_key(self, tenant_id: str, key: str) -> bool:
        return claim_key(self.conn, "tickets", tenant_id, key)

    def save(self, ticket: Ticket) -> None:
        self.conn.execute(_SAVE, _saved_values(ticket))

    def get_many_for_update(self, keys: Collection[tuple[str, int]]
                            ) -> dict[tuple[str, int], Ticket]:
        if not keys:
            return {}
        rows = self.conn.execute(_GET_MANY_FOR_UPDATE, {"k_keys": sorted(keys)})
        tickets = (_to_ticket(row) for row in rows)
        return {(t.tenant_id, t.id): t for t in tickets if t.id is not None}

    def save_many(self, tickets: Sequence[Ticket]) -> None:
        _SAVE_MANY.execute(self.conn, [
            {"tenant_id": t.tenant_id, "id": t.id, **{name: getattr(t, name) for name in _MUTABLE}}
            for t in tickets])

    def list(self, tenant_id: str, filters: TicketFilter, limit: int,
             before_id: int | None = None) -> list[Ticket]:
        t = tickets_table
        stmt = sa.select(t).where(t.c.tenant_id == tenant_id, _LIVE)
        for name in ("status", "priority", "department", "requester_id"):
            value = getattr(filters, name)
            if value is not None:
                stmt = stmt.where(t.c[name] == value)
        if filters.tag is not None:
            stmt = stmt.where(t.c.tags.contains([filters.tag]))
        if filters.ai_status is not None:
            stmt = stmt.where(ai_status_clause(t, filters.ai_status))
        for name in ("sentiment", "requires_action"):
            value = getattr(filters, name)
            if value is not None:
                stmt = stmt.where(t.c[name] == value)
        if filters.q is not None:
            stmt = stmt.where(_SEARCH.bindparams(q=filters.q))
        if before_id is not None:
            stmt = stmt.where(t.c.id < before_id)
        rows = self.conn.execute(stmt.order_by(t.c.id.desc()).limit(limit)).all()
        return [_to_ticket(row) for row in rows]


class TicketUnitOfWork(UnitOfWork):
    """One transaction over tickets, their users, comments, audit trail and service-level
    timers, outbox and inbox."""

    tickets: AbstractTicketRepository
    users: AbstractUserRepository
    comments: AbstractCommentRepository
    audit: AbstractAuditRepository
    erasure: AbstractRequesterErasure
    settings: AbstractSettingsRepository
    sla: AbstractSlaRepository

    def _start(self, conn: Connection) -> None:
        self.tickets = SqlTicketRepository(conn)
        self.users = SqlUserRepository(conn)
        self.comments = SqlCommentRepository(conn)
        self.audit = SqlAuditRepository(conn)
        self.erasure = SqlRequesterErasure(conn)
        self.settings = SqlSettingsRepository(conn)
        self.sla = SqlSlaRepository(conn)


def unit_of_work(engine: Engine, schema: str) -> TicketUnitOfWork:
    """The unit of work every entrypoint of this service uses."""
    return TicketUnitOfWork(engine, consumer=SERVICE_NAME, notify_channel=notify_channel(schema))
