"""The AI's decision on real PostgreSQL: stored with the routing, the tenant setting, the list
filters, and Prefer: wait on the create route."""
import threading
import time

import pytest
import sqlalchemy as sa

from support_shared.events import EventType, TicketRouted, new_event
from support_shared.web import TENANT_HEADER
from ticket_service.tickets.handlers import handle_tickets_routed

pytestmark = pytest.mark.integration

BODY = {"title": "VPN down", "description": "frustrated, please fix", "user_name": "Ann",
        "user_email": "ann@example.com", "priority": "low"}


def _routed(ticket_id, *, tenant="default", fallback=False, sentiment="negative",
            requires_action=True):
    payload = TicketRouted(department="IT Support", confidence=0.7, method="auto",
                           priority="high", categorization_method="local_model",
                           routing_version=1, model_version="v1", urgency=0.7,
                           sentiment=sentiment, requires_action=requires_action,
                           fallback=fallback)
    return new_event(EventType.TICKET_ROUTED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=1)


def _create(client, tenant="default", **headers):
    return client.post("/api/tickets", json=BODY, headers={TENANT_HEADER: tenant, **headers})


def test_the_decision_is_stored_with_the_routing_and_the_setting_applies(client, make_uow,
                                                                        engine):
    assert client.get("/api/settings").json == {"ai_priority": "suggest"}
    put = client.put("/api/settings", json={"ai_priority": "apply"},
                     headers={TENANT_HEADER: "t-apply"})
    assert put.status_code == 200 and put.json == {"ai_priority": "apply"}
    assert client.put("/api/settings", json={"ai_priority": "x"}).status_code == 400
    mine = _create(client).json["id"]
    theirs = _create(client, "t-apply").json["id"]
    handle_tickets_routed([_routed(mine), _routed(theirs, tenant="t-apply", fallback=True)],
                          uow=make_uow())
    suggested = client.get(f"/api/tickets/{mine}").json
    applied = client.get(f"/api/tickets/{theirs}", headers={TENANT_HEADER: "t-apply"}).json
    assert (suggested["priority"], suggested["ai"]["priority"], suggested["ai_status"]) == (
        "low", "high", "categorized")
    assert (applied["priority"], applied["requested_priority"], applied["ai_status"]) == (
        "high", "low", "fallback")
    assert applied["ai"]["priority_applied"] is True and applied["version"] == 2
    with engine.connect() as conn:
        events = conn.execute(sa.text(
            "SELECT payload FROM outbox "
            "WHERE routing_key = 'ticket.routing.applied' ORDER BY id")).scalars().all()
    assert [(e["ticket_id"], e["data"]["priority"]) for e in events] == [(mine, "low"),
                                                                        (theirs, "high")]


def test_list_filters(client, make_uow):
    ids = [_create(client).json["id"] for _ in range(3)]
    handle_tickets_routed([_routed(ids[0]), _routed(ids[1], sentiment="positive",
                                                    requires_action=False, fallback=True)],
                          uow=make_uow())

    def listed(query):
        resp = client.get(f"/api/tickets?{query}")
        assert resp.status_code == 200, resp.json
        return [t["id"] for t in resp.json["tickets"]]

    assert listed("ai_status=pending") == [ids[2]]
    assert listed("ai_status=categorized") == [ids[0]]
    assert listed("ai_status=fallback") == [ids[1]]
    assert listed("ai_status=needs_review") == []
    assert listed("sentiment=positive") == [ids[1]]
    assert listed("requires_action=true") == [ids[0]]
    assert listed("requires_action=false&ai_status=fallback") == [ids[1]]
    assert client.get("/api/tickets?ai_status=nope").status_code == 400


def test_prefer_wait_answers_once_routed(client, make_uow, engine):
    routed_at: list[float] = []

    def route_soon():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                ids = conn.execute(sa.text("SELECT id FROM tickets")).scalars().all()
            if ids:
                time.sleep(0.3)   # the create is waiting by now
                handle_tickets_routed([_routed(ids[0])], uow=make_uow())
                routed_at.append(time.monotonic())
                return
            time.sleep(0.02)

    router = threading.Thread(target=route_soon)
    router.start()
    resp = _create(client, Prefer="wait=8")
    answered = time.monotonic()
    router.join(10)
    assert resp.status_code == 201
    assert resp.headers["Preference-Applied"] == "wait=8"
    assert resp.json["department"] == "IT Support" and resp.headers["ETag"] == '"2"'
    assert routed_at and answered - routed_at[0] < 1.0   # polls at most 0.5 s apart


def test_prefer_wait_gives_up_after_n_seconds_with_the_pending_ticket(client):
    started = time.monotonic()
    resp = _create(client, Prefer="wait=1")
    took = time.monotonic() - started
    assert resp.status_code == 201 and "Preference-Applied" not in resp.headers
    assert resp.json["department"] is None and resp.json["ai_status"] == "pending"
    assert 1.0 <= took < 5
    plain = _create(client, Prefer="respond-async")
    assert plain.status_code == 201 and "Preference-Applied" not in plain.headers


def test_prefer_wait_keeps_idempotency(client, make_uow):
    first = _create(client, **{"Idempotency-Key": "k-1"})
    handle_tickets_routed([_routed(first.json["id"])], uow=make_uow())
    again = _create(client, **{"Idempotency-Key": "k-1", "Prefer": "wait=3"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Preference-Applied"] == "wait=3"
    assert again.json["id"] == first.json["id"] and again.json["department"] == "IT Support"
