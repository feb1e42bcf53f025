"""Public shapes of integration-service: sources, ingestion jobs, webhook subscriptions.

integration-service validates with them and the gateway documents them (OpenAPI). Secrets
(source credentials, inbound webhook secrets) are write-only: no response model has them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from .manifest import WEBHOOK_EVENTS
from .schemas import _Strict

SourceName = Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,64}$")]
EventName = Literal[tuple(e.value for e in WEBHOOK_EVENTS)]  # type: ignore[valid-type]
TICKET_FIELDS = ("external_id", "title", "description", "user_name", "user_email",
                 "priority", "tags", "external_updated_at")
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "abandoned"]


class Credentials(_Strict):
    """How to authenticate to the source: bearer token, basic, or one named header."""

    type: Literal["bearer", "basic", "header"]
    token: str | None = Field(None, max_length=4000)
    username: str | None = Field(None, max_length=500)
    password: str | None = Field(None, max_length=4000)
    header: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,100}$")
    value: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _complete(self) -> Credentials:
        needed = {"bearer": ("token",), "basic": ("username", "password"),
                  "header": ("header", "value")}[self.type]
        if any(getattr(self, name) in (None, "") for name in needed):
            raise ValueError(f"{self.type} credentials need {', '.join(needed)}")
        return self


class Pagination(_Strict):
    """How a generic JSON API pages: ``page`` numbers, a ``cursor`` in the body, or ``link``
    (the RFC 8288 ``Link: <...>; rel="next"`` header)."""

    style: Literal["page", "cursor", "link"] = "page"
    records_path: str = Field("", max_length=200, description="dotted path of the record list "
                                                              "in the body; empty: the body")
    page_param: str = Field("page", max_length=50)
    size_param: str = Field("per_page", max_length=50)
    page_size: int = Field(100, ge=1, le=1000)
    first_page: int = Field(1, ge=0)
    cursor_param: str = Field("cursor", max_length=50)
    next_cursor_path: str = Field("next_cursor", max_length=200)


class SourceCreate(_Strict):
    name: SourceName
    kind: Literal["zendesk", "json_api"]
    base_url: HttpUrl
    path: str = Field("", max_length=500, description="json_api: the list path under base_url")
    pagination: Pagination = Field(default_factory=Pagination)
    field_map: dict[str, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, description=f"ticket field -> dotted path in a record; fields: "
                                          f"{', '.join(TICKET_FIELDS)}")
    defaults: dict[str, Any] = Field(default_factory=dict,
                                     description="values for fields a record lacks")
    priority_map: dict[str, str] = Field(default_factory=dict,
                                         description="source priority -> low|medium|high|critical")
    credentials: Credentials | None = None
    webhook_secret: str | None = Field(None, min_length=16, max_length=200)
    schedule_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _known_fields(self) -> SourceCreate:
        unknown = (set(self.field_map) | set(self.defaults)) - set(TICKET_FIELDS)
        if unknown:
            raise ValueError(f"unknown ticket fields: {', '.join(sorted(unknown))}")
        return self


class SourcePatch(_Strict):
    base_url: HttpUrl | None = None
    path: str | None = Field(None, max_length=500)
    pagination: Pagination | None = None
    field_map: dict[str, str] | None = None
    defaults: dict[str, Any] | None = None
    priority_map: dict[str, str] | None = None
    credentials: Credentials | None = None
    webhook_secret: str | None = Field(None, min_length=16, max_length=200)
    schedule_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    reset_cursor: bool = False


class Source(BaseModel):
    name: str
    kind: str
    base_url: str
    path: str
    pagination: Pagination
    field_map: dict[str, str]
    defaults: dict[str, Any]
    priority_map: dict[str, str]
    has_credentials: bool
    has_webhook_secret: bool
    schedule_minutes: int | None
    cursor: str | None
    next_sync_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SourceList(BaseModel):
    sources: list[Source]
    next_cursor: str | None


class IngestionStart(_Strict):
    source: SourceName


class Counts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0


class Ingestion(BaseModel):
    id: str
    source: str
    status: JobStatus
    trigger: Literal["api", "schedule"]
    pages: int
    counts: Counts
    errors: list[dict[str, Any]]
    cursor: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class IngestionLog(BaseModel):
    at: datetime
    level: str
    message: str


class IngestionLogList(BaseModel):
    logs: list[IngestionLog]
    next_cursor: str | None


class WebhookCreate(_Strict):
    url: HttpUrl
    event_types: list[EventName] = Field(min_length=1, max_length=len(WEBHOOK_EVENTS))
    active: bool = True
    description: str = Field("", max_length=500)


class WebhookPatch(_Strict):
    url: HttpUrl | None = None
    event_types: list[EventName] | None = Field(None, min_length=1,
                                                max_length=len(WEBHOOK_EVENTS))
    active: bool | None = None
    description: str | None = Field(None, max_length=500)


class Webhook(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    url: str
    event_types: list[str]
    active: bool
    description: str
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(Webhook):
    secret: str = Field(description="the signing secret: shown once, at creation")


class WebhookList(BaseModel):
    webhooks: list[Webhook]
    next_cursor: str | None


class Delivery(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    deliveries: list[Delivery]
    next_cursor: str | None


class InboundAccepted(BaseModel):
    id: str
    status: Literal["accepted"]
