"""One event per version of a ticket: edits, comments, routings, status, delete (fakes, no I/O)."""
import pytest

from support_shared.events import EventType, TicketRouted, new_event
from ticket_service.activity import handlers as activity
from ticket_service.testing import FakeUnitOfWork
from ticket_service.tickets.domain import TicketNotFoundError, VersionMismatchError
from ticket_service.tickets.handlers import (CreateTicket, DeleteTicket, EditTicket,
                                             UpdateStatus, create_tickets, delete_ticket,
                                             edit_ticket, get_ticket, handle_tickets_routed,
                                             list_tickets, single, update_ticket_status)
from ticket_service.tickets.persistence import TicketFilter

FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}


def _create(uow, tenant="a"):
    return single(create_tickets([CreateTicket(tenant, FIELDS, None, "req-1")], uow=uow)).ticket


def _routed(ticket_id, version, department="HR", tenant="a"):
    payload = TicketRouted(department=department, confidence=0.9, method="auto",
                           routing_version=version)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=1)


def test_every_version_of_a_ticket_has_exactly_one_event():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    edit_ticket(EditTicket("a", ticket.id, {"priority": "low"}), uow=uow)
    activity.add_comment(activity.AddComment("a", ticket.id, "Ann", "ANN@example.com", "hi"),
                         uow=uow)
    handle_tickets_routed([_routed(ticket.id, 1)], uow=uow)
    update_ticket_status(UpdateStatus("a", ticket.id, "in_progress"), uow=uow)
    delete_ticket(DeleteTicket("a", ticket.id, frozenset({5}), "req-9"), uow=uow)

    events = [(e.ticket_version, e.event_type) for e in uow.outbox.events]
    assert events == [(1, EventType.TICKET_CREATED), (2, EventType.TICKET_UPDATED),
                      (3, EventType.TICKET_COMMENTED), (4, EventType.TICKET_ROUTING_APPLIED),
                      (5, EventType.TICKET_STATUS_UPDATED), (6, EventType.TICKET_DELETED)]
    assert uow.outbox.events[2].data["author_kind"] == "requester"
    assert uow.outbox.events[-1].correlation_id == "req-9"
    assert uow.audit.actions(ticket.id)[-1] == "deleted"


def test_a_deleted_ticket_is_gone_from_every_read_and_every_write():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    other = _create(uow)
    delete_ticket(DeleteTicket("a", ticket.id), uow=uow)

    assert [t.id for t in list_tickets("a", TicketFilter(), 10, None, uow=uow)] == [other.id]
    assert list_tickets("a", TicketFilter(q="vpn"), 10, None, uow=uow)[0].id == other.id
    for read in (lambda: get_ticket("a", ticket.id, uow=uow),
                 lambda: activity.list_comments("a", ticket.id, 10, None, uow=uow),
                 lambda: activity.ticket_history("a", ticket.id, 10, None, uow=uow),
                 lambda: delete_ticket(DeleteTicket("a", ticket.id), uow=uow),
                 lambda: edit_ticket(EditTicket("a", ticket.id, {"title": "x"}), uow=uow),
                 lambda: activity.add_comment(activity.AddComment(
                     "a", ticket.id, "Bo", "bo@example.com", "hi"), uow=uow)):
        with pytest.raises(TicketNotFoundError):
            read()
    assert [e.event_type for e in uow.outbox.events].count(EventType.TICKET_DELETED) == 1


def test_delete_honours_if_match_and_tenants():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    with pytest.raises(VersionMismatchError):
        delete_ticket(DeleteTicket("a", ticket.id, frozenset({2})), uow=uow)
    with pytest.raises(TicketNotFoundError):
        delete_ticket(DeleteTicket("b", ticket.id), uow=uow)
    assert get_ticket("a", ticket.id, uow=uow).version == 1 and len(uow.outbox.events) == 1
    assert delete_ticket(DeleteTicket("a", ticket.id, frozenset({1})), uow=uow).version == 2


def test_a_routing_batch_skips_deleted_tickets_with_a_duplicate_and_a_stale_one():
    uow = FakeUnitOfWork()
    gone, kept = _create(uow), _create(uow)
    delete_ticket(DeleteTicket("a", gone.id), uow=uow)
    first = _routed(kept.id, 2, "HR")
    batch = [_routed(gone.id, 1), first, _routed(kept.id, 1, "Finance"), first]

    handle_tickets_routed(batch, uow=uow)

    applied = [(e.ticket_id, e.ticket_version, e.data["department"]) for e in uow.outbox.events
               if e.event_type == EventType.TICKET_ROUTING_APPLIED]
    assert applied == [(kept.id, 2, "HR")]
    assert uow.tickets.rows[gone.id].version == 2 and uow.tickets.rows[gone.id].department is None
    assert uow.inbox.seen == {e.event_id for e in batch}
