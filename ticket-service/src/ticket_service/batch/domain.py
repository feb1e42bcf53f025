"""What one batch item does to the ticket it names: create, update, nothing, or an error."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from support_shared.exchange import TicketUpsert

from ..tickets.domain import EDITABLE, Ticket

CREATED, UPDATED, UNCHANGED, ERROR = "created", "updated", "unchanged", "error"


@dataclass(frozen=True)
class ItemOutcome:
    """The result of one item, by its index in the batch."""

    index: int
    status: str
    ticket_id: int | None = None
    version: int | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.status == ERROR:
            out["error"] = self.error
        else:
            out.update(id=self.ticket_id, version=self.version)
        return out


def item_error(index: int, code: str, message: str, details: Any = None) -> ItemOutcome:
    return ItemOutcome(index, ERROR, error={"code": code, "message": message,
                                            "details": details})


def mapped_fields(item: TicketUpsert) -> dict[str, Any]:
    """The item's values of the fields an upsert may change (``EDITABLE``)."""
    return {name: list(item.tags) if name == "tags" else getattr(item, name)
            for name in EDITABLE}


def new_ticket(tenant_id: str, item: TicketUpsert, now: datetime,
               requester_id: int | None) -> Ticket:
    """A new ticket for ``item``, carrying its external identity."""
    fields = item.model_dump(mode="json", exclude_none=True,
                             include={"title", "description", "user_name", "user_email",
                                      "priority", "tags", "source", "external_id"})
    ticket = Ticket.open(tenant_id, fields, now, requester_id=requester_id)
    ticket.tags = list(item.tags)
    ticket.source = item.source
    ticket.external_id = item.external_id
    ticket.external_updated_at = item.external_updated_at
    return ticket


def differences(ticket: Ticket, item: TicketUpsert) -> dict[str, Any]:
    """The mapped fields whose values differ from the ticket's."""
    return {name: value for name, value in mapped_fields(item).items()
            if value != getattr(ticket, name)}


def stale(ticket: Ticket, item: TicketUpsert) -> bool:
    """The item is not newer than what the ticket holds, as the other system's clock says."""
    return (item.external_updated_at is not None and ticket.external_updated_at is not None
            and item.external_updated_at <= ticket.external_updated_at)


def refusal(index: int, ticket: Ticket, item: TicketUpsert) -> ItemOutcome | None:
    """The error an update of ``ticket`` by ``item`` meets, if any (checked before comparing)."""
    if ticket.deleted_at is not None:
        return item_error(index, "ticket_deleted",
                          f"ticket {ticket.id} ({item.source}/{item.external_id}) was deleted")
    if item.expected_version is not None and item.expected_version != ticket.version:
        return item_error(index, "precondition_failed", "the ticket changed since you read it",
                          {"current_version": ticket.version,
                           "expected_version": item.expected_version})
    return None

