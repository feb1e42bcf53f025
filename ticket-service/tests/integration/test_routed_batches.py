"""ticket.routed in consumer batches (set-based) ends as one event at a time."""
import pytest
import sqlalchemy as sa

from support_shared.events import EventType, TicketRouted, new_event
from support_shared.messaging.consumer import PermanentError
from ticket_service.tickets.handlers import (CreateTicket, create_tickets, handle_tickets_routed,
                                             single)

pytestmark = pytest.mark.integration


def cmd(title):
    fields = {"title": title, "description": "cannot connect", "user_name": "Ann",
              "user_email": "ann@example.com", "priority": "high"}
    return CreateTicket("default", fields, None, f"rid-{title}", "key:1")


def rows(engine, sql):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def _routed(ticket_id, version, department, tenant="default"):
    payload = TicketRouted(department=department, confidence=0.91, method="auto",
                           categorization_method="claude", needs_review=version > 1,
                           routing_version=version)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=version, correlation_id=f"route-{ticket_id}-{version}")


def _tickets_and_audit(engine):
    tickets = rows(engine, "SELECT id, department, routing_version, needs_review, version "
                           "FROM tickets ORDER BY id")
    audit = rows(engine, "SELECT ticket_id, action, ticket_version, request_id, "
                         "details->>'department', details->>'previous_department' "
                         "FROM audit WHERE action = 'routed' ORDER BY ticket_id, ticket_version")
    return tickets, audit


def test_routed_events_in_a_batch_end_as_one_by_one(make_uow, engine):
    created = create_tickets([cmd(f"r{i}") for i in range(4)], uow=make_uow())
    ids = [o.ticket.id for o in created]
    batch = [_routed(ids[0], 1, "IT Support"), _routed(ids[1], 2, "HR"),
             _routed(ids[1], 1, "Facilities"),          # older than the one before: stale
             _routed(ids[2], 1, "IT Support"), _routed(ids[2], 2, "Finance"),  # twice
             ]
    batch.append(batch[0])                              # a duplicate delivery
    handle_tickets_routed(batch, uow=make_uow())
    bulk = _tickets_and_audit(engine)
    with engine.begin() as conn:                        # start again, one event at a time
        conn.execute(sa.text("DELETE FROM audit WHERE action = 'routed'"))
        conn.execute(sa.text("DELETE FROM inbox"))
        conn.execute(sa.text("UPDATE tickets SET department = NULL, routing_version = 0, "
                             "needs_review = false, version = 1, confidence_score = NULL, "
                             "categorization_method = NULL"))
    for envelope in batch:
        handle_tickets_routed([envelope], uow=make_uow())
    assert bulk == _tickets_and_audit(engine)
    tickets, audit = bulk
    assert [t.department for t in tickets] == ["IT Support", "HR", "Finance", None]
    assert [(a[0], a[4], a[5]) for a in audit if a[0] == ids[2]] == [
        (ids[2], "IT Support", None), (ids[2], "Finance", "IT Support")]


def test_a_routed_event_for_an_unknown_ticket_fails_the_batch(make_uow, engine):
    created = single(create_tickets([cmd("known")], uow=make_uow()))
    with pytest.raises(PermanentError):
        handle_tickets_routed([_routed(created.ticket.id, 1, "HR"), _routed(999999, 1, "HR")],
                              uow=make_uow())
    assert rows(engine, "SELECT count(*) FROM inbox") == [(0,)]
    assert rows(engine, "SELECT department FROM tickets") == [(None,)]
