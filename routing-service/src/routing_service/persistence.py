"""The SQL repositories and the unit of work of routing-service."""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine

from support_shared.bulk import bulk_update, bulk_upsert
from support_shared.db import UnitOfWork, row_of
from support_shared.erasure import AbstractErasure, ErasableTable, SqlErasure
from support_shared.outbox import notify_channel

from .config import SERVICE_NAME
from .domain import DEFAULT_DEPARTMENTS, Department, RoutedTicket, RoutingRecord, department_key
from .repositories import (CreatedTicket, DepartmentRepository, HistoryRepository,
                           IdempotencyRepository, RememberedRequest, SeenTicket, StatusSeen,
                           TagsSeen, TicketKey, TicketRepository)
from .assignment.persistence import AssignmentRepository, SqlAssignmentRepository
from .tables import departments, idempotency_keys, routed_tickets, routing_history

_TICKET_FIELDS = tuple(f.name for f in dataclasses.fields(RoutedTicket))
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(RoutingRecord))
_DEPARTMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Department))


def _build(cls: type, names: tuple[str, ...], row: Any) -> Any:
    mapping = row._mapping
    return cls(**{n: mapping[n] for n in names})


def _department(row: Any) -> Department:
    department: Department = _build(Department, _DEPARTMENT_FIELDS, row)
    return dataclasses.replace(department, keywords=tuple(department.keywords))


def _department_row(tenant_id: str, department: Department) -> dict[str, Any]:
    return {"tenant_id": tenant_id, **dataclasses.asdict(department),
            "keywords": list(department.keywords)}


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
        rows = [_department_row(tenant_id, d) for d in DEFAULT_DEPARTMENTS]
        # Concurrent first requests of one tenant race here: the unique index settles it.
        stmt = pg.insert(t).values(rows).on_conflict_do_nothing().returning(t.c.id)
        return len(self.conn.execute(stmt).all())

    def list(self, tenant_id: str) -> list[Department]:
        rows = self.conn.execute(_LIST_DEPARTMENTS, {"k_tenant_id": tenant_id})
        return [_department(r) for r in rows]

    def get(self, tenant_id: str, name: str, *, lock: bool = False) -> Department | None:
        t = departments
        query = sa.select(t).where(t.c.tenant_id == tenant_id,
                                   sa.func.lower(t.c.name) == department_key(name))
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        return _department(row) if row else None

    def page(self, tenant_id: str, *, after: int | None, limit: int) -> list[tuple[int, Department]]:
        t = departments
        query = sa.select(t).where(t.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(t.c.id > after)
        rows = self.conn.execute(query.order_by(t.c.id).limit(limit))
        return [(r.id, _department(r)) for r in rows]

    def add(self, tenant_id: str, department: Department) -> bool:
        t = departments
        # The unique index on (tenant_id, lower(name)) settles concurrent creates of one name.
        stmt = (pg.insert(t).values(_department_row(tenant_id, department))
                .on_conflict_do_nothing().returning(t.c.id))
        return self.conn.execute(stmt).first() is not None

    def update(self, tenant_id: str, department: Department) -> None:
        t = departments
        self.conn.execute(
            t.update().where(t.c.tenant_id == tenant_id,
                             sa.func.lower(t.c.name) == department_key(department.name))
            .values(description=department.description, keywords=list(department.keywords),
                    min_confidence=department.min_confidence, active=department.active,
                    version=department.version, updated_at=sa.func.now(),
                    assignment_policy=department.assignment_policy))


def _touch_statement() -> Any:
    """INSERT ... ON CONFLICT DO UPDATE of routed_tickets returning the row, built once."""
    t = routed_tickets
    stmt = pg.insert(t).values(tenant_id=sa.bindparam("tenant_id"),
                               ticket_id=sa.bindparam("ticket_id"),
                               ticket_created_at=sa.bindparam("created_at"),
                               ticket_version=sa.bindparam("ticket_version"))
    set_ = {"ticket_version": sa.func.greatest(t.c.ticket_version, stmt.excluded.ticket_version),
            "updated_at": sa.func.now(),
            "ticket_created_at": sa.func.coalesce(t.c.ticket_created_at,
                                                  stmt.excluded.ticket_created_at)}
    upsert = stmt.on_conflict_do_update(index_elements=[t.c.tenant_id, t.c.ticket_id], set_=set_)
    return upsert.returning(t)


# Built once: constructing statements per message was most of the consumer's CPU. A batch's
# rows in one statement (``support_shared.bulk``).
_RECORD_CREATED = bulk_upsert(
    routed_tickets, key=("tenant_id", "ticket_id"),
    columns=("tenant_id", "ticket_id", "ticket_created_at", "ticket_version", "title"),
    set_={"ticket_version": "greatest(routed_tickets.ticket_version, excluded.ticket_version)",
          "updated_at": "now()", "title": "excluded.title",
          "ticket_created_at": "excluded.ticket_created_at"})
# The tags of ticket.created count until an edit of them (tags_version) was applied.
_CREATED_TAGS = (routed_tickets.update()
                 .where(*(c == sa.bindparam(f"k_{c.name}") for c in
                          (routed_tickets.c.tenant_id, routed_tickets.c.ticket_id)),
                        routed_tickets.c.tags_version == 0)
                 .values(tags=sa.bindparam("tags")))
_TAGS_INSERT = pg.insert(routed_tickets).values(
    tenant_id=sa.bindparam("tenant_id"), ticket_id=sa.bindparam("ticket_id"),
    ticket_version=sa.bindparam("ticket_version"), tags=sa.bindparam("tags"),
    tags_version=sa.bindparam("ticket_version"))
_RECORD_TAGS = _TAGS_INSERT.on_conflict_do_update(
    index_elements=[routed_tickets.c.tenant_id, routed_tickets.c.ticket_id],
    set_={"ticket_version": sa.func.greatest(routed_tickets.c.ticket_version,
                                             _TAGS_INSERT.excluded.ticket_version),
          "tags": sa.case((_TAGS_INSERT.excluded.tags_version > routed_tickets.c.tags_version,
                           _TAGS_INSERT.excluded.tags), else_=routed_tickets.c.tags),
          "tags_version": sa.func.greatest(routed_tickets.c.tags_version,
                                           _TAGS_INSERT.excluded.tags_version),
          "updated_at": sa.func.now()})
# DO UPDATE (not DO NOTHING) so the row is locked and returned in both cases.
_TOUCH = _touch_statement()
_STATUS_INSERT = pg.insert(routed_tickets).values(
    tenant_id=sa.bindparam("tenant_id"), ticket_id=sa.bindparam("ticket_id"),
    ticket_version=sa.bindparam("ticket_version"), closed=sa.bindparam("closed"),
    status_version=sa.bindparam("ticket_version"))
_RECORD_STATUS = _STATUS_INSERT.on_conflict_do_update(
    index_elements=[routed_tickets.c.tenant_id, routed_tickets.c.ticket_id],
    set_={"ticket_version": sa.func.greatest(routed_tickets.c.ticket_version,
                                             _STATUS_INSERT.excluded.ticket_version),
          "closed": sa.case((_STATUS_INSERT.excluded.status_version
                             > routed_tickets.c.status_version, _STATUS_INSERT.excluded.closed),
                            else_=routed_tickets.c.closed),
          "status_version": sa.func.greatest(routed_tickets.c.status_version,
                                             _STATUS_INSERT.excluded.status_version),
          "updated_at": sa.func.now()})
_DELETED_INSERT = pg.insert(routed_tickets).values(
    tenant_id=sa.bindparam("tenant_id"), ticket_id=sa.bindparam("ticket_id"),
    ticket_version=sa.bindparam("ticket_version"), deleted=True)
_RECORD_DELETED = _DELETED_INSERT.on_conflict_do_update(
    index_elements=[routed_tickets.c.tenant_id, routed_tickets.c.ticket_id],
    set_={"ticket_version": sa.func.greatest(routed_tickets.c.ticket_version,
                                             _DELETED_INSERT.excluded.ticket_version),
          "deleted": True, "updated_at": sa.func.now()})
_TICKET_KEY = (routed_tickets.c.tenant_id == sa.bindparam("k_tenant_id"),
               routed_tickets.c.ticket_id == sa.bindparam("k_ticket_id"))
_GET_TICKET = sa.select(routed_tickets).where(*_TICKET_KEY)
_GET_TICKET_LOCKED = _GET_TICKET.with_for_update()
_SAVED_FIELDS = ("department", "routing_version", "last_method", "confidence", "priority",
                 "categorization_method", "needs_review", "categorized_version")
_SAVE_TICKETS = bulk_update(routed_tickets, key=("tenant_id", "ticket_id"), columns=_SAVED_FIELDS,
                            also={"updated_at": "now()"})
_ADD_HISTORY = routing_history.insert()


def _saved_values(ticket: RoutedTicket) -> dict[str, Any]:
    values: dict[str, Any] = {n: getattr(ticket, n) for n in _SAVED_FIELDS}
    values.update(tenant_id=ticket.tenant_id, ticket_id=ticket.ticket_id)
    return values


class SqlTicketRepository(TicketRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record_created_many(self, rows: Sequence[CreatedTicket]) -> None:
        if rows:   # in key order: concurrent consumers lock the rows in the same order
            _RECORD_CREATED.execute(self.conn, [
                {"tenant_id": r.tenant_id, "ticket_id": r.ticket_id, "title": r.title,
                 "ticket_created_at": r.created_at, "ticket_version": r.ticket_version}
                for r in sorted(rows, key=lambda r: r[:2])])
            tagged = [{"k_tenant_id": r.tenant_id, "k_ticket_id": r.ticket_id, "tags": list(r.tags)}
                      for r in sorted(rows, key=lambda r: r[:2]) if r.tags]
            if tagged:
                self.conn.execute(_CREATED_TAGS, tagged)

    def record_tags_many(self, rows: Sequence[TagsSeen]) -> None:
        if rows:   # key order, as every other ticket upsert
            self.conn.execute(_RECORD_TAGS, [
                {"tenant_id": r.tenant_id, "ticket_id": r.ticket_id,
                 "ticket_version": r.ticket_version, "tags": list(r.tags)}
                for r in sorted(rows, key=lambda r: r[:2])])

    def touch_many(self, rows: Sequence[SeenTicket]) -> dict[TicketKey, RoutedTicket]:
        if not rows:
            return {}
        found = self.conn.execute(_TOUCH, [
            {"tenant_id": r.tenant_id, "ticket_id": r.ticket_id,
             "ticket_version": r.ticket_version, "created_at": r.created_at}
            for r in sorted(rows, key=lambda r: r[:2])])
        tickets = {(row.tenant_id, row.ticket_id): _build(RoutedTicket, _TICKET_FIELDS, row)
                   for row in found}
        if len(tickets) != len(rows):
            raise RuntimeError(f"touched {len(tickets)} tickets of {len(rows)}")
        return tickets

    def record_status_many(self, rows: Sequence[StatusSeen]) -> None:
        if rows:   # key order, as every other ticket upsert
            ordered = sorted(rows, key=lambda r: r[:2])
            self.conn.execute(_RECORD_STATUS, [r._asdict() for r in ordered])

    def record_deleted_many(self, rows: Sequence[SeenTicket]) -> None:
        if rows:   # key order, as every other ticket upsert
            self.conn.execute(_RECORD_DELETED, [
                {"tenant_id": r.tenant_id, "ticket_id": r.ticket_id,
                 "ticket_version": r.ticket_version}
                for r in sorted(rows, key=lambda r: r[:2])])

    def get(self, tenant_id: str, ticket_id: int, *, lock: bool = False) -> RoutedTicket | None:
        query = _GET_TICKET_LOCKED if lock else _GET_TICKET
        row = self.conn.execute(query, {"k_tenant_id": tenant_id, "k_ticket_id": ticket_id}).first()
        return _build(RoutedTicket, _TICKET_FIELDS, row) if row else None

    def save_many(self, tickets: Sequence[RoutedTicket]) -> None:
        _SAVE_TICKETS.execute(self.conn, [_saved_values(t) for t in tickets])


class SqlHistoryRepository(HistoryRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, records: Sequence[RoutingRecord]) -> None:
        if records:
            self.conn.execute(_ADD_HISTORY, [row_of(r) for r in records])

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


_KEY = (idempotency_keys.c.tenant_id == sa.bindparam("k_tenant_id"),
        idempotency_keys.c.key == sa.bindparam("k_key"))
# A second claim of a key another open transaction inserted waits for it on the primary key.
_CLAIM_KEY = (pg.insert(idempotency_keys).on_conflict_do_nothing()
              .returning(idempotency_keys.c.key))


class SqlIdempotencyRepository(IdempotencyRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim(self, tenant_id: str, key: str, fingerprint: str) -> bool:
        row = self.conn.execute(_CLAIM_KEY, {"tenant_id": tenant_id, "key": key,
                                             "fingerprint": fingerprint}).first()
        return row is not None

    def get(self, tenant_id: str, key: str) -> RememberedRequest | None:
        t = idempotency_keys
        row = self.conn.execute(sa.select(t.c.fingerprint, t.c.response).where(*_KEY),
                                {"k_tenant_id": tenant_id, "k_key": key}).first()
        if row is None:
            return None
        return RememberedRequest(row.fingerprint, row.response)

    def answer(self, tenant_id: str, key: str, answer: dict[str, Any]) -> None:
        update = idempotency_keys.update().where(*_KEY).values(response=answer)
        self.conn.execute(update, {"k_tenant_id": tenant_id, "k_key": key})


# What this schema holds of a ticket's texts (an erased requester's tickets lose them).
ERASABLE = (ErasableTable("routed_tickets", key=("tenant_id", "ticket_id"), texts=("title",)),)


class RoutingUnitOfWork(UnitOfWork):
    departments: DepartmentRepository
    tickets: TicketRepository
    history: HistoryRepository
    idempotency: IdempotencyRepository
    erasure: AbstractErasure
    assignments: AssignmentRepository

    def _start(self, conn: Connection) -> None:
        self.departments = SqlDepartmentRepository(conn)
        self.tickets = SqlTicketRepository(conn)
        self.history = SqlHistoryRepository(conn)
        self.idempotency = SqlIdempotencyRepository(conn)
        self.erasure = SqlErasure(conn, ERASABLE)
        self.assignments = SqlAssignmentRepository(conn)


def unit_of_work(engine: Engine, schema: str) -> RoutingUnitOfWork:
    """The unit of work every entrypoint of this service uses: inbox rows as routing-service,
    the relay woken on commit."""
    return RoutingUnitOfWork(engine, consumer=SERVICE_NAME, notify_channel=notify_channel(schema))
