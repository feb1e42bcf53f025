"""Department choice and the routing rules of a ticket."""
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from routing_service.domain import (
    DEFAULT_DEPARTMENTS,
    Department,
    DepartmentNotFoundError,
    NoTriageDepartmentError,
    RoutedTicket,
    RoutingDecision,
    choose_department,
    find_department,
)

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _with(name, **changes):
    return [replace(d, **changes) if d.name == name else d for d in DEFAULT_DEPARTMENTS]


def test_exact_match_above_threshold_routes_there():
    decision = choose_department(DEFAULT_DEPARTMENTS, "IT Support", 0.92)
    assert decision == RoutingDecision("IT Support", False,
                                       "categorized as IT Support with confidence 0.92")


@pytest.mark.parametrize("category", ["it support", "IT SUPPORT", "  It Support "])
def test_match_is_case_insensitive_and_uses_the_canonical_name(category):
    decision = choose_department(DEFAULT_DEPARTMENTS, category, 0.8)
    assert decision.department == "IT Support"
    assert decision.needs_review is False


def test_confidence_equal_to_the_threshold_is_enough():
    assert choose_department(DEFAULT_DEPARTMENTS, "HR", 0.5).department == "HR"


def test_low_confidence_goes_to_triage_for_review():
    decision = choose_department(DEFAULT_DEPARTMENTS, "IT Support", 0.31)
    assert decision == RoutingDecision("General", True,
                                       "confidence 0.31 below 0.50 for IT Support")


def test_threshold_is_per_department():
    departments = _with("Finance", min_confidence=0.9)
    assert choose_department(departments, "Finance", 0.85).department == "General"
    assert choose_department(departments, "HR", 0.85).department == "HR"


def test_unknown_department_goes_to_triage():
    decision = choose_department(DEFAULT_DEPARTMENTS, "Legal", 0.99)
    assert decision == RoutingDecision("General", True, "unknown department Legal")


def test_inactive_department_goes_to_triage():
    decision = choose_department(_with("HR", active=False), "hr", 0.99)
    assert decision == RoutingDecision("General", True, "inactive department HR")


def test_triage_department_itself_needs_no_review_when_chosen_by_the_model():
    decision = choose_department(DEFAULT_DEPARTMENTS, "General", 0.1)
    assert decision.department == "General"
    assert decision.needs_review is False


def test_without_an_active_triage_department_there_is_no_fallback():
    with pytest.raises(NoTriageDepartmentError, match="unknown department Legal"):
        choose_department(_with("General", active=False), "Legal", 0.9)


def test_find_department_ignores_case():
    assert find_department(DEFAULT_DEPARTMENTS, "facilities").name == "Facilities"
    assert find_department(DEFAULT_DEPARTMENTS, "Facility") is None


def test_auto_routing_records_the_categorization():
    ticket = RoutedTicket("default", 7)
    record = ticket.route_auto(RoutingDecision("HR", False, "ok"), confidence=0.7,
                               priority="high", categorization_method="claude",
                               ticket_version=2, at=AT)
    assert (ticket.department, ticket.routing_version, ticket.last_method) == ("HR", 1, "auto")
    assert ticket.categorized_version == 2
    assert record.previous_department is None
    assert (record.method, record.confidence, record.priority) == ("auto", 0.7, "high")
    assert record.routing_version == 1 and record.routed_at == AT
    assert not ticket.manually_routed


def test_manual_routing_moves_the_ticket_and_wins_from_then_on():
    ticket = RoutedTicket("default", 7, department="General", routing_version=1,
                          last_method="auto", confidence=0.2, needs_review=True,
                          priority="low", categorization_method="keywords")
    record = ticket.route_manual(Department("HR"), "manual", AT)
    assert record.previous_department == "General"
    assert record.department == "HR" and record.method == "manual"
    assert record.routing_version == 2
    assert record.needs_review is False and record.confidence is None
    assert (record.priority, record.categorization_method) == ("low", "keywords")
    assert record.reason == "routed manually"
    assert ticket.manually_routed


def test_manual_routing_to_the_current_department_changes_nothing():
    ticket = RoutedTicket("default", 7, department="HR", routing_version=3, last_method="auto")
    assert ticket.route_manual(Department("hr"), "reroute", AT) is None
    assert (ticket.routing_version, ticket.last_method) == (3, "auto")


def test_manual_routing_refuses_an_inactive_department_and_auto_method():
    ticket = RoutedTicket("default", 7)
    with pytest.raises(DepartmentNotFoundError):
        ticket.route_manual(Department("HR", active=False), "manual", AT)
    with pytest.raises(ValueError):
        ticket.route_manual(Department("HR"), "auto", AT)
    assert ticket.routing_version == 0


def test_older_categorizations_are_stale():
    ticket = RoutedTicket("default", 7, categorized_version=3)
    assert ticket.is_stale_categorization(2)
    assert not ticket.is_stale_categorization(3)
    assert not RoutedTicket("default", 7).is_stale_categorization(1)
