"""Tickets beyond create-and-route, through the gateway: edits with If-Match (concurrently too),
comments, the audit trail, requesters, search, idempotent retries and stable pagination."""
from __future__ import annotations

import threading
import uuid

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("settle")]


def _ticket(title: str = "Cannot log in to VPN", email: str = "dana.kim@example.com",
            description: str = "The VPN client rejects my password since this morning.") -> dict:
    return {"title": title, "description": description, "user_name": "Dana Kim",
            "user_email": email}


@pytest.fixture
def api(running):
    """A fresh tenant (read, write), so counts and lists are this test's own."""
    return running.tenant()


def _routed(api, tid):
    return wait_until(lambda: (t := api.get(f"/api/tickets/{tid}").json())["department"] and t,
                      timeout=10, message=f"ticket {tid} routed")


def test_patch_edits_with_if_match_and_refuses_stale_versions(api):
    created = api.post("/api/tickets", json=_ticket())
    tid = created.json()["id"]
    routed = _routed(api, tid)
    etag = api.get(f"/api/tickets/{tid}").headers["ETag"]
    assert etag == f'"{routed["version"]}"'

    resp = api.patch(f"/api/tickets/{tid}", json={"priority": "critical", "tags": ["vpn", "p1"]},
                     headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["priority"], body["tags"], body["version"]) == ("critical", ["vpn", "p1"],
                                                                 routed["version"] + 1)
    assert resp.headers["ETag"] == f'"{body["version"]}"'
    stale = api.patch(f"/api/tickets/{tid}", json={"title": "x"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["error"]["details"]["current_version"] == body["version"]
    assert api.get(f"/api/tickets/{tid}").json()["title"] == "Cannot log in to VPN"
    for bad in ({}, {"status": "closed"}, {"tags": ["a"] * 11}, {"title": ""}, {"tags": ["a", "a"]}):
        assert api.patch(f"/api/tickets/{tid}", json=bad).status_code == 400, bad


def test_concurrent_updates_never_overwrite_silently(api):
    tid = api.post("/api/tickets", json=_ticket()).json()["id"]
    _routed(api, tid)
    current = api.get(f"/api/tickets/{tid}")
    etag, version = current.headers["ETag"], current.json()["version"]
    barrier = threading.Barrier(6)
    answers: list = []

    def edit(n: int) -> None:
        barrier.wait()
        answers.append(api.patch(f"/api/tickets/{tid}", json={"title": f"edit {n}"},
                                 headers={"If-Match": etag}))

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [412] * 5, statuses
    [winner] = [r.json() for r in answers if r.status_code == 200]
    final = api.get(f"/api/tickets/{tid}").json()
    assert (final["title"], final["version"]) == (winner["title"], version + 1)
    updates = [h for h in api.get(f"/api/tickets/{tid}/history").json()["history"]
               if h["action"] == "updated"]
    assert len(updates) == 1


def test_history_records_every_change_in_order(api):
    tid = api.post("/api/tickets", json=_ticket()).json()["id"]
    _routed(api, tid)
    api.patch(f"/api/tickets/{tid}", json={"tags": ["vpn"]})
    api.put(f"/api/tickets/{tid}/status", json={"status": "in_progress"})
    api.post(f"/api/tickets/{tid}/comments", json={
        "author_name": "Agent", "author_email": "agent@example.com", "body": "Looking at it"})

    history = api.get(f"/api/tickets/{tid}/history").json()
    actions = [h["action"] for h in history["history"]]
    assert actions == ["created", "routed", "updated", "status_changed", "commented"]
    versions = [h["ticket_version"] for h in history["history"]]
    assert versions == sorted(versions) and versions[0] == 1
    routed = history["history"][1]
    assert routed["details"]["method"] == "auto" and routed["details"]["department"]
    assert history["history"][0]["actor"] == f"key:{api.key_id}"
    assert history["history"][2]["details"] == {"changes": {"tags": {"old": [], "new": ["vpn"]}}}
    first = api.get(f"/api/tickets/{tid}/history?limit=2").json()
    rest = api.get(f"/api/tickets/{tid}/history?cursor={first['next_cursor']}").json()
    assert [h["action"] for h in first["history"] + rest["history"]] == actions


def test_comments_are_listed_oldest_first_in_pages(api):
    tid = api.post("/api/tickets", json=_ticket()).json()["id"]
    for n in range(5):
        resp = api.post(f"/api/tickets/{tid}/comments", json={
            "author_name": "A", "author_email": "a@example.com", "body": f"note {n}"})
        assert resp.status_code == 201
    seen, cursor = [], None
    while True:
        page = api.get(f"/api/tickets/{tid}/comments", params={"limit": 2, "cursor": cursor}).json()
        seen += [c["body"] for c in page["comments"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [f"note {n}" for n in range(5)]
    too_long = api.post(f"/api/tickets/{tid}/comments", json={
        "author_name": "A", "author_email": "a@example.com", "body": "x" * 5001})
    assert too_long.status_code == 400
    assert api.get("/api/tickets/999999999/comments").status_code == 404


def test_tickets_are_linked_to_their_requester(api):
    first = api.post("/api/tickets", json=_ticket(email="Lee@Example.com")).json()
    second = api.post("/api/tickets", json=_ticket(email="lee@example.com")).json()
    assert first["requester_id"] == second["requester_id"]
    user = api.get(f"/api/users/{first['requester_id']}").json()
    assert (user["name"], user["email"]) == ("Dana Kim", "Lee@example.com")  # domain normalized
    mine = api.get(f"/api/tickets?requester_id={user['id']}").json()
    assert {t["id"] for t in mine["tickets"]} == {first["id"], second["id"]}
    dup = api.post("/api/users", json={"name": "Lee", "email": "LEE@example.com"})
    assert dup.status_code == 409 and dup.json()["error"]["details"]["user_id"] == user["id"]
    new = api.post("/api/users", json={"name": "Kim", "email": "kim@example.com"})
    assert new.status_code == 201 and new.headers["Location"] == f"/api/users/{new.json()['id']}"
    assert [u["id"] for u in api.get("/api/users").json()["users"]] == [new.json()["id"], user["id"]]
    assert api.get("/api/users?email=KIM@example.com").json()["count"] == 1


def test_full_text_search_combines_with_filters_and_pages(api):
    word = f"quokka{uuid.uuid4().hex[:6]}"
    ids = [api.post("/api/tickets", json=_ticket(f"Printer {word} {n}",
                                                  description="Paper jams in tray two")).json()["id"]
           for n in range(3)]
    api.post("/api/tickets", json=_ticket("Unrelated", description="Nothing to see"))
    api.patch(f"/api/tickets/{ids[0]}", json={"priority": "low"})

    found = api.get("/api/tickets", params={"q": word}).json()
    assert [t["id"] for t in found["tickets"]] == ids[::-1]
    assert [t["id"] for t in api.get("/api/tickets", params={
        "q": f"{word} jams", "priority": "low"}).json()["tickets"]] == [ids[0]]
    assert api.get("/api/tickets", params={"q": f"{word} -tray"}).json()["count"] == 0
    page1 = api.get("/api/tickets", params={"q": word, "limit": 2}).json()
    page2 = api.get("/api/tickets", params={"q": word, "limit": 2,
                                            "cursor": page1["next_cursor"]}).json()
    assert [t["id"] for t in page1["tickets"] + page2["tickets"]] == ids[::-1]
    assert page2["next_cursor"] is None
    assert api.get("/api/tickets", params={"q": '"unbalanced ( quote'}).status_code == 200


def test_idempotent_create_replays_refuses_reuse_and_in_flight_duplicates(api):
    key = f"retry-{uuid.uuid4().hex}"
    first = api.post("/api/tickets", json=_ticket(), headers={"Idempotency-Key": key})
    again = api.post("/api/tickets", json=_ticket(), headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    reused = api.post("/api/tickets", json=_ticket("Other"), headers={"Idempotency-Key": key})
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"

    burst_key = f"burst-{uuid.uuid4().hex}"
    barrier = threading.Barrier(8)
    answers: list = []

    def send() -> None:
        barrier.wait()
        answers.append(api.post("/api/tickets", json=_ticket("Burst"),
                                headers={"Idempotency-Key": burst_key}))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {r.status_code for r in answers} <= {201, 409}
    created = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(created) == 1
    assert sum(r.status_code == 201 and "Idempotent-Replayed" not in r.headers
               for r in answers) == 1
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency_conflict"
    burst = api.get("/api/tickets", params={"q": "Burst"}).json()
    assert burst["count"] == 1


def test_pages_stay_stable_while_tickets_are_added(api):
    original = [api.post("/api/tickets", json=_ticket(f"Seed {n}")).json()["id"]
                for n in range(25)]
    stop = threading.Event()
    added: list[int] = []

    def writer() -> None:
        while not stop.is_set() and len(added) < 40:
            added.append(api.post("/api/tickets", json=_ticket("Late")).json()["id"])

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[int] = []
    cursor = None
    try:
        while True:
            page = api.get("/api/tickets", params={"limit": 4, "cursor": cursor}).json()
            seen += [t["id"] for t in page["tickets"]]
            if not (cursor := page["next_cursor"]):
                break
    finally:
        stop.set()
        thread.join(30)
    assert len(seen) == len(set(seen))                        # nothing twice
    assert set(original) <= set(seen)                         # nothing that existed is skipped
    assert seen == sorted(seen, reverse=True)                 # newest first, throughout
    assert all(i > max(original) for i in set(seen) - set(original))
