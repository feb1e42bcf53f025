"""``ticket.created`` in bulk: what ``handlers.handle_ticket_created`` does, for a whole batch
of events in a few set-based statements (the local model, no network call).

Same effects as one event at a time: each event claimed once in the inbox, a ticket
categorized once (the first event of the batch wins), its text kept, one ``ticket.categorized``
in the outbox per new categorization. Anything unexpected raises, and the consumer then
handles the batch one event at a time.
"""
from __future__ import annotations

import logging
from typing import Any

from support_shared.events import Envelope, TicketCreated
from support_shared.messaging.consumer import PermanentError
from support_shared.metrics import CATEGORIZATIONS

from .categorizer import Categorizer
from .handlers import categorized_event
from .persistence import AiUnitOfWork, categorization_row

logger = logging.getLogger(__name__)


def handle_tickets_created(envelopes: list[Envelope], *, uow: AiUnitOfWork,
                           categorizer: Categorizer) -> None:
    tickets: dict[Any, TicketCreated] = {}   # event id -> its payload
    for envelope in envelopes:
        ticket = envelope.payload()   # InvalidEventError: one at a time, it is dead-lettered
        if not isinstance(ticket, TicketCreated):
            raise PermanentError(f"expected ticket.created, got {envelope.event_type}")
        tickets[envelope.event_id] = ticket
    categorizer.prepare([(t.title, t.description) for t in tickets.values()])
    with uow:
        fresh: dict[tuple[str, int], Envelope] = {}
        for env in uow.inbox.fresh(envelopes):
            if fresh.setdefault((env.tenant_id, env.ticket_id), env) is not env:
                logger.info("ticket %s already categorized in this batch; event %s skipped",
                            env.ticket_id, env.event_id)
        done = uow.categorizations.existing(list(fresh))
        for key in done:
            logger.info("ticket %s already categorized; event %s skipped", key[1],
                        fresh[key].event_id)
        todo = [(key, env, tickets[env.event_id]) for key, env in fresh.items() if key not in done]
        decisions = [categorizer.categorize(t.title, t.description, t.priority)
                     for _, _, t in todo]
        uow.training.remember_texts([(env.tenant_id, env.ticket_id, t.title, t.description)
                                     for _, env, t in todo])
        added = uow.categorizations.add_many([
            categorization_row(env.tenant_id, env.ticket_id, env.event_id, d, t.priority)
            for (_, env, t), d in zip(todo, decisions)])
        uow.outbox.add_each(categorized_event(env, t, d)
                            for (key, env, t), d in zip(todo, decisions) if key in added)
        uow.commit()
    for (key, _, _), decision in zip(todo, decisions):
        if key in added:
            CATEGORIZATIONS.labels(decision.method).inc()
    logger.info("batch of %d ticket.created: %d categorized, %d already done or duplicate",
                len(envelopes), len(added), len(envelopes) - len(added))
