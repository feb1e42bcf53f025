"""Listing tickets through the API: keyset pagination, filters, tenant isolation."""
import base64

import pytest
import sqlalchemy as sa

from support_shared import dependencies
from support_shared.events import EventType, TicketRouted, new_event
from support_shared.testing.clients import trusted
from support_shared.web import encode_cursor
from ticket_service.app import create_app
from ticket_service.tickets.handlers import handle_tickets_routed

pytestmark = pytest.mark.integration

BODY = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
        "user_email": "ann@example.com", "priority": "high"}


def post(client, body=None, headers=None, tenant=None):
    headers = dict(headers or {})
    if tenant:
        headers["X-Tenant-ID"] = tenant
    return client.post("/api/tickets", json=BODY if body is None else body, headers=headers)


def counts(engine):
    with engine.connect() as conn:
        return (conn.scalar(sa.text("SELECT count(*) FROM tickets")),
                conn.scalar(sa.text("SELECT count(*) FROM outbox")))


def put_status(client, ticket_id, status, headers=None):
    return client.put(f"/api/tickets/{ticket_id}/status", json={"status": status},
                      headers=headers or {})


def test_pagination_returns_every_ticket_once_newest_first(client):
    ids = [post(client, {**BODY, "title": f"t{i}"}).get_json()["id"] for i in range(7)]
    seen, sizes, cursor = [], [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/tickets", query_string=query).get_json()
        assert page["count"] == len(page["tickets"])
        sizes.append(page["count"])
        seen += [t["id"] for t in page["tickets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert seen == sorted(ids, reverse=True)
    exact = client.get("/api/tickets", query_string={"limit": 7}).get_json()
    assert exact["count"] == 7 and exact["next_cursor"] is None
    default = client.get("/api/tickets").get_json()
    assert default["count"] == 7 and default["next_cursor"] is None


@pytest.mark.parametrize("query,code", [
    ({"limit": 0}, "validation_error"), ({"limit": 201}, "validation_error"),
    ({"limit": "x"}, "validation_error"), ({"status": "done"}, "validation_error"),
    ({"priority": "urgent"}, "validation_error"), ({"cursor": "bm9wZTox"}, "invalid_cursor"),
    ({"cursor": "!!!"}, "invalid_cursor"), ({"cursor": "aWQ6NQ"}, "invalid_cursor"),
])
def test_invalid_list_query_is_400(client, query, code):
    resp = client.get("/api/tickets", query_string=query)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == code


def _route(make_uow, ticket_id, department, tenant="default"):
    payload = TicketRouted(department=department, confidence=0.7, method="auto",
                           routing_version=1)
    handle_tickets_routed([new_event(EventType.TICKET_ROUTED, payload, tenant_id=tenant,
                                   ticket_id=ticket_id, ticket_version=1)], uow=make_uow())


def test_filters(client, make_uow):
    low = post(client, {**BODY, "priority": "low"}).get_json()["id"]
    high = post(client, {**BODY, "priority": "high"}).get_json()["id"]
    moved = post(client, {**BODY, "priority": "high"}).get_json()["id"]
    put_status(client, moved, "in_progress")
    _route(make_uow, high, "HR")
    _route(make_uow, moved, "IT Support")

    def ids(**query):
        page = client.get("/api/tickets", query_string=query).get_json()
        return [t["id"] for t in page["tickets"]]

    assert ids(priority="high") == [moved, high]
    assert ids(priority="low") == [low]
    assert ids(status="in_progress") == [moved]
    assert ids(status="pending") == [high, low]
    assert ids(department="HR") == [high]
    assert ids(status="pending", priority="high") == [high]
    assert ids(status="closed") == []
    assert ids(department="Finance") == []
    routed = client.get(f"/api/tickets/{high}").get_json()
    assert (routed["department"], routed["confidence_score"], routed["version"]) == ("HR", 0.7, 2)


def test_tenants_are_isolated(client, engine):
    theirs = post(client, tenant="b").get_json()["id"]
    mine = post(client, tenant="a").get_json()["id"]
    assert client.get(f"/api/tickets/{theirs}", headers={"X-Tenant-ID": "a"}).status_code == 404
    resp = put_status(client, theirs, "in_progress", {"X-Tenant-ID": "a"})
    assert resp.status_code == 404
    listed = client.get("/api/tickets", headers={"X-Tenant-ID": "a"}).get_json()
    assert [t["id"] for t in listed["tickets"]] == [mine]
    own = client.get(f"/api/tickets/{theirs}", headers={"X-Tenant-ID": "b"}).get_json()
    assert (own["status"], own["version"]) == ("pending", 1)
    assert client.get("/api/tickets").get_json()["count"] == 0      # the default tenant
    assert counts(engine) == (2, 2)


def test_a_cursor_the_api_did_not_issue_is_400(client, settings, engine):
    for n in range(3):
        assert post(client, {**BODY, "title": f"t{n}"}).status_code == 201
    cursor = client.get("/api/tickets", query_string={"limit": 1}).get_json()["next_cursor"]
    assert client.get("/api/tickets", query_string={"cursor": cursor}).status_code == 200
    payload, signature = cursor.split(".")
    forged = base64.urlsafe_b64encode(b'["default",1000]').decode().rstrip("=")
    other_key = trusted(create_app(settings.model_copy(
        update={"internal_token": "another-deployments-token"})))
    try:
        with other_key.test_request_context():
            foreign = encode_cursor(2)
    finally:
        dependencies.of(other_key).close()
    for bad in (f"{forged}.{signature}", payload, cursor[:-2] + ("AA" if cursor[-2:] != "AA"
                                                                  else "BB"), foreign):
        resp = client.get("/api/tickets", query_string={"cursor": bad})
        assert resp.status_code == 400, bad
        assert resp.get_json()["error"]["code"] == "invalid_cursor"
    other_tenant = client.get("/api/tickets", query_string={"cursor": cursor},
                              headers={"X-Tenant-ID": "beta"})
    assert other_tenant.status_code == 400
