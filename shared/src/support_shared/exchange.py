"""Bulk exchange with other systems: the batch upsert's items and answer, the export's query."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, EmailStr, Field, field_validator, model_validator

from .events import Priority
from .schemas import MAX_ID, Description, Name, Tags, Title, Ticket, _Strict

MAX_BATCH = 1000
# 1,000 items of up to 10,000 characters of description each, with room for the rest.
MAX_BATCH_BYTES = 16 * 1024 * 1024
SOURCE_PATTERN = r"^[a-z0-9_.-]{1,64}$"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
UPSERT_STATUSES = ("created", "updated", "unchanged")


class TicketUpsert(_Strict):
    """One item of a batch: a ticket create, optionally naming the ticket in another system.

    With ``source`` and ``external_id`` (both or neither) the item creates the tenant's ticket
    with that pair, or updates it: title, description, priority and tags. ``external_updated_at``
    (the other system's change time) keeps an older copy from overwriting a newer one;
    ``expected_version`` refuses the update unless the ticket is at that version.
    """

    title: Title
    description: Description
    user_name: Name
    user_email: EmailStr
    priority: Priority = "medium"
    tags: Tags = Field(default_factory=list)
    source: str | None = Field(None, pattern=SOURCE_PATTERN,
                               description="The system the ticket comes from, e.g. zendesk")
    external_id: str | None = Field(None, min_length=1, max_length=200,
                                    description="The ticket's id in that system")
    external_updated_at: AwareDatetime | None = Field(
        None, description="When that system last changed it: an older copy never overwrites "
                          "a newer one")
    expected_version: int | None = Field(None, ge=1, le=MAX_ID, strict=True,
                                         description="Update only a ticket at this version")

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        if len(set(tags)) != len(tags):
            raise ValueError("tags must be unique")
        return tags

    @model_validator(mode="after")
    def _pair(self) -> "TicketUpsert":
        if (self.source is None) != (self.external_id is None):
            raise ValueError("send source and external_id together, or neither")
        if self.source is None and (self.external_updated_at or self.expected_version):
            raise ValueError("external_updated_at and expected_version need source and "
                             "external_id")
        return self

    @property
    def key(self) -> tuple[str, str] | None:
        return (self.source, self.external_id) if self.source and self.external_id else None


class TicketBatch(BaseModel):
    """The request body (as documented): 1 to 1,000 objects, each a ``TicketUpsert`` validated
    on its own, so an object that is not a valid item is that item's error, not the batch's."""

    tickets: list[TicketUpsert | dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class TicketBatchEnvelope(BaseModel):
    """What the body must be before any item is looked at: a list of 1 to 1,000 objects."""

    model_config = {"extra": "forbid"}

    tickets: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class ItemError(BaseModel):
    code: str
    message: str
    details: Any = None


class BatchItemResult(BaseModel):
    index: int
    status: Literal["created", "updated", "unchanged", "error"]
    id: int | None = None
    version: int | None = None
    error: ItemError | None = None


class BatchCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0


class BatchResult(BaseModel):
    results: list[BatchItemResult]
    counts: BatchCounts


class ExportQuery(BaseModel):
    """``updated_since`` (or a ``cursor`` from an earlier export), the format, a row limit."""

    model_config = {"extra": "ignore"}

    updated_since: AwareDatetime | None = None
    format: Literal["jsonl", "csv"] = "jsonl"
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(10_000, ge=1, le=100_000)

    @field_validator("updated_since", mode="before")
    @classmethod
    def _iso_text_only(cls, value: Any) -> Any:
        """An ISO 8601 time, not a number read as a Unix time (``0.5`` would be 1970)."""
        if value is not None and not isinstance(value, str | datetime):
            raise ValueError("send an ISO 8601 date-time with a zone")
        if isinstance(value, str) and not _ISO_DATE.match(value):
            raise ValueError("send an ISO 8601 date-time with a zone")
        return value


class ExportRecord(BaseModel):
    """One line of a JSON Lines export: the ticket, and the cursor that resumes after it."""

    ticket: Ticket
    cursor: str
