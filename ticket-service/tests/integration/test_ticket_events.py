"""Every version of a ticket has one event in the outbox; DELETE is a soft delete (PostgreSQL)."""
import pytest
import sqlalchemy as sa

from support_shared.events import EventType, TicketRouted, new_event
from ticket_service.tickets.handlers import handle_tickets_routed

pytestmark = pytest.mark.integration

BODY = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
        "user_email": "ann@example.com", "priority": "high"}
T = {"X-Tenant-ID": "a"}


def _routed(ticket_id):
    payload = TicketRouted(department="IT Support", confidence=0.9, method="auto",
                           routing_version=1)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id="a", ticket_id=ticket_id,
                     ticket_version=1)


def _outbox(engine, ticket_id):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT (payload->>'ticket_version')::int, routing_key FROM outbox "
            "WHERE (payload->>'ticket_id')::bigint = :id ORDER BY id"), {"id": ticket_id}).all()


def test_each_change_puts_exactly_one_event_per_version_in_the_outbox(client, engine, make_uow):
    tid = client.post("/api/tickets", json=BODY, headers=T).get_json()["id"]
    assert client.patch(f"/api/tickets/{tid}", json={"priority": "low"},
                        headers=T).status_code == 200
    assert client.post(f"/api/tickets/{tid}/comments", headers=T, json={
        "author_name": "Bo", "author_email": "bo@example.com", "body": "on it"}).status_code == 201
    handle_tickets_routed([_routed(tid)], uow=make_uow())
    assert client.put(f"/api/tickets/{tid}/status", json={"status": "in_progress"},
                      headers=T).status_code == 200
    assert client.delete(f"/api/tickets/{tid}", headers={**T, "If-Match": '"5"'}
                         ).status_code == 204

    assert _outbox(engine, tid) == [
        (1, "ticket.created"), (2, "ticket.updated"), (3, "ticket.commented"),
        (4, "ticket.routing.applied"), (5, "ticket.status.updated"), (6, "ticket.deleted")]


def test_a_deleted_ticket_is_404_everywhere_and_a_stale_if_match_is_412(client, engine):
    tid = client.post("/api/tickets", json=BODY, headers=T).get_json()["id"]
    other = client.post("/api/tickets", json=BODY, headers=T).get_json()["id"]

    stale = client.delete(f"/api/tickets/{tid}", headers={**T, "If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.get_json()["error"]["code"] == "precondition_failed"
    assert client.delete(f"/api/tickets/{tid}", headers={"X-Tenant-ID": "b"}).status_code == 404
    assert client.delete(f"/api/tickets/{tid}", headers=T).status_code == 204

    for path in (f"/api/tickets/{tid}", f"/api/tickets/{tid}/comments",
                 f"/api/tickets/{tid}/history"):
        assert client.get(path, headers=T).status_code == 404, path
    assert client.delete(f"/api/tickets/{tid}", headers=T).status_code == 404
    assert client.patch(f"/api/tickets/{tid}", json={"title": "x"},
                        headers=T).status_code == 404
    listed = client.get("/api/tickets", headers=T).get_json()["tickets"]
    searched = client.get("/api/tickets?q=vpn", headers=T).get_json()["tickets"]
    assert [t["id"] for t in listed] == [t["id"] for t in searched] == [other]
    with engine.connect() as conn:                      # soft: the row and its trail stay
        assert conn.execute(sa.text("SELECT deleted_at IS NOT NULL, version FROM tickets "
                                    "WHERE id = :id"), {"id": tid}).one() == (True, 2)
