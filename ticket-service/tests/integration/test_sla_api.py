"""The service-level routes against PostgreSQL: policy and calendar per tenant, validation,
the ticket's due moments through waiting, priority and a policy change, and comment views."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

PRIORITIES = ("critical", "high", "medium", "low")
TICKET = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}
CALENDAR = {"time_zone": "Europe/Paris",
            "hours": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "fri": [["09:00", "24:00"]]},
            "holidays": ["2027-01-01"]}


def _targets(first: float, resolution: float) -> dict:
    return {"targets": {p: {"first_response_minutes": first, "resolution_minutes": resolution}
                        for p in PRIORITIES}}


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def test_a_tenant_without_settings_gets_the_defaults(client):
    policy = client.get("/api/sla/policy").get_json()
    assert policy["default"] is True and policy["updated_at"] is None
    assert policy["targets"]["critical"] == {"first_response_minutes": 60,
                                             "resolution_minutes": 240}
    calendar = client.get("/api/sla/calendar").get_json()
    assert calendar["default"] is True and calendar["time_zone"] == "UTC"
    assert calendar["hours"]["sun"] == [["00:00", "24:00"]]


def test_policy_and_calendar_round_trip_and_stay_with_their_tenant(client):
    assert client.put("/api/sla/policy", json=_targets(30, 90)).status_code == 200
    resp = client.put("/api/sla/calendar", json=CALENDAR)
    assert resp.status_code == 200, resp.get_json()
    calendar = client.get("/api/sla/calendar").get_json()
    assert calendar["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert calendar["hours"]["tue"] == [] and calendar["holidays"] == ["2027-01-01"]
    assert calendar["default"] is False
    assert client.get("/api/sla/policy").get_json()["targets"]["low"]["resolution_minutes"] == 90
    other = {"X-Tenant-ID": "other"}
    assert client.get("/api/sla/policy", headers=other).get_json()["default"] is True
    assert client.get("/api/sla/calendar", headers=other).get_json()["default"] is True


@pytest.mark.parametrize("path,body", [
    ("/api/sla/policy", {"targets": {"high": {"first_response_minutes": 1,
                                              "resolution_minutes": 2}}}),   # priorities missing
    ("/api/sla/policy", _targets(0, 10)),
    ("/api/sla/policy", _targets(-5, 10)),
    ("/api/sla/policy", {**_targets(5, 10), "extra": 1}),
    ("/api/sla/policy", _targets("5", 10) | {"targets": "no"}),
    ("/api/sla/calendar", {**CALENDAR, "time_zone": "Mars/Olympus"}),
    ("/api/sla/calendar", {**CALENDAR, "hours": {"mon": [["10:00", "09:00"]]}}),
    ("/api/sla/calendar", {**CALENDAR, "hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}),
    ("/api/sla/calendar", {**CALENDAR, "hours": {"mon": [["9:00", "25:00"]]}}),
    ("/api/sla/calendar", {**CALENDAR, "hours": {}}),                            # never open
    ("/api/sla/calendar", {**CALENDAR, "holidays": ["2027-02-30"]}),
    ("/api/sla/calendar", [1, 2]),
])
def test_bad_settings_are_a_json_400(client, path, body):
    resp = client.put(path, json=body)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"]["code"] == "validation_error"


def test_due_moments_follow_waiting_priority_and_policy(client):
    client.put("/api/sla/policy", json=_targets(60, 120))
    ticket = client.post("/api/tickets", json=TICKET).get_json()
    created = _at(ticket["created_at"])
    assert _at(ticket["first_response_due_at"]) == created + timedelta(minutes=60)
    assert _at(ticket["resolution_due_at"]) == created + timedelta(minutes=120)
    tid = ticket["id"]
    client.put(f"/api/tickets/{tid}/status", json={"status": "in_progress"})
    waiting = client.put(f"/api/tickets/{tid}/status", json={"status": "waiting"}).get_json()
    assert waiting["status"] == "waiting" and waiting["resolution_due_at"] is None
    client.put("/api/sla/policy", json=_targets(10, 20))          # paused stays paused
    assert client.get(f"/api/tickets/{tid}").get_json()["resolution_due_at"] is None
    back = client.put(f"/api/tickets/{tid}/status", json={"status": "in_progress"}).get_json()
    # 20 minutes minus the few seconds counted before the pause, from now
    assert _at(back["resolution_due_at"]) > _at(back["updated_at"]) + timedelta(minutes=19)
    assert _at(back["first_response_due_at"]) < created + timedelta(minutes=11)
    resp = client.put(f"/api/tickets/{tid}/status", json={"status": "waiting"})
    assert resp.status_code == 200
    refused = client.put(f"/api/tickets/{tid}/status", json={"status": "resolved"})
    assert refused.status_code == 409                               # waiting -> in_progress only
    assert refused.get_json()["error"]["details"]["allowed"] == ["in_progress"]


def test_internal_notes_stay_out_of_the_requester_view(client):
    tid = client.post("/api/tickets", json=TICKET).get_json()["id"]
    base = {"author_name": "Bo", "body": "hello"}
    note = client.post(f"/api/tickets/{tid}/comments",
                       json={**base, "author_email": "bo@corp.example", "author_kind": "internal"})
    assert note.status_code == 201 and note.get_json()["author_kind"] == "internal"
    assert client.get(f"/api/tickets/{tid}").get_json()["first_response_due_at"] is not None
    reply = client.post(f"/api/tickets/{tid}/comments",
                        json={**base, "author_email": "bo@corp.example"})
    assert reply.get_json()["author_kind"] == "agent"
    assert client.get(f"/api/tickets/{tid}").get_json()["first_response_due_at"] is None
    everyone = client.get(f"/api/tickets/{tid}/comments").get_json()["comments"]
    requester = client.get(f"/api/tickets/{tid}/comments?view=requester").get_json()["comments"]
    assert [c["author_kind"] for c in everyone] == ["internal", "agent"]
    assert [c["author_kind"] for c in requester] == ["agent"]
    bad = client.get(f"/api/tickets/{tid}/comments?view=boss")
    assert bad.status_code == 400
    bad_kind = client.post(f"/api/tickets/{tid}/comments",
                           json={**base, "author_email": "bo@corp.example", "author_kind": "bot"})
    assert bad_kind.status_code == 400
