"""What hangs off a ticket: requesters (users), comments and the audit trail (plain Python)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..tickets.domain import DomainError

# Audit actions, in the words the history endpoint shows.
CREATED = "created"
STATUS_CHANGED = "status_changed"
UPDATED = "updated"
ROUTED = "routed"
COMMENTED = "commented"
DELETED = "deleted"
ASSIGNED = "assigned"

AUTHOR_KINDS: tuple[str, ...] = ("requester", "agent", "internal")
INTERNAL = "internal"


class UserExistsError(DomainError):
    def __init__(self, email: str, user_id: int) -> None:
        self.email = email
        self.user_id = user_id
        super().__init__(f"a user with email {email!r} already exists")


class UserNotFoundError(DomainError):
    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        super().__init__(f"user {user_id} not found")


@dataclass
class User:
    """A requester: the person tickets are opened for; one per e-mail address and tenant."""

    tenant_id: str
    name: str
    email: str
    created_at: datetime
    id: int | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    erased_at: datetime | None = None


@dataclass
class Comment:
    tenant_id: str
    ticket_id: int
    author_name: str
    author_email: str
    body: str
    created_at: datetime
    id: int | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    # requester, agent (a public reply: the first one stops the first-response clock) or
    # internal (a note the requester's view never shows)
    author_kind: str = "agent"


@dataclass
class AuditEntry:
    """One change of a ticket, written in the transaction that made it."""

    tenant_id: str
    ticket_id: int
    action: str
    ticket_version: int
    occurred_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    request_id: str | None = None
    id: int | None = None
