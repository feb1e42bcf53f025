"""ticket.deleted in routing-service: batches of 1 and N, late events, reads (fakes, no I/O)."""
import pytest

from routing_service.domain import TicketNotFoundError
from routing_service.handlers import (handle_tickets_categorized, handle_tickets_created,
                                      handle_tickets_deleted, route_ticket)
from routing_service.testing import FakeRoutingUnitOfWork, categorized, created, deleted


def test_a_deleted_ticket_is_never_routed_again(uow):
    handle_tickets_created([created(1)], uow=uow)
    handle_tickets_deleted([deleted(1)], uow=uow)
    handle_tickets_categorized([categorized(1, "HR")], uow=uow)   # arrives late

    assert uow.tickets.rows[("default", 1)].deleted and uow.history.records == []
    assert uow.outbox.events == []
    with pytest.raises(TicketNotFoundError):
        route_ticket("default", 1, "HR", "manual", uow=uow)


def test_a_delete_before_anything_else_is_remembered(uow):
    handle_tickets_deleted([deleted(7, tenant="acme")], uow=uow)
    handle_tickets_created([created(7, tenant="acme")], uow=uow)
    row = uow.tickets.rows[("acme", 7)]
    assert (row.deleted, row.ticket_version) == (True, 6)


def test_a_batch_with_a_duplicate_and_an_older_version_equals_one_by_one():
    first = deleted(1, version=4)
    batch = [first, deleted(2), first, deleted(1, version=3), deleted(3, tenant="acme")]
    bulk, single = FakeRoutingUnitOfWork(), FakeRoutingUnitOfWork()
    for uow in (bulk, single):
        handle_tickets_created([created(1), created(2)], uow=uow)
    handle_tickets_deleted(batch, uow=bulk)
    for envelope in batch:
        handle_tickets_deleted([envelope], uow=single)

    assert bulk.tickets.rows == single.tickets.rows
    assert {key for key, row in bulk.tickets.rows.items() if row.deleted} == {
        ("default", 1), ("default", 2), ("acme", 3)}
    assert bulk.tickets.rows[("default", 1)].ticket_version == 4
    assert bulk.commits == 2 and {e.event_id for e in batch} <= bulk.inbox.seen
