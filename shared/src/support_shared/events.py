"""The event envelope and the payload of every integration event, defined once for all services.

Routing key = event type. Payload models are frozen and reject unknown shapes, so a
malformed message is caught at the consumer's edge and dead-lettered, never half-applied.

Two kinds of event share the envelope: ticket events (``ticket.*``) carry ``ticket_id`` and
``ticket_version``; tenant events (``department.changed``) are about no ticket and carry both
as null, their own version being in their data. The envelope refuses any other mix.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError,
                      model_validator)

SCHEMA_VERSION = 1

Priority = Literal["low", "medium", "high", "critical"]
Status = Literal["pending", "in_progress", "resolved", "closed", "waiting"]
PRIORITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
STATUSES: tuple[str, ...] = ("pending", "in_progress", "resolved", "closed", "waiting")
Sentiment = Literal["negative", "neutral", "positive"]
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")


class EventType(StrEnum):
    TICKET_CREATED = "ticket.created"
    TICKET_CATEGORIZED = "ticket.categorized"
    TICKET_ROUTED = "ticket.routed"
    TICKET_STATUS_UPDATED = "ticket.status.updated"
    TICKET_UPDATED = "ticket.updated"
    TICKET_COMMENTED = "ticket.commented"
    TICKET_ROUTING_APPLIED = "ticket.routing.applied"
    TICKET_DELETED = "ticket.deleted"
    DEPARTMENT_CHANGED = "department.changed"
    REQUESTER_ERASED = "requester.erased"
    TICKET_ASSIGNED = "ticket.assigned"
    TICKET_UNASSIGNED = "ticket.unassigned"
    TICKET_ASSIGNMENT_APPLIED = "ticket.assignment.applied"
    SLA_WARNING = "sla.warning"
    SLA_BREACHED = "sla.breached"

    @property
    def about_ticket(self) -> bool:
        """A ticket event (with ``ticket_id`` and ``ticket_version``), not a tenant event."""
        return self.value.startswith("ticket.")


# A person's routing or reroute travels under a key of its own, so a consumer that learns only
# from people (the AI service's corrections) is not handed every automatic routing too.
MANUAL_ROUTING_METHODS = frozenset({"manual", "reroute"})
MANUAL_ROUTED_KEY = "ticket.routed.manual"


def routing_keys(event_type: EventType) -> tuple[str, ...]:
    """Every topic key events of ``event_type`` are published under."""
    if event_type is EventType.TICKET_ROUTED:
        return (event_type.value, MANUAL_ROUTED_KEY)
    return (event_type.value,)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class TicketCreated(_Payload):
    title: str
    description: str
    user_name: str
    user_email: str
    priority: Priority
    status: Status = "pending"
    created_at: datetime
    tags: list[str] = Field(default_factory=list)   # routing's skills policy matches them


class TicketCategorized(_Payload):
    department: str
    priority: Priority
    confidence: float = Field(ge=0.0, le=1.0)
    method: Literal["claude", "local_model", "keywords"]
    model_version: str | None = None
    requested_priority: Priority | None = None
    urgency: float | None = Field(default=None, ge=0.0, le=1.0)
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    ticket_created_at: datetime | None = None
    # Appended (optional, so older events still validate): the rule-based reading of the text
    # and whether a fallback decided although Claude was configured.
    sentiment: Sentiment | None = None
    requires_action: bool | None = None
    fallback: bool = False


class TicketRouted(_Payload):
    department: str
    previous_department: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    priority: Priority | None = None
    method: Literal["auto", "manual", "reroute"]
    categorization_method: str | None = None
    needs_review: bool = False
    routing_version: int = Field(ge=1)
    # Appended: the AI's decision, passed through by an automatic routing (``method`` auto)
    # from the ``ticket.categorized`` it answers; absent on a person's routing.
    model_version: str | None = None
    urgency: float | None = Field(default=None, ge=0.0, le=1.0)
    sentiment: Sentiment | None = None
    requires_action: bool | None = None
    fallback: bool = False


class TicketStatusUpdated(_Payload):
    old_status: Status
    new_status: Status


class DepartmentChanged(_Payload):
    """A tenant's department as it is after a change (created, edited or deactivated)."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    min_confidence: float = Field(ge=0.0, le=1.0)
    is_triage: bool = False
    active: bool = True
    version: int = Field(ge=1, description="the department's revision: newer replaces older")
    change: Literal["created", "updated"]


class FieldChange(_Payload):
    old: Any = None
    new: Any = None


class TicketUpdated(_Payload):
    """A PATCH: each changed field with its old and new value."""

    changes: dict[Literal["title", "description", "priority", "tags"], FieldChange] = Field(
        min_length=1)


class TicketCommented(_Payload):
    """A comment was added; who wrote it is named by kind only (no body, no address)."""

    comment_id: int = Field(ge=1)
    author_kind: Literal["requester", "agent", "internal"]


class TicketRoutingApplied(_Payload):
    """ticket-service applied a ``ticket.routed``: the ticket's department at its new version."""

    department: str
    routing_version: int = Field(ge=1)
    # Appended: the ticket's priority and AI status at the version this event carries (the
    # AI's priority replaces the requested one when the tenant's ``ai_priority`` is apply).
    priority: Priority | None = None
    ai_status: str | None = None
    ai_priority: Priority | None = None


class TicketDeleted(_Payload):
    deleted_at: datetime


class RequesterErased(_Payload):
    """ticket-service erased a requester's personal data; every copy of these tickets' texts
    goes too. Ids only: this event itself carries no personal data."""

    requester_id: int = Field(ge=1)
    ticket_ids: list[int] = Field(default_factory=list)
    dead_letters: bool = False
AssignmentMethod = Literal["auto", "manual"]


class TicketAssigned(_Payload):
    """routing-service gave the ticket to an agent (a decision, like ``ticket.routed``): the
    newest ``assignment_version`` of a ticket wins."""

    agent_id: int = Field(ge=1)
    agent_name: str
    department: str
    previous_agent_id: int | None = None
    method: AssignmentMethod
    policy: str
    assignment_version: int = Field(ge=1)


class TicketUnassigned(_Payload):
    """routing-service took the ticket from its agent (away, rerouted, reopened, by hand); it
    waits in ``department``'s queue."""

    previous_agent_id: int = Field(ge=1)
    department: str | None = None
    reason: Literal["agent_away", "rerouted", "reopened", "manual"]
    assignment_version: int = Field(ge=1)


class TicketAssignmentApplied(_Payload):
    """ticket-service applied a ``ticket.assigned``/``ticket.unassigned``: the ticket's
    assignee (None: nobody) at its new version."""

    assignee_id: int | None = None
    assignee_name: str | None = None
    assignment_version: int = Field(ge=1)


class SlaTimerEvent(_Payload):
    """A ticket's service-level clock reached a moment (a tenant event: the ticket is in the
    data, not the envelope, as the clock takes no ticket version)."""

    ticket_id: int = Field(ge=1)
    kind: Literal["first_response", "resolution"]
    target_minutes: float = Field(gt=0)
    due_at: datetime
    department: str | None = None
    priority: Priority


class SlaWarning(SlaTimerEvent):
    """80% of the target is used (``warning_at``); the breach is due at ``due_at``."""

    warning_at: datetime


class SlaBreached(SlaTimerEvent):
    """The target passed (at ``due_at``) before the clock stopped."""


Payload = _Payload   # the public name of every payload's base, for type hints

PAYLOAD_TYPES: dict[EventType, type[_Payload]] = {
    EventType.TICKET_CREATED: TicketCreated,
    EventType.TICKET_CATEGORIZED: TicketCategorized,
    EventType.TICKET_ROUTED: TicketRouted,
    EventType.TICKET_STATUS_UPDATED: TicketStatusUpdated,
    EventType.DEPARTMENT_CHANGED: DepartmentChanged,
    EventType.TICKET_UPDATED: TicketUpdated,
    EventType.TICKET_COMMENTED: TicketCommented,
    EventType.TICKET_ROUTING_APPLIED: TicketRoutingApplied,
    EventType.TICKET_DELETED: TicketDeleted,
    EventType.REQUESTER_ERASED: RequesterErased,
    EventType.TICKET_ASSIGNED: TicketAssigned,
    EventType.TICKET_UNASSIGNED: TicketUnassigned,
    EventType.TICKET_ASSIGNMENT_APPLIED: TicketAssignmentApplied,
    EventType.SLA_WARNING: SlaWarning,
    EventType.SLA_BREACHED: SlaBreached,
}


class Envelope(BaseModel):
    """What travels on the wire: metadata plus one event's ``data``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID
    event_type: EventType
    schema_version: int = SCHEMA_VERSION
    occurred_at: datetime
    tenant_id: str = Field(min_length=1, max_length=64)
    # Null only on tenant events (see the module docstring); set on every ticket event.
    ticket_id: int | None = Field(default=None, ge=1)
    ticket_version: int | None = Field(default=None, ge=1)
    correlation_id: str | None = None
    causation_id: str | None = None
    data: dict[str, Any]
    _payload: _Payload | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _ticket_fields_fit_kind(self) -> "Envelope":
        has_ticket = (self.ticket_id is not None, self.ticket_version is not None)
        wanted = self.event_type.about_ticket
        if has_ticket != (wanted, wanted):
            raise ValueError(f"{self.event_type} needs ticket_id and ticket_version"
                             if wanted else f"{self.event_type} carries no ticket_id or version")
        return self

    def __eq__(self, other: object) -> bool:
        """Equal fields (the validated-payload cache does not count)."""
        if isinstance(other, Envelope):
            return self.__dict__ == other.__dict__
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.event_id)

    @property
    def routing_key(self) -> str:
        """The topic key it is published under: its type, except a person's routing."""
        if (self.event_type is EventType.TICKET_ROUTED
                and self.data.get("method") in MANUAL_ROUTING_METHODS):
            return MANUAL_ROUTED_KEY
        return self.event_type.value

    def payload(self) -> _Payload:
        """The typed ``data`` of this event; raises ``InvalidEventError`` if it does not fit.

        Validated once per envelope (a batch's prepare step and its handler both ask)."""
        if self._payload is None:
            try:
                self._payload = PAYLOAD_TYPES[self.event_type].model_validate(self.data)
            except ValidationError as exc:
                raise InvalidEventError(
                    f"{self.event_type} data invalid: {_problems(exc)}") from exc
        return self._payload

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


class InvalidEventError(ValueError):
    """A message that can never be processed: not JSON, wrong envelope or wrong data."""


def _problems(exc: ValidationError) -> str:
    """Where and why validation failed, without the values (they may be personal data, and
    this text reaches logs and dead-letter headers)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                     for e in exc.errors(include_url=False, include_input=False))


def new_event(
    event_type: EventType,
    payload: _Payload,
    *,
    tenant_id: str,
    ticket_id: int | None,
    ticket_version: int | None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """A new event; ``ticket_id`` and ``ticket_version`` are None for a tenant event."""
    if not isinstance(payload, PAYLOAD_TYPES[event_type]):
        raise TypeError(f"{event_type} needs {PAYLOAD_TYPES[event_type].__name__}")
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        occurred_at=occurred_at or utcnow(),
        tenant_id=tenant_id,
        ticket_id=ticket_id,
        ticket_version=ticket_version,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=payload.model_dump(mode="json"),
    )


def decode(body: bytes) -> Envelope:
    """Parse and validate one message body (envelope and its data)."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidEventError(f"body is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidEventError("body is not a JSON object")
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEventError(f"envelope invalid: {_problems(exc)}") from exc
    if envelope.schema_version > SCHEMA_VERSION:
        raise InvalidEventError(f"unsupported schema_version {envelope.schema_version}")
    envelope.payload()
    return envelope
