"""Tenant isolation through the gateway: tenant B's key never sees or changes tenant A's data.

Tenant A gets a routed, commented ticket, a requester and analytics numbers; then tenant B
calls every public endpoint, on A's ids where there are ids, and must find nothing of A's and
leave A's state exactly as it was.
"""
from __future__ import annotations

import uuid

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("settle")]


def _ticket(title: str, email: str = "ann.a@example.com") -> dict:
    return {"title": title, "description": "My VPN client rejects my password since this "
            "morning and I cannot reach the network drive.", "user_name": "Ann A",
            "user_email": email, "priority": "high"}


@pytest.fixture(scope="module")
def world(running):
    """Tenant A with one routed, commented ticket counted in analytics; tenant B empty."""
    a, b = running.tenant(), running.tenant()
    word = f"zebra{uuid.uuid4().hex[:8]}"
    resp = a.post("/api/tickets", json=_ticket(f"VPN {word} down"),
                  headers={"Idempotency-Key": "shared-key"})
    assert resp.status_code == 201, resp.text
    ticket = resp.json()
    tid = ticket["id"]
    routed = wait_until(lambda: (t := a.get(f"/api/tickets/{tid}").json())["department"] and t,
                        timeout=10, message="A's ticket routed")
    comment = a.post(f"/api/tickets/{tid}/comments", json={
        "author_name": "Agent A", "author_email": "agent@a.example.com", "body": "on it"})
    assert comment.status_code == 201
    wait_until(lambda: a.get("/api/dashboard/summary").json()["total_tickets"] == 1
               and a.get("/api/dashboard/routing").json()["total_routed"] == 1,
               timeout=10, message="A's ticket counted")
    snapshot = _state(a, tid)
    return {"a": a, "b": b, "tid": tid, "word": word, "department": routed["department"],
            "requester_id": ticket["requester_id"], "snapshot": snapshot}


def _state(client, tid: int) -> dict:
    """Everything tenant A can see about its data."""
    return {
        "ticket": client.get(f"/api/tickets/{tid}").json(),
        "comments": client.get(f"/api/tickets/{tid}/comments").json(),
        "history": client.get(f"/api/tickets/{tid}/history").json(),
        "routing": client.get(f"/api/routing/history/{tid}").json(),
        "users": client.get("/api/users").json(),
        "departments": client.get("/api/departments").json(),
        "summary": client.get("/api/dashboard/summary").json(),
        "statistics": client.get("/api/routing/statistics").json(),
    }


def _b_on_a(world) -> list[tuple[str, str, dict]]:
    tid, uid = world["tid"], world["requester_id"]
    return [
        ("GET", f"/api/tickets/{tid}", {}),
        ("PATCH", f"/api/tickets/{tid}", {"json": {"title": "hijacked"}}),
        ("PUT", f"/api/tickets/{tid}/status", {"json": {"status": "in_progress"}}),
        ("GET", f"/api/tickets/{tid}/comments", {}),
        ("POST", f"/api/tickets/{tid}/comments",
         {"json": {"author_name": "B", "author_email": "b@b.example.com", "body": "hi"}}),
        ("GET", f"/api/tickets/{tid}/history", {}),
        ("GET", f"/api/users/{uid}", {}),
        ("GET", f"/api/routing/history/{tid}", {}),
        ("POST", "/api/route", {"json": {"ticket_id": tid, "department": "Finance"}}),
        ("PUT", f"/api/route/{tid}", {"json": {"department": "Finance"}}),
    ]


def test_b_gets_404_for_everything_of_a(world):
    b = world["b"]
    for method, path, kw in _b_on_a(world):
        resp = b.request(method, path, **kw)
        assert resp.status_code == 404, (method, path, resp.status_code, resp.text)
        assert resp.json()["error"]["code"] in ("not_found", "ticket_not_found")


def test_b_lists_and_searches_see_nothing_of_a(world):
    b, word, department = world["b"], world["word"], world["department"]
    assert b.get("/api/tickets").json() == {"tickets": [], "count": 0, "next_cursor": None}
    assert b.get(f"/api/tickets?q={word}").json()["count"] == 0
    assert b.get(f"/api/tickets?requester_id={world['requester_id']}").json()["count"] == 0
    assert b.get("/api/users").json()["count"] == 0
    assert b.get("/api/users?email=ann.a@example.com").json()["count"] == 0
    assert b.get(f"/api/departments/{department}/tickets").json()["count"] == 0
    departments = b.get("/api/departments").json()["departments"]
    assert {d["name"] for d in departments} >= {"IT Support", "HR", "Finance", "General"}
    assert all(d["ticket_count"] == 0 for d in departments)
    assert b.get(f"/api/departments/{department}").json()["ticket_count"] == 0


def test_b_analytics_numbers_are_its_own(world):
    b = world["b"]
    summary = b.get("/api/dashboard/summary").json()
    assert summary["total_tickets"] == 0 and summary["by_department"] == {}
    assert b.get("/api/dashboard/routing").json()["total_routed"] == 0
    assert b.get("/api/analytics/tickets").json()["total"] == 0
    assert all(v["count"] == 0 for v in b.get("/api/analytics/performance").json().values())
    trends = b.get("/api/analytics/trends?days=3").json()["trends"]
    assert all(d["created"] == d["routed"] == d["resolved"] == 0 for d in trends)
    assert b.get(f"/api/analytics/department/{world['department']}").json()["total"] == 0
    stats = b.get("/api/routing/statistics").json()
    assert stats["total_routed"] == 0 and sum(stats["by_method"].values()) == 0


def test_b_reuses_a_s_names_without_touching_a(world):
    b = world["b"]
    same_key = b.post("/api/tickets", json=_ticket("B's own ticket", "bob.b@example.com"),
                      headers={"Idempotency-Key": "shared-key"})
    assert same_key.status_code == 201 and "Idempotent-Replayed" not in same_key.headers
    assert same_key.json()["id"] != world["tid"]
    user = b.post("/api/users", json={"name": "Ann in B", "email": "ANN.A@example.com"})
    assert user.status_code == 201                       # e-mails are unique per tenant only
    assert user.json()["id"] != world["requester_id"]


def test_a_header_cannot_pick_another_tenant(world):
    b, a = world["b"], world["a"]
    resp = b.get(f"/api/tickets/{world['tid']}", headers={"X-Tenant-ID": a.tenant_id})
    assert resp.status_code == 404
    listed = b.get("/api/tickets", headers={"X-Tenant-ID": a.tenant_id}).json()
    assert world["tid"] not in [t["id"] for t in listed["tickets"]]


def test_a_s_state_is_unchanged_after_all_of_b_s_attempts(world):
    # Runs last in this module: every attempt above has happened.
    wait_until(lambda: world["b"].get("/api/dashboard/summary").json()["total_tickets"] == 1,
               timeout=10, message="B's own ticket counted (so its events were processed)")
    after = _state(world["a"], world["tid"])
    assert after == world["snapshot"]
