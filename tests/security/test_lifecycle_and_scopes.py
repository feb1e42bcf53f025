"""Closed is final until reopened, in ticket-service and routing-service; write implies read."""
from __future__ import annotations

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.e2e]

TICKET = {"title": "Closed is final", "description": "no edits after closing",
          "user_name": "Cy", "user_email": "cy@example.com"}
COMMENT = {"author_name": "Cy", "author_email": "cy@example.com", "body": "one more thing"}


def _closed_ticket(client) -> int:
    tid = client.post("/api/tickets", json=TICKET).json()["id"]
    wait_until(lambda: client.get(f"/api/routing/history/{tid}").status_code == 200,
               timeout=20, message="ticket routed")
    for status in ("in_progress", "resolved", "closed"):
        resp = client.put(f"/api/tickets/{tid}/status", json={"status": status})
        assert resp.status_code == 200, resp.text
    return tid


def test_a_closed_ticket_takes_no_patch_comment_or_reroute(running):
    client = running.tenant("read,write")
    tid = _closed_ticket(client)
    version = client.get(f"/api/tickets/{tid}").json()["version"]
    assert client.patch(f"/api/tickets/{tid}", json={"priority": "low"}).status_code == 409
    comment = client.post(f"/api/tickets/{tid}/comments", json=COMMENT)
    assert comment.status_code == 409 and comment.json()["error"]["code"] == "ticket_closed"

    def reroute_refused() -> bool:     # routing-service learns the close from its event
        resp = client.put(f"/api/route/{tid}", json={"department": "Finance"})
        assert resp.status_code in (200, 409), resp.text
        return resp.status_code == 409 and resp.json()["error"]["code"] == "ticket_closed"

    wait_until(reroute_refused, timeout=20, message="routing refuses the closed ticket")
    manual = client.post("/api/route", json={"ticket_id": tid, "department": "HR"})
    assert manual.status_code == 409
    assert client.get(f"/api/tickets/{tid}").json()["version"] == version

    follow = client.post("/api/tickets", json={**TICKET, "follow_up_of": tid})
    assert follow.status_code == 201 and follow.json()["follow_up_of"] == tid
    stranger = running.tenant("read,write")
    assert stranger.post("/api/tickets", json={**TICKET, "follow_up_of": tid}).status_code == 400


def test_an_explicit_reopen_makes_it_editable_again(running):
    client = running.tenant("read,write")
    tid = _closed_ticket(client)
    assert client.put(f"/api/tickets/{tid}/status",
                      json={"status": "resolved"}).status_code == 409
    reopened = client.put(f"/api/tickets/{tid}/status", json={"status": "in_progress"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "in_progress"
    assert client.patch(f"/api/tickets/{tid}", json={"priority": "low"}).status_code == 200
    assert client.post(f"/api/tickets/{tid}/comments", json=COMMENT).status_code == 201
    wait_until(lambda: client.put(f"/api/route/{tid}",
                                  json={"department": "Finance"}).status_code == 200,
               timeout=20, message="routing takes the reopened ticket again")


def test_a_write_key_reads_what_it_may_write_and_nothing_of_other_tenants(running):
    writer, other = running.tenant("write"), running.tenant("read,write")
    tid = writer.post("/api/tickets", json=TICKET).json()["id"]
    assert writer.get(f"/api/tickets/{tid}").status_code == 200
    assert other.get(f"/api/tickets/{tid}").status_code == 404
    assert other.patch(f"/api/tickets/{tid}", json={"priority": "low"}).status_code == 404
    reader = running.tenant("read", tenant_id=writer.tenant_id)
    assert reader.patch(f"/api/tickets/{tid}", json={"priority": "low"}).status_code == 403
