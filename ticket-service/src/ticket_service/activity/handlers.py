"""Requesters, comments and the audit trail: their commands and queries, one unit of work each."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Generic, Sequence, TypeVar

from support_shared.events import utcnow

from ..sla.handlers import clocks_follow
from ..tickets import events
from ..tickets.domain import (IdempotencyKeyInFlightError, IdempotencyKeyReusedError, Ticket,
                              TicketNotFoundError, request_fingerprint)
from ..tickets.persistence import TicketUnitOfWork
from .domain import COMMENTED, AuditEntry, Comment, User, UserExistsError, UserNotFoundError
from .persistence import KeyedCreates

logger = logging.getLogger(__name__)

E = TypeVar("E", User, Comment)


@dataclass(frozen=True)
class Created(Generic[E]):
    """What a create answers: the new item, or (``replayed``) the one its key created before."""

    item: E
    replayed: bool = False


def _earlier(repo: KeyedCreates, tenant_id: str, key: str | None,
             fingerprint: str) -> Created[Any] | None:
    """Hold ``key``; what it created before if this repeats that request (None: create now).

    A key held by a request still in flight is refused (409), one reused for another request
    too (422): only the same key with the same request replays.
    """
    if key is None:
        return None
    if not repo.claim_idempotency_key(tenant_id, key):
        raise IdempotencyKeyInFlightError(key)
    existing = repo.by_idempotency_key(tenant_id, key)
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(key)
    logger.info("replayed %s %s for idempotency key %s", type(existing).__name__.lower(),
                existing.id, key)
    return Created(existing, replayed=True)


def audit_entry(ticket: Ticket, action: str, details: dict[str, Any], *,
                actor: str | None = None, request_id: str | None = None) -> AuditEntry:
    """The audit entry recording ``action`` on ``ticket`` at its current version."""
    assert ticket.id is not None
    return AuditEntry(tenant_id=ticket.tenant_id, ticket_id=ticket.id, action=action,
                      ticket_version=ticket.version, occurred_at=utcnow(), details=details,
                      actor=actor, request_id=request_id or None)


def record(uow: TicketUnitOfWork, ticket: Ticket, action: str, details: dict[str, Any], *,
           actor: str | None = None, request_id: str | None = None) -> AuditEntry:
    """Append one audit entry for ``ticket`` in the current transaction."""
    entry = audit_entry(ticket, action, details, actor=actor, request_id=request_id)
    uow.audit.add(entry)
    return entry


def requesters_for(uow: TicketUnitOfWork, people: Sequence[tuple[str, str, str]],
                   now: Any) -> dict[tuple[str, str], User]:
    """The tenant's users with these ``(tenant_id, name, email)``, created where there is none
    yet, keyed by ``(tenant_id, lower-cased email)``; a new address keeps the first name and
    spelling given."""
    wanted: dict[str, dict[str, User]] = {}  # tenant -> lower email -> the user to create
    for tenant_id, name, email in people:
        wanted.setdefault(tenant_id, {}).setdefault(
            email.lower(), User(tenant_id=tenant_id, name=name, email=email, created_at=now))
    found: dict[tuple[str, str], User] = {}
    for tenant_id, new in wanted.items():
        known = uow.users.by_emails(tenant_id, list(new))
        for user in uow.users.add_many([u for e, u in new.items() if e not in known]):
            known[user.email.lower()] = user
        if len(known) < len(new):   # concurrent requests created some of them first
            known.update(uow.users.by_emails(tenant_id, [e for e in new if e not in known]))
        for email in new:
            if email not in known:
                raise RuntimeError(f"user {email!r} conflicted but cannot be found")
            found[(tenant_id, email)] = known[email]
    return found


def create_user(tenant_id: str, name: str, email: str, *, uow: TicketUnitOfWork,
                idempotency_key: str | None = None) -> Created[User]:
    """A new requester, once per idempotency key; 409 (``UserExistsError``) when the tenant
    has the address already."""
    fingerprint = request_fingerprint({"name": name, "email": email})
    user = User(tenant_id=tenant_id, name=name, email=email, created_at=utcnow(),
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint if idempotency_key else None)
    with uow:
        if earlier := _earlier(uow.users, tenant_id, idempotency_key, fingerprint):
            return earlier
        if not uow.users.add(user):
            existing = uow.users.by_email(tenant_id, email)
            raise UserExistsError(email, existing.id if existing and existing.id else 0)
        uow.commit()
    logger.info("created user %s", user.id)
    return Created(user)


def get_user(tenant_id: str, user_id: int, *, uow: TicketUnitOfWork) -> User:
    with uow:
        user = uow.users.get(tenant_id, user_id)
    if user is None:
        raise UserNotFoundError(user_id)
    return user


def list_users(tenant_id: str, limit: int, before_id: int | None, email: str | None = None,
               *, uow: TicketUnitOfWork) -> list[User]:
    with uow:
        return uow.users.list(tenant_id, limit, before_id, email)


@dataclass(frozen=True)
class AddComment:
    tenant_id: str
    ticket_id: int
    author_name: str
    author_email: str
    body: str
    correlation_id: str | None = None
    actor: str | None = None
    idempotency_key: str | None = None
    author_kind: str | None = None   # None: the requester's address makes a requester, else agent


def _author_kind(cmd: AddComment, ticket: Ticket) -> str:
    if cmd.author_kind is not None:
        return cmd.author_kind
    return "requester" if cmd.author_email.lower() == ticket.user_email.lower() else "agent"


def add_comment(cmd: AddComment, *, uow: TicketUnitOfWork) -> Created[Comment]:
    """Comment on a ticket that is not closed (``TicketClosedError``), once per idempotency
    key; a change of the ticket like any other: a new version, announced (``ticket.commented``)."""
    fields = {"ticket_id": cmd.ticket_id, "author_name": cmd.author_name,
              "author_email": cmd.author_email, "body": cmd.body}
    if cmd.author_kind is not None:   # so a request without it keeps the fingerprint it had
        fields["author_kind"] = cmd.author_kind
    fingerprint = request_fingerprint(fields)
    with uow:
        if earlier := _earlier(uow.comments, cmd.tenant_id, cmd.idempotency_key, fingerprint):
            return earlier
        ticket = uow.tickets.get(cmd.tenant_id, cmd.ticket_id, for_update=True)
        if ticket is None:
            raise TicketNotFoundError(cmd.ticket_id)
        now = utcnow()
        ticket.record_comment(now)
        comment = Comment(tenant_id=cmd.tenant_id, ticket_id=cmd.ticket_id,
                          author_name=cmd.author_name, author_email=cmd.author_email,
                          body=cmd.body, created_at=now,
                          idempotency_key=cmd.idempotency_key,
                          request_fingerprint=fingerprint if cmd.idempotency_key else None,
                          author_kind=_author_kind(cmd, ticket))
        uow.comments.add(comment)
        clocks_follow(uow, ticket, now, agent_replied=comment.author_kind == "agent")
        uow.tickets.save(ticket)
        record(uow, ticket, COMMENTED, {"comment_id": comment.id,
                                        "author_email": comment.author_email,
                                        "author_kind": comment.author_kind},
               actor=cmd.actor, request_id=cmd.correlation_id)
        assert comment.id is not None
        uow.outbox.add(events.commented(ticket, comment.id, comment.author_kind,
                                        cmd.correlation_id))
        uow.commit()
    logger.info("comment %s on ticket %s", comment.id, cmd.ticket_id)
    return Created(comment)


def _require_ticket(uow: TicketUnitOfWork, tenant_id: str, ticket_id: int) -> None:
    if uow.tickets.get(tenant_id, ticket_id) is None:
        raise TicketNotFoundError(ticket_id)


def list_comments(tenant_id: str, ticket_id: int, limit: int, after_id: int | None, *,
                  uow: TicketUnitOfWork, public_only: bool = False) -> list[Comment]:
    """The ticket's comments; ``public_only`` (the requester's view) leaves internal notes out."""
    with uow:
        _require_ticket(uow, tenant_id, ticket_id)
        return uow.comments.list(tenant_id, ticket_id, limit, after_id, public_only)


def ticket_history(tenant_id: str, ticket_id: int, limit: int, after_id: int | None, *,
                   uow: TicketUnitOfWork) -> list[AuditEntry]:
    with uow:
        _require_ticket(uow, tenant_id, ticket_id)
        return uow.audit.list(tenant_id, ticket_id, limit, after_id)
