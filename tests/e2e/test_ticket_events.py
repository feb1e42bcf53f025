"""Through the gateway: an edit and a delete reach every service (events for every change).

Each test runs in a tenant of its own, so the analytics numbers it reads are its tickets' only.
"""
from __future__ import annotations

import uuid

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.e2e

BODY = {"title": "Cannot log in to VPN", "user_name": "Dana Kim",
        "user_email": "dana.kim@example.com", "priority": "low",
        "description": "My VPN client rejects my password since this morning."}


def _routed_and_counted(client, body):
    """Create a ticket and wait until it is routed and analytics counts it."""
    ticket = client.post("/api/tickets", json=body)
    assert ticket.status_code == 201, ticket.text
    tid = ticket.json()["id"]
    routed = wait_until(lambda: (t := client.get(f"/api/tickets/{tid}").json())["department"]
                        and t, timeout=5, message="ticket routed")
    wait_until(lambda: client.get("/api/dashboard/summary").json()["by_department"].get(
        routed["department"]) == 1, timeout=5, message="routed ticket counted")
    return routed


def _events(client, event_type):
    return client.get("/api/analytics/tickets").json()["events_processed"][event_type]


def test_a_patched_priority_moves_the_priority_counts_within_2_s(running):
    client = running.tenant()
    ticket = _routed_and_counted(client, BODY)
    tid = ticket["id"]
    # First to critical, so the priority analytics counts for the ticket is known.
    first = client.patch(f"/api/tickets/{tid}", json={"priority": "critical"},
                         headers={"If-Match": f'"{ticket["version"]}"'})
    assert first.status_code == 200, first.text
    wait_until(lambda: client.get("/api/dashboard/summary").json()["by_priority"]["critical"]
               == 1, timeout=2, message="first edit counted")

    second = client.patch(f"/api/tickets/{tid}", json={"priority": "medium"})
    assert second.status_code == 200 and second.json()["version"] == first.json()["version"] + 1

    def moved():
        counts = client.get("/api/dashboard/summary").json()["by_priority"]
        return counts == {"low": 0, "medium": 1, "high": 0, "critical": 0}
    wait_until(moved, timeout=2, message="priority counts moved within 2 s")
    assert _events(client, "ticket.updated") == 2


def test_a_deleted_ticket_is_404_in_every_read(running):
    client = running.tenant()
    word = f"quokka{uuid.uuid4().hex[:8]}"
    ticket = _routed_and_counted(client, {**BODY, "title": f"{BODY['title']} {word}"})
    tid, department = ticket["id"], ticket["department"]
    comment = client.post(f"/api/tickets/{tid}/comments", json={
        "author_name": "Agent", "author_email": "agent@example.com", "body": "looking"})
    assert comment.status_code == 201, comment.text
    version = client.get(f"/api/tickets/{tid}").json()["version"]

    path = f"/api/tickets/{tid}"
    stale = client.request("DELETE", path, headers={"If-Match": f'"{version - 1}"'})
    assert stale.status_code == 412, stale.text
    gone = client.request("DELETE", path, headers={"If-Match": f'"{version}"'})
    assert gone.status_code == 204 and gone.content == b""

    for read in (path, f"{path}/comments", f"{path}/history"):
        assert client.get(read).status_code == 404, read
    assert client.request("DELETE", path).status_code == 404
    assert client.get("/api/tickets").json()["tickets"] == []
    assert client.get("/api/tickets", params={"q": word}).json()["tickets"] == []
    assert client.get(f"/api/departments/{department}/tickets").json()["tickets"] == []
    wait_until(lambda: client.get(f"/api/routing/history/{tid}").status_code == 404,
               timeout=2, message="routing history 404")
    wait_until(lambda: client.get(f"/api/departments/{department}").json()["ticket_count"] == 0,
               timeout=2, message="department count without the ticket")

    def left_analytics():
        summary = client.get("/api/dashboard/summary").json()
        return (summary["total_tickets"] == 0 and summary["by_department"] == {}
                and client.get(f"/api/analytics/department/{department}").json()["total"] == 0
                and client.get("/api/dashboard/routing").json()["total_routed"] == 0)
    wait_until(left_analytics, timeout=2, message="ticket gone from analytics")
