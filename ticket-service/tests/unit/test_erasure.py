"""Erasing a requester through the handler, with fakes (no I/O): what is overwritten, what
stays, the event it announces, idempotence and tenant isolation."""
import orjson
import pytest

from support_shared.erasure import ERASED
from support_shared.events import EventType
from ticket_service.activity import handlers as activity
from ticket_service.activity.domain import UserNotFoundError
from ticket_service.erasure.handlers import EraseRequester, erase_requester
from ticket_service.testing import FakeUnitOfWork
from ticket_service.tickets.handlers import CreateTicket, EditTicket, create_tickets, edit_ticket

ANN = {"title": "Ann's VPN", "description": "Ann Lee cannot connect", "user_name": "Ann Lee",
       "user_email": "ann.lee@example.com", "priority": "high"}
BOB = {**ANN, "title": "Printer", "description": "jammed", "user_name": "Bob",
       "user_email": "bob@example.com"}


def _create(uow, fields, tenant="a"):
    [result] = create_tickets([CreateTicket(tenant, fields, None, "req-1", "key:1")], uow=uow)
    return result.ticket


def _comment(uow, ticket, name, email, body):
    activity.add_comment(activity.AddComment("a", ticket.id, name, email, body), uow=uow)


def _everything(uow) -> str:
    """Every row and event the fakes hold, as one text to search."""
    rows = [*uow.tickets.rows.values(), *uow.users.rows.values(), *uow.comments.rows,
            *uow.audit.rows]
    return repr(rows) + "".join(e.to_json().decode() for e in uow.outbox.events)


@pytest.fixture
def uow():
    uow = FakeUnitOfWork()
    ann_ticket = _create(uow, ANN)
    bob_ticket = _create(uow, BOB)
    edit_ticket(EditTicket("a", ann_ticket.id, {"title": "Ann Lee's VPN again"}), uow=uow)
    _comment(uow, ann_ticket, "Ann Lee", "ann.lee@example.com", "still broken, Ann")
    _comment(uow, ann_ticket, "Agent", "agent@corp.example", "Hi Ann Lee, on it")
    _comment(uow, bob_ticket, "Ann Lee", "ANN.LEE@example.com", "me too")
    _comment(uow, bob_ticket, "Agent", "agent@corp.example", "fixed")
    return uow


def test_erase_overwrites_every_copy_of_the_requesters_data_and_keeps_the_rows(uow):
    before = (len(uow.tickets.rows), len(uow.comments.rows), len(uow.audit.rows))
    done = erase_requester(EraseRequester("a", 1), uow=uow)

    assert done.ticket_ids == [1]
    assert "ann" not in _everything(uow).lower()
    assert (len(uow.tickets.rows), len(uow.comments.rows), len(uow.audit.rows)) == before
    ticket = uow.tickets.rows[1]
    assert (ticket.title, ticket.user_email, ticket.priority, ticket.version) == (
        ERASED, ERASED, "high", 4)
    assert done.user.name == ERASED and done.user.erased_at is not None
    assert uow.tickets.rows[2].title == "Printer"                      # Bob's stays
    assert [c.body for c in uow.comments.rows if c.ticket_id == 2] == [ERASED, "fixed"]
    assert uow.comments.rows[1].author_email == "agent@corp.example"   # agents stay named


def test_erase_announces_the_requester_and_tickets_by_id_only(uow):
    done = erase_requester(EraseRequester("a", 1, dead_letters=True, correlation_id="r-9"),
                           uow=uow)
    event = uow.outbox.events[-1]
    assert event is done.event and event.event_type is EventType.REQUESTER_ERASED
    assert (event.ticket_id, event.ticket_version, event.correlation_id) == (None, None, "r-9")
    assert event.data == {"requester_id": 1, "ticket_ids": [1], "dead_letters": True}
    assert b"ann" not in orjson.dumps(event.data).lower()


def test_erasing_again_finds_the_same_tickets_and_announces_them_again(uow):
    first = erase_requester(EraseRequester("a", 1), uow=uow)
    again = erase_requester(EraseRequester("a", 1), uow=uow)
    assert again.ticket_ids == first.ticket_ids == [1]
    assert again.user.erased_at == first.user.erased_at
    assert again.event.event_id != first.event.event_id


def test_another_tenants_requester_is_not_found_and_nothing_changes(uow):
    with pytest.raises(UserNotFoundError):
        erase_requester(EraseRequester("b", 1), uow=uow)
    assert uow.users.rows[1].name == "Ann Lee"
    assert uow.outbox.events[-1].event_type is not EventType.REQUESTER_ERASED
