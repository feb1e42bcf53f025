"""Status and routing events arriving newest first, stale ones late: the highest version wins in
ticket-service and in analytics."""
from __future__ import annotations

import uuid

import orjson
import pytest

from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

LIFECYCLE = ("in_progress", "resolved", "closed")
K = 10


def _summary(suite) -> dict:
    return suite.request("GET", "/api/dashboard/summary").json()


def _close_and_reroute(suite, ids: list[int]) -> None:
    for tid in ids:
        for status in LIFECYCLE:
            resp = suite.request("PUT", f"/api/tickets/{tid}/status", json={"status": status})
            assert resp.status_code == 200, resp.text
        resp = suite.request("PUT", f"/api/route/{tid}", json={"department": "Finance"})
        assert resp.status_code == 200, resp.text


def _late_events(suite, ids: list[int]) -> list[tuple]:
    """The unpublished status events newest first (each arrives after those that followed it),
    then a stale routing decision nobody has seen (the auto routing, under a new event id)."""
    rows = suite.sql("ticket", "SELECT event_id, routing_key, payload, headers FROM outbox "
                     "WHERE published_at IS NULL AND routing_key = 'ticket.status.updated' "
                     "ORDER BY id DESC")
    assert len(rows) == K * len(LIFECYCLE)
    late = [(r.routing_key, orjson.dumps(r.payload), str(r.event_id), r.headers) for r in rows]
    for r in suite.sql("routing", "SELECT payload FROM outbox WHERE routing_key = 'ticket.routed' "
                       "AND payload->'data'->>'method' = 'auto' AND (payload->>'ticket_id')::bigint "
                       "= ANY(:ids)", ids=ids):
        stale = {**r.payload, "event_id": str(uuid.uuid4())}
        late.append(("ticket.routed", orjson.dumps(stale), stale["event_id"], None))
    return late


def test_highest_version_wins_whatever_the_order(suite, figures):
    since, marks = suite.baseline(), suite.log_marks()
    before = _summary(suite)
    ids = suite.create_tickets(K)
    wait_until(lambda: all(suite.stored(since).values()), timeout=60, message="tickets routed")
    suite.suite.kill("ticket-relay")      # the status events stay in the outbox for now
    _close_and_reroute(suite, ids)
    wait_until(lambda: set(suite.stored(since).values()) == {"Finance"}, timeout=30,
               message="reroutes applied")
    late = _late_events(suite, ids)
    suite.publish_batch(late)
    suite.suite.start_process("ticket-relay")   # then the same status events again, in order
    suite.wait_drained(timeout=60)

    after = _summary(suite)
    tickets = [suite.request("GET", f"/api/tickets/{tid}").json() for tid in ids]
    facts = suite.sql("analytics", "SELECT ticket_id, status, department FROM ticket_facts "
                      "WHERE ticket_id = ANY(:ids)", ids=ids)
    stale_dropped = suite.grep_logs("stale ", since=marks)
    figures("out-of-order", sent=len(late), tickets=K, lost=0, duplicated=0,
            stale_dropped=stale_dropped)
    assert {(t["status"], t["department"]) for t in tickets} == {("closed", "Finance")}
    assert {(f.status, f.department) for f in facts} == {("closed", "Finance")} and len(facts) == K
    assert after["by_status"]["closed"] - before["by_status"]["closed"] == K
    assert after["by_department"].get("Finance", 0) - before["by_department"].get("Finance", 0) == K
    # 2 stale status events per ticket in analytics, the stale routing in ticket-service and
    # analytics: all logged as dropped.
    assert stale_dropped >= K * (len(LIFECYCLE) - 1) + 2 * K
