"""Through the gateway: the batch upsert (mixed items, re-sent, updated by external id, routed)
and the export (streamed, resumed by cursor, paged while tickets are written).

Each test runs in a tenant of its own.
"""
from __future__ import annotations

import csv
import io
import json
import threading

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("settle")]


def item(n, **extra):
    return {"title": f"VPN client fails on laptop {n}", "user_name": "Dana Kim",
            "user_email": "dana.kim@example.com", "priority": "low",
            "description": f"My VPN client rejects my password since this morning ({n}).",
            "source": "helpdesk", "external_id": f"HD-{n}", **extra}


def batch(client, items):
    resp = client.post("/api/tickets/batch", json={"tickets": items})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _events(client, event_type):
    return client.get("/api/analytics/tickets").json()["events_processed"][event_type]


def test_a_mixed_batch_then_the_same_again_then_an_update(running):
    client = running.tenant()
    first = batch(client, [item(1), {"title": "no description"}, item(2), item(3,
                                                                            priority="urgent")])
    assert [r["status"] for r in first["results"]] == ["created", "error", "created", "error"]
    assert first["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 2}
    assert first["results"][1]["error"]["code"] == "validation_error"
    ids = [first["results"][i]["id"] for i in (0, 2)]
    wait_until(lambda: all(client.get(f"/api/tickets/{i}").json()["department"] for i in ids),
               timeout=30, message="batch tickets routed")

    again = batch(client, [item(1), item(2)])
    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged"]
    assert [r["id"] for r in again["results"]] == ids

    changed = batch(client, [item(1, priority="critical"), item(2)])
    assert [r["status"] for r in changed["results"]] == ["updated", "unchanged"]
    ticket = client.get(f"/api/tickets/{ids[0]}").json()
    assert (ticket["priority"], ticket["source"], ticket["external_id"]) == \
        ("critical", "helpdesk", "HD-1")
    wait_until(lambda: _events(client, "ticket.updated") == 1, timeout=30,
               message="ticket.updated published and counted")
    history = client.get(f"/api/tickets/{ids[0]}/history").json()["history"]
    assert "updated" in [entry["action"] for entry in history]


def test_another_tenant_has_its_own_external_ids(running):
    a, b = running.tenant(), running.tenant()
    ta = batch(a, [item(1)])["results"][0]
    tb = batch(b, [item(1)])["results"][0]
    assert tb["status"] == "created" and ta["id"] != tb["id"]
    assert b.get(f"/api/tickets/{ta['id']}").status_code == 404


def _export(client, **params):
    resp = client.get("/api/tickets/export", params=params, stream=True)
    assert resp.status_code == 200, resp.text
    return [json.loads(line) for line in resp.iter_lines() if line]


def test_export_streams_resumes_and_pages_during_writes(running):
    client = running.tenant()
    batch(client, [item(n) for n in range(20)])
    done = threading.Event()

    def writer():
        try:
            for n in range(20, 80, 10):
                batch(client, [item(k) for k in range(n, n + 10)])
                batch(client, [item(n - 20, priority="high")])
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen: dict[int, list[int]] = {}
    cursor = None

    def caught_up():
        nonlocal cursor
        finished = done.is_set()
        for record in _export(client, limit=9, **({"cursor": cursor} if cursor else {})):
            seen.setdefault(record["ticket"]["id"], []).append(record["ticket"]["version"])
            cursor = record["cursor"]
        if not finished:
            return False
        listed = client.get("/api/tickets", params={"limit": 200}).json()["tickets"]
        latest = {t["id"]: t["version"] for t in listed}
        return {i: v[-1] for i, v in seen.items()} == latest and len(latest) == 80

    wait_until(caught_up, timeout=120, interval=0.2, message="export caught up")
    thread.join(30)
    for versions in seen.values():            # a ticket again only at a newer version
        assert versions == sorted(set(versions))

    as_csv = client.get("/api/tickets/export", params={"format": "csv", "limit": 5})
    assert as_csv.status_code == 200 and as_csv.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 5 and rows[0]["cursor"] and rows[0]["source"] == "helpdesk"
    bad = client.get("/api/tickets/export", params={"cursor": "not-ours"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"
