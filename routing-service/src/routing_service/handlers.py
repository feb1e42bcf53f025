"""Event handlers (ticket.created, ticket.categorized, ticket.status.updated, ticket.deleted;
set-based),
seeding and manual routing.

A consumer batch is applied in a few statements: every event claimed once in the inbox, each
tenant's defaults ensured once, the tickets upserted (and locked, in key order) together, the
routings, their history rows and ``ticket.routed`` events written with one statement each. A
single delivery is a batch of one. Events of one batch for the same ticket are applied in
batch order, and ``ticket_version`` decides: one older than an already applied categorization
of its ticket is stale and dropped, exactly as when the events come one at a time.
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any, Callable, Sequence, cast

from support_shared.events import (
    Envelope,
    EventType,
    TicketCategorized,
    TicketCreated,
    TicketRouted,
    TicketStatusUpdated,
    TicketUpdated,
    new_event,
    utcnow,
)
from support_shared.messaging.errors import PermanentError

from .domain import (
    Department,
    DepartmentNotFoundError,
    IdempotencyKeyReusedError,
    Method,
    NoTriageDepartmentError,
    RoutedTicket,
    RouteResult,
    RoutingRecord,
    TicketClosedError,
    TicketNotFoundError,
    choose_department,
    request_fingerprint,
)
from .assignment.domain import DONE_STATUSES
from .assignment import engine as assignment
from .persistence import RoutingUnitOfWork
from .repositories import (CreatedTicket, RememberedRequest, SeenTicket, StatusSeen, TagsSeen,
                           TicketKey)

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def seed_departments(tenant_id: str, *, uow: RoutingUnitOfWork) -> int:
    """Give ``tenant_id`` the default departments unless it has some; return how many were added."""
    with uow:
        added = uow.departments.ensure_defaults(tenant_id)
        uow.commit()
    if added:
        logger.info("seeded %d default departments for tenant %s", added, tenant_id)
    return added


def handle_tickets_created(envelopes: Sequence[Envelope], *, uow: RoutingUnitOfWork) -> None:
    with uow:
        fresh = _fresh(envelopes, uow)
        uow.tickets.record_created_many(_created_rows(fresh))
        uow.commit()


def handle_tickets_status_updated(envelopes: Sequence[Envelope], *,
                                  uow: RoutingUnitOfWork, clock: Clock = utcnow) -> None:
    """Remember which tickets are closed (the newest ``ticket_version`` decides): a closed
    ticket is neither routed by hand nor by a late categorization. A resolved or closed ticket
    frees its agent's slot (the queue is drained); a reopened one takes it back if it can."""
    with uow:
        rows: dict[TicketKey, StatusSeen] = {}
        statuses: dict[TicketKey, str] = {}
        for envelope in uow.inbox.fresh(envelopes):
            key = (envelope.tenant_id, envelope.ticket_id)
            if key in rows and rows[key].ticket_version >= envelope.ticket_version:
                continue
            statuses[key] = cast(TicketStatusUpdated, envelope.payload()).new_status
            rows[key] = StatusSeen(*key, envelope.ticket_version, statuses[key] == "closed")
        uow.tickets.record_status_many(list(rows.values()))
        for tenant in sorted({t for t, _ in rows}):
            ctx = assignment.Context(tenant, clock())
            versions = {k[1]: r.ticket_version for k, r in rows.items() if k[0] == tenant}
            done = {t: v for t, v in versions.items() if statuses[(tenant, t)] in DONE_STATUSES}
            assignment.close(uow, ctx, done)
            assignment.reopen(uow, ctx, {t: v for t, v in versions.items() if t not in done})
        uow.commit()


def handle_tickets_updated(envelopes: Sequence[Envelope], *, uow: RoutingUnitOfWork) -> None:
    """Remember each ticket's tags as its newest edit of them left them (``ticket_version``
    decides): the skills policy matches them. Edits of other fields change nothing here."""
    with uow:
        rows: dict[TicketKey, TagsSeen] = {}
        for envelope in uow.inbox.fresh(envelopes):
            change = cast(TicketUpdated, envelope.payload()).changes.get("tags")
            key = (envelope.tenant_id, envelope.ticket_id)
            if change is None or (key in rows
                                  and rows[key].ticket_version >= envelope.ticket_version):
                continue
            rows[key] = TagsSeen(*key, envelope.ticket_version, tuple(change.new or ()))
        uow.tickets.record_tags_many(list(rows.values()))
        uow.commit()


def handle_tickets_deleted(envelopes: Sequence[Envelope], *, uow: RoutingUnitOfWork,
                           clock: Clock = utcnow) -> None:
    """Mark tickets deleted: their history and counts are gone from every read, and neither a
    late categorization nor a person routes them again (deleting is final); their agents'
    slots are freed."""
    with uow:
        rows: dict[TicketKey, SeenTicket] = {}
        for envelope in uow.inbox.fresh(envelopes):
            key = (envelope.tenant_id, envelope.ticket_id)
            version = max(envelope.ticket_version, rows[key].ticket_version if key in rows else 0)
            rows[key] = SeenTicket(*key, version, None)
        uow.tickets.record_deleted_many(list(rows.values()))
        for tenant in sorted({t for t, _ in rows}):
            assignment.close(uow, assignment.Context(tenant, clock()),
                             {k[1]: r.ticket_version for k, r in rows.items() if k[0] == tenant})
        uow.commit()
    logger.info("%d tickets deleted (%d events)", len(rows), len(envelopes))


def handle_tickets_categorized(envelopes: Sequence[Envelope], *, uow: RoutingUnitOfWork,
                               clock: Clock = utcnow) -> None:
    routed: list[tuple[Envelope, RoutingRecord]] = []
    with uow:
        fresh = _fresh(envelopes, uow)
        tickets = uow.tickets.touch_many(_seen_rows(fresh))
        departments = {tenant: uow.departments.list(tenant) for tenant in _tenants(fresh)}
        for envelope in fresh:
            ticket = tickets[(envelope.tenant_id, envelope.ticket_id)]
            record = _auto_route(ticket, departments[envelope.tenant_id], envelope, clock())
            if record is not None:
                routed.append((envelope, record))
        changed = dict.fromkeys((r.tenant_id, r.ticket_id) for _, r in routed)
        uow.tickets.save_many([tickets[key] for key in changed])
        uow.history.add_many([record for _, record in routed])
        uow.outbox.add_each(
            routed_event(record, ticket_version=envelope.ticket_version,
                          correlation_id=envelope.correlation_id,
                          causation_id=str(envelope.event_id),
                          decided=cast(TicketCategorized, envelope.payload()))
            for envelope, record in routed)
        _assign_routed(uow, routed, tickets, clock())
        uow.commit()
    for envelope, record in routed:
        logger.debug("ticket %s routed to %s (needs_review=%s) by event %s", record.ticket_id,
                     record.department, record.needs_review, envelope.event_id)


def _assign_routed(uow: RoutingUnitOfWork, routed: Sequence[tuple[Envelope, RoutingRecord]],
                   tickets: dict[TicketKey, RoutedTicket], now: datetime) -> None:
    """Queue the routed tickets in their departments and drain them, tenant by tenant, in the
    routing's transaction."""
    by_tenant: dict[str, dict[int, assignment.Routed]] = {}
    first: dict[str, Envelope] = {}
    for envelope, record in routed:
        ticket = tickets[(record.tenant_id, record.ticket_id)]
        first.setdefault(record.tenant_id, envelope)
        by_tenant.setdefault(record.tenant_id, {})[record.ticket_id] = assignment.Routed(
            record.ticket_id, record.department, ticket.ticket_version)
    for tenant, rows in sorted(by_tenant.items()):
        ctx = assignment.Context(tenant, now, first[tenant].correlation_id,
                                 str(first[tenant].event_id))
        assignment.enqueue(uow, ctx, list(rows.values()))


def _fresh(envelopes: Sequence[Envelope], uow: RoutingUnitOfWork) -> list[Envelope]:
    """The batch's events not applied before, each once; their tenants have departments."""
    fresh = uow.inbox.fresh(envelopes)
    for tenant in _tenants(fresh):
        uow.departments.ensure_defaults(tenant)
    return fresh


def _tenants(envelopes: Sequence[Envelope]) -> list[str]:
    return sorted({envelope.tenant_id for envelope in envelopes})


def _created_rows(fresh: Sequence[Envelope]) -> list[CreatedTicket]:
    """One row per ticket, as its events applied one after the other leave it."""
    rows: dict[TicketKey, CreatedTicket] = {}
    for envelope in fresh:
        payload = cast(TicketCreated, envelope.payload())
        key = (envelope.tenant_id, envelope.ticket_id)
        version = max(envelope.ticket_version, rows[key].ticket_version if key in rows else 0)
        rows[key] = CreatedTicket(*key, payload.title, payload.created_at, version,
                                  tuple(payload.tags))
    return list(rows.values())


def _seen_rows(fresh: Sequence[Envelope]) -> list[SeenTicket]:
    """One row per ticket: its newest version and the first creation time an event gives."""
    rows: dict[TicketKey, SeenTicket] = {}
    for envelope in fresh:
        created_at = cast(TicketCategorized, envelope.payload()).ticket_created_at
        key = (envelope.tenant_id, envelope.ticket_id)
        if key in rows:
            row = rows[key]
            rows[key] = row._replace(ticket_version=max(row.ticket_version,
                                                        envelope.ticket_version),
                                     created_at=row.created_at or created_at)
        else:
            rows[key] = SeenTicket(*key, envelope.ticket_version, created_at)
    return list(rows.values())


def _auto_route(ticket: RoutedTicket, departments: Sequence[Department], envelope: Envelope,
                at: datetime) -> RoutingRecord | None:
    """Route ``ticket`` as the categorization ``envelope`` says, or None when it keeps its
    department (routed by hand, or a newer categorization was applied)."""
    if (ticket.closed or ticket.deleted or ticket.manually_routed
            or ticket.is_stale_categorization(envelope.ticket_version)):
        logger.info("ticket %s keeps department %s (last routing %s); event %s not applied",
                    ticket.ticket_id, ticket.department, ticket.last_method, envelope.event_id)
        return None
    payload = cast(TicketCategorized, envelope.payload())
    try:
        decision = choose_department(departments, payload.department, payload.confidence)
    except NoTriageDepartmentError as exc:
        raise PermanentError(str(exc)) from exc
    return ticket.route_auto(decision, confidence=payload.confidence, priority=payload.priority,
                             categorization_method=payload.method,
                             ticket_version=envelope.ticket_version, at=at)


def route_ticket(tenant_id: str, ticket_id: int, department: str, method: Method, *,
                 uow: RoutingUnitOfWork, correlation_id: str | None = None,
                 idempotency_key: str | None = None, clock: Clock = utcnow) -> RouteResult:
    """Assign a ticket by hand (``manual`` or ``reroute``); nothing recorded if already there.

    With ``idempotency_key``, a retry of the same request gets the first answer again and
    records nothing; the key used before for another request raises
    ``IdempotencyKeyReusedError``.
    """
    fingerprint = request_fingerprint(ticket_id, department, method)
    with uow:
        if idempotency_key and not uow.idempotency.claim(tenant_id, idempotency_key,
                                                         fingerprint):
            return replay_route(uow.idempotency.get(tenant_id, idempotency_key), fingerprint,
                                idempotency_key)
        result = _route_by_hand(uow, tenant_id, ticket_id, department, method, clock(),
                                correlation_id)
        if idempotency_key:
            uow.idempotency.answer(tenant_id, idempotency_key, route_result_body(result))
        uow.commit()
    if result.changed:
        logger.info("ticket %s %s to %s (was %s)", ticket_id, method, result.department,
                    result.previous_department)
    return result


def replayed_answer(first: RememberedRequest | None, fingerprint: str,
                    key: str) -> dict[str, Any]:
    """The answer remembered for ``key`` if it was given to this same request."""
    if first is None or first.answer is None:   # claimed keys are committed with an answer
        raise RuntimeError(f"idempotency key {key!r} is taken but has no answer")
    if first.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(key)
    return first.answer


def replay_route(first: RememberedRequest | None, fingerprint: str, key: str) -> RouteResult:
    result = _result(replayed_answer(first, fingerprint, key))
    logger.info("replayed the routing of ticket %s for idempotency key %s", result.ticket_id, key)
    return dataclasses.replace(result, replayed=True)


def route_result_body(result: RouteResult) -> dict[str, Any]:
    """``result`` as JSON values (times in ISO 8601), without ``replayed``."""
    body = dataclasses.asdict(result)
    del body["replayed"]
    body["routed_at"] = result.routed_at.isoformat()
    return body


def _result(body: dict[str, Any]) -> RouteResult:
    return RouteResult(**{**body, "routed_at": datetime.fromisoformat(body["routed_at"])})


def _route_by_hand(uow: RoutingUnitOfWork, tenant_id: str, ticket_id: int, department: str,
                   method: Method, now: datetime, correlation_id: str | None) -> RouteResult:
    uow.departments.ensure_defaults(tenant_id)
    ticket = uow.tickets.get(tenant_id, ticket_id, lock=True)
    if ticket is None or ticket.deleted:
        raise TicketNotFoundError(ticket_id)
    if ticket.closed:
        raise TicketClosedError(ticket_id)
    target = uow.departments.get(tenant_id, department)
    if target is None or not target.active:
        raise DepartmentNotFoundError(department)
    previous = ticket.department
    return record_manual(uow, ticket, ticket.route_manual(target, method, at=now), previous,
                         method, now, correlation_id)


def record_manual(uow: RoutingUnitOfWork, ticket: RoutedTicket, record: RoutingRecord | None,
                  previous: str | None, method: Method, now: datetime,
                  correlation_id: str | None) -> RouteResult:
    """Write a person's routing ``record`` of ``ticket`` (history, ticket.routed) and answer
    it; ``record`` None: nothing changed."""
    if record is None:
        latest = uow.history.latest(ticket.tenant_id, ticket.ticket_id)
        return RouteResult(ticket.ticket_id, ticket.department or "", previous, method,
                           ticket.routing_version, ticket.needs_review,
                           latest.routed_at if latest else now, changed=False)
    uow.tickets.save_many([ticket])
    uow.history.add_many([record])
    uow.outbox.add(routed_event(record, ticket_version=ticket.ticket_version,
                                correlation_id=correlation_id, causation_id=None))
    assignment.enqueue(uow, assignment.Context(ticket.tenant_id, now, correlation_id),
                       [assignment.Routed(ticket.ticket_id, record.department,
                                          ticket.ticket_version)])
    return RouteResult(ticket.ticket_id, record.department, previous, method,
                       record.routing_version, record.needs_review, record.routed_at,
                       changed=True)


def _passed_on(decided: TicketCategorized | None) -> dict[str, Any]:
    """What ticket-service needs of the AI's decision, passed on unchanged (auto routing)."""
    if decided is None:
        return {}
    return {"model_version": decided.model_version, "urgency": decided.urgency,
            "sentiment": decided.sentiment, "requires_action": decided.requires_action,
            "fallback": decided.fallback}


def routed_event(record: RoutingRecord, *, ticket_version: int, correlation_id: str | None,
                 causation_id: str | None, decided: TicketCategorized | None = None) -> Envelope:
    """``ticket.routed`` for ``record``; an automatic routing passes on the AI's ``decided``."""
    payload = TicketRouted(
        department=record.department,
        previous_department=record.previous_department,
        confidence=record.confidence,
        priority=record.priority,
        method=record.method,
        categorization_method=record.categorization_method,
        needs_review=record.needs_review,
        routing_version=record.routing_version,
        **_passed_on(decided),
    )
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=record.tenant_id,
                     ticket_id=record.ticket_id, ticket_version=ticket_version,
                     correlation_id=correlation_id, causation_id=causation_id,
                     occurred_at=record.routed_at)
