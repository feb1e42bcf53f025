"""Requesters, comments, edits and the audit trail through the handlers, with fakes (no I/O)."""
import pytest

from support_shared.events import EventType, TicketRouted, new_event
from ticket_service.activity import handlers as activity
from ticket_service.activity.domain import UserExistsError, UserNotFoundError
from ticket_service.tickets.domain import (IdempotencyKeyInFlightError, IdempotencyKeyReusedError,
                                           TicketNotFoundError, VersionMismatchError)
from ticket_service.tickets.handlers import (CreateTicket, EditTicket, UpdateStatus,
                                             create_tickets, edit_ticket, handle_tickets_routed,
                                             single, update_ticket_status)

from ticket_service.testing import FakeUnitOfWork

FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}


def _create(uow, tenant="a", email="ann@example.com", key=None, actor="key:7"):
    fields = {**FIELDS, "user_email": email}
    cmd = CreateTicket(tenant, fields, key, "req-1", actor)
    return single(create_tickets([cmd], uow=uow)).ticket


def _routed(ticket_id, version, department="IT Support", tenant="a"):
    payload = TicketRouted(department=department, confidence=0.9, method="auto",
                           categorization_method="keywords", routing_version=version)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=1, correlation_id="req-r")


def test_create_links_the_requester_found_or_created_by_email():
    uow = FakeUnitOfWork()
    first = _create(uow, email="Ann@Example.com")
    second = _create(uow, email="ann@example.com")
    other_tenant = _create(uow, tenant="b")

    assert first.requester_id == second.requester_id == 1
    assert other_tenant.requester_id == 2
    assert [(u.tenant_id, u.email) for u in uow.users.rows.values()] == [
        ("a", "Ann@Example.com"), ("b", "ann@example.com")]


def test_create_writes_a_created_audit_entry_with_actor_and_request():
    uow = FakeUnitOfWork()
    ticket = _create(uow)

    [entry] = uow.audit.rows
    assert (entry.action, entry.ticket_id, entry.ticket_version) == ("created", ticket.id, 1)
    assert (entry.actor, entry.request_id) == ("key:7", "req-1")
    assert entry.details == {"title": "VPN down", "priority": "high", "requester_id": 1}


def test_a_key_held_by_an_in_flight_request_is_refused_and_nothing_is_written():
    uow = FakeUnitOfWork()
    uow.tickets.held_keys.add(("a", "k1"))

    with pytest.raises(IdempotencyKeyInFlightError):
        _create(uow, key="k1")
    assert uow.tickets.rows == {} and uow.outbox.events == [] and uow.users.rows == {}
    assert _create(uow, tenant="b", key="k1").id == 1          # other tenants are not blocked


def test_edit_is_audited_and_announced_with_old_and_new_values():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    events = len(uow.outbox.events)

    edited = edit_ticket(EditTicket("a", ticket.id, {"priority": "low", "tags": ["x"]},
                                    frozenset({1}), "req-2", "key:8"), uow=uow)

    assert (edited.priority, edited.tags, edited.version) == ("low", ["x"], 2)
    stored = uow.tickets.get("a", ticket.id)
    assert (stored.priority, stored.tags, stored.version) == ("low", ["x"], 2)
    entry = uow.audit.rows[-1]
    assert (entry.action, entry.ticket_version, entry.actor) == ("updated", 2, "key:8")
    assert entry.details == {"changes": {"priority": {"old": "high", "new": "low"},
                                         "tags": {"old": [], "new": ["x"]}}}
    [event] = uow.outbox.events[events:]
    assert (event.event_type, event.ticket_version, event.correlation_id) == (
        EventType.TICKET_UPDATED, 2, "req-2")
    assert event.data == {"changes": {"priority": {"old": "high", "new": "low"},
                                      "tags": {"old": [], "new": ["x"]}}}


def test_a_no_op_edit_commits_nothing():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    commits = uow.commits
    same = edit_ticket(EditTicket("a", ticket.id, {"title": "VPN down"}), uow=uow)
    assert same.version == 1 and uow.commits == commits and len(uow.audit.rows) == 1


@pytest.mark.parametrize("cmd,error", [
    (EditTicket("a", 1, {"title": "x"}, frozenset({5})), VersionMismatchError),
    (EditTicket("b", 1, {"title": "x"}), TicketNotFoundError),
    (EditTicket("a", 9, {"title": "x"}), TicketNotFoundError),
])
def test_refused_edits_change_nothing(cmd, error):
    uow = FakeUnitOfWork()
    _create(uow)
    with pytest.raises(error):
        edit_ticket(cmd, uow=uow)
    assert uow.tickets.get("a", 1).title == "VPN down" and len(uow.audit.rows) == 1


def test_status_changes_and_applied_routings_are_audited_stale_ones_not():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    handle_tickets_routed([_routed(ticket.id, 2, "HR")], uow=uow)
    handle_tickets_routed([_routed(ticket.id, 1, "Finance")], uow=uow)          # stale
    update_ticket_status(UpdateStatus("a", ticket.id, "in_progress", None, "req-3"), uow=uow)

    assert uow.audit.actions(ticket.id) == ["created", "routed", "status_changed"]
    routed, status = uow.audit.rows[1], uow.audit.rows[2]
    assert routed.details == {"department": "HR", "previous_department": None, "method": "auto",
                              "confidence": 0.9, "routing_version": 2}
    assert (routed.actor, routed.request_id, routed.ticket_version) == ("routing-service",
                                                                         "req-r", 2)
    assert status.details == {"from": "pending", "to": "in_progress"}
    assert status.ticket_version == 3


def test_comments_are_audited_and_make_a_version_with_its_event():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    cmd = activity.AddComment("a", ticket.id, "Bo", "bo@example.com", "hello", "req-4", "key:9")

    comment = activity.add_comment(cmd, uow=uow).item

    assert comment.id == 1 and uow.tickets.get("a", ticket.id).version == 2
    entry = uow.audit.rows[-1]
    assert entry.ticket_version == 2
    event = uow.outbox.events[-1]
    assert (event.event_type, event.ticket_version) == (EventType.TICKET_COMMENTED, 2)
    assert event.data == {"comment_id": 1, "author_kind": "agent"}   # no body, no address
    assert (entry.action, entry.details) == ("commented", {"comment_id": 1,
                                                           "author_email": "bo@example.com",
                                                           "author_kind": "agent"})
    listed = activity.list_comments("a", ticket.id, 10, None, uow=uow)
    assert [c.body for c in listed] == ["hello"]
    with pytest.raises(TicketNotFoundError):
        activity.add_comment(activity.AddComment("b", ticket.id, "X", "x@example.com", "x"),
                             uow=uow)
    with pytest.raises(TicketNotFoundError):
        activity.list_comments("b", ticket.id, 10, None, uow=uow)
    with pytest.raises(TicketNotFoundError):
        activity.ticket_history("b", ticket.id, 10, None, uow=uow)


def test_users_are_unique_per_tenant_and_email():
    uow = FakeUnitOfWork()
    ann = activity.create_user("a", "Ann", "ann@example.com", uow=uow).item
    with pytest.raises(UserExistsError) as exc:
        activity.create_user("a", "Ann 2", "ANN@example.com", uow=uow)
    assert exc.value.user_id == ann.id
    activity.create_user("b", "Ann", "ann@example.com", uow=uow)
    assert activity.get_user("a", ann.id, uow=uow).name == "Ann"
    with pytest.raises(UserNotFoundError):
        activity.get_user("b", ann.id, uow=uow)
    assert [u.id for u in activity.list_users("a", 10, None, uow=uow)] == [ann.id]


@pytest.mark.parametrize("create", [
    lambda uow, key, name: activity.create_user("a", name, "bo@example.com", uow=uow,
                                                idempotency_key=key),
    lambda uow, key, name: activity.add_comment(
        activity.AddComment("a", 1, name, "bo@example.com", "hello", idempotency_key=key),
        uow=uow),
], ids=["user", "comment"])
def test_an_idempotency_key_replays_the_first_create_and_refuses_another_body(create):
    uow = FakeUnitOfWork()
    _create(uow)
    first = create(uow, "k1", "Bo")
    again = create(uow, "k1", "Bo")
    assert not first.replayed and again.replayed and again.item.id == first.item.id
    audit = len(uow.audit.rows)
    with pytest.raises(IdempotencyKeyReusedError):
        create(uow, "k1", "Someone else")
    assert len(uow.audit.rows) == audit
    assert len(uow.users.rows) + len(uow.comments.rows) == 2   # the ticket's requester + one
    uow.users.held_keys.add(("a", "k2"))
    uow.comments.held_keys.add(("a", "k2"))
    with pytest.raises(IdempotencyKeyInFlightError):
        create(uow, "k2", "Bo")
