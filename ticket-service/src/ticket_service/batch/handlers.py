"""The batch upsert: one transaction, multi-row writes, each item's outcome in order."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from support_shared.events import Envelope, utcnow
from support_shared.exchange import TicketUpsert

from ..activity.domain import CREATED as AUDIT_CREATED
from ..activity.domain import UPDATED as AUDIT_UPDATED
from ..activity.domain import AuditEntry
from ..activity.handlers import audit_entry, requesters_for
from ..tickets import events
from ..tickets.domain import Ticket, TicketClosedError
from .domain import (CREATED, UNCHANGED, UPDATED, ItemOutcome, differences, item_error,
                     new_ticket, refusal, stale)
from .persistence import BatchUnitOfWork

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpsertTickets:
    tenant_id: str
    items: Sequence[TicketUpsert | ItemOutcome]   # valid items, or the error of an invalid one
    correlation_id: str | None = None
    actor: str | None = None


@dataclass
class _Writes:
    """What one round writes: new tickets, changed tickets, their audit entries and events."""

    created: list[tuple[int, Ticket]] = field(default_factory=list)
    changed: list[Ticket] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    events: list[Envelope] = field(default_factory=list)


def rounds(items: Sequence[TicketUpsert | ItemOutcome]) -> list[list[int]]:
    """Indexes of the valid items by round: a key's n-th item goes in round n, so each round
    names a key once (and the later copy of a ticket applies after the earlier one)."""
    out: list[list[int]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        if isinstance(item, ItemOutcome):
            continue
        n = 0
        if item.key is not None:
            n = seen.get(item.key, 0)
            seen[item.key] = n + 1
        while len(out) <= n:
            out.append([])
        out[n].append(index)
    return out


def upsert_tickets(cmd: UpsertTickets, *, uow: BatchUnitOfWork) -> list[ItemOutcome]:
    """Create or update the batch's tickets in one transaction; one outcome per item, in order.

    Items naming (source, external_id) update the tenant's ticket with that pair when it
    exists (locked, so concurrent batches take turns and each compares against the other's
    result), else create it; an insert that loses a race to a concurrent batch's create becomes
    an update of that ticket. Each created ticket publishes ``ticket.created``, each changed
    one ``ticket.updated``; an item equal to its ticket changes nothing.
    """
    outcomes: dict[int, ItemOutcome] = {i: item for i, item in enumerate(cmd.items)
                                        if isinstance(item, ItemOutcome)}
    with uow:
        for indexes in rounds(cmd.items):
            writes = _Writes()
            _apply_round(cmd, indexes, uow, writes, outcomes)
            _write(uow, writes, cmd)
        uow.commit()
    result = [outcomes[i] for i in range(len(cmd.items))]
    logger.info("batch of %d for tenant %s: %s", len(result), cmd.tenant_id,
                {s: sum(o.status == s for o in result) for s in (CREATED, UPDATED, UNCHANGED)})
    return result


def _apply_round(cmd: UpsertTickets, indexes: list[int], uow: BatchUnitOfWork,
                 writes: _Writes, outcomes: dict[int, ItemOutcome]) -> None:
    items = {i: _item(cmd, i) for i in indexes}
    keyed = {items[i].key: i for i in indexes if items[i].key is not None}
    existing = uow.external.lock(cmd.tenant_id, list(keyed))
    fresh = [i for i in indexes if items[i].key is None or items[i].key not in existing]
    now = utcnow()
    people = requesters_for(uow, [(cmd.tenant_id, items[i].user_name, items[i].user_email)
                                  for i in fresh], now)
    new = {i: new_ticket(cmd.tenant_id, items[i], now,
                         people[(cmd.tenant_id, items[i].user_email.lower())].id)
           for i in fresh}
    unkeyed = [new[i] for i in fresh if items[i].key is None]
    uow.tickets.add_many(unkeyed)
    inserted = {id(tk) for tk in uow.external.insert_new(
        [new[i] for i in fresh if items[i].key is not None])}
    lost = [i for i in fresh if items[i].key is not None and id(new[i]) not in inserted]
    existing.update(uow.external.lock(cmd.tenant_id, [items[i].key for i in lost]))
    for i in fresh:
        if i not in lost:
            writes.created.append((i, new[i]))
            outcomes[i] = ItemOutcome(i, CREATED, new[i].id, new[i].version)
    for i in indexes:
        if i not in outcomes:
            outcomes[i] = _update(i, existing[items[i].key], items[i], now, writes, cmd)


def _item(cmd: UpsertTickets, index: int) -> TicketUpsert:
    item = cmd.items[index]
    assert isinstance(item, TicketUpsert)
    return item


def _update(index: int, ticket: Ticket, item: TicketUpsert, now: datetime, writes: _Writes,
            cmd: UpsertTickets) -> ItemOutcome:
    """Apply ``item`` to its locked ``ticket`` unless equal, stale or refused."""
    refused = refusal(index, ticket, item)
    if refused is not None:
        return refused
    if stale(ticket, item) or not differences(ticket, item):
        return ItemOutcome(index, UNCHANGED, ticket.id, ticket.version)
    try:
        changes = ticket.edit(differences(ticket, item), now)
    except TicketClosedError as exc:
        return item_error(index, "ticket_closed", str(exc), {"ticket_id": ticket.id})
    if item.external_updated_at is not None:
        ticket.external_updated_at = item.external_updated_at
    writes.changed.append(ticket)
    writes.audit.append(audit_entry(ticket, AUDIT_UPDATED, {"changes": changes},
                                    actor=cmd.actor, request_id=cmd.correlation_id))
    writes.events.append(events.updated(ticket, changes, cmd.correlation_id))
    return ItemOutcome(index, UPDATED, ticket.id, ticket.version)


def _write(uow: BatchUnitOfWork, writes: _Writes, cmd: UpsertTickets) -> None:
    for _, ticket in writes.created:
        writes.audit.append(audit_entry(
            ticket, AUDIT_CREATED, {"title": ticket.title, "priority": ticket.priority,
                                    "requester_id": ticket.requester_id,
                                    "source": ticket.source, "external_id": ticket.external_id},
            actor=cmd.actor, request_id=cmd.correlation_id))
        writes.events.append(events.created(ticket, cmd.correlation_id))
    uow.tickets.save_many(writes.changed)
    uow.audit.add_many(writes.audit)
    uow.outbox.add_each(writes.events)
