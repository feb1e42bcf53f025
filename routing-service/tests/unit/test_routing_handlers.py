"""Handlers on fakes, one event at a time: created/categorized in any order, redelivery,
manual routing wins (batches of many events: test_routing_batches.py)."""
import dataclasses

import pytest

from routing_service.domain import (DepartmentNotFoundError, IdempotencyKeyReusedError,
                                    TicketNotFoundError)
from routing_service.handlers import (
    handle_tickets_categorized,
    handle_tickets_created,
    route_ticket,
    seed_departments,
)
from support_shared.events import EventType
from support_shared.messaging.errors import PermanentError

from routing_service.testing import CREATED_AT, categorized, created

def apply_created(envelope, *, uow):
    handle_tickets_created([envelope], uow=uow)


def apply_categorized(envelope, *, uow):
    handle_tickets_categorized([envelope], uow=uow)


def routed_payloads(uow):
    return [e.payload() for e in uow.outbox.events]


def test_created_then_categorized_routes_once_with_history_and_event(uow):
    apply_created(created(), uow=uow)
    event = categorized(department="it support", confidence=0.87)
    apply_categorized(event, uow=uow)

    ticket = uow.tickets.get("default", 1)
    assert (ticket.title, ticket.department, ticket.routing_version) == (
        "Laptop broken", "IT Support", 1)
    [record] = uow.history.records
    assert (record.method, record.previous_department, record.needs_review) == (
        "auto", None, False)
    [envelope] = uow.outbox.events
    assert envelope.event_type == EventType.TICKET_ROUTED
    assert (envelope.tenant_id, envelope.ticket_id, envelope.ticket_version) == ("default", 1, 1)
    assert envelope.correlation_id == "req-cat"
    assert envelope.causation_id == str(event.event_id)
    payload = envelope.payload()
    assert payload.department == "IT Support" and payload.method == "auto"
    assert payload.confidence == 0.87 and payload.priority == "high"
    assert payload.categorization_method == "claude" and payload.routing_version == 1


def test_categorized_before_created_keeps_the_routing(uow):
    apply_categorized(categorized(), uow=uow)
    apply_created(created(), uow=uow)
    ticket = uow.tickets.get("default", 1)
    assert (ticket.title, ticket.department, ticket.routing_version) == (
        "Laptop broken", "IT Support", 1)
    assert ticket.ticket_created_at == CREATED_AT
    assert len(uow.history.records) == 1


def test_duplicate_delivery_has_no_second_effect(uow):
    event = categorized()
    apply_categorized(event, uow=uow)
    apply_categorized(event, uow=uow)
    apply_created(created(), uow=uow)
    assert len(uow.history.records) == 1
    assert len(uow.outbox.events) == 1
    assert uow.tickets.get("default", 1).routing_version == 1


def test_low_confidence_goes_to_triage_with_reason(uow):
    apply_categorized(categorized(department="HR", confidence=0.31), uow=uow)
    [record] = uow.history.records
    assert (record.department, record.needs_review) == ("General", True)
    assert record.reason == "confidence 0.31 below 0.50 for HR"
    assert routed_payloads(uow)[0].needs_review is True


def test_unknown_and_inactive_departments_go_to_triage(uow):
    apply_categorized(categorized(ticket_id=1, department="Legal"), uow=uow)
    uow.departments.replace("default", "Finance", active=False)
    apply_categorized(categorized(ticket_id=2, department="Finance"), uow=uow)
    reasons = [(r.department, r.reason) for r in uow.history.records]
    assert reasons == [("General", "unknown department Legal"),
                       ("General", "inactive department Finance")]


def test_recategorization_reroutes_and_stale_ones_are_dropped(uow):
    apply_categorized(categorized(department="HR", version=2), uow=uow)
    apply_categorized(categorized(department="Finance", version=3), uow=uow)
    apply_categorized(categorized(department="Facilities", version=1), uow=uow)
    assert [(r.department, r.previous_department, r.routing_version)
            for r in uow.history.records] == [("HR", None, 1), ("Finance", "HR", 2)]
    assert [e.ticket_version for e in uow.outbox.events] == [2, 3]


def test_manual_routing_wins_over_a_later_categorization(uow):
    apply_created(created(), uow=uow)
    result = route_ticket("default", 1, "facilities", "manual", uow=uow, correlation_id="req-m")
    assert (result.department, result.method, result.changed) == ("Facilities", "manual", True)
    commits = uow.commits
    later = categorized(department="IT Support", confidence=0.99, version=2)
    apply_categorized(later, uow=uow)

    ticket = uow.tickets.get("default", 1)
    assert (ticket.department, ticket.last_method, ticket.routing_version) == (
        "Facilities", "manual", 1)
    assert [r.method for r in uow.history.records] == ["manual"]
    assert len(uow.outbox.events) == 1
    assert uow.commits == commits + 1          # the inbox claim is committed
    assert later.event_id in uow.inbox.seen


def test_manual_event_uses_latest_ticket_version_and_request_id(uow):
    apply_created(created(version=1), uow=uow)
    apply_categorized(categorized(department="HR", version=3), uow=uow)
    route_ticket("default", 1, "Finance", "reroute", uow=uow, correlation_id="req-r")
    envelope = uow.outbox.events[-1]
    payload = envelope.payload()
    assert (payload.method, payload.department, payload.previous_department) == (
        "reroute", "Finance", "HR")
    assert payload.routing_version == 2 and payload.confidence is None
    assert payload.needs_review is False
    assert envelope.ticket_version == 3
    assert (envelope.correlation_id, envelope.causation_id) == ("req-r", None)


def test_routing_to_the_current_department_records_nothing(uow):
    apply_categorized(categorized(department="HR"), uow=uow)
    result = route_ticket("default", 1, "hr", "manual", uow=uow)
    assert result.changed is False
    assert (result.department, result.previous_department, result.routing_version) == (
        "HR", "HR", 1)
    assert result.routed_at == uow.history.records[0].routed_at
    assert len(uow.history.records) == 1 and len(uow.outbox.events) == 1


def test_manual_routing_errors(uow):
    with pytest.raises(TicketNotFoundError):
        route_ticket("default", 404, "HR", "manual", uow=uow)
    apply_created(created(), uow=uow)
    with pytest.raises(DepartmentNotFoundError):
        route_ticket("default", 1, "Legal", "manual", uow=uow)
    uow.departments.replace("default", "HR", active=False)
    with pytest.raises(DepartmentNotFoundError):
        route_ticket("default", 1, "HR", "manual", uow=uow)
    assert uow.history.records == [] and uow.outbox.events == []


def test_tenants_are_kept_apart(uow):
    apply_created(created(tenant="acme"), uow=uow)
    assert len(uow.departments.list("acme")) == 5        # defaults copied lazily
    with pytest.raises(TicketNotFoundError):
        route_ticket("default", 1, "HR", "manual", uow=uow)
    route_ticket("acme", 1, "HR", "manual", uow=uow)
    assert uow.outbox.events[0].tenant_id == "acme"


def test_seed_is_idempotent(uow):
    assert seed_departments("default", uow=uow) == 5
    assert seed_departments("default", uow=uow) == 0


def test_no_triage_department_is_permanent(uow):
    uow.departments.ensure_defaults("default")
    uow.departments.replace("default", "General", active=False)
    with pytest.raises(PermanentError, match="unknown department Legal"):
        apply_categorized(categorized(department="Legal"), uow=uow)
    assert uow.history.records == [] and uow.inbox.seen == set()   # rolled back


def test_a_retry_with_the_idempotency_key_replays_and_records_nothing(uow):
    apply_created(created(), uow=uow)
    first = route_ticket("default", 1, "HR", "manual", uow=uow, idempotency_key="k1")
    route_ticket("default", 1, "Finance", "reroute", uow=uow)      # moved on since
    again = route_ticket("default", 1, "HR", "manual", uow=uow, idempotency_key="k1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again == dataclasses.replace(first, replayed=True)
    assert [r.department for r in uow.history.records] == ["HR", "Finance"]
    assert len(uow.outbox.events) == 2


def test_an_idempotency_key_reused_for_another_request_is_refused(uow):
    apply_created(created(), uow=uow)
    apply_created(created(ticket_id=2), uow=uow)
    route_ticket("default", 1, "HR", "manual", uow=uow, idempotency_key="k1")
    for ticket_id, department, method in ((1, "Finance", "manual"), (2, "HR", "manual"),
                                          (1, "HR", "reroute")):
        with pytest.raises(IdempotencyKeyReusedError):
            route_ticket("default", ticket_id, department, method, uow=uow,
                         idempotency_key="k1")
    assert len(uow.history.records) == 1


def test_idempotency_keys_are_per_tenant_and_a_failed_request_keeps_none(uow):
    with pytest.raises(TicketNotFoundError):
        route_ticket("default", 1, "HR", "manual", uow=uow, idempotency_key="k1")
    apply_created(created(), uow=uow)
    apply_created(created(tenant="acme"), uow=uow)
    assert route_ticket("default", 1, "HR", "manual", uow=uow, idempotency_key="k1").changed
    acme = route_ticket("acme", 1, "Finance", "manual", uow=uow, idempotency_key="k1")
    assert (acme.department, acme.replayed) == ("Finance", False)
    assert len(uow.history.records) == 2


def test_a_closed_ticket_is_not_routed_until_reopened(uow):
    from routing_service.domain import TicketClosedError
    from routing_service.handlers import handle_tickets_status_updated
    from routing_service.testing import status_updated

    apply_created(created(), uow=uow)
    apply_categorized(categorized(department="HR"), uow=uow)
    handle_tickets_status_updated([status_updated(version=5)], uow=uow)
    with pytest.raises(TicketClosedError):
        route_ticket("default", 1, "Finance", "reroute", uow=uow)
    apply_categorized(categorized(department="Finance", version=6), uow=uow)
    assert uow.tickets.get("default", 1).department == "HR"      # late categorization ignored

    # an older "closed" arriving after the reopen does not close it again
    reopened = status_updated(new_status="in_progress", old_status="closed", version=7)
    handle_tickets_status_updated([reopened, status_updated(version=5)], uow=uow)
    assert route_ticket("default", 1, "Finance", "reroute", uow=uow).department == "Finance"
    handle_tickets_status_updated([status_updated(version=6)], uow=uow)
    assert not uow.tickets.get("default", 1).closed
