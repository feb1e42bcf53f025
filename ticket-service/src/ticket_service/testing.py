"""Complete in-memory fakes of the ticket-service repositories and unit of work (no I/O).

They subclass the abstract repositories and ``support_shared.testing.fakes.FakeUnitOfWork``,
so the handlers run the same calls as in production, and a unit of work left without
``commit()`` rolls back the repositories too.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Collection, Sequence

from support_shared.erasure import ERASED, scrub_json
from support_shared.events import utcnow
from support_shared.testing.fakes import FakeUnitOfWork as SharedFakeUnitOfWork
from .activity.domain import AuditEntry, Comment, User
from .activity.persistence import (AbstractAuditRepository,
                                                 AbstractCommentRepository,
                                                 AbstractUserRepository)
from .erasure.persistence import AbstractRequesterErasure, erased_email
from .settings.domain import TenantSettings
from .settings.persistence import AbstractSettingsRepository
from .sla.calendar import Calendar
from .sla.domain import DEFAULT_TARGETS, Target, Timer
from .sla.persistence import AbstractSlaRepository, Stored, TicketFacts
from .tickets.domain import Ticket
from .tickets.persistence import (AbstractTicketRepository, TicketFilter,
                                                TicketUnitOfWork)


def _copy(ticket: Ticket) -> Ticket:
    return dataclasses.replace(ticket, tags=list(ticket.tags))


class FakeTicketRepository(AbstractTicketRepository):
    """Keeps copies, so a change the handler does not ``save`` is lost, as in the database."""

    def __init__(self) -> None:
        self.rows: dict[int, Ticket] = {}
        self.held_keys: set[tuple[str, str]] = set()   # keys another transaction holds

    def add_many(self, tickets: Sequence[Ticket]) -> None:
        for ticket in tickets:
            key = ticket.idempotency_key
            if key and self.get_by_idempotency_key(ticket.tenant_id, key):
                raise ValueError(f"idempotency key {key!r} is taken")
            ticket.id = max(self.rows, default=0) + 1
            self.rows[ticket.id] = _copy(ticket)

    def get(self, tenant_id: str, ticket_id: int, *, for_update: bool = False) -> Ticket | None:
        row = self.rows.get(ticket_id)
        live = row is not None and row.tenant_id == tenant_id and row.deleted_at is None
        return _copy(row) if row is not None and live else None

    def get_many_for_update(self, keys: Collection[tuple[str, int]]
                            ) -> dict[tuple[str, int], Ticket]:
        found = {(tenant, tid): self.rows.get(tid) for tenant, tid in sorted(keys)}
        return {key: _copy(row) for key, row in found.items()
                if row is not None and row.tenant_id == key[0]}

    def get_by_idempotency_key(self, tenant_id: str, key: str) -> Ticket | None:
        for row in self.rows.values():
            if row.tenant_id == tenant_id and row.idempotency_key == key:
                return _copy(row)
        return None

    def claim_idempotency_key(self, tenant_id: str, key: str) -> bool:
        return (tenant_id, key) not in self.held_keys

    def save(self, ticket: Ticket) -> None:
        assert ticket.id in self.rows
        self.rows[ticket.id] = _copy(ticket)

    def save_many(self, tickets: Sequence[Ticket]) -> None:
        for ticket in tickets:
            self.save(ticket)

    def list(self, tenant_id: str, filters: TicketFilter, limit: int,
             before_id: int | None = None) -> list[Ticket]:
        rows = sorted((r for r in self.rows.values()
                       if r.tenant_id == tenant_id and r.deleted_at is None),
                      key=lambda r: -(r.id or 0))
        rows = [r for r in rows if before_id is None or (r.id or 0) < before_id]
        for name in ("status", "priority", "department", "requester_id"):
            if getattr(filters, name) is not None:
                rows = [r for r in rows if getattr(r, name) == getattr(filters, name)]
        if filters.tag is not None:
            rows = [r for r in rows if filters.tag in r.tags]
        if filters.q is not None:
            rows = [r for r in rows if filters.q.lower() in f"{r.title} {r.description}".lower()]
        for name in ("ai_status", "sentiment", "requires_action"):
            if getattr(filters, name) is not None:
                rows = [r for r in rows if getattr(r, name) == getattr(filters, name)]
        return [_copy(r) for r in rows[:limit]]


class _FakeKeyedCreates:
    """Idempotency keys of a fake repository whose ``rows`` hold what was created."""

    rows: Any
    held_keys: set[tuple[str, str]]

    def claim_idempotency_key(self, tenant_id: str, key: str) -> bool:
        return (tenant_id, key) not in self.held_keys

    def by_idempotency_key(self, tenant_id: str, key: str) -> Any:
        rows = self.rows.values() if isinstance(self.rows, dict) else self.rows
        for row in rows:
            if row.tenant_id == tenant_id and row.idempotency_key == key:
                return dataclasses.replace(row)
        return None


class FakeUserRepository(_FakeKeyedCreates, AbstractUserRepository):
    def __init__(self) -> None:
        self.rows: dict[int, User] = {}
        self.held_keys: set[tuple[str, str]] = set()

    def add(self, user: User) -> bool:
        if self.by_email(user.tenant_id, user.email):
            return False
        user.id = len(self.rows) + 1
        self.rows[user.id] = dataclasses.replace(user)
        return True

    def add_many(self, new_users: Sequence[User]) -> list[User]:
        return [user for user in new_users if self.add(user)]

    def get(self, tenant_id: str, user_id: int) -> User | None:
        row = self.rows.get(user_id)
        return dataclasses.replace(row) if row and row.tenant_id == tenant_id else None

    def by_email(self, tenant_id: str, email: str) -> User | None:
        for row in self.rows.values():
            if row.tenant_id == tenant_id and row.email.lower() == email.lower():
                return dataclasses.replace(row)
        return None

    def by_emails(self, tenant_id: str, emails: Sequence[str]) -> dict[str, User]:
        found = (self.by_email(tenant_id, email) for email in {e.lower() for e in emails})
        return {user.email.lower(): user for user in found if user is not None}

    def list(self, tenant_id: str, limit: int, before_id: int | None = None,
             email: str | None = None) -> list[User]:
        rows = sorted((r for r in self.rows.values() if r.tenant_id == tenant_id
                       and (before_id is None or (r.id or 0) < before_id)
                       and (email is None or r.email.lower() == email.lower())),
                      key=lambda r: -(r.id or 0))
        return rows[:limit]


class _AppendOnly:
    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.held_keys: set[tuple[str, str]] = set()

    def add(self, item: Any) -> None:
        item.id = len(self.rows) + 1
        self.rows.append(dataclasses.replace(item))

    def list(self, tenant_id: str, ticket_id: int, limit: int,
             after_id: int | None = None) -> list[Any]:
        return [r for r in self.rows if r.tenant_id == tenant_id and r.ticket_id == ticket_id
                and (after_id is None or r.id > after_id)][:limit]


class FakeCommentRepository(_FakeKeyedCreates, _AppendOnly, AbstractCommentRepository):
    rows: list[Comment]

    def list(self, tenant_id: str, ticket_id: int, limit: int,
             after_id: int | None = None, public_only: bool = False) -> list[Comment]:
        found = super().list(tenant_id, ticket_id, 1 << 62, after_id)
        return [c for c in found if not (public_only and c.author_kind == "internal")][:limit]


class FakeAuditRepository(_AppendOnly, AbstractAuditRepository):
    rows: list[AuditEntry]

    def add_many(self, entries: Sequence[AuditEntry]) -> None:
        for entry in entries:
            self.add(entry)

    def actions(self, ticket_id: int) -> list[str]:
        return [r.action for r in self.rows if r.ticket_id == ticket_id]


class FakeSettingsRepository(AbstractSettingsRepository):
    def __init__(self) -> None:
        self.rows: dict[str, TenantSettings] = {}

    def get_many(self, tenant_ids: Collection[str]) -> dict[str, TenantSettings]:
        return {tenant: self.rows.get(tenant, TenantSettings()) for tenant in tenant_ids}

    def put(self, tenant_id: str, settings: TenantSettings) -> None:
        self.rows[tenant_id] = settings
class FakeSlaRepository(AbstractSlaRepository):
    """Policies, calendars and timers in memory; ``tickets`` answers the ticket facts."""

    def __init__(self, tickets: FakeTicketRepository) -> None:
        self.tickets = tickets
        self.policies: dict[str, tuple[dict[str, Target], Any]] = {}
        self.calendars: dict[str, tuple[Calendar, Any]] = {}
        self.rows: dict[tuple[str, int, str], Timer] = {}

    def policy(self, tenant_id: str) -> Stored:
        targets, at = self.policies.get(tenant_id, ({}, None))
        return Stored({**DEFAULT_TARGETS, **targets}, at)

    def save_policy(self, tenant_id: str, targets: Any, now: Any) -> None:
        self.policies[tenant_id] = ({**self.policies.get(tenant_id, ({}, None))[0], **targets},
                                    now)

    def calendar(self, tenant_id: str) -> Stored:
        return Stored(*self.calendars.get(tenant_id, (Calendar(), None)))

    def save_calendar(self, tenant_id: str, calendar: Calendar, now: Any) -> None:
        self.calendars[tenant_id] = (calendar, now)

    def timers(self, tenant_id: str, ticket_id: int) -> dict[str, Timer]:
        return {k: dataclasses.replace(t) for (tn, tid, k), t in self.rows.items()
                if (tn, tid) == (tenant_id, ticket_id)}

    def unstopped(self, tenant_id: str) -> list[Timer]:
        live = {t.id for t in self.tickets.rows.values() if t.deleted_at is None}
        return [dataclasses.replace(t) for t in self.rows.values()
                if t.tenant_id == tenant_id and t.stopped_at is None and t.ticket_id in live]

    def save_timers(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            self.rows[(timer.tenant_id, timer.ticket_id, timer.kind)] = dataclasses.replace(timer)

    def claim_due(self, now: Any, limit: int) -> list[Timer]:
        due = sorted((t for t in self.rows.values()
                      if t.next_fire_at is not None and t.next_fire_at <= now),
                     key=lambda t: t.next_fire_at)
        return [dataclasses.replace(t) for t in due[:limit]]

    def ticket_facts(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], TicketFacts]:
        found = {key: self.tickets.rows.get(key[1]) for key in keys}
        return {key: TicketFacts(t.department, t.priority, t.deleted_at is not None)
                for key, t in found.items() if t is not None and t.tenant_id == key[0]}

    def show_due(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            setattr(self.tickets.rows[timer.ticket_id], f"{timer.kind}_due_at", timer.due_at)

    def next_fire_at(self) -> Any:
        return min((t.next_fire_at for t in self.rows.values() if t.next_fire_at), default=None)

    def stopped_since(self, tenant_id: str, since: Any) -> list[tuple[Timer, TicketFacts]]:
        facts = self.ticket_facts({(t.tenant_id, t.ticket_id) for t in self.rows.values()})
        return [(t, facts[(t.tenant_id, t.ticket_id)]) for t in self.rows.values()
                if t.tenant_id == tenant_id and (t.stopped_at is not None or t.breached)]


class FakeUnitOfWork(SharedFakeUnitOfWork, TicketUnitOfWork):
    """Tickets, users, comments and audit in memory; outbox, inbox and all of them take
    effect only on ``commit()``."""

    def __init__(self, tickets: FakeTicketRepository | None = None) -> None:
        super().__init__()
        self.tickets = tickets or FakeTicketRepository()
        self.users = FakeUserRepository()
        self.comments = FakeCommentRepository()
        self.audit = FakeAuditRepository()
        self.erasure = FakeRequesterErasure(self)
        self.settings = FakeSettingsRepository()
        self.sla = FakeSlaRepository(self.tickets)

    def _snapshot(self) -> Any:
        return copy.deepcopy((self.tickets.rows, self.users.rows, self.comments.rows,
                              self.audit.rows, self.settings.rows, self.sla.rows,
                              self.sla.policies, self.sla.calendars))

    def _restore(self, state: Any) -> None:
        (self.tickets.rows, self.users.rows, self.comments.rows, self.audit.rows,
         self.settings.rows, self.sla.rows, self.sla.policies, self.sla.calendars) = state


class FakeRequesterErasure(AbstractRequesterErasure):
    """Works on the fake repositories and outbox of its unit of work, as the SQL does."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def tickets_of(self, user: User) -> list[int]:
        return sorted(t.id for t in self.uow.tickets.rows.values() if t.id is not None
                      and t.tenant_id == user.tenant_id
                      and (t.requester_id == user.id or t.user_email.lower() == user.email.lower()))

    def erase(self, user: User, ticket_ids: Sequence[int]) -> dict[str, int]:
        assert user.id is not None
        ids, tenant, email = set(ticket_ids), user.tenant_id, user.email.lower()
        row = self.uow.users.rows[user.id]
        row.name, row.email = ERASED, erased_email(user.id)
        row.erased_at = row.erased_at or utcnow()
        for tid in ids:
            ticket = self.uow.tickets.rows[tid]
            ticket.title = ticket.description = ticket.user_name = ticket.user_email = ERASED
        comments = [c for c in self.uow.comments.rows if c.tenant_id == tenant
                    and (c.ticket_id in ids or c.author_email.lower() == email)]
        for comment in comments:
            if comment.author_email.lower() == email:
                comment.author_name = comment.author_email = ERASED
            comment.body = ERASED
        entries = [a for a in self.uow.audit.rows if a.tenant_id == tenant
                   and (a.ticket_id in ids
                        or str(a.details.get("author_email", "")).lower() == email)
                   and scrub_json(a.details) != a.details]
        for entry in entries:
            entry.details = scrub_json(entry.details)
        events = self.uow.outbox.events
        mine = [i for i, e in enumerate(events) if e.tenant_id == tenant and e.ticket_id in ids
                and scrub_json(e.data) != e.data]
        for i in mine:
            events[i] = events[i].model_copy(update={"data": scrub_json(events[i].data)})
        return {"users": 1, "tickets": len(ids), "comments": len(comments),
                "audit": len(entries), "outbox": len(mine)}
