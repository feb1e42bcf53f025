"""Through the gateway: create -> categorize -> route -> stored on the ticket -> counted."""
from __future__ import annotations

import time

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.e2e

TICKETS = [
    ("IT Support", "Cannot log in to VPN",
     "My VPN client rejects my password since this morning and I cannot reach the network drive."),
    ("HR", "Parental leave request",
     "I would like to take parental leave from March and need to know which forms HR needs from me."),
    ("Facilities", "Air conditioning broken in room 4.12",
     "The air conditioning in the meeting room is broken, it is very hot and the light is flickering."),
]


def _ticket(title, description, **kw):
    body = {"title": title, "description": description, "user_name": "Dana Kim",
            "user_email": "dana.kim@example.com"}
    body.update(kw)
    return body


def _routed(running, ticket_id):
    def check():
        t = running.get(f"/api/tickets/{ticket_id}").json()
        return t if t.get("department") else None
    return check


def test_suite_reports_healthy(running):
    resp = running.get("/api/health")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "healthy"
    assert body["postgresql"] == "ok" and body["rabbitmq"] == "ok"
    assert set(body["services"]) >= {"ticket-service", "ai-categorization-service",
                                      "routing-service", "analytics-service"}


@pytest.mark.parametrize("department,title,description", TICKETS)
def test_ticket_is_routed_to_its_department_and_counted(running, department, title, description):
    before = running.get("/api/dashboard/summary").json()
    created_at = time.monotonic()
    resp = running.post("/api/tickets", json=_ticket(title, description, priority="high"))
    assert resp.status_code == 201, resp.text
    ticket = resp.json()
    for field in ("id", "title", "description", "user_name", "user_email", "department",
                  "confidence_score", "priority", "status", "version", "created_at", "updated_at"):
        assert field in ticket
    assert ticket["status"] == "pending" and ticket["department"] is None
    assert ticket["priority"] == "high"

    routed = wait_until(_routed(running, ticket["id"]), timeout=2.0, message="ticket routed")
    took = time.monotonic() - created_at
    assert routed["department"] == department, routed
    assert 0 < routed["confidence_score"] <= 1
    assert routed["version"] > ticket["version"]

    def counted():
        after = running.get("/api/dashboard/summary").json()
        return (after["total_tickets"] == before["total_tickets"] + 1
                and after["by_department"].get(department, 0)
                == before["by_department"].get(department, 0) + 1)

    wait_until(counted, timeout=max(0.1, 2.0 - (time.monotonic() - created_at)),
               message="ticket counted on the dashboard")
    print(f"create->routed {took * 1000:.0f} ms")

    history = running.get(f"/api/routing/history/{ticket['id']}").json()
    assert [h["department"] for h in history["history"]] == [department]


def test_lifecycle_through_the_gateway(running):
    ticket = running.post("/api/tickets", json=_ticket(*TICKETS[0][1:])).json()
    tid = ticket["id"]
    bad = running.put(f"/api/tickets/{tid}/status", json={"status": "closed"})
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "invalid_transition"
    for status in ("in_progress", "resolved", "in_progress", "resolved", "closed"):
        resp = running.put(f"/api/tickets/{tid}/status", json={"status": status})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == status
    assert running.put(f"/api/tickets/{tid}/status", json={"status": "pending"}).status_code == 409

    def closed_in_analytics():
        return running.get("/api/dashboard/summary").json()["by_status"]["closed"] >= 1
    wait_until(closed_in_analytics, timeout=5, message="closed status counted")


def test_manual_route_and_reroute_are_recorded(running):
    ticket = running.post("/api/tickets", json=_ticket(*TICKETS[0][1:])).json()
    wait_until(_routed(running, ticket["id"]), timeout=5, message="auto routing")
    resp = running.put(f"/api/route/{ticket['id']}", json={"department": "Finance"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["department"] == "Finance"
    wait_until(lambda: running.get(f"/api/tickets/{ticket['id']}").json()["department"] == "Finance",
               timeout=5, message="reroute applied to the ticket")
    history = running.get(f"/api/routing/history/{ticket['id']}").json()["history"]
    assert [h["method"] for h in history] == ["auto", "reroute"]
    dept_tickets = running.get("/api/departments/Finance/tickets").json()["tickets"]
    assert ticket["id"] in [t["id"] for t in dept_tickets]
    stats = running.get("/api/routing/statistics").json()
    assert stats["by_method"].get("reroute", 0) >= 1


def test_read_endpoints_answer(running):
    for path in ("/api/departments", "/api/departments/IT%20Support", "/api/dashboard/routing",
                 "/api/analytics/tickets", "/api/analytics/performance",
                 "/api/analytics/trends?days=3", "/api/analytics/department/HR",
                 "/api/tickets?limit=2", "/openapi.json"):
        resp = running.get(path)
        assert resp.status_code == 200, (path, resp.text)
    names = [d["name"] for d in running.get("/api/departments").json()["departments"]]
    assert {"IT Support", "HR", "Facilities", "Finance", "General"} <= set(names)
    assert len(running.get("/api/analytics/trends?days=3").json()["trends"]) == 3


def test_categorize_preview(running):
    resp = running.post("/api/categorize", json={"title": "Laptop screen broken",
                                                 "description": "My laptop display is cracked"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["department"] == "IT Support"
    assert body["method"] in ("local_model", "keywords")
    assert 0 <= body["confidence"] <= 1


BAD_INPUTS = [
    ("post", "/api/tickets", {"json": {"title": "x"}}, 400),
    ("post", "/api/tickets", {"json": {**_ticket("a", "b"), "user_email": "not-an-email"}}, 400),
    ("post", "/api/tickets", {"json": {**_ticket("a", "b"), "priority": "whenever"}}, 400),
    ("post", "/api/tickets", {"json": {**_ticket("a", "b"), "title": 42}}, 400),
    ("post", "/api/tickets", {"json": {**_ticket("a", "b"), "status": "closed"}}, 400),
    ("post", "/api/tickets", {"json": {**_ticket("a", "b"), "title": "t" * 201}}, 400),
    ("post", "/api/tickets", {"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400),
    ("post", "/api/tickets", {"json": ["a list"]}, 400),
    ("get", "/api/tickets/999999999", {}, 404),
    ("get", "/api/tickets/abc", {}, 404),
    ("get", "/api/tickets?limit=100000", {}, 400),
    ("get", "/api/tickets?status=sleeping", {}, 400),
    ("put", "/api/tickets/999999999/status", {"json": {"status": "resolved"}}, 404),
    ("post", "/api/route", {"json": {"ticket_id": 999999999, "department": "HR"}}, 404),
    ("post", "/api/route", {"json": {"ticket_id": "one", "department": "HR"}}, 400),
    ("get", "/api/departments/Nowhere", {}, 404),
    ("get", "/api/departments/Nowhere/tickets", {}, 404),
    ("get", "/api/routing/history/999999999", {}, 404),
    ("get", "/api/analytics/trends?days=0", {}, 400),
    ("get", "/api/analytics/trends?days=abc", {}, 400),
    ("post", "/api/categorize", {"json": {"title": "only a title"}}, 400),
    ("get", "/api/nothing-here", {}, 404),
    ("delete", "/api/tickets", {}, 405),
]


@pytest.mark.parametrize("method,path,kw,status", BAD_INPUTS,
                         ids=[f"{m} {p} {s}" for m, p, _k, s in BAD_INPUTS])
def test_bad_input_gets_a_json_4xx(running, method, path, kw, status):
    resp = running.http.request(method.upper(), running.url(path), timeout=10, **kw)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] and error["message"]
    assert resp.headers.get("X-Request-ID")


def test_status_transition_on_unknown_value_is_400(running):
    ticket = running.post("/api/tickets", json=_ticket("a", "b")).json()
    resp = running.put(f"/api/tickets/{ticket['id']}/status", json={"status": "exploded"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "validation_error"
