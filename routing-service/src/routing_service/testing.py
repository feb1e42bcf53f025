"""For tests: complete in-memory fakes of the routing repositories and unit of work (no I/O),
and the events routing-service consumes as tests build them."""
from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timezone
from typing import Any, Sequence

from support_shared.events import (EventType, TicketCategorized, TicketCreated, TicketDeleted,
                                   TicketStatusUpdated, new_event)
from support_shared.testing.fakes import FakeUnitOfWork

from .domain import (
    DEFAULT_DEPARTMENTS,
    Department,
    RoutedTicket,
    RoutingRecord,
    department_key,
    find_department,
)
from .repositories import (
    CreatedTicket,
    DepartmentRepository,
    HistoryRepository,
    IdempotencyRepository,
    RememberedRequest,
    SeenTicket,
    StatusSeen,
    TicketKey,
    TicketRepository,
)

# What SqlTicketRepository.save_many writes: never title, creation time or ticket version.
_ROUTING_FIELDS = ("department", "routing_version", "last_method", "confidence", "priority",
                   "categorization_method", "needs_review", "categorized_version")


class FakeDepartments(DepartmentRepository):
    """A tenant's departments in creation order; a department's id is its position + 1."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Department]] = {}

    def ensure_defaults(self, tenant_id: str) -> int:
        if self.rows.get(tenant_id):
            return 0
        self.rows[tenant_id] = list(DEFAULT_DEPARTMENTS)
        return len(DEFAULT_DEPARTMENTS)

    def list(self, tenant_id: str) -> list[Department]:
        return list(self.rows.get(tenant_id, []))

    def get(self, tenant_id: str, name: str, *, lock: bool = False) -> Department | None:
        return find_department(self.rows.get(tenant_id, []), name)

    def page(self, tenant_id: str, *, after: int | None, limit: int) -> list[tuple[int, Department]]:
        rows = list(enumerate(self.rows.get(tenant_id, []), start=1))
        return [(i, d) for i, d in rows if after is None or i > after][:limit]

    def add(self, tenant_id: str, department: Department) -> bool:
        rows = self.rows.setdefault(tenant_id, [])
        if find_department(rows, department.name) is not None:
            return False
        rows.append(department)
        return True

    def update(self, tenant_id: str, department: Department) -> None:
        rows = self.rows[tenant_id]
        [index] = [i for i, d in enumerate(rows)
                   if department_key(d.name) == department_key(department.name)]
        rows[index] = dataclasses.replace(department, is_triage=rows[index].is_triage)

    def replace(self, tenant_id: str, name: str, **changes: Any) -> None:
        rows = self.rows[tenant_id]
        index = rows.index(find_department(rows, name))
        rows[index] = dataclasses.replace(rows[index], **changes)


class FakeTickets(TicketRepository):
    def __init__(self) -> None:
        self.rows: dict[TicketKey, RoutedTicket] = {}

    def _row(self, tenant_id: str, ticket_id: int, ticket_version: int) -> RoutedTicket:
        row = self.rows.setdefault((tenant_id, ticket_id), RoutedTicket(tenant_id, ticket_id))
        row.ticket_version = max(row.ticket_version, ticket_version)
        return row

    def record_created_many(self, rows: Sequence[CreatedTicket]) -> None:
        _distinct(rows)
        for r in rows:
            row = self._row(r.tenant_id, r.ticket_id, r.ticket_version)
            row.title, row.ticket_created_at = r.title, r.created_at

    def touch_many(self, rows: Sequence[SeenTicket]) -> dict[TicketKey, RoutedTicket]:
        _distinct(rows)
        found = {}
        for r in rows:
            row = self._row(r.tenant_id, r.ticket_id, r.ticket_version)
            row.ticket_created_at = row.ticket_created_at or r.created_at
            found[(r.tenant_id, r.ticket_id)] = dataclasses.replace(row)
        return found

    def record_status_many(self, rows: Sequence[StatusSeen]) -> None:
        _distinct(rows)
        for r in rows:
            row = self._row(r.tenant_id, r.ticket_id, r.ticket_version)
            if r.ticket_version > row.status_version:
                row.closed, row.status_version = r.closed, r.ticket_version

    def record_deleted_many(self, rows: Sequence[SeenTicket]) -> None:
        _distinct(rows)
        for r in rows:
            self._row(r.tenant_id, r.ticket_id, r.ticket_version).deleted = True

    def get(self, tenant_id: str, ticket_id: int, *, lock: bool = False) -> RoutedTicket | None:
        row = self.rows.get((tenant_id, ticket_id))
        return dataclasses.replace(row) if row else None

    def save_many(self, tickets: Sequence[RoutedTicket]) -> None:
        _distinct(tickets)
        for ticket in tickets:
            stored = self.rows[(ticket.tenant_id, ticket.ticket_id)]
            for name in _ROUTING_FIELDS:
                setattr(stored, name, getattr(ticket, name))


def _distinct(rows: Sequence[Any]) -> None:
    """The SQL statements refuse one ticket twice (ON CONFLICT cannot affect a row twice)."""
    keys = [(r.tenant_id, r.ticket_id) for r in rows]
    assert len(keys) == len(set(keys)), f"a ticket twice in one statement: {keys}"


class FakeHistory(HistoryRepository):
    def __init__(self) -> None:
        self.records: list[RoutingRecord] = []

    def add_many(self, records: Sequence[RoutingRecord]) -> None:
        self.records.extend(records)

    def for_ticket(self, tenant_id: str, ticket_id: int) -> list[RoutingRecord]:
        return [r for r in self.records if (r.tenant_id, r.ticket_id) == (tenant_id, ticket_id)]

    def latest(self, tenant_id: str, ticket_id: int) -> RoutingRecord | None:
        records = self.for_ticket(tenant_id, ticket_id)
        return records[-1] if records else None


class FakeIdempotency(IdempotencyRepository):
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], RememberedRequest] = {}

    def claim(self, tenant_id: str, key: str, fingerprint: str) -> bool:
        if (tenant_id, key) in self.requests:
            return False
        self.requests[(tenant_id, key)] = RememberedRequest(fingerprint, None)
        return True

    def get(self, tenant_id: str, key: str) -> RememberedRequest | None:
        return self.requests.get((tenant_id, key))

    def answer(self, tenant_id: str, key: str, answer: dict[str, Any]) -> None:
        first = self.requests[(tenant_id, key)]
        self.requests[(tenant_id, key)] = first._replace(answer=copy.deepcopy(answer))


class FakeRoutingUnitOfWork(FakeUnitOfWork):
    """Keeps state across ``with`` blocks like the database; a rollback undoes all of it."""

    def __init__(self) -> None:
        super().__init__()
        self.departments = FakeDepartments()
        self.tickets = FakeTickets()
        self.history = FakeHistory()
        self.idempotency = FakeIdempotency()

    def _snapshot(self) -> Any:
        return copy.deepcopy((self.departments.rows, self.tickets.rows, self.history.records,
                              self.idempotency.requests))

    def _restore(self, state: Any) -> None:
        (self.departments.rows, self.tickets.rows, self.history.records,
         self.idempotency.requests) = state


CREATED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def created(ticket_id=1, tenant="default", version=1):
    payload = TicketCreated(title="Laptop broken", description="screen dead", user_name="Ann",
                            user_email="ann@example.com", priority="high", created_at=CREATED_AT)
    return new_event(EventType.TICKET_CREATED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=version, correlation_id="req-created")


def status_updated(ticket_id=1, new_status="closed", old_status="resolved", tenant="default",
                   version=5):
    payload = TicketStatusUpdated(old_status=old_status, new_status=new_status)
    return new_event(EventType.TICKET_STATUS_UPDATED, payload, tenant_id=tenant,
                     ticket_id=ticket_id, ticket_version=version, correlation_id="req-status")


def deleted(ticket_id=1, tenant="default", version=6):
    payload = TicketDeleted(deleted_at=CREATED_AT)
    return new_event(EventType.TICKET_DELETED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=version, correlation_id="req-deleted")


def categorized(ticket_id=1, department="IT Support", confidence=0.9, tenant="default",
                version=1):
    payload = TicketCategorized(department=department, priority="high", confidence=confidence,
                                method="claude", ticket_created_at=CREATED_AT)
    return new_event(EventType.TICKET_CATEGORIZED, payload, tenant_id=tenant,
                     ticket_id=ticket_id, ticket_version=version, correlation_id="req-cat")
