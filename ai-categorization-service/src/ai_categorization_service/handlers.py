"""Use cases: categorize a new ticket (event), learn from agents' routings (event), preview a
categorization, read a stored one."""
from __future__ import annotations

import logging
from typing import Protocol, Sequence, cast

from support_shared.events import (
    Envelope,
    EventType,
    TicketCategorized,
    TicketCreated,
    TicketRouted,
    new_event,
)
from support_shared.inbox import Inbox
from support_shared.messaging.consumer import PermanentError
from support_shared.metrics import CATEGORIZATIONS
from support_shared.outbox import Outbox

from .categorizer import Categorizer, Decision
from .persistence import CategorizationRepository, StoredCategorization
from .training_data import Correction, CorrectionSource, TrainingDataRepository

logger = logging.getLogger(__name__)

# Routings an agent chose: the department is a person's label for the ticket's text.
CORRECTION_METHODS = frozenset({"manual", "reroute"})


class UnitOfWork(Protocol):
    """What the handlers need of ``AiUnitOfWork`` (tests pass an in-memory one)."""

    categorizations: CategorizationRepository
    training: TrainingDataRepository
    inbox: Inbox
    outbox: Outbox

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...


def handle_ticket_created(envelope: Envelope, *, uow: UnitOfWork, categorizer: Categorizer) -> None:
    """Categorize the new ticket and record + announce the decision exactly once.

    The categorizer (possibly a slow Claude call) runs before the transaction opens, so no
    database transaction waits on the network. A ticket already categorized is skipped
    before that call, so redeliveries cost no second Claude request.
    """
    ticket = envelope.payload()
    if not isinstance(ticket, TicketCreated):
        raise PermanentError(f"expected ticket.created, got {envelope.event_type}")
    tenant, ticket_id = envelope.tenant_id, envelope.ticket_id
    with uow:
        if uow.categorizations.exists(tenant, ticket_id):
            logger.info("ticket %s already categorized; event %s skipped", ticket_id,
                        envelope.event_id)
            return
    decision = categorizer.categorize(ticket.title, ticket.description, ticket.priority)
    with uow:
        if not uow.inbox.claim(envelope.event_id):
            logger.info("event %s already handled", envelope.event_id)
            return
        # Kept so that an agent's later correction of this ticket becomes a training example.
        uow.training.remember_text(tenant, ticket_id, ticket.title, ticket.description)
        if not uow.categorizations.add(tenant, ticket_id, envelope.event_id, decision,
                                       ticket.priority):
            logger.warning("ticket %s was categorized by another event; event %s ignored",
                           ticket_id, envelope.event_id)
            uow.commit()
            return
        uow.outbox.add(categorized_event(envelope, ticket, decision))
        uow.commit()
    CATEGORIZATIONS.labels(decision.method).inc()  # after the commit: no duplicates, no rollbacks
    logger.info("ticket %s categorized as %s/%s by %s (%.2f)", ticket_id, decision.department,
                decision.priority, decision.method, decision.confidence)


def handle_ticket_routed(envelope: Envelope, *, uow: UnitOfWork) -> None:
    """Keep a manual routing or reroute as a labelled example (text -> department), once.

    Automatic routings only repeat the categorizer's own answer and teach nothing. When the
    ticket's text is not known yet (its ticket.created still on the way), the example is kept
    without it and gets the text when ticket.created is handled.
    """
    routed = envelope.payload()
    if not isinstance(routed, TicketRouted):
        raise PermanentError(f"expected ticket.routed, got {envelope.event_type}")
    if routed.method not in CORRECTION_METHODS:
        return
    correction = Correction(
        tenant_id=envelope.tenant_id, ticket_id=envelope.ticket_id,
        department=routed.department, source=cast(CorrectionSource, routed.method),
        routing_version=routed.routing_version, event_id=envelope.event_id,
    )
    with uow:
        if not uow.inbox.claim(envelope.event_id):
            logger.info("event %s already handled", envelope.event_id)
            return
        text = uow.training.text_of(correction.tenant_id, correction.ticket_id)
        uow.training.add_correction(correction, text)
        uow.commit()
    logger.info("ticket %s %s to %s: kept as a training example%s", correction.ticket_id,
                routed.method, routed.department, "" if text else " (text not known yet)")


def categorized_event(envelope: Envelope, ticket: TicketCreated, decision: Decision) -> Envelope:
    payload = TicketCategorized(
        department=decision.department,
        priority=decision.priority,
        confidence=decision.confidence,
        method=decision.method,
        model_version=decision.model_version,
        requested_priority=ticket.priority,
        urgency=decision.urgency,
        input_tokens=decision.input_tokens,
        output_tokens=decision.output_tokens,
        latency_ms=decision.latency_ms,
        ticket_created_at=ticket.created_at,
    )
    return new_event(
        EventType.TICKET_CATEGORIZED, payload,
        tenant_id=envelope.tenant_id, ticket_id=envelope.ticket_id,
        ticket_version=envelope.ticket_version, correlation_id=envelope.correlation_id,
        causation_id=str(envelope.event_id),
    )


def preview(title: str, description: str, *, categorizer: Categorizer) -> Decision:
    """Categorize without storing anything or publishing an event."""
    return categorizer.categorize(title, description)


def get_categorization(tenant_id: str, ticket_id: int, *,
                       uow: UnitOfWork) -> StoredCategorization | None:
    with uow:
        return uow.categorizations.get(tenant_id, ticket_id)


def handle_tickets_routed(envelopes: Sequence[Envelope], *, uow: UnitOfWork) -> None:
    """``handle_ticket_routed`` for each envelope of a consumer batch."""
    for envelope in envelopes:
        handle_ticket_routed(envelope, uow=uow)
