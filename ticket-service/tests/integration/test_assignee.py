"""ticket.assigned / ticket.unassigned set the ticket's assignee: newest assignment_version
wins, duplicates and stale decisions are dropped, each applied one makes a ticket version with
one ticket.assignment.applied (PostgreSQL)."""
import pytest
import sqlalchemy as sa

from support_shared.events import EventType, TicketAssigned, TicketUnassigned, new_event
from ticket_service.tickets.assignment import handle_tickets_assignment

pytestmark = pytest.mark.integration

BODY = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
        "user_email": "ann@example.com", "priority": "high"}
T = {"X-Tenant-ID": "a"}


def _assigned(ticket_id, agent_id, version, name="Bo"):
    payload = TicketAssigned(agent_id=agent_id, agent_name=name, department="IT Support",
                             method="auto", policy="round_robin", assignment_version=version)
    return new_event(EventType.TICKET_ASSIGNED, payload, tenant_id="a", ticket_id=ticket_id,
                     ticket_version=1)


def _unassigned(ticket_id, agent_id, version):
    payload = TicketUnassigned(previous_agent_id=agent_id, department="IT Support",
                               reason="agent_away", assignment_version=version)
    return new_event(EventType.TICKET_UNASSIGNED, payload, tenant_id="a", ticket_id=ticket_id,
                     ticket_version=1)


def _outbox(engine, ticket_id):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT (payload->>'ticket_version')::int, routing_key, payload->'data' FROM outbox "
            "WHERE (payload->>'ticket_id')::bigint = :id ORDER BY id"), {"id": ticket_id}).all()


def test_assignments_apply_in_version_order_with_one_event_per_version(client, engine, make_uow):
    tid = client.post("/api/tickets", json=BODY, headers=T).get_json()["id"]
    first = _assigned(tid, 7, 1)
    handle_tickets_assignment([first, first, _assigned(tid, 8, 2, "Cy")], uow=make_uow())
    ticket = client.get(f"/api/tickets/{tid}", headers=T).get_json()
    assert ticket["assignee"] == {"id": 8, "name": "Cy"}
    assert ticket["version"] == 3
    handle_tickets_assignment([_assigned(tid, 7, 1)], uow=make_uow())      # stale: dropped
    handle_tickets_assignment([_unassigned(tid, 8, 3)], uow=make_uow())
    ticket = client.get(f"/api/tickets/{tid}", headers=T).get_json()
    assert ticket["assignee"] is None and ticket["version"] == 4
    events = _outbox(engine, tid)
    assert [(v, k) for v, k, _ in events] == [
        (1, "ticket.created"), (2, "ticket.assignment.applied"),
        (3, "ticket.assignment.applied"), (4, "ticket.assignment.applied")]
    assert events[2][2] == {"assignee_id": 8, "assignee_name": "Cy", "assignment_version": 2}
    history = client.get(f"/api/tickets/{tid}/history", headers=T).get_json()
    assert [e["action"] for e in history["history"]].count("assigned") == 3


def test_another_tenants_ticket_is_not_touched(client, make_uow):
    tid = client.post("/api/tickets", json=BODY, headers={"X-Tenant-ID": "b"}).get_json()["id"]
    from support_shared.messaging.errors import PermanentError
    with pytest.raises(PermanentError):
        handle_tickets_assignment([_assigned(tid, 7, 1)], uow=make_uow())
    ticket = client.get(f"/api/tickets/{tid}", headers={"X-Tenant-ID": "b"}).get_json()
    assert ticket["assignee"] is None
