"""Handlers against hand-written fakes of the repository and unit of work (no I/O)."""
import pytest

from support_shared.events import EventType, TicketRouted, new_event
from support_shared.messaging.consumer import PermanentError
from ticket_service.tickets.domain import (
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    TicketNotFoundError,
    VersionMismatchError,
)
from ticket_service.tickets.handlers import (
    CreateResult,
    CreateTicket,
    UpdateStatus,
    create_tickets,
    get_ticket,
    handle_tickets_routed,
    list_tickets,
    single,
    update_ticket_status,
)
from ticket_service.tickets.persistence import TicketFilter

from ticket_service.testing import FakeUnitOfWork

FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}


def _create(uow, key=None, tenant="default", fields=FIELDS, correlation="req-1"):
    return single(create_tickets([CreateTicket(tenant, fields, key, correlation)], uow=uow))


def _cmd(title="VPN down", key=None, tenant="default", email="ann@example.com"):
    return CreateTicket(tenant, {**FIELDS, "title": title, "user_email": email}, key,
                        f"req-{title}")


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


def test_a_key_held_by_another_transaction_is_refused_as_in_flight():
    uow = FakeUnitOfWork()
    uow.tickets.held_keys.add(("default", "k1"))
    with pytest.raises(IdempotencyKeyInFlightError):
        _create(uow, key="k1")
    assert uow.tickets.rows == {} and uow.outbox.events == []


def test_a_batch_of_n_gives_one_outcome_per_command_in_order():
    uow = FakeUnitOfWork()
    earlier = _create(uow, key="old").ticket
    uow.tickets.held_keys.add(("default", "busy"))
    outcomes = create_tickets([
        _cmd("a", key="k1"),
        _cmd("a", key="k1"),                 # duplicate in the batch: a replay of the first
        _cmd("other", key="k1"),             # same key, other body: refused
        _cmd("VPN down", key="old"),         # a key committed before: a replay
        _cmd("busy", key="busy"),            # its key is in flight elsewhere
        _cmd("b", email="bob@example.com"),
        _cmd("a", key="k1", tenant="t2"),    # keys are per tenant
    ], uow=uow)
    first = outcomes[0]
    assert isinstance(first, CreateResult) and not first.replayed
    assert outcomes[1].replayed and outcomes[1].ticket.id == first.ticket.id
    assert isinstance(outcomes[2], IdempotencyKeyReusedError)
    assert outcomes[3].replayed and outcomes[3].ticket.id == earlier.id
    assert isinstance(outcomes[4], IdempotencyKeyInFlightError)
    assert not outcomes[5].replayed and not outcomes[6].replayed
    new = [first.ticket.id, outcomes[5].ticket.id, outcomes[6].ticket.id]
    assert len(set(new)) == 3 and len(uow.tickets.rows) == 4
    # One created event and one audit entry per new ticket, in one commit.
    assert [e.ticket_id for e in uow.outbox.events] == [earlier.id, *new]
    assert [a.ticket_id for a in uow.audit.rows] == [earlier.id, *new]
    assert uow.commits == 2
    # Requesters: Ann once per tenant, Bob once.
    assert sorted((u.tenant_id, u.email) for u in uow.users.rows.values()) == [
        ("default", "ann@example.com"), ("default", "bob@example.com"), ("t2", "ann@example.com")]


def test_a_batch_equals_its_commands_one_by_one():
    cmds = [_cmd("a", key="k1"), _cmd("a", key="k1"), _cmd("x", key="k1"), _cmd("b"),
            _cmd("c", email="bob@example.com")]
    together = FakeUnitOfWork()
    batch = create_tickets(cmds, uow=together)
    alone = FakeUnitOfWork()
    one_by_one = [create_tickets([cmd], uow=alone)[0] for cmd in cmds]
    assert [type(o) for o in batch] == [type(o) for o in one_by_one]
    assert together.tickets.rows.keys() == alone.tickets.rows.keys()
    assert [e.ticket_id for e in together.outbox.events] == [
        e.ticket_id for e in alone.outbox.events]
    assert [(u.id, u.email) for u in together.users.rows.values()] == [
        (u.id, u.email) for u in alone.users.rows.values()]


def test_a_failing_batch_leaves_nothing_behind():
    def fail(entries):
        raise RuntimeError("disk full")

    uow = FakeUnitOfWork()
    uow.audit.add_many = fail       # after the requesters and tickets were written
    with pytest.raises(RuntimeError):
        create_tickets([_cmd("a"), _cmd("b", email="bob@example.com")], uow=uow)
    assert uow.tickets.rows == {} and uow.users.rows == {} and uow.outbox.events == []


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
    handle_tickets_routed([env], uow=uow)
    ticket = uow.tickets.get("default", 1)
    assert (ticket.department, ticket.confidence_score, ticket.categorization_method) == (
        "IT Support", 0.8, "claude")
    assert (ticket.routing_version, ticket.version, ticket.needs_review) == (1, 2, False)
    assert env.event_id in uow.inbox.seen and uow.commits == 2
    [_, applied] = uow.outbox.events     # the version it made has its event
    assert (applied.event_type, applied.ticket_version, applied.causation_id) == (
        EventType.TICKET_ROUTING_APPLIED, 2, str(env.event_id))
    assert applied.data == {"department": "IT Support", "routing_version": 1, "priority": "high",
                            "ai_status": "categorized", "ai_priority": None}


def test_stale_routed_is_ignored_but_claimed():
    uow = FakeUnitOfWork()
    _create(uow)
    handle_tickets_routed([_routed(version=2, department="HR")], uow=uow)
    stale = _routed(version=1, department="Finance")
    handle_tickets_routed([stale], uow=uow)
    ticket = uow.tickets.get("default", 1)
    assert (ticket.department, ticket.routing_version, ticket.version) == ("HR", 2, 2)
    assert stale.event_id in uow.inbox.seen and uow.commits == 3


def test_duplicate_routed_delivery_has_no_second_effect():
    uow = FakeUnitOfWork()
    _create(uow)
    env = _routed(version=1)
    handle_tickets_routed([env], uow=uow)
    # Same event again, even with its ticket moved back: the inbox stops it before any check.
    ticket = uow.tickets.get("default", 1)
    ticket.routing_version = 0
    uow.tickets.save(ticket)
    handle_tickets_routed([env], uow=uow)
    assert uow.tickets.get("default", 1).version == 2


@pytest.mark.parametrize("env_kwargs", [{"ticket_id": 42}, {"tenant": "other"}])
def test_routed_for_unknown_ticket_is_permanent(env_kwargs):
    uow = FakeUnitOfWork()
    _create(uow)
    with pytest.raises(PermanentError):
        handle_tickets_routed([_routed(**env_kwargs)], uow=uow)
    assert uow.tickets.get("default", 1).version == 1


def test_a_batch_of_routings_with_a_duplicate_and_a_stale_one():
    uow = FakeUnitOfWork()
    for title in ("a", "b", "c"):
        _create(uow, fields={**FIELDS, "title": title})
    first = _routed(1, 1, "IT Support")
    batch = [first, _routed(2, 2, "HR"),
             _routed(2, 1, "Facilities"),                        # older than the one before
             _routed(3, 1, "IT Support"), _routed(3, 2, "Finance"),  # two for one ticket
             first]                                               # a duplicate delivery
    handle_tickets_routed(batch, uow=uow)
    tickets = [uow.tickets.get("default", i) for i in (1, 2, 3)]
    assert [(t.department, t.routing_version, t.version) for t in tickets] == [
        ("IT Support", 1, 2), ("HR", 2, 2), ("Finance", 2, 3)]
    routed = [(a.ticket_id, a.details["department"]) for a in uow.audit.rows
              if a.action == "routed"]
    assert routed == [(1, "IT Support"), (2, "HR"), (3, "IT Support"), (3, "Finance")]
    assert uow.inbox.seen == {e.event_id for e in batch}
    applied = [(e.ticket_id, e.ticket_version, e.data["department"]) for e in uow.outbox.events
               if e.event_type == EventType.TICKET_ROUTING_APPLIED]
    assert applied == [(1, 2, "IT Support"), (2, 2, "HR"), (3, 2, "IT Support"),
                       (3, 3, "Finance")]
    published = len(uow.outbox.events)
    # The same events again, as a batch or one by one, change nothing.
    handle_tickets_routed(batch, uow=uow)
    for envelope in batch:
        handle_tickets_routed([envelope], uow=uow)
    assert [uow.tickets.get("default", i).version for i in (1, 2, 3)] == [2, 2, 3]
    assert len(uow.outbox.events) == published


def test_a_batch_equals_its_events_one_by_one():
    batch = [_routed(1, 2, "HR"), _routed(1, 1, "Finance"), _routed(2, 1, "IT Support")]
    batch.append(batch[0])
    results = []
    for split in (False, True):
        uow = FakeUnitOfWork()
        _create(uow)
        _create(uow, fields={**FIELDS, "title": "b"})
        for part in ([[e] for e in batch] if split else [batch]):
            handle_tickets_routed(part, uow=uow)
        results.append(([(t.id, t.department, t.routing_version, t.version)
                         for t in uow.tickets.rows.values()],
                        [(a.ticket_id, a.ticket_version, a.details) for a in uow.audit.rows]))
    assert results[0] == results[1]


def test_an_unknown_ticket_in_a_batch_rolls_the_whole_batch_back():
    uow = FakeUnitOfWork()
    _create(uow)
    with pytest.raises(PermanentError):
        handle_tickets_routed([_routed(1, 1, "HR"), _routed(42, 1, "HR")], uow=uow)
    assert uow.tickets.get("default", 1).version == 1 and uow.inbox.seen == set()


def test_the_first_routing_of_a_ticket_is_timed_from_its_creation():
    from prometheus_client import REGISTRY

    def count():
        return REGISTRY.get_sample_value("ticket_pipeline_seconds_count", {"outcome": "routed"}) or 0

    uow = FakeUnitOfWork()
    _create(uow)
    before = count()
    handle_tickets_routed([_routed(version=1)], uow=uow)
    assert count() == before + 1
    handle_tickets_routed([_routed(version=2, department="HR")], uow=uow)   # a re-routing
    assert count() == before + 1
