"""The event handlers on batches of 1 and of N, with duplicates and stale versions inside."""
from datetime import datetime, timezone

import pytest

from routing_service.handlers import handle_tickets_categorized, handle_tickets_created
from support_shared.messaging.errors import PermanentError

from routing_service.testing import categorized, created
from routing_service.testing import FakeRoutingUnitOfWork

NOW = datetime(2025, 1, 2, 4, 0, tzinfo=timezone.utc)


def handle(batch, uow):
    if batch[0].event_type.value == "ticket.created":
        handle_tickets_created(batch, uow=uow)
    else:
        handle_tickets_categorized(batch, uow=uow, clock=lambda: NOW)


def state(uow):
    """Everything the handlers leave behind, comparable across two units of work."""
    tickets = [vars(uow.tickets.rows[key]) for key in sorted(uow.tickets.rows)]
    events = [(e.ticket_id, e.ticket_version, e.causation_id, e.payload())
              for e in uow.outbox.events]
    return tickets, uow.history.records, events, uow.inbox.seen


def one_by_one(batches):
    uow = FakeRoutingUnitOfWork()
    for batch in batches:
        for envelope in batch:
            handle([envelope], uow)
    return uow


def routings(uow):
    return [(r.ticket_id, r.department, r.previous_department, r.routing_version)
            for r in uow.history.records]


def test_a_batch_of_many_routes_every_ticket_in_one_commit(uow):
    handle([created(i) for i in range(1, 6)], uow)
    handle([categorized(i, "HR" if i % 2 else "Finance") for i in range(1, 6)], uow)
    assert uow.commits == 2
    assert routings(uow) == [(1, "HR", None, 1), (2, "Finance", None, 1), (3, "HR", None, 1),
                             (4, "Finance", None, 1), (5, "HR", None, 1)]
    assert [e.ticket_id for e in uow.outbox.events] == [1, 2, 3, 4, 5]
    assert all(t.title == "Laptop broken" for t in uow.tickets.rows.values())


def test_a_duplicate_inside_a_batch_has_one_effect(uow):
    first, second = categorized(1, "HR"), categorized(2, "Finance")
    handle([first, second, first], uow)
    handle([second], uow)                              # and redelivered later
    assert routings(uow) == [(1, "HR", None, 1), (2, "Finance", None, 1)]
    assert len(uow.outbox.events) == 2


def test_a_stale_categorization_after_a_newer_one_in_the_batch_is_dropped(uow):
    handle([categorized(1, "Finance", version=3), categorized(1, "HR", version=2)], uow)
    assert routings(uow) == [(1, "Finance", None, 1)]
    assert uow.tickets.rows[("default", 1)].categorized_version == 3
    assert len(uow.inbox.seen) == 2                    # the stale one is done with too


def test_two_categorizations_in_version_order_both_route(uow):
    handle([categorized(1, "HR", version=2), categorized(1, "Finance", version=3)], uow)
    assert routings(uow) == [(1, "HR", None, 1), (1, "Finance", "HR", 2)]
    assert [e.ticket_version for e in uow.outbox.events] == [2, 3]
    assert uow.tickets.rows[("default", 1)].ticket_version == 3


def test_the_same_ticket_created_twice_in_a_batch_keeps_the_highest_version(uow):
    handle([created(1, version=2), created(1, version=1), created(2)], uow)
    assert uow.tickets.rows[("default", 1)].ticket_version == 2
    assert sorted(uow.tickets.rows) == [("default", 1), ("default", 2)]


def _batches():
    created_ = [created(i) for i in range(1, 9)] + [created(3, tenant="acme")]
    categorized_ = [categorized(i, "IT Support" if i % 3 else "Facilities",
                                0.9 if i % 4 else 0.2) for i in range(1, 9)]
    return [
        [created_[0]],                                            # a batch of one
        created_[1:6] + [created_[1]],                            # a duplicate inside
        created_[6:] + created_[:2],                              # redelivered creates
        [categorized_[0]],
        categorized_[1:] + [categorized(3, "HR", 0.95, tenant="acme")],
        [categorized(2, "HR", version=3), categorized(2, "Finance", version=2),   # stale
         categorized(4, "HR", version=2), categorized(4, "Finance", version=2),   # same version
         categorized(5, "Finance", version=2), categorized_[4]],                  # redelivered
        [categorized(6, "HR", version=1)],                        # same version as applied
    ]


def test_batches_end_as_one_event_at_a_time():
    batches = _batches()
    batched = FakeRoutingUnitOfWork()
    for batch in batches:
        handle(batch, batched)
    assert state(batched) == state(one_by_one(batches))
    assert len(batched.tickets.rows) == 9 and len(batched.inbox.seen) == 24
    assert [r[1:] for r in routings(batched) if r[0] == 2] == [
        ("IT Support", None, 1), ("HR", "IT Support", 2)]


def test_a_bad_event_fails_its_whole_batch_and_leaves_nothing(uow):
    uow.departments.ensure_defaults("default")
    uow.departments.replace("default", "General", active=False)
    with pytest.raises(PermanentError):
        handle([categorized(1, "HR"), categorized(2, "Legal")], uow)
    assert uow.history.records == [] and uow.outbox.events == []
    assert uow.inbox.seen == set() and uow.tickets.rows == {}
    handle([categorized(1, "HR")], uow)                # alone (the consumer isolates it)
    assert routings(uow) == [(1, "HR", None, 1)]


def test_an_empty_batch_changes_nothing(uow):
    handle_tickets_created([], uow=uow)
    handle_tickets_categorized([], uow=uow)
    assert state(uow) == state(FakeRoutingUnitOfWork()) and uow.commits == 2
