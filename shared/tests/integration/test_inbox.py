"""The inbox on the real PostgreSQL: claims per consumer, and a batch's new events."""
import pytest

from support_shared.db import UnitOfWork
from support_shared.events import EventType, TicketStatusUpdated, new_event

pytestmark = pytest.mark.integration


def _event(ticket_id):
    return new_event(EventType.TICKET_STATUS_UPDATED,
                     TicketStatusUpdated(old_status="pending", new_status="in_progress"),
                     tenant_id="default", ticket_id=ticket_id, ticket_version=2)


def test_fresh_keeps_each_new_event_once_in_batch_order(engine):
    old, a, b = _event(1), _event(2), _event(3)
    with UnitOfWork(engine, consumer="svc") as uow:
        assert uow.inbox.claim(old.event_id)
        uow.commit()
    with UnitOfWork(engine, consumer="svc") as uow:
        assert uow.inbox.fresh([b, old, a, b, a]) == [b, a]   # old: claimed before; copies
        uow.commit()
    with UnitOfWork(engine, consumer="other") as uow:       # claims are per consumer
        assert uow.inbox.fresh([old, a]) == [old, a]
        uow.commit()
    with UnitOfWork(engine, consumer="svc") as uow:
        assert uow.inbox.fresh([a, b, old]) == []
