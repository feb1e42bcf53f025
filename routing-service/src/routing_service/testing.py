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
from .assignment.domain import Agent, Assignment, Waiting
from .assignment.persistence import AssignmentRepository
from .repositories import (
    CreatedTicket,
    DepartmentRepository,
    HistoryRepository,
    IdempotencyRepository,
    RememberedRequest,
    SeenTicket,
    StatusSeen,
    TagsSeen,
    TicketKey,
    TicketRepository,
)

CREATED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

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
        self.tags: dict[TicketKey, tuple[str, ...]] = {}
        self.tags_versions: dict[TicketKey, int] = {}

    def _row(self, tenant_id: str, ticket_id: int, ticket_version: int) -> RoutedTicket:
        row = self.rows.setdefault((tenant_id, ticket_id), RoutedTicket(tenant_id, ticket_id))
        row.ticket_version = max(row.ticket_version, ticket_version)
        return row

    def record_created_many(self, rows: Sequence[CreatedTicket]) -> None:
        _distinct(rows)
        for r in rows:
            row = self._row(r.tenant_id, r.ticket_id, r.ticket_version)
            row.title, row.ticket_created_at = r.title, r.created_at
            if r.tags and not self.tags_versions.get((r.tenant_id, r.ticket_id)):
                self.tags[(r.tenant_id, r.ticket_id)] = tuple(r.tags)

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

    def record_tags_many(self, rows: Sequence[TagsSeen]) -> None:
        _distinct(rows)
        for r in rows:
            row = self._row(r.tenant_id, r.ticket_id, r.ticket_version)
            if r.ticket_version > self.tags_versions.get((r.tenant_id, r.ticket_id), 0):
                self.tags[(r.tenant_id, r.ticket_id)] = tuple(r.tags)
                self.tags_versions[(r.tenant_id, r.ticket_id)] = r.ticket_version

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


class FakeAssignments(AssignmentRepository):
    """Agents, assignments and cursors in memory; tickets' versions and tags from ``tickets``."""

    def __init__(self, tickets: FakeTickets) -> None:
        self.tickets = tickets
        self.agent_rows: dict[int, Agent] = {}
        self.rows: dict[TicketKey, Assignment] = {}
        self.cursors: dict[tuple[str, str], int] = {}

    def lock_tenant(self, tenant_id: str) -> None:
        pass

    def agents(self, tenant_id: str) -> list[Agent]:
        return [copy.deepcopy(a) for _, a in sorted(self.agent_rows.items())
                if a.tenant_id == tenant_id]

    def agent(self, tenant_id: str, agent_id: int) -> Agent | None:
        found = self.agent_rows.get(agent_id)
        return copy.deepcopy(found) if found and found.tenant_id == tenant_id else None

    def page_agents(self, tenant_id: str, *, after: int | None, limit: int) -> list[Agent]:
        return [a for a in self.agents(tenant_id) if after is None or (a.id or 0) > after][:limit]

    def add_agent(self, agent: Agent) -> int | None:
        if any(a.tenant_id == agent.tenant_id and a.email.lower() == agent.email.lower()
               for a in self.agent_rows.values()):
            return None
        agent_id = len(self.agent_rows) + 1
        self.agent_rows[agent_id] = dataclasses.replace(agent, id=agent_id)
        return agent_id

    def update_agent(self, agent: Agent) -> None:
        stored = self.agent_rows[agent.id or 0]
        self.agent_rows[agent.id or 0] = dataclasses.replace(agent,
                                                             open_tickets=stored.open_tickets)

    def change_load(self, tenant_id: str, agent_id: int, delta: int) -> bool:
        agent = self.agent_rows.get(agent_id)
        if agent is None or agent.tenant_id != tenant_id:
            return False
        if delta > 0 and (not agent.available or agent.open_tickets + delta > agent.capacity):
            return False
        agent.open_tickets += delta
        assert agent.open_tickets >= 0
        return True

    def set_load(self, tenant_id: str, agent_id: int, open_tickets: int) -> None:
        self.agent_rows[agent_id].open_tickets = open_tickets

    def get_many(self, tenant_id: str, ticket_ids: Sequence[int]) -> dict[int, Assignment]:
        return {t: copy.deepcopy(self.rows[(tenant_id, t)]) for t in ticket_ids
                if (tenant_id, t) in self.rows}

    def save_many(self, rows: Sequence[Assignment]) -> None:
        _distinct(rows)
        for row in rows:
            self.rows[(row.tenant_id, row.ticket_id)] = copy.deepcopy(row)

    def _waiting(self, row: Assignment) -> Waiting:
        ticket = self.tickets.rows[(row.tenant_id, row.ticket_id)]
        return Waiting(copy.deepcopy(row), ticket.ticket_version,
                       self.tickets.tags.get((row.tenant_id, row.ticket_id), ()))

    def queue(self, tenant_id: str, department: str) -> list[Waiting]:
        rows = [r for (t, _), r in self.rows.items() if t == tenant_id and r.waiting
                and department_key(r.department or "") == department_key(department)]
        rows.sort(key=lambda r: (r.queued_at or CREATED_AT, r.ticket_id))
        return [self._waiting(r) for r in rows]

    def held_by(self, tenant_id: str, agent_id: int) -> list[Waiting]:
        return [self._waiting(r) for (t, _), r in sorted(self.rows.items())
                if t == tenant_id and r.open and r.agent_id == agent_id]

    def cursor(self, tenant_id: str, department: str) -> int | None:
        return self.cursors.get((tenant_id, department_key(department)))

    def set_cursor(self, tenant_id: str, department: str, agent_id: int) -> None:
        self.cursors[(tenant_id, department_key(department))] = agent_id


class FakeRoutingUnitOfWork(FakeUnitOfWork):
    """Keeps state across ``with`` blocks like the database; a rollback undoes all of it."""

    def __init__(self) -> None:
        super().__init__()
        self.departments = FakeDepartments()
        self.tickets = FakeTickets()
        self.history = FakeHistory()
        self.idempotency = FakeIdempotency()
        self.assignments = FakeAssignments(self.tickets)

    def _snapshot(self) -> Any:
        a = self.assignments
        return copy.deepcopy((self.departments.rows, self.tickets.rows, self.history.records,
                              self.idempotency.requests, a.agent_rows, a.rows, a.cursors))

    def _restore(self, state: Any) -> None:
        a = self.assignments
        (self.departments.rows, self.tickets.rows, self.history.records,
         self.idempotency.requests, a.agent_rows, a.rows, a.cursors) = state


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
