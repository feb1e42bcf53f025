"""Hand-written fakes of the ticket-service repositories and unit of work (no I/O)."""
from __future__ import annotations

import dataclasses

from support_shared.testing.fakes import FakeInbox, FakeOutbox
from ticket_service.activity.domain import AuditEntry, Comment, User
from ticket_service.tickets.domain import Ticket
from ticket_service.tickets.persistence import AbstractTicketRepository, TicketFilter, TicketUnitOfWork
from ticket_service.activity.persistence import (AbstractAuditRepository, AbstractCommentRepository,
                                    AbstractUserRepository)


class FakeTicketRepository(AbstractTicketRepository):
    """Keeps copies, so a change the handler does not ``save`` is lost, as in the database."""

    def __init__(self) -> None:
        self.rows: dict[int, Ticket] = {}
        self.held_keys: set[tuple[str, str]] = set()   # keys another transaction holds

    def add(self, ticket: Ticket) -> bool:
        key = ticket.idempotency_key
        if key and self.get_by_idempotency_key(ticket.tenant_id, key):
            return False
        ticket.id = len(self.rows) + 1
        self.rows[ticket.id] = dataclasses.replace(ticket, tags=list(ticket.tags))
        return True

    def get(self, tenant_id, ticket_id, *, for_update=False):
        row = self.rows.get(ticket_id)
        return dataclasses.replace(row, tags=list(row.tags)) if row and row.tenant_id == tenant_id \
            else None

    def get_by_idempotency_key(self, tenant_id, key):
        for row in self.rows.values():
            if row.tenant_id == tenant_id and row.idempotency_key == key:
                return dataclasses.replace(row)
        return None

    def claim_idempotency_key(self, tenant_id, key):
        return (tenant_id, key) not in self.held_keys

    def save(self, ticket):
        assert ticket.id in self.rows
        self.rows[ticket.id] = dataclasses.replace(ticket, tags=list(ticket.tags))

    def list(self, tenant_id, filters: TicketFilter, limit, before_id=None):
        rows = sorted((r for r in self.rows.values() if r.tenant_id == tenant_id),
                      key=lambda r: -r.id)
        rows = [r for r in rows if before_id is None or r.id < before_id]
        for name in ("status", "priority", "department", "requester_id"):
            if getattr(filters, name) is not None:
                rows = [r for r in rows if getattr(r, name) == getattr(filters, name)]
        if filters.tag is not None:
            rows = [r for r in rows if filters.tag in r.tags]
        if filters.q is not None:
            rows = [r for r in rows if filters.q.lower() in f"{r.title} {r.description}".lower()]
        return [dataclasses.replace(r) for r in rows[:limit]]


class RacingTicketRepository(FakeTicketRepository):
    """Another request commits the same idempotency key between our lookup and our insert."""

    def __init__(self, winner_fields: dict) -> None:
        super().__init__()
        self.winner_fields = winner_fields

    def add(self, ticket: Ticket) -> bool:
        if not self.rows:
            winner = Ticket.open(ticket.tenant_id, self.winner_fields, ticket.created_at,
                                 idempotency_key=ticket.idempotency_key)
            super().add(winner)
        return super().add(ticket)


class FakeUserRepository(AbstractUserRepository):
    def __init__(self) -> None:
        self.rows: dict[int, User] = {}

    def add(self, user):
        if self.by_email(user.tenant_id, user.email):
            return False
        user.id = len(self.rows) + 1
        self.rows[user.id] = dataclasses.replace(user)
        return True

    def get(self, tenant_id, user_id):
        row = self.rows.get(user_id)
        return dataclasses.replace(row) if row and row.tenant_id == tenant_id else None

    def by_email(self, tenant_id, email):
        for row in self.rows.values():
            if row.tenant_id == tenant_id and row.email.lower() == email.lower():
                return dataclasses.replace(row)
        return None

    def list(self, tenant_id, limit, before_id=None, email=None):
        rows = sorted((r for r in self.rows.values() if r.tenant_id == tenant_id
                       and (before_id is None or r.id < before_id)
                       and (email is None or r.email.lower() == email.lower())),
                      key=lambda r: -r.id)
        return rows[:limit]


class _AppendOnly:
    def __init__(self) -> None:
        self.rows: list = []

    def add(self, item) -> None:
        item.id = len(self.rows) + 1
        self.rows.append(dataclasses.replace(item))

    def list(self, tenant_id, ticket_id, limit, after_id=None):
        return [r for r in self.rows if r.tenant_id == tenant_id and r.ticket_id == ticket_id
                and (after_id is None or r.id > after_id)][:limit]


class FakeCommentRepository(_AppendOnly, AbstractCommentRepository):
    rows: list[Comment]


class FakeAuditRepository(_AppendOnly, AbstractAuditRepository):
    rows: list[AuditEntry]

    def actions(self, ticket_id: int) -> list[str]:
        return [r.action for r in self.rows if r.ticket_id == ticket_id]


class FakeUnitOfWork(TicketUnitOfWork):
    def __init__(self, tickets: AbstractTicketRepository | None = None) -> None:
        self.tickets = tickets or FakeTicketRepository()
        self.users = FakeUserRepository()
        self.comments = FakeCommentRepository()
        self.audit = FakeAuditRepository()
        self.outbox = FakeOutbox()
        self.inbox = FakeInbox()
        self.commits = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def commit(self):
        self.commits += 1
