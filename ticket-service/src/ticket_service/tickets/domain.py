"""The ticket aggregate: lifecycle, edits, routing updates, idempotency, and the errors it raises."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

# What a client may edit after creation (PATCH); the rest is written by the lifecycle and routing.
EDITABLE: tuple[str, ...] = ("title", "description", "priority", "tags")

# Every move a ticket may make; anything else (including staying put) is refused. Closed is
# final: nothing but this explicit reopen (closed -> in_progress) changes a closed ticket.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("in_progress",),
    "in_progress": ("resolved", "waiting"),
    "resolved": ("closed", "in_progress"),
    "closed": ("in_progress",),
    # An agent waits on the requester: the resolution clock pauses (see ..sla).
    "waiting": ("in_progress",),
}
CLOSED = "closed"


class DomainError(Exception):
    """Base of the errors the ticket rules raise."""


class InvalidTransitionError(DomainError):
    def __init__(self, from_status: str, to_status: str) -> None:
        self.from_status = from_status
        self.to_status = to_status
        self.allowed = TRANSITIONS.get(from_status, ())
        super().__init__(f"a {from_status} ticket cannot move to {to_status}")


class TicketClosedError(DomainError):
    """A closed ticket takes no edits or comments (and is not rerouted) until it is reopened."""

    def __init__(self, ticket_id: int | None) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"ticket {ticket_id} is closed: reopen it (PUT .../status "
                         "{\"status\": \"in_progress\"}) or open a follow-up ticket "
                         "(follow_up_of)")


class FollowUpNotFoundError(DomainError):
    """``follow_up_of`` names no ticket of the tenant."""

    def __init__(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"follow_up_of: ticket {ticket_id} not found")


class TicketNotFoundError(DomainError):
    def __init__(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"ticket {ticket_id} not found")


class VersionMismatchError(DomainError):
    def __init__(self, current: int, expected: frozenset[int]) -> None:
        self.current = current
        self.expected = expected
        super().__init__(f"ticket is at version {current}, not {sorted(expected)}")


class IdempotencyKeyReusedError(DomainError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class IdempotencyKeyInFlightError(DomainError):
    """Another request with the same key is still being processed (not committed yet)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"a request with idempotency key {key!r} is still in progress; "
                         "retry shortly to get its result")


def request_fingerprint(fields: Mapping[str, Any]) -> str:
    """Stable hash of a create request, to tell a replay from a reuse of its idempotency key."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class AiDecision:
    """What the AI decided about a ticket, passed on by an automatic routing."""

    outcome: str                 # "categorized", or "fallback": Claude wanted, a fallback decided
    priority: str | None
    confidence: float | None
    model_version: str | None = None
    urgency: float | None = None
    sentiment: str | None = None
    requires_action: bool | None = None


@dataclass(frozen=True)
class Routing:
    """Where the routing service sent a ticket, as of ``routing_version``."""

    department: str
    confidence: float | None
    needs_review: bool
    categorization_method: str | None
    routing_version: int
    decision: AiDecision | None = None   # None: a person's routing, the AI's stays as it was


@dataclass
class Ticket:
    tenant_id: str
    title: str
    description: str
    user_name: str
    user_email: str
    priority: str
    created_at: datetime
    updated_at: datetime
    status: str = "pending"
    id: int | None = None
    department: str | None = None
    confidence_score: float | None = None
    categorization_method: str | None = None
    needs_review: bool = False
    routing_version: int = 0
    version: int = 1
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    requester_id: int | None = None
    tags: list[str] = field(default_factory=list)
    follow_up_of: int | None = None
    deleted_at: datetime | None = None
    # The AI's decision (migration 0008_ai_decision); ai_outcome None: none arrived yet.
    requested_priority: str | None = None
    ai_outcome: str | None = None
    ai_priority: str | None = None
    ai_confidence: float | None = None
    ai_model_version: str | None = None
    ai_urgency: float | None = None
    ai_priority_applied: bool = False
    sentiment: str | None = None
    requires_action: bool | None = None
    priority_edited: bool = False     # a person changed the priority: the AI's no longer does
    source: str | None = None                   # the system it came from (batch upsert)
    external_id: str | None = None              # its id there; unique per tenant and source
    external_updated_at: datetime | None = None  # its last change there, as that system says
    assignee_id: int | None = None          # routing-service's agent; None: nobody
    assignee_name: str | None = None
    assignment_version: int = 0
    # Set by the service-level clocks (..sla) in the transaction of each change; None while
    # a clock is paused or stopped.
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None

    @classmethod
    def open(cls, tenant_id: str, fields: Mapping[str, Any], now: datetime,
             idempotency_key: str | None = None, requester_id: int | None = None) -> "Ticket":
        """A new pending ticket at version 1 from the validated create ``fields``."""
        return cls(
            tenant_id=tenant_id,
            title=fields["title"],
            description=fields["description"],
            user_name=fields["user_name"],
            user_email=fields["user_email"],
            priority=fields["priority"],
            requested_priority=fields["priority"],
            created_at=now,
            updated_at=now,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint(fields),
            requester_id=requester_id,
            follow_up_of=fields.get("follow_up_of"),
        )

    def same_request(self, fingerprint: str) -> bool:
        return self.request_fingerprint == fingerprint

    def require_version(self, expected: frozenset[int] | None) -> None:
        """Raise unless the caller saw the current version (``None``: no precondition)."""
        if expected is not None and self.version not in expected:
            raise VersionMismatchError(self.version, expected)

    @property
    def closed(self) -> bool:
        return self.status == CLOSED

    def require_open(self) -> None:
        """Raise ``TicketClosedError`` for a closed ticket."""
        if self.closed:
            raise TicketClosedError(self.id)

    def change_status(self, new_status: str, now: datetime) -> str:
        """Move to ``new_status`` if the lifecycle allows it; return the old status."""
        if new_status not in TRANSITIONS.get(self.status, ()):
            raise InvalidTransitionError(self.status, new_status)
        old_status = self.status
        self.status = new_status
        self._touch(now)
        return old_status

    def edit(self, changes: Mapping[str, Any], now: datetime) -> dict[str, dict[str, Any]]:
        """Apply the editable ``changes`` that differ; return ``{field: {"old", "new"}}``.

        The version moves only when something really changed, so a repeated PATCH is a no-op.
        """
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        self.require_open()
        changed: dict[str, dict[str, Any]] = {}
        for name in EDITABLE:
            if name in changes and changes[name] != getattr(self, name):
                new = list(changes[name]) if name == "tags" else changes[name]
                changed[name] = {"old": getattr(self, name), "new": new}
                setattr(self, name, new)
        if "priority" in changed:
            self.requested_priority = self.priority
            self.priority_edited = True
            self.ai_priority_applied = False
        if changed:
            self._touch(now)
        return changed

    @property
    def ai_status(self) -> str:
        """pending, categorized, fallback, or needs_review (routing sent it to triage)."""
        if self.needs_review:
            return "needs_review"
        return self.ai_outcome or "pending"

    @property
    def ai(self) -> dict[str, Any] | None:
        """The AI's decision as the API shows it; None while none arrived."""
        if self.ai_outcome is None:
            return None
        return {"method": self.categorization_method, "model_version": self.ai_model_version,
                "confidence": self.ai_confidence, "priority": self.ai_priority,
                "urgency": self.ai_urgency, "priority_applied": self.ai_priority_applied}

    def apply_routing(self, routing: Routing, now: datetime,
                      ai_priority_mode: str = "suggest") -> bool:
        """Take a routing decision unless a newer one was applied; True if it changed the ticket.

        An automatic routing brings the AI's decision; with ``ai_priority_mode`` apply, its
        priority replaces the requested one unless a person edited the priority meanwhile."""
        if routing.routing_version <= self.routing_version:
            return False
        self.department = routing.department
        self.confidence_score = routing.confidence
        self.needs_review = routing.needs_review
        self.categorization_method = routing.categorization_method
        self.routing_version = routing.routing_version
        if routing.decision is not None:
            self._take_decision(routing.decision, ai_priority_mode == "apply")
        self._touch(now)
        return True

    def _take_decision(self, decision: AiDecision, apply_priority: bool) -> None:
        self.ai_outcome = decision.outcome
        self.ai_priority = decision.priority
        self.ai_confidence = decision.confidence
        self.ai_model_version = decision.model_version
        self.ai_urgency = decision.urgency
        self.sentiment = decision.sentiment
        self.requires_action = decision.requires_action
        if apply_priority and decision.priority is not None and not self.priority_edited:
            self.priority = decision.priority
            self.ai_priority_applied = True

    @property
    def assignee(self) -> dict[str, Any] | None:
        """The public ``assignee`` (id and name), None when nobody works the ticket."""
        if self.assignee_id is None:
            return None
        return {"id": self.assignee_id, "name": self.assignee_name}

    def apply_assignment(self, agent_id: int | None, agent_name: str | None,
                         assignment_version: int, now: datetime) -> bool:
        """Take an assignment decision unless a newer one was applied; True if it changed the
        ticket (a new version)."""
        if assignment_version <= self.assignment_version:
            return False
        self.assignee_id, self.assignee_name = agent_id, agent_name
        self.assignment_version = assignment_version
        self._touch(now)
        return True

    def record_comment(self, now: datetime) -> None:
        """A comment was added: a change of the ticket like any other, so a new version."""
        self.require_open()
        self._touch(now)

    def delete(self, now: datetime) -> None:
        """Soft-delete: the row stays (its events keep their versions), every read hides it."""
        self.deleted_at = now
        self._touch(now)

    def _touch(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now
