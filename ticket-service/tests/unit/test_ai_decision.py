"""The AI's decision on the ticket: applied with the routing, the tenant's ai_priority setting,
the list filters, and the Prefer: wait polling (fakes and an injected clock; no I/O)."""
import pytest

from support_shared.events import EventType, TicketRouted, new_event
from ticket_service.settings.domain import TenantSettings
from ticket_service.settings.handlers import get_settings, put_settings
from ticket_service.testing import FakeUnitOfWork
from ticket_service.tickets.api import representation
from ticket_service.tickets.handlers import (CreateTicket, EditTicket, create_tickets,
                                             edit_ticket, handle_tickets_routed, list_tickets,
                                             single)
from ticket_service.tickets.persistence import TicketFilter
from ticket_service.tickets.waiting import requested_wait, wait_until_routed

FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "low"}


def _create(uow, tenant="a"):
    return single(create_tickets([CreateTicket(tenant, FIELDS)], uow=uow)).ticket


def _routed(ticket_id=1, routing_version=1, *, method="auto", fallback=False, needs_review=False,
            priority="critical", tenant="a", sentiment="negative", requires_action=True):
    payload = TicketRouted(department="IT Support", confidence=0.8 if method == "auto" else None,
                           method=method, priority=priority, categorization_method="local_model",
                           needs_review=needs_review, routing_version=routing_version,
                           model_version="v3", urgency=0.9, sentiment=sentiment,
                           requires_action=requires_action, fallback=fallback)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=1)


def test_a_new_ticket_is_pending_with_its_requested_priority():
    uow = FakeUnitOfWork()
    body = representation(_create(uow))
    assert body["ai_status"] == "pending" and body["ai"] is None
    assert body["requested_priority"] == "low" and body["priority"] == "low"
    assert body["sentiment"] is None and body["requires_action"] is None


def test_routing_brings_the_decision_and_suggests_its_priority_by_default():
    uow = FakeUnitOfWork()
    _create(uow)
    handle_tickets_routed([_routed()], uow=uow)
    body = representation(uow.tickets.get("a", 1))
    assert body["ai_status"] == "categorized"
    assert body["priority"] == "low" and body["requested_priority"] == "low"
    assert body["ai"] == {"method": "local_model", "model_version": "v3", "confidence": 0.8,
                          "priority": "critical", "urgency": 0.9, "priority_applied": False}
    assert (body["sentiment"], body["requires_action"]) == ("negative", True)
    [applied] = [e for e in uow.outbox.events if e.event_type == EventType.TICKET_ROUTING_APPLIED]
    assert applied.ticket_version == 2 == body["version"]
    assert applied.data["ai_status"] == "categorized" and applied.data["ai_priority"] == "critical"
    assert applied.data["priority"] == "low"


def test_apply_setting_replaces_the_priority_in_the_same_version():
    uow = FakeUnitOfWork()
    put_settings("a", TenantSettings(ai_priority="apply"), uow=uow)
    _create(uow)
    _create(uow, tenant="b")                      # another tenant keeps the default: suggest
    handle_tickets_routed([_routed(), _routed(2, tenant="b")], uow=uow)
    mine, theirs = uow.tickets.get("a", 1), uow.tickets.get("b", 2)
    assert (mine.priority, mine.requested_priority, mine.ai_priority_applied) == (
        "critical", "low", True)
    assert mine.version == 2                      # one version, one event: routing.applied
    assert theirs.priority == "low" and not theirs.ai_priority_applied
    applied = [e for e in uow.outbox.events if e.event_type == EventType.TICKET_ROUTING_APPLIED]
    assert [e.data["priority"] for e in applied] == ["critical", "low"]
    assert get_settings("b", uow=uow) == TenantSettings("suggest")


def test_a_person_edited_priority_is_not_replaced():
    uow = FakeUnitOfWork()
    put_settings("a", TenantSettings(ai_priority="apply"), uow=uow)
    _create(uow)
    edit_ticket(EditTicket("a", 1, {"priority": "medium"}), uow=uow)
    handle_tickets_routed([_routed()], uow=uow)
    ticket = uow.tickets.get("a", 1)
    assert (ticket.priority, ticket.requested_priority, ticket.ai_priority) == (
        "medium", "medium", "critical")
    assert not ticket.ai_priority_applied


@pytest.mark.parametrize("fallback, needs_review, status", [
    (False, False, "categorized"), (True, False, "fallback"), (True, True, "needs_review")])
def test_ai_status(fallback, needs_review, status):
    uow = FakeUnitOfWork()
    _create(uow)
    handle_tickets_routed([_routed(fallback=fallback, needs_review=needs_review)], uow=uow)
    assert uow.tickets.get("a", 1).ai_status == status


def test_a_persons_routing_keeps_the_decision_and_ends_review():
    uow = FakeUnitOfWork()
    _create(uow)
    handle_tickets_routed([_routed(needs_review=True),
                           _routed(routing_version=2, method="manual", priority=None,
                                   sentiment=None, requires_action=None)], uow=uow)
    ticket = uow.tickets.get("a", 1)
    assert ticket.ai_status == "categorized"
    assert (ticket.ai_priority, ticket.ai_confidence, ticket.sentiment) == (
        "critical", 0.8, "negative")


def test_list_filters_on_ai_status_sentiment_and_requires_action():
    uow = FakeUnitOfWork()
    for _ in range(3):
        _create(uow)
    handle_tickets_routed([_routed(1), _routed(2, fallback=True, sentiment="positive",
                                               requires_action=False)], uow=uow)

    def ids(**filters):
        return [t.id for t in list_tickets("a", TicketFilter(**filters), 10, None, uow=uow)]

    assert ids(ai_status="pending") == [3]
    assert ids(ai_status="fallback") == [2] and ids(ai_status="categorized") == [1]
    assert ids(sentiment="negative") == [1] and ids(requires_action=False) == [2]


@pytest.mark.parametrize("header, wanted", [
    (None, None), ("", None), ("wait=5", 5), ("respond-async, wait=3", 3), ("WAIT = 2", 2),
    ("wait=99", 10), ("wait=abc", None), ("wait=-1", None), ("handling=lenient", None),
    ('wait="4"', 4)])
def test_prefer_wait_is_read_as_rfc_7240_says(header, wanted):
    assert requested_wait(header) == wanted


class _Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_returns_the_routed_ticket_as_soon_as_it_has_a_department():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    clock = _Clock()
    reads = []

    def read():
        reads.append(clock.now)
        if len(reads) == 3:
            handle_tickets_routed([_routed()], uow=uow)
        return uow.tickets.get("a", ticket.id)

    routed = wait_until_routed(read, 5, clock=clock, sleep=clock.sleep)
    assert routed is not None and routed.department == "IT Support"
    assert len(reads) == 3 and clock.now < 1


def test_wait_gives_up_at_the_deadline_without_sleeping_past_it():
    uow = FakeUnitOfWork()
    ticket = _create(uow)
    clock = _Clock()
    found = wait_until_routed(lambda: uow.tickets.get("a", ticket.id), 2, clock=clock,
                              sleep=clock.sleep)
    assert found is None and clock.now == pytest.approx(2.0)
    assert max(clock.sleeps) <= 0.5
