"""Use cases: categorize new tickets (event), learn from agents' routings (event), keep each
tenant's departments (event), preview a categorization, read a stored one."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol, Sequence, cast

from support_shared.events import (
    DepartmentChanged,
    Envelope,
    EventType,
    TicketCategorized,
    TicketCreated,
    TicketRouted,
    new_event,
)
from support_shared.inbox import AbstractInbox
from support_shared.metrics import CATEGORIZATIONS
from support_shared.outbox import AbstractOutbox

from .categorizer import Categorizer, Decision
from .departments import Department
from .persistence import CategorizationRepository, NewCategorization, StoredCategorization
from .sentiment import read_text
from .tenant_departments import DepartmentState, TenantDepartmentRepository
from .training_data import (
    Correction,
    CorrectionSource,
    TicketKey,
    TicketText,
    TrainingDataRepository,
)

logger = logging.getLogger(__name__)

# Routings an agent chose: the department is a person's label for the ticket's text.
CORRECTION_METHODS = frozenset({"manual", "reroute"})


class UnitOfWork(Protocol):
    """What the handlers need of ``AiUnitOfWork`` (unit tests pass an in-memory one)."""

    categorizations: CategorizationRepository
    training: TrainingDataRepository
    departments: TenantDepartmentRepository
    inbox: AbstractInbox
    outbox: AbstractOutbox

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...


def handle_tickets_created(envelopes: Sequence[Envelope], *, uow: UnitOfWork,
                           categorizer: Categorizer) -> None:
    """Categorize each new ticket once, and record + announce each decision exactly once.

    The categorizer (possibly a slow Claude call) runs between a short read of which tickets
    are categorized already and the one write transaction, so no transaction waits on it and
    a redelivery costs no second call. A ticket's first event in the batch decides; every
    event is claimed in the inbox, those of tickets categorized before included.
    """
    firsts = _first_event_per_ticket(envelopes)
    with uow:   # read only: nothing to commit
        done = uow.categorizations.existing(firsts)
        departments = uow.departments.active({tenant for tenant, _ in firsts})
    new = {key: env for key, env in firsts.items() if key not in done}
    decisions = _categorize(categorizer, new, departments)
    with uow:
        fresh = {env.event_id for env in uow.inbox.fresh(envelopes)}
        todo = {key: env for key, env in new.items() if env.event_id in fresh}
        uow.training.remember_texts([_ticket_text(env) for env in todo.values()])
        added = uow.categorizations.add_many([
            NewCategorization(env.tenant_id, env.ticket_id, env.event_id, decisions[key],
                              _created(env).priority) for key, env in todo.items()])
        uow.outbox.add_each(categorized_event(env, _created(env), decisions[key])
                            for key, env in todo.items() if key in added)
        uow.commit()
    for key, env in todo.items():
        if key in added:   # after the commit: no duplicates, no rollbacks
            CATEGORIZATIONS.labels(decisions[key].method).inc()
            _log_decision(env, decisions[key])
        else:
            logger.warning("ticket %s was categorized by another event; event %s ignored",
                           env.ticket_id, env.event_id)


def _first_event_per_ticket(envelopes: Sequence[Envelope]) -> dict[TicketKey, Envelope]:
    firsts: dict[TicketKey, Envelope] = {}
    for env in envelopes:
        firsts.setdefault((env.tenant_id, env.ticket_id), env)
    return firsts


def _created(envelope: Envelope) -> TicketCreated:
    return cast(TicketCreated, envelope.payload())   # the consumer checked the payload type


def _ticket_text(envelope: Envelope) -> TicketText:
    # Kept so that an agent's later correction of this ticket becomes a training example.
    ticket = _created(envelope)
    return TicketText(envelope.tenant_id, envelope.ticket_id, ticket.title, ticket.description)


def _categorize(categorizer: Categorizer, envelopes: dict[TicketKey, Envelope],
                departments: dict[str, list[Department]]) -> dict[TicketKey, Decision]:
    """Each ticket's decision among its tenant's active departments."""
    tickets = {key: _created(env) for key, env in envelopes.items()}
    if not tickets:
        return {}
    # The local model predicts the whole batch in one call; each categorize() then uses it.
    categorizer.prepare([(t.title, t.description) for t in tickets.values()])
    return {key: categorizer.categorize(t.title, t.description, t.priority,
                                        departments=departments[key[0]])
            for key, t in tickets.items()}


def _log_decision(envelope: Envelope, decision: Decision) -> None:
    logger.debug("ticket %s categorized as %s/%s by %s (%.2f); event %s", envelope.ticket_id,
                 decision.department, decision.priority, decision.method, decision.confidence,
                 envelope.event_id)


def handle_tickets_routed(envelopes: Sequence[Envelope], *, uow: UnitOfWork) -> None:
    """Keep each manual routing or reroute as a labelled example (text -> department), once.

    Automatic routings only repeat the categorizer's own answer and teach nothing. When a
    ticket's text is not known yet (its ticket.created still on the way), the example is kept
    without it and gets the text when ticket.created is handled.
    """
    taught = [env for env in envelopes
              if cast(TicketRouted, env.payload()).method in CORRECTION_METHODS]
    if not taught:
        return
    with uow:
        corrections = [_correction(env) for env in uow.inbox.fresh(taught)]
        texts = uow.training.texts_of({c.key for c in corrections})
        corrections = [replace(c, text=texts.get(c.key)) for c in corrections]
        uow.training.add_corrections(corrections)
        uow.commit()
    for c in corrections:
        logger.info("ticket %s %s to %s: kept as a training example%s", c.ticket_id, c.source,
                    c.department, "" if c.text else " (text not known yet)")


def _correction(envelope: Envelope) -> Correction:
    routed = cast(TicketRouted, envelope.payload())
    return Correction(
        tenant_id=envelope.tenant_id, ticket_id=envelope.ticket_id,
        department=routed.department, source=cast(CorrectionSource, routed.method),
        routing_version=routed.routing_version, event_id=envelope.event_id,
    )


def handle_departments_changed(envelopes: Sequence[Envelope], *, uow: UnitOfWork) -> None:
    """Keep each tenant's departments as routing-service announces them; the next ticket of
    the tenant is categorized among its active ones (Claude's prompt and enum, keyword rules).
    The newest version of a department wins, whatever the order of arrival."""
    with uow:
        states = [DepartmentState.from_event(env.tenant_id, cast(DepartmentChanged,
                                                                 env.payload()))
                  for env in uow.inbox.fresh(envelopes)]
        uow.departments.apply_many(states)
        uow.commit()
    for state in states:
        logger.info("tenant %s department %s now version %d (active=%s)", state.tenant_id,
                    state.name, state.version, state.active)


def categorized_event(envelope: Envelope, ticket: TicketCreated, decision: Decision) -> Envelope:
    reading = read_text(f"{ticket.title}\n{ticket.description}", ticket.priority)
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
        sentiment=reading.sentiment,
        requires_action=reading.requires_action,
        fallback=decision.fallback,
    )
    return new_event(
        EventType.TICKET_CATEGORIZED, payload,
        tenant_id=envelope.tenant_id, ticket_id=envelope.ticket_id,
        ticket_version=envelope.ticket_version, correlation_id=envelope.correlation_id,
        causation_id=str(envelope.event_id),
    )


def preview(tenant_id: str, title: str, description: str, *, categorizer: Categorizer,
            uow: UnitOfWork) -> Decision:
    """Categorize among the tenant's active departments, storing nothing, publishing nothing."""
    with uow:   # read only
        departments = uow.departments.active([tenant_id])[tenant_id]
    return categorizer.categorize(title, description, departments=departments)


def get_categorization(tenant_id: str, ticket_id: int, *,
                       uow: UnitOfWork) -> StoredCategorization | None:
    with uow:
        return uow.categorizations.get(tenant_id, ticket_id)
