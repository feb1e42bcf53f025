"""The clocks' part of ticket changes, the policy and calendar commands and the clock's tick,
against the fakes (no I/O); the clock's ``now`` is injected."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support_shared.events import EventType

from ticket_service.activity.handlers import AddComment, add_comment, list_comments
from ticket_service.sla.calendar import Calendar
from ticket_service.sla.domain import Target
from ticket_service.sla.handlers import fire_due, set_calendar, set_policy
from ticket_service.testing import FakeUnitOfWork
from ticket_service.tickets.handlers import (CreateTicket, DeleteTicket, EditTicket,
                                             UpdateStatus, create_tickets, delete_ticket,
                                             edit_ticket, single, update_ticket_status)

FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}
HIGH = Target(240, 1440)   # the default targets of "high"


@pytest.fixture
def uow():
    return FakeUnitOfWork()


def _open(uow, priority="high"):
    return single(create_tickets([CreateTicket("t1", {**FIELDS, "priority": priority})],
                                 uow=uow)).ticket


def _status(uow, ticket_id, status):
    return update_ticket_status(UpdateStatus("t1", ticket_id, status), uow=uow)


def _comment(uow, ticket_id, email="agent@corp.example", kind=None):
    return add_comment(AddComment("t1", ticket_id, "Bo", email, "hello", author_kind=kind),
                       uow=uow).item


def _sla_events(uow):
    return [e for e in uow.outbox.events if e.event_type.value.startswith("sla.")]


def test_a_new_ticket_shows_when_each_clock_is_due(uow):
    ticket = _open(uow)
    assert ticket.first_response_due_at == ticket.created_at + timedelta(minutes=240)
    assert ticket.resolution_due_at == ticket.created_at + timedelta(minutes=1440)
    assert uow.tickets.get("t1", ticket.id).resolution_due_at == ticket.resolution_due_at


def test_waiting_pauses_the_resolution_clock_and_in_progress_resumes_it(uow):
    ticket = _open(uow)
    _status(uow, ticket.id, "in_progress")
    waiting = _status(uow, ticket.id, "waiting")
    assert waiting.resolution_due_at is None
    assert waiting.first_response_due_at is not None   # a pause of resolution only
    back = _status(uow, ticket.id, "in_progress")
    assert back.resolution_due_at is not None
    assert back.resolution_due_at >= ticket.resolution_due_at


def test_only_a_public_agent_comment_answers_the_requester(uow):
    ticket = _open(uow)
    assert _comment(uow, ticket.id, FIELDS["user_email"]).author_kind == "requester"
    assert _comment(uow, ticket.id, kind="internal").author_kind == "internal"
    assert uow.tickets.get("t1", ticket.id).first_response_due_at is not None
    assert _comment(uow, ticket.id).author_kind == "agent"
    assert uow.tickets.get("t1", ticket.id).first_response_due_at is None
    kinds = [e.data["author_kind"] for e in uow.outbox.events
             if e.event_type == EventType.TICKET_COMMENTED]
    assert kinds == ["requester", "internal", "agent"]


def test_the_requester_view_leaves_internal_notes_out(uow):
    ticket = _open(uow)
    _comment(uow, ticket.id, kind="internal")
    _comment(uow, ticket.id)
    everyone = list_comments("t1", ticket.id, 10, None, uow=uow)
    public = list_comments("t1", ticket.id, 10, None, uow=uow, public_only=True)
    assert [c.author_kind for c in everyone] == ["internal", "agent"]
    assert [c.author_kind for c in public] == ["agent"]


def test_a_priority_change_moves_the_due_moments(uow):
    ticket = _open(uow, "low")
    edited = edit_ticket(EditTicket("t1", ticket.id, {"priority": "critical"}), uow=uow)
    # created and edited within the same instant or so: 60 minutes from about the creation
    assert abs(edited.first_response_due_at - (ticket.created_at + timedelta(minutes=60))
               ) < timedelta(seconds=5)


def test_the_clock_fires_warning_then_breach_once_each(uow):
    ticket = _open(uow)
    start = ticket.created_at
    assert fire_due(start + timedelta(minutes=191), 100, uow=uow) == []
    [warning] = fire_due(start + timedelta(minutes=192), 100, uow=uow)   # 80% of 240
    assert warning.event_type == EventType.SLA_WARNING
    assert (warning.ticket_id, warning.ticket_version) == (None, None)   # a tenant event
    assert warning.data["ticket_id"] == ticket.id
    assert warning.data["kind"] == "first_response" and warning.data["priority"] == "high"
    [breach] = fire_due(start + timedelta(minutes=240), 100, uow=uow)
    assert breach.event_type == EventType.SLA_BREACHED
    assert datetime.fromisoformat(breach.data["due_at"]) == ticket.first_response_due_at
    assert fire_due(start + timedelta(minutes=241), 100, uow=uow) == []


def test_a_change_after_the_due_moment_fires_the_breach_the_clock_had_not_yet(uow):
    ticket = _open(uow)
    timers = uow.sla.rows
    for timer in timers.values():   # as if the clock process were late: due a minute ago
        timer.due_at = timer.warning_at = ticket.created_at - timedelta(minutes=1)
    _comment(uow, ticket.id)
    fired = sorted((e.event_type.value, e.data["kind"]) for e in _sla_events(uow))
    assert fired == [("sla.breached", "first_response"), ("sla.breached", "resolution")]
    assert fire_due(ticket.created_at + timedelta(days=30), 100, uow=uow) == []


def test_a_policy_change_reschedules_running_clocks_and_leaves_paused_ones_paused(uow):
    running, paused = _open(uow), _open(uow)
    _status(uow, paused.id, "in_progress")
    _status(uow, paused.id, "waiting")
    targets = {p: Target(10, 20) for p in ("critical", "high", "medium", "low")}
    now = running.created_at + timedelta(minutes=5)
    set_policy("t1", targets, uow=uow, now=now)
    assert uow.tickets.get("t1", running.id).first_response_due_at == (
        running.created_at + timedelta(minutes=10))
    assert uow.tickets.get("t1", paused.id).resolution_due_at is None
    assert uow.sla.policy("t1").value["low"] == Target(10, 20)


def test_a_calendar_change_reschedules_from_what_was_counted(uow):
    ticket = _open(uow)
    never_on_sunday = Calendar("UTC", tuple(((0, 1440),) if d < 6 else () for d in range(7)))
    set_calendar("t1", never_on_sunday, uow=uow, now=ticket.created_at)
    assert uow.sla.calendar("t1").value == never_on_sunday


def test_a_deleted_ticket_fires_nothing(uow):
    ticket = _open(uow)
    delete_ticket(DeleteTicket("t1", ticket.id), uow=uow)
    assert fire_due(ticket.created_at + timedelta(days=30), 100, uow=uow) == []
