"""Handlers against hand-written fakes of the repository and unit of work (no I/O)."""
import pytest

from support_shared.events import EventType, TicketRouted, new_event
from support_shared.messaging.consumer import PermanentError
from ticket_service.tickets.domain import (
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    TicketNotFoundError,
    VersionMismatchError,
)
from ticket_service.tickets.handlers import (
    CreateTicket,
    UpdateStatus,
    create_ticket,
    get_ticket,
    handle_ticket_routed,
    list_tickets,
    update_ticket_status,
)
from ticket_service.tickets.persistence import TicketFilter

from .fakes import FakeUnitOfWork, RacingTicketRepository

FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}


def _create(uow, key=None, tenant="default", fields=FIELDS, correlation="req-1"):
    return create_ticket(CreateTicket(tenant, fields, key, correlation), uow=uow)


def _routed(ticket_id=1, version=1, department="IT Support", tenant="default"):
    payload = TicketRouted(department=department, confidence=0.8, method="auto",
                           categorization_method="claude", needs_review=False,
                           routing_version=version)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=version, correlation_id="req-1")


def test_create_writes_ticket_and_one_created_event():
    uow = FakeUnitOfWork()
    result = _create(uow, key="k1")
    assert result.replayed is False and result.ticket.id == 1
    assert uow.commits == 1
    [event] = uow.outbox.events
    assert event.event_type == EventType.TICKET_CREATED
    assert (event.ticket_id, event.ticket_version, event.tenant_id) == (1, 1, "default")
    assert event.correlation_id == "req-1"
    assert event.data["title"] == "VPN down" and event.data["status"] == "pending"
    stored = uow.tickets.get("default", 1)
    assert stored.status == "pending" and stored.idempotency_key == "k1"


def test_create_same_key_same_body_replays_without_second_event():
    uow = FakeUnitOfWork()
    first = _create(uow, key="k1")
    again = _create(uow, key="k1", correlation="req-2")
    assert again.replayed is True and again.ticket.id == first.ticket.id
    assert len(uow.outbox.events) == 1 and len(uow.tickets.rows) == 1


def test_create_same_key_other_body_is_refused():
    uow = FakeUnitOfWork()
    _create(uow, key="k1")
    with pytest.raises(IdempotencyKeyReusedError):
        _create(uow, key="k1", fields={**FIELDS, "title": "Printer jam"})
    assert len(uow.outbox.events) == 1 and len(uow.tickets.rows) == 1


def test_same_key_in_another_tenant_is_another_ticket():
    uow = FakeUnitOfWork()
    a = _create(uow, key="k1", tenant="a")
    b = _create(uow, key="k1", tenant="b")
    assert a.ticket.id != b.ticket.id and len(uow.outbox.events) == 2


def test_without_key_every_create_is_new():
    uow = FakeUnitOfWork()
    _create(uow)
    _create(uow)
    assert len(uow.tickets.rows) == 2 and len(uow.outbox.events) == 2


def test_concurrent_duplicate_returns_the_winner():
    uow = FakeUnitOfWork(RacingTicketRepository(FIELDS))
    result = _create(uow, key="k1")
    assert result.replayed is True and result.ticket.id == 1
    assert uow.outbox.events == [] and uow.commits == 0


def test_concurrent_duplicate_with_other_body_is_refused():
    uow = FakeUnitOfWork(RacingTicketRepository({**FIELDS, "title": "other"}))
    with pytest.raises(IdempotencyKeyReusedError):
        _create(uow, key="k1")
    assert uow.outbox.events == []


def test_status_update_saves_and_writes_event():
    uow = FakeUnitOfWork()
    _create(uow)
    ticket = update_ticket_status(UpdateStatus("default", 1, "in_progress", None, "req-9"), uow=uow)
    assert (ticket.status, ticket.version) == ("in_progress", 2)
    assert uow.tickets.get("default", 1).status == "in_progress"
    event = uow.outbox.events[-1]
    assert event.event_type == EventType.TICKET_STATUS_UPDATED
    assert event.data == {"old_status": "pending", "new_status": "in_progress"}
    assert (event.ticket_version, event.correlation_id) == (2, "req-9")


@pytest.mark.parametrize("cmd_kwargs,error", [
    ({"status": "closed"}, InvalidTransitionError),
    ({"status": "pending"}, InvalidTransitionError),
    ({"status": "in_progress", "expected_versions": frozenset({2})}, VersionMismatchError),
    ({"status": "in_progress", "ticket_id": 99}, TicketNotFoundError),
    ({"status": "in_progress", "tenant_id": "other"}, TicketNotFoundError),
])
def test_refused_status_update_changes_nothing(cmd_kwargs, error):
    uow = FakeUnitOfWork()
    _create(uow)
    commits = uow.commits
    cmd = UpdateStatus(**{"tenant_id": "default", "ticket_id": 1, **cmd_kwargs})
    with pytest.raises(error):
        update_ticket_status(cmd, uow=uow)
    assert uow.commits == commits and len(uow.outbox.events) == 1
    assert uow.tickets.get("default", 1).version == 1


def test_list_tickets_is_tenant_scoped_and_filtered():
    uow = FakeUnitOfWork()
    _create(uow, tenant="a")
    _create(uow, tenant="a", fields={**FIELDS, "priority": "low"})
    _create(uow, tenant="b")
    assert [t.id for t in list_tickets("a", TicketFilter(), 10, None, uow=uow)] == [2, 1]
    assert [t.id for t in list_tickets("a", TicketFilter(priority="low"), 10, None, uow=uow)] == [2]
    assert [t.id for t in list_tickets("a", TicketFilter(), 10, 2, uow=uow)] == [1]


def test_get_ticket_is_tenant_scoped():
    uow = FakeUnitOfWork()
    _create(uow, tenant="b")
    assert get_ticket("b", 1, uow=uow).id == 1
    with pytest.raises(TicketNotFoundError):
        get_ticket("a", 1, uow=uow)


def test_routed_is_applied():
    uow = FakeUnitOfWork()
    _create(uow)
    env = _routed(version=1)
    handle_ticket_routed(env, uow=uow)
    ticket = uow.tickets.get("default", 1)
    assert (ticket.department, ticket.confidence_score, ticket.categorization_method) == (
        "IT Support", 0.8, "claude")
    assert (ticket.routing_version, ticket.version, ticket.needs_review) == (1, 2, False)
    assert env.event_id in uow.inbox.seen and uow.commits == 2
    assert len(uow.outbox.events) == 1  # routing publishes nothing


def test_stale_routed_is_ignored_but_claimed():
    uow = FakeUnitOfWork()
    _create(uow)
    handle_ticket_routed(_routed(version=2, department="HR"), uow=uow)
    stale = _routed(version=1, department="Finance")
    handle_ticket_routed(stale, uow=uow)
    ticket = uow.tickets.get("default", 1)
    assert (ticket.department, ticket.routing_version, ticket.version) == ("HR", 2, 2)
    assert stale.event_id in uow.inbox.seen and uow.commits == 3


def test_duplicate_routed_delivery_has_no_second_effect():
    uow = FakeUnitOfWork()
    _create(uow)
    env = _routed(version=1)
    handle_ticket_routed(env, uow=uow)
    # Same event again, even with its ticket moved back: the inbox stops it before any check.
    ticket = uow.tickets.get("default", 1)
    ticket.routing_version = 0
    uow.tickets.save(ticket)
    handle_ticket_routed(env, uow=uow)
    assert uow.tickets.get("default", 1).version == 2


@pytest.mark.parametrize("env_kwargs", [{"ticket_id": 42}, {"tenant": "other"}])
def test_routed_for_unknown_ticket_is_permanent(env_kwargs):
    uow = FakeUnitOfWork()
    _create(uow)
    with pytest.raises(PermanentError):
        handle_ticket_routed(_routed(**env_kwargs), uow=uow)
    assert uow.tickets.get("default", 1).version == 1


def test_wrong_event_type_is_permanent():
    uow = FakeUnitOfWork()
    env = _routed().model_copy(update={"event_type": EventType.TICKET_STATUS_UPDATED,
                                        "data": {"old_status": "pending", "new_status": "closed"}})
    with pytest.raises(PermanentError):
        handle_ticket_routed(env, uow=uow)
    assert uow.inbox.seen == set()

