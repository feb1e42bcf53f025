"""Projection rules through ``handle_events`` on batches of 1 and N: each event's columns,
reordering, staleness and duplicates (against the fakes, in memory)."""
import itertools
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from analytics_service.projection import TicketFacts, handle_events, project
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
from support_shared.events import (FieldChange, TicketCommented, TicketDeleted,
                                   TicketRoutingApplied, TicketUpdated)

from analytics_service.testing import FakeFacts, FakeProjectionUnitOfWork

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=timezone.utc)


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


def one_by_one(*events):
    """Each event a batch of one, as single deliveries and the isolation fallback give them."""
    uow = FakeProjectionUnitOfWork()
    for event in events:
        handle_events([event], uow=uow)
    return uow


def one_batch(*events):
    uow = FakeProjectionUnitOfWork()
    handle_events(events, uow=uow)
    return uow


@pytest.fixture(params=[one_by_one, one_batch], ids=["batches_of_1", "one_batch"])
def apply_all(request):
    return request.param


def test_created_fills_its_columns_and_the_initial_status(apply_all):
    facts = apply_all(created(priority="medium")).get()
    assert facts.created_at == T0
    assert (facts.priority, facts.requested_priority) == ("medium", "medium")
    assert (facts.status, facts.status_version) == ("pending", 1)
    assert facts.department is None and facts.routing_version == 0
    assert facts.updated_at == T0


def test_categorized_sets_priority_method_and_confidence_and_keeps_earliest_time(apply_all):
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


def test_routed_applies_only_a_newer_routing_version(apply_all):
    auto = routed(version=1, at=T0 + timedelta(minutes=1), department="IT Support")
    reroute = routed(version=2, at=T0 + timedelta(minutes=5), department="Finance",
                     confidence=None, needs_review=True, priority=None)
    facts = apply_all(created(), categorized(), reroute, auto).get()
    assert (facts.department, facts.routing_version, facts.needs_review) == ("Finance", 2, True)
    assert facts.routed_at == T0 + timedelta(minutes=5)
    assert facts.first_routed_at == T0 + timedelta(minutes=1)   # the stale event still tells when
    assert facts.confidence == 0.82 and facts.priority == "high"  # None in a reroute keeps values


def test_late_categorization_keeps_the_routing_confidence(apply_all):
    facts = apply_all(routed(confidence=0.9), categorized(confidence=0.4)).get()
    assert facts.confidence == 0.9
    assert facts.categorization_method == "claude"


def test_out_of_order_status_events_highest_version_wins(apply_all):
    events = [status("in_progress", 2), status("resolved", 3, old="in_progress"),
              status("closed", 4, old="resolved")]
    for order in itertools.permutations(events):
        facts = apply_all(created(), *order).get()
        assert (facts.status, facts.status_version) == ("closed", 4)
        assert facts.in_progress_at == T0 + timedelta(hours=2)
        assert facts.resolved_at == T0 + timedelta(hours=3)
        assert facts.closed_at == T0 + timedelta(hours=4)


def test_late_status_event_never_rolls_back(apply_all):
    uow = apply_all(created(), status("resolved", 3))
    assert handle_events([status("in_progress", 2)], uow=uow) == 1
    facts = uow.get()
    assert (facts.status, facts.status_version) == ("resolved", 3)
    assert facts.in_progress_at == T0 + timedelta(hours=2)
    assert len(uow.events.events) == 3        # logged (for a rebuild) though it changed no status


def test_status_and_routed_before_created_create_the_row(apply_all):
    uow = apply_all(status("in_progress", 2), routed())
    facts = uow.get()
    assert (facts.status, facts.department, facts.created_at) == ("in_progress", "IT Support", None)
    handle_events([created(priority="medium")], uow=uow)
    facts = uow.get()
    assert facts.created_at == T0
    assert (facts.status, facts.status_version) == ("in_progress", 2)  # created v1 is older
    assert (facts.priority, facts.requested_priority) == ("high", "medium")


def test_duplicate_event_is_applied_once(apply_all):
    uow = apply_all(created())
    event = routed()
    assert handle_events([event], uow=uow) == 1
    before = uow.get()
    assert handle_events([event], uow=uow) == 0
    assert uow.get() == before
    assert [e.event_type for e in uow.events.events] == [EventType.TICKET_CREATED, EventType.TICKET_ROUTED]


def test_every_order_of_the_full_lifecycle_gives_the_same_facts(apply_all):
    events = [created(), categorized(), routed(), status("in_progress", 3),
              status("resolved", 4, old="in_progress")]
    results = {apply_all(*order).get() for order in itertools.permutations(events)}
    assert len(results) == 1
    facts = results.pop()
    assert (facts.status, facts.department, facts.priority) == ("resolved", "IT Support", "high")
    assert facts.updated_at == T0 + timedelta(hours=4)


def test_tickets_and_tenants_are_kept_apart(apply_all):
    uow = apply_all(created(ticket_id=1, tenant="acme"), created(ticket_id=1, tenant="globex"),
                    routed(ticket_id=1, tenant="globex"))
    assert uow.get(1, "acme").department is None
    assert uow.get(1, "globex").department == "IT Support"


def test_a_batch_with_a_duplicate_and_a_stale_version_equals_one_by_one():
    """Copies inside the batch count once, and a status older than one before it in the same
    batch is logged but changes nothing: ticket_version decides, not the order in the batch."""
    first = [created(), categorized(), routed(), status("resolved", 4, old="in_progress")]
    stale = status("in_progress", 3)
    batch = [*first, first[1], stale, first[3], created(ticket_id=2)]
    reference = one_by_one(*batch)
    uow = FakeProjectionUnitOfWork()
    assert handle_events(batch, uow=uow) == 6
    assert uow.facts.rows == reference.facts.rows
    assert uow.events.events == reference.events.events == [*first, stale, batch[-1]]
    facts = uow.get()
    assert (facts.status, facts.status_version) == ("resolved", 4)
    assert facts.in_progress_at == T0 + timedelta(hours=3)   # the stale event still tells when
    assert uow.commits == 1
    assert uow.facts.locked == [[("acme", 1), ("acme", 2)]]  # once, in key order


def test_a_batch_of_duplicates_only_changes_nothing():
    uow = one_batch(created(), routed())
    rows, logged = dict(uow.facts.rows), list(uow.events.events)
    assert handle_events(list(logged) * 2, uow=uow) == 0
    assert (uow.facts.rows, uow.events.events) == (rows, logged)


def test_invalid_data_fails_the_whole_batch_and_writes_nothing():
    bad = Envelope(event_id=uuid.uuid4(), event_type=EventType.TICKET_ROUTED, occurred_at=T0,
                   tenant_id="acme", ticket_id=1, ticket_version=1, data={"department": "HR"})
    good = created(ticket_id=2)
    uow = FakeProjectionUnitOfWork()
    with pytest.raises(InvalidEventError):
        handle_events([good, bad], uow=uow)
    assert not uow.inbox.seen and not uow.facts.rows and not uow.events.events
    assert handle_events([good], uow=uow) == 1                # a redelivery of the good one


class _FullDisk(FakeFacts):
    def save_many(self, facts):
        raise RuntimeError("disk full")


def test_a_failure_rolls_back_inbox_log_and_facts():
    uow = FakeProjectionUnitOfWork()
    uow.facts = _FullDisk()
    with pytest.raises(RuntimeError):
        handle_events([created(), routed()], uow=uow)
    assert not uow.inbox.seen and not uow.events.events and not uow.facts.rows
    assert uow.commits == 0


def test_project_refuses_another_tickets_facts():
    with pytest.raises(ValueError):
        project(replace(TicketFacts("acme", 2)), created(ticket_id=1))


# Edits, comments, applied routings and deletes.

def updated(version, old, new, ticket_id=1):
    payload = TicketUpdated(changes={"priority": FieldChange(old=old, new=new)})
    return new_event(EventType.TICKET_UPDATED, payload, tenant_id="acme", ticket_id=ticket_id,
                     ticket_version=version, occurred_at=T0 + timedelta(minutes=version))


def titled(version):
    payload = TicketUpdated(changes={"title": FieldChange(old="a", new="b")})
    return new_event(EventType.TICKET_UPDATED, payload, tenant_id="acme", ticket_id=1,
                     ticket_version=version, occurred_at=T0 + timedelta(minutes=version))


def commented(version):
    return new_event(EventType.TICKET_COMMENTED,
                     TicketCommented(comment_id=1, author_kind="agent"), tenant_id="acme",
                     ticket_id=1, ticket_version=version, occurred_at=T0 + timedelta(hours=1))


def applied(version):
    return new_event(EventType.TICKET_ROUTING_APPLIED,
                     TicketRoutingApplied(department="HR", routing_version=1), tenant_id="acme",
                     ticket_id=1, ticket_version=version, occurred_at=T0)


def deleted(version, ticket_id=1):
    return new_event(EventType.TICKET_DELETED, TicketDeleted(deleted_at=T0), tenant_id="acme",
                     ticket_id=ticket_id, ticket_version=version, occurred_at=T0)


def test_an_edited_priority_replaces_the_requested_and_the_suggested_one(apply_all):
    facts = apply_all(created(priority="low"), categorized(priority="high"), routed(),
                      updated(3, "low", "critical")).get()
    assert (facts.priority, facts.requested_priority, facts.priority_version) == (
        "critical", "critical", 3)


def test_a_late_categorization_or_creation_does_not_undo_an_edit(apply_all):
    facts = apply_all(updated(2, "low", "medium"), categorized(priority="high"), routed(),
                      created(priority="low")).get()
    assert (facts.priority, facts.requested_priority) == ("medium", "medium")


def test_a_stale_edit_changes_nothing_and_other_fields_leave_the_priority(apply_all):
    facts = apply_all(created(), updated(4, "low", "high"), updated(3, "low", "medium"),
                      titled(5)).get()
    assert (facts.priority, facts.priority_version) == ("high", 4)


def test_comments_and_applied_routings_are_logged_and_leave_the_counts(apply_all):
    uow = apply_all(created(), commented(2), applied(3))
    assert [e.event_type for e in uow.events.events] == [
        EventType.TICKET_CREATED, EventType.TICKET_COMMENTED, EventType.TICKET_ROUTING_APPLIED]
    assert uow.get().updated_at == T0 + timedelta(hours=1)


def test_a_deleted_ticket_stays_deleted_whatever_arrives_after(apply_all):
    facts = apply_all(created(), deleted(3), updated(2, "low", "high"), routed()).get()
    assert facts.deleted_at == T0 and facts.department == "IT Support"


def test_a_batch_with_a_duplicate_and_a_stale_edit_equals_one_by_one():
    first = [created(), updated(3, "low", "high"), deleted(2, ticket_id=2)]
    batch = [*first, first[1], updated(2, "low", "medium"), created(ticket_id=2)]
    reference = one_by_one(*batch)
    uow = FakeProjectionUnitOfWork()
    assert handle_events(batch, uow=uow) == 5
    assert uow.facts.rows == reference.facts.rows
    assert (uow.get().priority, uow.get(2).deleted_at) == ("high", T0)
