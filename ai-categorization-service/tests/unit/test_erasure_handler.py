"""The requester.erased handler: batches of 1 and N, duplicates, redelivery, other tenants."""
from __future__ import annotations

from ai_categorization_service.erasure import handle_requesters_erased
from support_shared.events import EventType, RequesterErased, new_event


def erased(ticket_ids, tenant="acme", requester=7):
    return new_event(EventType.REQUESTER_ERASED,
                     RequesterErased(requester_id=requester, ticket_ids=ticket_ids),
                     tenant_id=tenant, ticket_id=None, ticket_version=None)


def test_batch_of_one_scrubs_the_named_tickets_and_publishes_nothing(uow):
    handle_requesters_erased([erased([1, 2])], uow=uow)
    assert uow.erasure.erased == {"acme": {1, 2}}
    assert uow.commits == 1 and uow.outbox.events == []


def test_batch_of_n_with_a_duplicate_scrubs_each_tenant_once(uow):
    first = erased([1])
    handle_requesters_erased([first, erased([5], tenant="globex"), first, erased([1, 3])],
                             uow=uow)
    assert uow.erasure.erased == {"acme": {1, 3}, "globex": {5}}
    assert len(uow.erasure.calls) == 3 and uow.commits == 1


def test_a_redelivered_event_has_no_second_effect(uow):
    event = erased([4])
    handle_requesters_erased([event], uow=uow)
    handle_requesters_erased([event], uow=uow)
    assert uow.erasure.calls == [("acme", (4,))]


def test_an_erasure_of_no_ticket_is_claimed_and_changes_nothing(uow):
    event = erased([])
    handle_requesters_erased([event], uow=uow)
    assert uow.inbox.seen == {event.event_id}
