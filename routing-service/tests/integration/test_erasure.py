"""requester.erased on the real database: the erased tickets' titles go, the rest stays."""
import pytest

from routing_service.erasure import handle_requesters_erased
from support_shared.events import EventType, RequesterErased, new_event

pytestmark = pytest.mark.integration


def test_erased_tickets_lose_their_title_once_and_keep_their_routing(apply, events, new_uow,
                                                                       query):
    apply(events.created(1, title="Ann Lee's laptop"))
    apply(events.created(2, title="Printer"))
    apply(events.categorized(1))
    erased = new_event(EventType.REQUESTER_ERASED,
                       RequesterErased(requester_id=3, ticket_ids=[1, 99]),
                       tenant_id="default", ticket_id=None, ticket_version=None)

    handle_requesters_erased([erased], uow=new_uow())
    handle_requesters_erased([erased], uow=new_uow())      # redelivered: no second effect

    rows = query("SELECT ticket_id, title, department FROM routed_tickets ORDER BY ticket_id")
    assert rows == [(1, "[erased]", "IT Support"), (2, "Printer", None)]
    assert query("SELECT count(*) FROM inbox WHERE event_id = :e", e=erased.event_id) == [(1,)]
    assert query("SELECT count(*) FROM routing_history") == [(1,)]
