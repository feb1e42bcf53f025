"""Erase a requester: overwrite their personal data here and announce ``requester.erased``."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from support_shared.events import Envelope, EventType, RequesterErased, new_event

from ..activity.domain import User, UserNotFoundError
from ..tickets.persistence import TicketUnitOfWork

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EraseRequester:
    tenant_id: str
    user_id: int
    dead_letters: bool = False
    correlation_id: str | None = None


@dataclass(frozen=True)
class Erasure:
    """What an erasure did here: the user as it is now, its tickets, rows changed per table,
    and the event the other services act on."""

    user: User
    ticket_ids: list[int]
    rows: dict[str, int]
    event: Envelope


def erase_requester(cmd: EraseRequester, *, uow: TicketUnitOfWork) -> Erasure:
    """One transaction: the requester's row, their tickets' texts, comments, audit details and
    outbox payloads overwritten (``[erased]``; the rows stay, so every count stays), and
    ``requester.erased`` (ids only) in the outbox. Idempotent: again, it finds the same tickets
    and announces them again. Another tenant's user is a ``UserNotFoundError``."""
    with uow:
        user = uow.users.get(cmd.tenant_id, cmd.user_id)
        if user is None or user.id is None:
            raise UserNotFoundError(cmd.user_id)
        ticket_ids = uow.erasure.tickets_of(user)
        rows = uow.erasure.erase(user, ticket_ids)
        event = new_event(
            EventType.REQUESTER_ERASED,
            RequesterErased(requester_id=user.id, ticket_ids=ticket_ids,
                            dead_letters=cmd.dead_letters),
            tenant_id=cmd.tenant_id, ticket_id=None, ticket_version=None,
            correlation_id=cmd.correlation_id)
        uow.outbox.add(event)
        erased = uow.users.get(cmd.tenant_id, cmd.user_id)
        uow.commit()
    assert erased is not None
    # Ids and counts only: what was erased must not reach the logs.
    logger.info("erased requester %s: %d tickets, rows %s, event %s", cmd.user_id,
                len(ticket_ids), rows, event.event_id)
    return Erasure(erased, ticket_ids, rows, event)
