"""Commands and event handlers; each runs in one unit of work (state, outbox and inbox together)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, cast

from support_shared.events import Envelope, TicketRouted, utcnow
from support_shared.messaging.errors import PermanentError
from support_shared.metrics import record_pipeline

from ..activity.domain import CREATED, DELETED, ROUTED, STATUS_CHANGED, UPDATED, AuditEntry
from ..activity.handlers import audit_entry, record, requesters_for
from ..sla.handlers import clocks_follow, save_started, start_clocks
from . import events
from .domain import (
    AiDecision,
    DomainError,
    FollowUpNotFoundError,
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    Routing,
    Ticket,
    TicketNotFoundError,
    request_fingerprint,
)
from .persistence import TicketFilter, TicketUnitOfWork

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateTicket:
    tenant_id: str
    fields: Mapping[str, Any]  # a validated TicketCreate, dumped
    idempotency_key: str | None = None
    correlation_id: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class CreateResult:
    ticket: Ticket
    replayed: bool


@dataclass(frozen=True)
class UpdateStatus:
    tenant_id: str
    ticket_id: int
    status: str
    expected_versions: frozenset[int] | None = None  # from If-Match; None: no precondition
    correlation_id: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class DeleteTicket:
    tenant_id: str
    ticket_id: int
    expected_versions: frozenset[int] | None = None
    correlation_id: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class EditTicket:
    tenant_id: str
    ticket_id: int
    changes: Mapping[str, Any]  # a validated TicketPatch: only the fields the client sent
    expected_versions: frozenset[int] | None = None
    correlation_id: str | None = None
    actor: str | None = None


def _replay(existing: Ticket, fingerprint: str, key: str) -> CreateResult | DomainError:
    """The first request's ticket again, or the error for a key reused with another body."""
    if not existing.same_request(fingerprint):
        return IdempotencyKeyReusedError(key)
    logger.info("replayed ticket %s for idempotency key %s", existing.id, key)
    return CreateResult(existing, replayed=True)


def single(outcomes: Sequence[CreateResult | DomainError]) -> CreateResult:
    """The result of a batch of one create, its error raised."""
    [outcome] = outcomes
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def _created_entry_details(ticket: Ticket) -> dict[str, Any]:
    details = {"title": ticket.title, "priority": ticket.priority,
               "requester_id": ticket.requester_id}
    if ticket.follow_up_of is not None:
        details["follow_up_of"] = ticket.follow_up_of
    return details


def _missing_follow_up(cmd: CreateTicket, uow: TicketUnitOfWork) -> DomainError | None:
    """The error for a ``follow_up_of`` naming no ticket of the tenant, else None."""
    earlier = cmd.fields.get("follow_up_of")
    if earlier is None or uow.tickets.get(cmd.tenant_id, earlier) is not None:
        return None
    return FollowUpNotFoundError(earlier)


def create_tickets(cmds: Sequence[CreateTicket], *,
                   uow: TicketUnitOfWork) -> list[CreateResult | DomainError]:
    """Open tickets for their requesters and announce them, once per idempotency key.

    The one create: the group commit of the web workers calls it with the creates that arrived
    together, a single create is a batch of one (``single``). Requesters, tickets, audit
    entries and events are written with one multi-row statement each and one COMMIT. Each
    command gets one outcome, in order: a ``CreateResult`` or the ``DomainError`` refusing it
    (its key in flight or reused), which costs the others nothing; any other error rolls the
    whole batch back and reaches the caller. A key is held for the whole transaction: a
    duplicate arriving while the first is in flight is refused (409) instead of waiting; one
    arriving after it is a replay.
    """
    outcomes: list[CreateResult | DomainError | None] = [None] * len(cmds)
    fresh: list[int] = []
    first_with_key: dict[tuple[str, str], int] = {}
    duplicates: list[tuple[int, int]] = []  # (index, index of the first with its key)
    fingerprints = [request_fingerprint(cmd.fields) for cmd in cmds]
    with uow:
        for i, cmd in enumerate(cmds):
            key = cmd.idempotency_key
            if key:
                if (cmd.tenant_id, key) in first_with_key:
                    duplicates.append((i, first_with_key[(cmd.tenant_id, key)]))
                    continue
                if not uow.tickets.claim_idempotency_key(cmd.tenant_id, key):
                    outcomes[i] = IdempotencyKeyInFlightError(key)
                    continue
                if existing := uow.tickets.get_by_idempotency_key(cmd.tenant_id, key):
                    outcomes[i] = _replay(existing, fingerprints[i], key)
                    continue
                first_with_key[(cmd.tenant_id, key)] = i
            if missing := _missing_follow_up(cmd, uow):
                outcomes[i] = missing
                continue
            fresh.append(i)
        now = utcnow()
        people = requesters_for(uow, [(cmds[i].tenant_id, cmds[i].fields["user_name"],
                                       cmds[i].fields["user_email"]) for i in fresh], now)
        tickets = []
        for i in fresh:
            cmd = cmds[i]
            requester = people[(cmd.tenant_id, cmd.fields["user_email"].lower())]
            tickets.append(Ticket.open(cmd.tenant_id, cmd.fields, now,
                                       idempotency_key=cmd.idempotency_key,
                                       requester_id=requester.id))
        clocks = start_clocks(uow, tickets, now)
        uow.tickets.add_many(tickets)
        save_started(uow, tickets, clocks)
        uow.audit.add_many([
            audit_entry(ticket, CREATED, _created_entry_details(ticket), actor=cmds[i].actor,
                        request_id=cmds[i].correlation_id)
            for i, ticket in zip(fresh, tickets)])
        uow.outbox.add_each(events.created(ticket, cmds[i].correlation_id)
                            for i, ticket in zip(fresh, tickets))
        uow.commit()
    for i, ticket in zip(fresh, tickets):
        outcomes[i] = CreateResult(ticket, replayed=False)
    for i, first in duplicates:
        winner = outcomes[first]
        key = cmds[i].idempotency_key or ""
        outcomes[i] = (_replay(winner.ticket, fingerprints[i], key)
                       if isinstance(winner, CreateResult) else winner)
    logger.debug("created %d tickets in one transaction (%d commands)", len(tickets), len(cmds))
    done = [outcome for outcome in outcomes if outcome is not None]
    if len(done) != len(cmds):
        raise RuntimeError(f"{len(cmds) - len(done)} of {len(cmds)} creates got no outcome")
    return done


def _locked(uow: TicketUnitOfWork, cmd: UpdateStatus | EditTicket | DeleteTicket) -> Ticket:
    """The command's ticket, locked for the change, at a version the command accepts."""
    ticket = uow.tickets.get(cmd.tenant_id, cmd.ticket_id, for_update=True)
    if ticket is None:
        raise TicketNotFoundError(cmd.ticket_id)
    ticket.require_version(cmd.expected_versions)
    return ticket


def update_ticket_status(cmd: UpdateStatus, *, uow: TicketUnitOfWork) -> Ticket:
    """Move a ticket along its lifecycle and announce the change."""
    with uow:
        ticket = _locked(uow, cmd)
        now = utcnow()
        old_status = ticket.change_status(cmd.status, now)
        clocks_follow(uow, ticket, now, old_status=old_status)
        uow.tickets.save(ticket)
        record(uow, ticket, STATUS_CHANGED, {"from": old_status, "to": ticket.status},
               actor=cmd.actor, request_id=cmd.correlation_id)
        event = events.status_updated(ticket, old_status, cmd.correlation_id)
        uow.outbox.add(event)
        uow.commit()
    logger.info("ticket %s %s -> %s (event %s)", cmd.ticket_id, old_status, ticket.status,
                event.event_id)
    return ticket


def edit_ticket(cmd: EditTicket, *, uow: TicketUnitOfWork) -> Ticket:
    """Change title, description, priority or tags; audited and announced (``ticket.updated``
    with each changed field's old and new value). Nothing changed: no version, no event."""
    with uow:
        ticket = _locked(uow, cmd)
        now = utcnow()
        changes = ticket.edit(cmd.changes, now)
        if not changes:
            return ticket
        clocks_follow(uow, ticket, now, priority_changed="priority" in changes)
        uow.tickets.save(ticket)
        record(uow, ticket, UPDATED, {"changes": changes}, actor=cmd.actor,
               request_id=cmd.correlation_id)
        uow.outbox.add(events.updated(ticket, changes, cmd.correlation_id))
        uow.commit()
    logger.info("ticket %s edited: %s (v%s)", cmd.ticket_id, ", ".join(changes), ticket.version)
    return ticket


def delete_ticket(cmd: DeleteTicket, *, uow: TicketUnitOfWork) -> Ticket:
    """Soft-delete a ticket (every read then answers 404) and announce it (``ticket.deleted``)."""
    with uow:
        ticket = _locked(uow, cmd)
        now = utcnow()
        ticket.delete(now)
        clocks_follow(uow, ticket, now, deleted=True)
        uow.tickets.save(ticket)
        record(uow, ticket, DELETED, {}, actor=cmd.actor, request_id=cmd.correlation_id)
        uow.outbox.add(events.deleted(ticket, cmd.correlation_id))
        uow.commit()
    logger.info("ticket %s deleted (v%s)", cmd.ticket_id, ticket.version)
    return ticket


def get_ticket(tenant_id: str, ticket_id: int, *, uow: TicketUnitOfWork) -> Ticket:
    with uow:
        ticket = uow.tickets.get(tenant_id, ticket_id)
    if ticket is None:
        raise TicketNotFoundError(ticket_id)
    return ticket


def list_tickets(tenant_id: str, filters: TicketFilter, limit: int, before_id: int | None,
                 *, uow: TicketUnitOfWork) -> list[Ticket]:
    with uow:
        return uow.tickets.list(tenant_id, filters, limit, before_id)


def _unknown_ticket(envelope: Envelope) -> PermanentError:
    return PermanentError(
        f"ticket {envelope.ticket_id} of tenant {envelope.tenant_id} does not exist")


def _decision(data: TicketRouted) -> AiDecision | None:
    """The AI's decision an automatic routing passed on; None for a person's routing."""
    if data.method != "auto":
        return None
    return AiDecision(
        outcome="fallback" if data.fallback else "categorized", priority=data.priority,
        confidence=data.confidence, model_version=data.model_version, urgency=data.urgency,
        sentiment=data.sentiment, requires_action=data.requires_action)


def _apply_routed(ticket: Ticket, envelope: Envelope, data: TicketRouted,
                  ai_priority_mode: str) -> AuditEntry | None:
    """Apply the routing to ``ticket`` unless a newer one was; the audit entry recording it."""
    routing = Routing(
        department=data.department, confidence=data.confidence, needs_review=data.needs_review,
        categorization_method=data.categorization_method, routing_version=data.routing_version,
        decision=_decision(data),
    )
    previous = ticket.department
    if not ticket.apply_routing(routing, utcnow(), ai_priority_mode):
        logger.info("stale routing v%s for ticket %s (at v%s); ignored (event %s)",
                    routing.routing_version, ticket.id, ticket.routing_version,
                    envelope.event_id)
        return None
    logger.debug("ticket %s routed to %s (routing v%s, event %s)", ticket.id,
                routing.department, routing.routing_version, envelope.event_id)
    return audit_entry(ticket, ROUTED, {
        "department": routing.department, "previous_department": previous,
        "method": data.method, "confidence": routing.confidence,
        "routing_version": routing.routing_version}, actor="routing-service",
        request_id=envelope.correlation_id)


def handle_tickets_routed(envelopes: Sequence[Envelope], *, uow: TicketUnitOfWork) -> None:
    """Store where each ticket was routed; drop duplicates and decisions older than the stored.

    A single delivery is a batch of one. The batch's tickets are locked together (in id order)
    and each event is applied in batch order, so two routings of one ticket in a batch end as
    they would one by one; each changed ticket is written once, with one audit entry and one
    ``ticket.routing.applied`` (carrying the version it made) per applied routing. A deleted
    ticket takes no routing; one that does not exist raises ``PermanentError``, and the
    consumer then takes the batch one event at a time (that event alone is dead-lettered).
    """
    entries = []
    applied = []
    first_routed = []    # created_at of tickets routed for the first time: the pipeline's SLA
    with uow:
        fresh = uow.inbox.fresh(envelopes)
        tickets = uow.tickets.get_many_for_update(
            {(envelope.tenant_id, envelope.ticket_id) for envelope in fresh})
        settings = uow.settings.get_many({envelope.tenant_id for envelope in fresh})
        changed: dict[tuple[str, int], Ticket] = {}
        for envelope in fresh:
            key = (envelope.tenant_id, envelope.ticket_id)
            ticket = tickets.get(key)
            if ticket is None:
                raise _unknown_ticket(envelope)
            if ticket.deleted_at is not None:
                logger.info("ticket %s is deleted; routing ignored (event %s)", ticket.id,
                            envelope.event_id)
                continue
            unrouted = ticket.department is None
            entry = _apply_routed(ticket, envelope, cast(TicketRouted, envelope.payload()),
                                  settings[envelope.tenant_id].ai_priority)
            if entry is not None:
                if unrouted:
                    first_routed.append(ticket.created_at)
                changed[key] = ticket
                entries.append(entry)
                applied.append(events.routing_applied(ticket, envelope))
        uow.tickets.save_many(list(changed.values()))
        uow.audit.add_many(entries)
        uow.outbox.add_each(applied)
        uow.commit()
    now = utcnow()
    for created_at in first_routed:
        record_pipeline((now - created_at).total_seconds())
    logger.info("applied %d routings of %d events to %d tickets", len(entries), len(envelopes),
                len(changed))
