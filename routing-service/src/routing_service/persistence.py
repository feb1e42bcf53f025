"""Tables (mirroring migration 0001), repositories and the unit of work of routing-service."""
from __future__ import annotations

import abc
import dataclasses
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine

from support_shared.db import UnitOfWork
from support_shared.outbox import notify_channel

from .config import SERVICE_NAME
from .domain import DEFAULT_DEPARTMENTS, Department, RoutedTicket, RoutingRecord, department_key

metadata = sa.MetaData()

departments = sa.Table(
    "departments",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("min_confidence", sa.Float, nullable=False, server_default="0.5"),
    sa.Column("is_triage", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)
sa.Index("departments_tenant_lower_name", departments.c.tenant_id,
         sa.func.lower(departments.c.name), unique=True)
sa.Index("departments_one_triage", departments.c.tenant_id, unique=True,
         postgresql_where=departments.c.is_triage)

routed_tickets = sa.Table(
    "routed_tickets",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("ticket_id", sa.BigInteger, primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("ticket_created_at", sa.DateTime(timezone=True)),
    sa.Column("department", sa.Text),
    sa.Column("routing_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_method", sa.Text),
    sa.Column("confidence", sa.Float),
    sa.Column("priority", sa.Text),
    sa.Column("categorization_method", sa.Text),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("ticket_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("categorized_version", sa.Integer),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)

routing_history = sa.Table(
    "routing_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, nullable=False),
    sa.Column("department", sa.Text, nullable=False),
    sa.Column("previous_department", sa.Text),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("confidence", sa.Float),
    sa.Column("priority", sa.Text),
    sa.Column("categorization_method", sa.Text),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.Text),
    sa.Column("routing_version", sa.Integer, nullable=False),
    sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)
sa.Index("routing_history_ticket", routing_history.c.tenant_id, routing_history.c.ticket_id,
         routing_history.c.id)

_TICKET_FIELDS = tuple(f.name for f in dataclasses.fields(RoutedTicket))
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(RoutingRecord))
_DEPARTMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Department))


def _build(cls: type, names: tuple[str, ...], row: Any) -> Any:
    mapping = row._mapping
    return cls(**{n: mapping[n] for n in names})


class DepartmentRepository(abc.ABC):
    @abc.abstractmethod
    def ensure_defaults(self, tenant_id: str) -> int:
        """Give a tenant without departments the default set; return how many were added."""

    @abc.abstractmethod
    def list(self, tenant_id: str) -> list[Department]:
        """All departments of the tenant, active or not, in creation order."""

    @abc.abstractmethod
    def get(self, tenant_id: str, name: str) -> Department | None:
        """The department called ``name`` (case-insensitive)."""


class TicketRepository(abc.ABC):
    @abc.abstractmethod
    def record_created(self, tenant_id: str, ticket_id: int, *, title: str,
                       created_at: Any, ticket_version: int) -> None:
        """Store title and creation time; never touches the routing fields."""

    @abc.abstractmethod
    def touch(self, tenant_id: str, ticket_id: int, *, ticket_version: int,
              created_at: Any = None) -> RoutedTicket:
        """Insert the ticket if missing, remember the newest version; return it locked."""

    @abc.abstractmethod
    def get(self, tenant_id: str, ticket_id: int, *, lock: bool = False) -> RoutedTicket | None:
        """The ticket, locked for update when ``lock``."""

    def record_created_many(self, rows: Sequence[tuple[str, int, str, Any, int]]) -> None:
        """``record_created`` for ``(tenant_id, ticket_id, title, created_at, ticket_version)``
        rows of distinct tickets."""
        for tenant_id, ticket_id, title, created_at, version in rows:
            self.record_created(tenant_id, ticket_id, title=title, created_at=created_at,
                                ticket_version=version)

    def touch_many(self, rows: Sequence[tuple[str, int, int, Any]]
                   ) -> dict[tuple[str, int], RoutedTicket]:
        """``touch`` for ``(tenant_id, ticket_id, ticket_version, created_at)`` rows of distinct
        tickets, keyed by ``(tenant_id, ticket_id)``."""
        return {(t, i): self.touch(t, i, ticket_version=v, created_at=c) for t, i, v, c in rows}

    def save_many(self, tickets: Sequence[RoutedTicket]) -> None:
        for ticket in tickets:
            self.save(ticket)

    @abc.abstractmethod
    def save(self, ticket: RoutedTicket) -> None:
        """Write the routing fields of ``ticket``."""


class HistoryRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, record: RoutingRecord) -> None:
        """Append one routing decision."""

    def add_many(self, records: Sequence[RoutingRecord]) -> None:
        for record in records:
            self.add(record)

    @abc.abstractmethod
    def for_ticket(self, tenant_id: str, ticket_id: int) -> list[RoutingRecord]:
        """The ticket's routing decisions, oldest first."""

    @abc.abstractmethod
    def latest(self, tenant_id: str, ticket_id: int) -> RoutingRecord | None:
        """The ticket's most recent routing decision."""


# Asked for every categorized ticket: built once, parameters bound per call.
_ANY_DEPARTMENT = (sa.select(departments.c.id)
                   .where(departments.c.tenant_id == sa.bindparam("k_tenant_id")).limit(1))
_LIST_DEPARTMENTS = (sa.select(departments)
                     .where(departments.c.tenant_id == sa.bindparam("k_tenant_id"))
                     .order_by(departments.c.id))


class SqlDepartmentRepository(DepartmentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ensure_defaults(self, tenant_id: str) -> int:
        t = departments
        if self.conn.scalar(_ANY_DEPARTMENT, {"k_tenant_id": tenant_id}):
            return 0
        rows = [{"tenant_id": tenant_id, **dataclasses.asdict(d)} for d in DEFAULT_DEPARTMENTS]
        # Concurrent first requests of one tenant race here: the unique index settles it.
        stmt = pg.insert(t).values(rows).on_conflict_do_nothing().returning(t.c.id)
        return len(self.conn.execute(stmt).all())

    def list(self, tenant_id: str) -> list[Department]:
        rows = self.conn.execute(_LIST_DEPARTMENTS, {"k_tenant_id": tenant_id})
        return [_build(Department, _DEPARTMENT_FIELDS, r) for r in rows]

    def get(self, tenant_id: str, name: str) -> Department | None:
        t = departments
        row = self.conn.execute(
            sa.select(t).where(t.c.tenant_id == tenant_id,
                               sa.func.lower(t.c.name) == department_key(name))
        ).first()
        return _build(Department, _DEPARTMENT_FIELDS, row) if row else None


def _upsert_ticket(columns: dict[str, Any], *, returning: bool) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE of routed_tickets, built once with bound parameters."""
    t = routed_tickets
    params = {"tenant_id": sa.bindparam("tenant_id"), "ticket_id": sa.bindparam("ticket_id"),
              "ticket_created_at": sa.bindparam("created_at"),
              "ticket_version": sa.bindparam("ticket_version")}
    stmt = pg.insert(t).values(**params, **{c: sa.bindparam(c) for c in columns})
    set_ = {"ticket_version": sa.func.greatest(t.c.ticket_version, stmt.excluded.ticket_version),
            "updated_at": sa.func.now()}
    set_.update({c: stmt.excluded[c] for c in columns})
    set_["ticket_created_at"] = (stmt.excluded.ticket_created_at if columns else
                                 sa.func.coalesce(t.c.ticket_created_at,
                                                  stmt.excluded.ticket_created_at))
    upsert = stmt.on_conflict_do_update(index_elements=[t.c.tenant_id, t.c.ticket_id], set_=set_)
    return upsert.returning(t) if returning else upsert


# Built once: constructing statements per message was most of the consumer's CPU.
_RECORD_CREATED = _upsert_ticket({"title": None}, returning=False)
# DO UPDATE (not DO NOTHING) so the row is locked and returned in both cases.
_TOUCH = _upsert_ticket({}, returning=True)
_TICKET_KEY = (routed_tickets.c.tenant_id == sa.bindparam("k_tenant_id"),
               routed_tickets.c.ticket_id == sa.bindparam("k_ticket_id"))
_GET_TICKET = sa.select(routed_tickets).where(*_TICKET_KEY)
_GET_TICKET_LOCKED = _GET_TICKET.with_for_update()
_SAVE_TICKET = (routed_tickets.update().where(*_TICKET_KEY)
                .values(updated_at=sa.func.now()))   # other SET columns: given at execution
_SAVED_FIELDS = ("department", "routing_version", "last_method", "confidence", "priority",
                 "categorization_method", "needs_review", "categorized_version")
_ADD_HISTORY = routing_history.insert()


def _saved_values(ticket: RoutedTicket) -> dict[str, Any]:
    values: dict[str, Any] = {n: getattr(ticket, n) for n in _SAVED_FIELDS}
    values.update(k_tenant_id=ticket.tenant_id, k_ticket_id=ticket.ticket_id)
    return values


class SqlTicketRepository(TicketRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record_created(self, tenant_id: str, ticket_id: int, *, title: str,
                       created_at: Any, ticket_version: int) -> None:
        self.conn.execute(_RECORD_CREATED, {
            "tenant_id": tenant_id, "ticket_id": ticket_id, "title": title,
            "created_at": created_at, "ticket_version": ticket_version})

    def touch(self, tenant_id: str, ticket_id: int, *, ticket_version: int,
              created_at: Any = None) -> RoutedTicket:
        row = self.conn.execute(_TOUCH, {
            "tenant_id": tenant_id, "ticket_id": ticket_id, "created_at": created_at,
            "ticket_version": ticket_version}).one()
        return _build(RoutedTicket, _TICKET_FIELDS, row)

    def get(self, tenant_id: str, ticket_id: int, *, lock: bool = False) -> RoutedTicket | None:
        query = _GET_TICKET_LOCKED if lock else _GET_TICKET
        row = self.conn.execute(query, {"k_tenant_id": tenant_id, "k_ticket_id": ticket_id}).first()
        return _build(RoutedTicket, _TICKET_FIELDS, row) if row else None

    def save(self, ticket: RoutedTicket) -> None:
        self.conn.execute(_SAVE_TICKET, _saved_values(ticket))

    def record_created_many(self, rows: Sequence[tuple[str, int, str, Any, int]]) -> None:
        if rows:   # in key order: concurrent consumers lock the rows in the same order
            self.conn.execute(_RECORD_CREATED, [
                {"tenant_id": t, "ticket_id": i, "title": title, "created_at": created,
                 "ticket_version": version}
                for t, i, title, created, version in sorted(rows, key=lambda r: r[:2])])

    def touch_many(self, rows: Sequence[tuple[str, int, int, Any]]
                   ) -> dict[tuple[str, int], RoutedTicket]:
        if not rows:
            return {}
        found = self.conn.execute(_TOUCH, [
            {"tenant_id": t, "ticket_id": i, "ticket_version": v, "created_at": c}
            for t, i, v, c in sorted(rows, key=lambda r: r[:2])])
        tickets = {(row.tenant_id, row.ticket_id): _build(RoutedTicket, _TICKET_FIELDS, row)
                   for row in found}
        if len(tickets) != len(rows):
            raise RuntimeError(f"touched {len(tickets)} tickets of {len(rows)}")
        return tickets

    def save_many(self, tickets: Sequence[RoutedTicket]) -> None:
        if tickets:
            self.conn.execute(_SAVE_TICKET, [_saved_values(t) for t in tickets])


class SqlHistoryRepository(HistoryRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, record: RoutingRecord) -> None:
        self.conn.execute(_ADD_HISTORY, dataclasses.asdict(record))

    def add_many(self, records: Sequence[RoutingRecord]) -> None:
        if records:
            self.conn.execute(_ADD_HISTORY, [dataclasses.asdict(r) for r in records])

    def _query(self, tenant_id: str, ticket_id: int) -> sa.Select:
        h = routing_history
        return sa.select(h).where(h.c.tenant_id == tenant_id, h.c.ticket_id == ticket_id)

    def for_ticket(self, tenant_id: str, ticket_id: int) -> list[RoutingRecord]:
        rows = self.conn.execute(self._query(tenant_id, ticket_id).order_by(routing_history.c.id))
        return [_build(RoutingRecord, _RECORD_FIELDS, r) for r in rows]

    def latest(self, tenant_id: str, ticket_id: int) -> RoutingRecord | None:
        query = self._query(tenant_id, ticket_id).order_by(routing_history.c.id.desc()).limit(1)
        row = self.conn.execute(query).first()
        return _build(RoutingRecord, _RECORD_FIELDS, row) if row else None


class RoutingUnitOfWork(UnitOfWork):
    departments: DepartmentRepository
    tickets: TicketRepository
    history: HistoryRepository

    def _start(self, conn: Connection) -> None:
        self.departments = SqlDepartmentRepository(conn)
        self.tickets = SqlTicketRepository(conn)
        self.history = SqlHistoryRepository(conn)


def uow_factory(engine: Engine, schema: str) -> Callable[[], RoutingUnitOfWork]:
    """New units of work on ``engine``: inbox rows as routing-service, relay woken on commit."""
    channel = notify_channel(schema)
    return lambda: RoutingUnitOfWork(engine, consumer=SERVICE_NAME, notify_channel=channel)
