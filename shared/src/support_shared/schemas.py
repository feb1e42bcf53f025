"""Public request and response shapes: services validate with them, the gateway documents them."""
from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StrictBool,
                      StrictFloat, field_validator, model_validator)

from .events import Priority, Sentiment, Status

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_TAGS = 10
MAX_TAG_LENGTH = 32
MAX_COMMENT_LENGTH = 5000
MAX_ID = 2**63 - 1
AssignmentPolicy = Literal["manual", "round_robin", "least_loaded", "skills"]
AuditAction = Literal["created", "status_changed", "updated", "routed", "commented", "deleted",
                      "assigned"]


def _refuse_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL: refuse it as bad input rather than fail on insert."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    if isinstance(value, list):
        for item in value:
            _refuse_nul(item)
    return value


class _NoNul(BaseModel):
    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _refuse_nul(value)


class _Strict(_NoNul):
    """Unknown fields are refused, so clients cannot set server-owned ones."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Characters that only steer display (bidi overrides and isolates) are as unwelcome in a one-line
# label as control characters, which include the ESC of terminal escape sequences.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")   # fillers that render blank


def _visible(char: str) -> bool:
    return not (char.isspace() or char in _INVISIBLE
                or unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp", "Mn"))


def _plain_label(value: str) -> str:
    """A one-line name or title: no control characters, and something visible in it."""
    if any(unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS for c in value):
        raise ValueError("control characters and escape sequences are not allowed")
    if not any(_visible(c) for c in value):
        raise ValueError("must contain visible characters")
    return value


Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_label)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_label)]
Description = Annotated[str, Field(min_length=1, max_length=10_000)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_LENGTH)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS, json_schema_extra={"uniqueItems": True})]


def _no_defaults(schema: dict[str, Any]) -> None:
    """Optional fields of a patch have no default to document (absent means unchanged)."""
    schema["minProperties"] = 1
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class TicketCreate(_Strict):
    title: Title
    description: str = Field(min_length=1, max_length=10_000)
    user_name: Name
    user_email: EmailStr
    priority: Priority = "medium"
    # A closed ticket stays closed: a new problem about it is a new ticket that refers to it.
    follow_up_of: int | None = Field(None, ge=1, le=MAX_ID, strict=True,
                                     description="The id of an earlier ticket (often a closed "
                                                 "one) this one follows up")


class TicketPatch(_Strict):
    """A partial edit: only the fields sent change (at least one)."""

    model_config = ConfigDict(json_schema_extra=_no_defaults)

    # Absent fields stay None (defaults are not validated); a JSON null is refused as a bad type.
    title: Title = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    priority: Priority = None  # type: ignore[assignment]
    tags: Tags = None  # type: ignore[assignment]

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        if len(set(tags)) != len(tags):
            raise ValueError("tags must be unique")
        return tags

    @model_validator(mode="after")
    def _not_empty(self) -> "TicketPatch":
        if not self.model_fields_set:
            raise ValueError("send at least one of title, description, priority, tags")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, as plain JSON values."""
        return self.model_dump(mode="json", include=self.model_fields_set)


class StatusUpdate(_Strict):
    status: Status


class RouteRequest(_Strict):
    ticket_id: int = Field(ge=1, le=MAX_ID, strict=True)  # "8157" and true are not ids
    department: str = Field(min_length=1, max_length=100)


class RerouteRequest(_Strict):
    department: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_plain_label)]


DepartmentName = Annotated[str, Field(min_length=1, max_length=100),
                          AfterValidator(_plain_label)]
Keyword = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_plain_label)]
MAX_KEYWORDS = 100


def _clean_keywords(keywords: list[str]) -> list[str]:
    """Trimmed, without repeats (case-insensitive), in the order given."""
    seen: dict[str, str] = {}
    for keyword in keywords:
        seen.setdefault(keyword.strip().lower(), keyword.strip())
    return list(seen.values())


Keywords = Annotated[list[Keyword], Field(max_length=MAX_KEYWORDS),
                     AfterValidator(_clean_keywords)]


class DepartmentCreate(_Strict):
    name: DepartmentName
    description: str = Field("", max_length=1000)
    keywords: Keywords = Field(default_factory=list,
                               description="Words and phrases that point to this department "
                                           "(the AI service's keyword rules)")
    min_confidence: StrictFloat = Field(0.5, ge=0.0, le=1.0, description="Below this "
                                        "confidence a "
                                  "categorization goes to triage for review")
    active: StrictBool = True
    assignment_policy: AssignmentPolicy = Field("manual", description="How its tickets find "
                                                "agents")


class DepartmentPatch(_Strict):
    """A partial edit (at least one field); ``{"active": false}`` deactivates. The name is the
    department's identity and does not change."""

    model_config = ConfigDict(json_schema_extra=_no_defaults)

    description: str = Field(None, max_length=1000)  # type: ignore[assignment]
    keywords: Keywords = None  # type: ignore[assignment]
    min_confidence: StrictFloat = Field(None, ge=0.0, le=1.0)  # type: ignore[assignment]
    active: StrictBool = None  # type: ignore[assignment]
    assignment_policy: AssignmentPolicy = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _not_empty(self) -> "DepartmentPatch":
        if not self.model_fields_set:
            raise ValueError("send at least one of description, keywords, min_confidence, "
                             "active, assignment_policy")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=self.model_fields_set)


class TriageRequest(_Strict):
    """``confirm`` the ticket's department (``department``, if given, must be it) or
    ``reroute`` it to ``department``."""

    action: Literal["confirm", "reroute"]
    department: DepartmentName | None = None

    @model_validator(mode="after")
    def _reroute_needs_department(self) -> "TriageRequest":
        if self.action == "reroute" and self.department is None:
            raise ValueError("reroute needs a department")
        return self


class CategorizeRequest(_Strict):
    title: Title
    description: str = Field(min_length=1, max_length=10_000)


AuthorKind = Literal["requester", "agent", "internal"]


class CommentCreate(_Strict):
    author_name: Name
    author_email: EmailStr
    body: str = Field(min_length=1, max_length=MAX_COMMENT_LENGTH)
    # requester, agent (a public reply) or internal (a note the requester's view never shows);
    # absent: requester when author_email is the ticket's requester's, else agent
    author_kind: AuthorKind | None = None


class UserCreate(_Strict):
    name: Name
    email: EmailStr


class Page(_NoNul):
    """``limit`` and an opaque ``cursor`` taken from a previous page's ``next_cursor``."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=200)


# pending: no decision yet; categorized: the method the suite wanted decided; fallback: Claude
# was configured but a fallback decided; needs_review: routing sent it to triage.
AiStatus = Literal["pending", "categorized", "fallback", "needs_review"]
AI_STATUSES: tuple[str, ...] = ("pending", "categorized", "fallback", "needs_review")


class TicketQuery(Page):
    status: Status | None = None
    priority: Priority | None = None
    department: str | None = Field(None, max_length=100)
    q: str | None = Field(None, min_length=1, max_length=200)
    tag: str | None = Field(None, min_length=1, max_length=MAX_TAG_LENGTH)
    requester_id: int | None = Field(None, ge=1, le=MAX_ID)
    ai_status: AiStatus | None = None
    sentiment: Sentiment | None = None
    requires_action: bool | None = None


class CommentQuery(Page):
    # requester: the requester's view of the conversation, internal notes left out
    view: Literal["agent", "requester"] = "agent"


class UserQuery(Page):
    email: str | None = Field(None, min_length=1, max_length=320)


class TrendsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    days: int = Field(7, ge=1, le=365)


class AiDecision(BaseModel):
    """The AI's decision on a ticket as ticket-service applied it (routing passed it on)."""

    method: str | None = None
    model_version: str | None = None
    confidence: float | None = None
    priority: Priority | None = None
    urgency: float | None = None
    priority_applied: bool = Field(False, description="the AI's priority replaced the "
                                   "requested one (tenant setting ai_priority: apply)")


class TicketAssigneeRef(BaseModel):
    """The agent working a ticket (routing-service's agent id and name)."""

    id: int
    name: str | None = None


class Ticket(BaseModel):
    id: int
    title: str
    description: str
    user_name: str
    user_email: str
    requester_id: int | None
    department: str | None
    confidence_score: float | None
    priority: Priority
    status: Status
    tags: list[str]
    needs_review: bool
    categorization_method: str | None
    version: int
    follow_up_of: int | None = None
    created_at: datetime
    updated_at: datetime
    # AI-decision fields (appended): the decision beside what the requester asked for.
    ai_status: AiStatus = "pending"
    requested_priority: Priority | None = None
    ai: AiDecision | None = None
    sentiment: Sentiment | None = None
    requires_action: bool | None = None
    source: str | None = None
    external_id: str | None = None
    assignee: TicketAssigneeRef | None = None
    # service levels: null while the clock is paused (waiting, resolved) or stopped (answered)
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None


class TicketList(BaseModel):
    tickets: list[Ticket]
    count: int
    next_cursor: str | None


class Comment(BaseModel):
    id: int
    ticket_id: int
    author_name: str
    author_email: str
    body: str
    created_at: datetime
    author_kind: AuthorKind = "agent"


class CommentList(BaseModel):
    comments: list[Comment]
    count: int
    next_cursor: str | None


class User(BaseModel):
    id: int
    name: str
    email: str
    created_at: datetime
    erased_at: datetime | None = Field(None, description="When the requester's personal data "
                                       "was erased (name and email then read [erased])")


class UserList(BaseModel):
    users: list[User]
    count: int
    next_cursor: str | None


class AuditEntry(BaseModel):
    id: int
    action: AuditAction
    ticket_version: int
    details: dict[str, Any]
    actor: str | None
    request_id: str | None
    occurred_at: datetime


class TicketHistory(BaseModel):
    ticket_id: int
    history: list[AuditEntry]
    count: int
    next_cursor: str | None


class Categorization(BaseModel):
    department: str
    priority: Priority
    confidence: float
    method: Literal["claude", "local_model", "keywords"]
    model_version: str | None = None
    urgency: float | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object | None = None


class Error(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    services: dict[str, dict]
    postgresql: Literal["ok", "down"]
    rabbitmq: Literal["ok", "down"]


class ErasureRequest(_Strict):
    """``POST /api/users/{id}/erase``; an empty body means the defaults."""

    dead_letters: StrictBool = Field(False, description="Also remove the dead letters of the "
                                     "requester's tickets from every dead-letter queue")


class DeadLetterErasure(BaseModel):
    removed: int = Field(description="Dead messages of the requester's tickets removed")
    queues: dict[str, int] = Field(description="Removed per dead-letter queue (non-zero only)")


class RequesterErasure(BaseModel):
    """What an erasure did in ticket-service (the other services follow on
    ``requester.erased``); erasing again is harmless and announces it again."""

    user: User
    ticket_ids: list[int] = Field(description="The requester's tickets, whose texts now read "
                                  "[erased] everywhere (the tickets stay, so counts stay)")
    rows: dict[str, int] = Field(description="Rows overwritten per ticket-service table")
    event_id: str = Field(description="The requester.erased event the other services act on")
    dead_letters: DeadLetterErasure | None = Field(
        None, description="Only when asked for with dead_letters: true")
AiPriorityMode = Literal["suggest", "apply"]


class TenantSettings(BaseModel):
    """A tenant's settings. ``ai_priority``: ``suggest`` shows the AI's priority beside the
    requested one; ``apply`` makes it the ticket's priority when the decision arrives."""

    model_config = ConfigDict(extra="forbid")

    ai_priority: AiPriorityMode


class StoredCategorization(Categorization):
    """A ticket's stored categorization (``GET /api/tickets/{id}/categorization``)."""

    ticket_id: int
    requested_priority: Priority | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    source_event_id: str
    created_at: datetime
