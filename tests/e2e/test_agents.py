"""Agents and assignment through the gateway: an admin adds agents and a round-robin policy,
routed tickets get assignees (never above capacity), a ticket is assigned by hand, an agent
going away hands their ticket back, a resolved ticket frees a slot; tenant isolation, scopes,
and open tickets per agent in analytics."""
from __future__ import annotations

import pytest

from support_shared.testing.helpers import wait_until
from tests.conftest import ApiClient, RunningSuite

pytestmark = pytest.mark.e2e

DESK = {"name": "Payroll Desk", "description": "Payslips", "keywords": ["payslip"],
        "min_confidence": 0.5}


def _ticket(n: int) -> dict:
    return {"title": f"Payslip question {n}", "description": f"My payslip {n} looks wrong",
            "user_name": "Dana Kim", "user_email": "dana.kim@example.com"}


def _assignee(client: ApiClient, ticket_id: int) -> int | None:
    assignee = client.get(f"/api/tickets/{ticket_id}").json().get("assignee")
    return assignee["id"] if assignee else None


@pytest.fixture
def admin(running: RunningSuite) -> ApiClient:
    return running.tenant("read,write,admin")


def test_round_robin_assignment_by_hand_away_and_resolve(running, admin):
    writer = running.tenant("read,write", tenant_id=admin.tenant_id)
    assert writer.post("/api/agents", json={"name": "X", "email": "x@example.com"}
                       ).status_code == 403
    assert admin.post("/api/departments", json=DESK).status_code == 201
    policy = admin.patch("/api/departments/Payroll Desk", json={"assignment_policy": "round_robin"})
    assert policy.status_code == 200 and policy.json()["assignment_policy"] == "round_robin"
    ann = admin.post("/api/agents", json={"name": "Ann", "email": "ann@example.com",
                                          "departments": ["payroll desk"], "capacity": 1})
    assert ann.status_code == 201, ann.text
    assert ann.json()["departments"] == ["Payroll Desk"]
    bob = admin.post("/api/agents", json={"name": "Bob", "email": "bob@example.com",
                                          "departments": ["Payroll Desk"], "capacity": 1}).json()
    ann = ann.json()
    assert admin.post("/api/agents", json={"name": "A2", "email": "ANN@example.com"}
                      ).status_code == 409
    bad = admin.post("/api/agents", json={"name": "Z", "email": "z@example.com",
                                          "capacity": -1})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    other = running.tenant("read,write,admin")
    assert other.get(f"/api/agents/{ann['id']}").status_code == 404
    assert other.patch(f"/api/agents/{ann['id']}", json={"status": "away"}).status_code == 404

    wait_until(lambda: admin.post("/api/categorize", json={
        "title": "payslip", "description": "payslip"}).json()["department"] == "Payroll Desk",
        timeout=15, message="AI knows Payroll Desk")
    ids = [admin.post("/api/tickets", json=_ticket(n)).json()["id"] for n in range(3)]
    wait_until(lambda: sorted(filter(None, (_assignee(admin, t) for t in ids)))
               == sorted([ann["id"], bob["id"]]), timeout=20, message="two tickets assigned")
    waiting = next(t for t in ids if _assignee(admin, t) is None)
    full = admin.put(f"/api/tickets/{waiting}/assignee", json={"agent_id": ann["id"]})
    assert full.status_code == 409 and full.json()["error"]["code"] == "agent_unavailable"
    assert admin.put(f"/api/tickets/{waiting}/assignee", json={"agent_id": 10**12}
                     ).status_code == 404
    assert other.put(f"/api/tickets/{waiting}/assignee", json={"agent_id": None}
                     ).status_code == 404

    anns = next(t for t in ids if _assignee(admin, t) == ann["id"])
    away = admin.patch(f"/api/agents/{ann['id']}", json={"status": "away"})
    assert away.status_code == 200 and away.json()["open_tickets"] == 0
    wait_until(lambda: _assignee(admin, anns) is None, timeout=20, message="handed back")
    by_hand = admin.put(f"/api/tickets/{anns}/assignee", json={"agent_id": ann["id"]})
    assert by_hand.status_code == 409                          # away: nobody gives her tickets

    bobs = next(t for t in ids if _assignee(admin, t) == bob["id"])
    assert admin.put(f"/api/tickets/{bobs}/status", json={"status": "in_progress"}
                     ).status_code == 200
    assert admin.put(f"/api/tickets/{bobs}/status", json={"status": "resolved"}
                     ).status_code == 200
    wait_until(lambda: sum(_assignee(admin, t) == bob["id"] for t in ids) == 2, timeout=20,
               message="bob takes a waiting ticket once his is resolved")
    agents = admin.get("/api/agents").json()["agents"]
    assert {a["name"]: a["open_tickets"] for a in agents} == {"Ann": 0, "Bob": 1}

    def loads() -> dict | None:
        body = admin.get("/api/analytics/agents").json()
        return body if body["agents"] == [{"agent_id": bob["id"], "name": "Bob",
                                           "open_tickets": 1}] else None

    assert wait_until(loads, timeout=20, message="analytics per agent")["unassigned_open"] == 1
