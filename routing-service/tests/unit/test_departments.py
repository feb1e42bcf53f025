"""Departments managed through the API and triage as an action, on the in-memory fakes."""
import pytest

from routing_service.departments import create_department, update_department
from routing_service.domain import (Department, DepartmentExistsError, DepartmentNotFoundError,
                                    IdempotencyKeyReusedError, TicketNotRoutedError,
                                    TriageDepartmentRequiredError)
from routing_service.handlers import handle_tickets_categorized, handle_tickets_created
from routing_service.testing import categorized, created
from routing_service.triage import TriageConflictError, triage_ticket
from support_shared.events import EventType

LEGAL = Department("Legal", "contracts and NDAs", 0.4, keywords=("nda", "contract review"))


def test_create_adds_a_department_and_announces_it_without_a_ticket(uow):
    body, replayed = create_department("acme", LEGAL, uow=uow, correlation_id="req-1")

    assert not replayed and body["name"] == "Legal" and body["version"] == 1
    assert [d.name for d in uow.departments.list("acme")][-1] == "Legal"
    assert len(uow.departments.list("acme")) == 6          # the defaults were seeded first
    [event] = uow.outbox.events
    assert event.event_type == EventType.DEPARTMENT_CHANGED
    assert (event.ticket_id, event.ticket_version, event.tenant_id) == (None, None, "acme")
    payload = event.payload()
    assert (payload.name, payload.keywords, payload.change) == ("Legal", ["nda", "contract review"],
                                                                "created")
    assert payload.min_confidence == 0.4 and payload.active and not payload.is_triage


def test_a_taken_name_in_any_case_is_refused_and_nothing_is_announced(uow):
    create_department("acme", LEGAL, uow=uow)
    with pytest.raises(DepartmentExistsError):
        create_department("acme", Department("LEGAL"), uow=uow)
    with pytest.raises(DepartmentExistsError):
        create_department("acme", Department("it support"), uow=uow)
    assert len(uow.outbox.events) == 1


def test_create_with_an_idempotency_key_replays_and_refuses_another_body(uow):
    first, _ = create_department("acme", LEGAL, uow=uow, idempotency_key="k")
    again, replayed = create_department("acme", LEGAL, uow=uow, idempotency_key="k")
    assert replayed and again == first and len(uow.outbox.events) == 1
    with pytest.raises(IdempotencyKeyReusedError):
        create_department("acme", Department("Other"), uow=uow, idempotency_key="k")


def test_update_bumps_the_version_and_announces_only_real_changes(uow):
    create_department("acme", LEGAL, uow=uow)
    edited, changed = update_department("acme", "legal", {"keywords": ["gdpr"]}, uow=uow)
    assert changed and edited.version == 2 and edited.keywords == ("gdpr",)
    same, changed = update_department("acme", "Legal", {"keywords": ["gdpr"]}, uow=uow)
    assert not changed and same.version == 2
    assert [e.payload().version for e in uow.outbox.events] == [1, 2]


def test_deactivate_keeps_the_row_and_routing_sends_its_tickets_to_triage(uow):
    update_department("default", "Finance", {"active": False}, uow=uow)
    assert not uow.departments.get("default", "Finance").active
    assert uow.outbox.events[-1].payload().active is False

    handle_tickets_created([created(1)], uow=uow)
    handle_tickets_categorized([categorized(1, department="Finance")], uow=uow)
    ticket = uow.tickets.get("default", 1)
    assert (ticket.department, ticket.needs_review) == ("General", True)


def test_the_triage_department_cannot_be_deactivated(uow):
    with pytest.raises(TriageDepartmentRequiredError):
        update_department("default", "General", {"active": False}, uow=uow)
    with pytest.raises(DepartmentNotFoundError):
        update_department("default", "Nope", {"active": False}, uow=uow)


def test_a_new_department_routes_the_next_ticket_at_once(uow):
    create_department("default", LEGAL, uow=uow)
    handle_tickets_created([created(1)], uow=uow)
    handle_tickets_categorized([categorized(1, department="Legal", confidence=0.45)], uow=uow)
    ticket = uow.tickets.get("default", 1)
    assert (ticket.department, ticket.needs_review) == ("Legal", False)


def _in_review(uow, ticket_id=1):
    handle_tickets_created([created(ticket_id)], uow=uow)
    handle_tickets_categorized([categorized(ticket_id, department="Legal")], uow=uow)
    assert uow.tickets.get("default", ticket_id).needs_review
    uow.outbox.events.clear()


def test_confirm_clears_review_and_publishes_a_person_s_routing(uow):
    _in_review(uow)
    result = triage_ticket("default", 1, "confirm", None, uow=uow)
    assert result.changed and not result.needs_review and result.department == "General"
    assert not uow.tickets.get("default", 1).needs_review
    [event] = uow.outbox.events
    payload = event.payload()
    assert (payload.method, payload.department, payload.needs_review) == ("manual", "General",
                                                                          False)
    again = triage_ticket("default", 1, "confirm", "general", uow=uow)
    assert not again.changed and len(uow.outbox.events) == 1


def test_reroute_moves_the_ticket_and_clears_review(uow):
    _in_review(uow)
    result = triage_ticket("default", 1, "reroute", "HR", uow=uow)
    assert (result.department, result.previous_department, result.method) == (
        "HR", "General", "reroute")
    assert not uow.tickets.get("default", 1).needs_review
    assert uow.outbox.events[-1].payload().method == "reroute"


def test_triage_refuses_what_does_not_fit(uow):
    _in_review(uow)
    with pytest.raises(TriageConflictError):
        triage_ticket("default", 1, "confirm", "HR", uow=uow)
    with pytest.raises(DepartmentNotFoundError):
        triage_ticket("default", 1, "reroute", "Nowhere", uow=uow)
    handle_tickets_created([created(2)], uow=uow)
    with pytest.raises(TicketNotRoutedError):
        triage_ticket("default", 2, "confirm", None, uow=uow)
    assert uow.outbox.events == []


def test_triage_with_an_idempotency_key_replays(uow):
    _in_review(uow)
    first = triage_ticket("default", 1, "reroute", "HR", uow=uow, idempotency_key="t1")
    again = triage_ticket("default", 1, "reroute", "HR", uow=uow, idempotency_key="t1")
    assert again.replayed and again.routing_version == first.routing_version
    assert len(uow.outbox.events) == 1
