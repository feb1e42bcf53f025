"""Projection rules: each event's columns, reordering, staleness and duplicates (in memory)."""
import itertools
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from analytics_service.projection import (
    EventLog,
    FactsRepository,
    TicketFacts,
    handle_event,
    project,
)
from support_shared.events import (
    Envelope,
    EventType,
    InvalidEventError,
    TicketCategorized,
    TicketCreated,
    TicketRouted,
    TicketStatusUpdated,
    new_event,
)
from support_shared.testing.fakes import FakeInbox

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=timezone.utc)


class InMemoryFacts(FactsRepository):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], TicketFacts] = {}

    def lock(self, tenant_id, ticket_id):
        return self.rows.get((tenant_id, ticket_id)) or TicketFacts(tenant_id, ticket_id)

    def save(self, facts):
        self.rows[(facts.tenant_id, facts.ticket_id)] = facts


class InMemoryEventLog(EventLog):
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def add(self, envelope):
        self.events.append(envelope)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.inbox = FakeInbox()
        self.facts = InMemoryFacts()
        self.events = InMemoryEventLog()
        self.commits = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def commit(self):
        self.commits += 1

    def get(self, ticket_id=1, tenant="acme"):
        return self.facts.rows[(tenant, ticket_id)]


def created(ticket_id=1, tenant="acme", priority="low", at=T0):
    return new_event(
        EventType.TICKET_CREATED,
        TicketCreated(title="t", description="d", user_name="u", user_email="u@example.com",
                      priority=priority, created_at=at),
        tenant_id=tenant, ticket_id=ticket_id, ticket_version=1, occurred_at=at,
    )


def categorized(ticket_id=1, tenant="acme", at=T0 + timedelta(seconds=30), priority="high",
                confidence=0.82, method="claude"):
    return new_event(
        EventType.TICKET_CATEGORIZED,
        TicketCategorized(department="IT Support", priority=priority, confidence=confidence,
                          method=method, model_version="m-1", requested_priority="low"),
        tenant_id=tenant, ticket_id=ticket_id, ticket_version=1, occurred_at=at,
    )


def routed(ticket_id=1, tenant="acme", at=T0 + timedelta(seconds=60), department="IT Support",
           version=1, confidence=0.82, needs_review=False, priority="high"):
    return new_event(
        EventType.TICKET_ROUTED,
        TicketRouted(department=department, confidence=confidence, priority=priority,
                     method="auto" if version == 1 else "reroute", categorization_method="claude",
                     needs_review=needs_review, routing_version=version),
        tenant_id=tenant, ticket_id=ticket_id, ticket_version=2, occurred_at=at,
    )


def status(new, version, ticket_id=1, tenant="acme", at=None, old="pending"):
    return new_event(
        EventType.TICKET_STATUS_UPDATED,
        TicketStatusUpdated(old_status=old, new_status=new),
        tenant_id=tenant, ticket_id=ticket_id, ticket_version=version,
        occurred_at=at or T0 + timedelta(hours=version),
    )


def apply_all(*events):
    uow = FakeUnitOfWork()
    for event in events:
        handle_event(event, uow=uow)
    return uow


def test_created_fills_its_columns_and_the_initial_status():
    facts = apply_all(created(priority="medium")).get()
    assert facts.created_at == T0
    assert (facts.priority, facts.requested_priority) == ("medium", "medium")
    assert (facts.status, facts.status_version) == ("pending", 1)
    assert facts.department is None and facts.routing_version == 0
    assert facts.updated_at == T0


def test_categorized_sets_priority_method_and_confidence_and_keeps_earliest_time():
    first = categorized(at=T0 + timedelta(seconds=30))
    again = categorized(at=T0 + timedelta(seconds=90), priority="critical", confidence=0.5,
                        method="keywords")
    facts = apply_all(created(), again, first).get()
    assert facts.categorized_at == T0 + timedelta(seconds=30)
    assert facts.requested_priority == "low"
    assert facts.department is None  # only routing assigns the department
    facts = apply_all(created(), first).get()
    assert (facts.priority, facts.confidence, facts.categorization_method, facts.model_version) == (
        "high", 0.82, "claude", "m-1")


def test_routed_applies_only_a_newer_routing_version():
    auto = routed(version=1, at=T0 + timedelta(minutes=1), department="IT Support")
    reroute = routed(version=2, at=T0 + timedelta(minutes=5), department="Finance",
                     confidence=None, needs_review=True, priority=None)
    facts = apply_all(created(), categorized(), reroute, auto).get()
    assert (facts.department, facts.routing_version, facts.needs_review) == ("Finance", 2, True)
    assert facts.routed_at == T0 + timedelta(minutes=5)
    assert facts.first_routed_at == T0 + timedelta(minutes=1)   # the stale event still tells when
    assert facts.confidence == 0.82 and facts.priority == "high"  # None in a reroute keeps values


def test_late_categorization_keeps_the_routing_confidence():
    facts = apply_all(routed(confidence=0.9), categorized(confidence=0.4)).get()
    assert facts.confidence == 0.9
    assert facts.categorization_method == "claude"


def test_out_of_order_status_events_highest_version_wins():
    events = [status("in_progress", 2), status("resolved", 3, old="in_progress"),
              status("closed", 4, old="resolved")]
    for order in itertools.permutations(events):
        facts = apply_all(created(), *order).get()
        assert (facts.status, facts.status_version) == ("closed", 4)
        assert facts.in_progress_at == T0 + timedelta(hours=2)
        assert facts.resolved_at == T0 + timedelta(hours=3)
        assert facts.closed_at == T0 + timedelta(hours=4)


def test_late_status_event_never_rolls_back():
    uow = apply_all(created(), status("resolved", 3))
    assert handle_event(status("in_progress", 2), uow=uow) is True
    facts = uow.get()
    assert (facts.status, facts.status_version) == ("resolved", 3)
    assert facts.in_progress_at == T0 + timedelta(hours=2)
    assert len(uow.events.events) == 3        # logged (for a rebuild) though it changed no status


def test_status_and_routed_before_created_create_the_row():
    uow = apply_all(status("in_progress", 2), routed())
    facts = uow.get()
    assert (facts.status, facts.department, facts.created_at) == ("in_progress", "IT Support", None)
    handle_event(created(priority="medium"), uow=uow)
    facts = uow.get()
    assert facts.created_at == T0
    assert (facts.status, facts.status_version) == ("in_progress", 2)  # created v1 is older
    assert (facts.priority, facts.requested_priority) == ("high", "medium")


def test_duplicate_event_is_applied_once():
    uow = apply_all(created())
    event = routed()
    assert handle_event(event, uow=uow) is True
    before = uow.get()
    assert handle_event(event, uow=uow) is False
    assert uow.get() == before
    assert [e.event_type for e in uow.events.events] == [EventType.TICKET_CREATED, EventType.TICKET_ROUTED]
    assert uow.commits == 2


def test_every_order_of_the_full_lifecycle_gives_the_same_facts():
    events = [created(), categorized(), routed(), status("in_progress", 3),
              status("resolved", 4, old="in_progress")]
    results = {apply_all(*order).get() for order in itertools.permutations(events)}
    assert len(results) == 1
    facts = results.pop()
    assert (facts.status, facts.department, facts.priority) == ("resolved", "IT Support", "high")
    assert facts.updated_at == T0 + timedelta(hours=4)


def test_tickets_and_tenants_are_kept_apart():
    uow = apply_all(created(ticket_id=1, tenant="acme"), created(ticket_id=1, tenant="globex"),
                    routed(ticket_id=1, tenant="globex"))
    assert uow.get(1, "acme").department is None
    assert uow.get(1, "globex").department == "IT Support"


def test_invalid_data_fails_before_claiming():
    bad = Envelope(event_id=uuid.uuid4(), event_type=EventType.TICKET_ROUTED, occurred_at=T0,
                   tenant_id="acme", ticket_id=1, ticket_version=1, data={"department": "HR"})
    uow = FakeUnitOfWork()
    with pytest.raises(InvalidEventError):
        handle_event(bad, uow=uow)
    assert not uow.inbox.seen and not uow.facts.rows


def test_project_refuses_another_tickets_facts():
    with pytest.raises(ValueError):
        project(replace(TicketFacts("acme", 2)), created(ticket_id=1))
