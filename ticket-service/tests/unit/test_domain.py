"""The ticket lifecycle, routing staleness, If-Match versions and request fingerprints."""
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from support_shared.events import STATUSES
from ticket_service.tickets.domain import (
    TRANSITIONS,
    InvalidTransitionError,
    TicketClosedError,
    Routing,
    Ticket,
    VersionMismatchError,
    request_fingerprint,
)

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
T1 = T0 + timedelta(minutes=5)

ALLOWED = {
    ("pending", "in_progress"),
    ("in_progress", "resolved"),
    ("resolved", "closed"),
    ("resolved", "in_progress"),
    ("closed", "in_progress"),          # the one way back: reopen
    ("in_progress", "waiting"),         # waiting on the requester pauses the resolution clock
    ("waiting", "in_progress"),
}
FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}


def make_ticket(status: str = "pending", **overrides) -> Ticket:
    ticket = Ticket.open("default", FIELDS, T0, idempotency_key="k1")
    ticket.id = 7
    ticket.status = status
    for name, value in overrides.items():
        setattr(ticket, name, value)
    return ticket


def test_open_is_pending_version_one_with_fingerprint():
    ticket = Ticket.open("acme", FIELDS, T0, idempotency_key="k1")
    assert (ticket.status, ticket.version, ticket.routing_version) == ("pending", 1, 0)
    assert ticket.tenant_id == "acme" and ticket.idempotency_key == "k1"
    assert ticket.created_at == ticket.updated_at == T0
    assert ticket.department is None and ticket.needs_review is False
    assert ticket.same_request(request_fingerprint(FIELDS))


def test_transition_table_is_the_documented_lifecycle():
    table = {(src, dst) for src, targets in TRANSITIONS.items() for dst in targets}
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(STATUSES)


@pytest.mark.parametrize("src,dst", sorted(ALLOWED))
def test_allowed_moves_change_status_and_bump_version(src, dst):
    ticket = make_ticket(src, version=3)
    old = ticket.change_status(dst, T1)
    assert old == src
    assert (ticket.status, ticket.version, ticket.updated_at) == (dst, 4, T1)


@pytest.mark.parametrize(
    "src,dst", sorted(set(itertools.product(STATUSES, STATUSES)) - ALLOWED)
)
def test_forbidden_moves_raise_and_change_nothing(src, dst):
    ticket = make_ticket(src, version=3)
    with pytest.raises(InvalidTransitionError) as info:
        ticket.change_status(dst, T1)
    assert (info.value.from_status, info.value.to_status) == (src, dst)
    assert info.value.allowed == TRANSITIONS[src]
    assert (ticket.status, ticket.version, ticket.updated_at) == (src, 3, T0)


def test_a_closed_ticket_takes_no_edit_even_a_no_op():
    ticket = make_ticket("closed", version=3)
    for changes in ({"priority": "low"}, {"priority": ticket.priority}):
        with pytest.raises(TicketClosedError):
            ticket.edit(changes, T1)
    assert (ticket.priority, ticket.version) == ("high", 3)
    ticket.change_status("in_progress", T1)                      # reopened: editable again
    assert ticket.edit({"priority": "low"}, T1) and ticket.version == 5


def _routing(version: int, department: str = "IT Support") -> Routing:
    return Routing(department=department, confidence=0.9, needs_review=True,
                   categorization_method="keywords", routing_version=version)


def test_newer_routing_is_applied_and_bumps_version():
    ticket = make_ticket()
    assert ticket.apply_routing(_routing(1), T1) is True
    assert (ticket.department, ticket.confidence_score) == ("IT Support", 0.9)
    assert ticket.needs_review is True
    assert (ticket.categorization_method, ticket.routing_version) == ("keywords", 1)
    assert (ticket.version, ticket.updated_at) == (2, T1)


@pytest.mark.parametrize("stale", [1, 2])
def test_older_or_same_routing_is_ignored(stale):
    ticket = make_ticket(department="HR", routing_version=2, version=5)
    assert ticket.apply_routing(_routing(stale, "Finance"), T1) is False
    assert (ticket.department, ticket.routing_version, ticket.version) == ("HR", 2, 5)


def test_require_version():
    ticket = make_ticket(version=4)
    ticket.require_version(None)
    ticket.require_version(frozenset({3, 4}))
    with pytest.raises(VersionMismatchError) as info:
        ticket.require_version(frozenset({3}))
    assert info.value.current == 4
    with pytest.raises(VersionMismatchError):
        ticket.require_version(frozenset())


def test_fingerprint_ignores_key_order_and_sees_every_value():
    reordered = dict(reversed(list(FIELDS.items())))
    assert request_fingerprint(reordered) == request_fingerprint(FIELDS)
    for name in FIELDS:
        changed = {**FIELDS, name: FIELDS[name] + "x"}
        assert request_fingerprint(changed) != request_fingerprint(FIELDS)
