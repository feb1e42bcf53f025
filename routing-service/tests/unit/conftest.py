"""Hand-written fakes of the routing repositories and unit of work (no I/O)."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest

from routing_service.domain import (
    DEFAULT_DEPARTMENTS,
    Department,
    RoutedTicket,
    RoutingRecord,
    find_department,
)
from routing_service.persistence import (
    DepartmentRepository,
    HistoryRepository,
    RoutingUnitOfWork,
    TicketRepository,
)
from support_shared.testing.fakes import FakeInbox, FakeOutbox


class FakeDepartments(DepartmentRepository):
    def __init__(self) -> None:
        self.rows: dict[str, list[Department]] = {}

    def ensure_defaults(self, tenant_id: str) -> int:
        if self.rows.get(tenant_id):
            return 0
        self.rows[tenant_id] = list(DEFAULT_DEPARTMENTS)
        return len(DEFAULT_DEPARTMENTS)

    def list(self, tenant_id: str) -> list[Department]:
        return list(self.rows.get(tenant_id, []))

    def get(self, tenant_id: str, name: str) -> Department | None:
        return find_department(self.rows.get(tenant_id, []), name)

    def replace(self, tenant_id: str, name: str, **changes: Any) -> None:
        rows = self.rows[tenant_id]
        index = rows.index(find_department(rows, name))
        rows[index] = dataclasses.replace(rows[index], **changes)


class FakeTickets(TicketRepository):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], RoutedTicket] = {}

    def _row(self, tenant_id: str, ticket_id: int, ticket_version: int) -> RoutedTicket:
        row = self.rows.setdefault((tenant_id, ticket_id), RoutedTicket(tenant_id, ticket_id))
        row.ticket_version = max(row.ticket_version, ticket_version)
        return row

    def record_created(self, tenant_id: str, ticket_id: int, *, title: str,
                       created_at: datetime, ticket_version: int) -> None:
        row = self._row(tenant_id, ticket_id, ticket_version)
        row.title, row.ticket_created_at = title, created_at

    def touch(self, tenant_id: str, ticket_id: int, *, ticket_version: int,
              created_at: datetime | None = None) -> RoutedTicket:
        row = self._row(tenant_id, ticket_id, ticket_version)
        row.ticket_created_at = row.ticket_created_at or created_at
        return dataclasses.replace(row)

    def get(self, tenant_id: str, ticket_id: int, *, lock: bool = False) -> RoutedTicket | None:
        row = self.rows.get((tenant_id, ticket_id))
        return dataclasses.replace(row) if row else None

    def save(self, ticket: RoutedTicket) -> None:
        stored = self.rows[(ticket.tenant_id, ticket.ticket_id)]
        # Like the SQL repository: routing fields only, never title/creation time/version.
        for name in ("department", "routing_version", "last_method", "confidence", "priority",
                     "categorization_method", "needs_review", "categorized_version"):
            setattr(stored, name, getattr(ticket, name))


class FakeHistory(HistoryRepository):
    def __init__(self) -> None:
        self.records: list[RoutingRecord] = []

    def add(self, record: RoutingRecord) -> None:
        self.records.append(record)

    def for_ticket(self, tenant_id: str, ticket_id: int) -> list[RoutingRecord]:
        return [r for r in self.records if (r.tenant_id, r.ticket_id) == (tenant_id, ticket_id)]

    def latest(self, tenant_id: str, ticket_id: int) -> RoutingRecord | None:
        records = self.for_ticket(tenant_id, ticket_id)
        return records[-1] if records else None


class FakeUnitOfWork(RoutingUnitOfWork):
    """Keeps state across ``with`` blocks, like the database does across transactions."""

    def __init__(self) -> None:  # no engine: nothing to connect to
        self.departments = FakeDepartments()
        self.tickets = FakeTickets()
        self.history = FakeHistory()
        self.outbox = FakeOutbox()
        self.inbox = FakeInbox()
        self.commits = 0

    def __enter__(self) -> "FakeUnitOfWork":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        return None


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()
