"""PATCH, comments, history, requesters and search through the API on the real database."""
import threading

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration

BODY = {"title": "VPN down", "description": "cannot connect to the vpn", "user_name": "Ann",
        "user_email": "ann@example.com", "priority": "high"}
COMMENT = {"author_name": "Bo", "author_email": "bo@example.com", "body": "looking"}


def post(client, body=None, tenant=None, **headers):
    if tenant:
        headers["X-Tenant-ID"] = tenant
    return client.post("/api/tickets", json=BODY if body is None else body, headers=headers)


def patch(client, ticket_id, body, tenant=None, **headers):
    if tenant:
        headers["X-Tenant-ID"] = tenant
    return client.patch(f"/api/tickets/{ticket_id}", json=body, headers=headers)


def test_patch_edits_bumps_the_version_and_honours_if_match(client):
    tid = post(client).get_json()["id"]

    resp = patch(client, tid, {"title": "VPN down again", "tags": ["vpn", "remote"]},
                 **{"If-Match": '"1"', "X-Key-ID": "12"})

    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["title"], body["tags"], body["version"]) == ("VPN down again",
                                                              ["vpn", "remote"], 2)
    assert resp.headers["ETag"] == '"2"'
    stale = patch(client, tid, {"priority": "low"}, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.get_json()["error"]["details"] == {"current_version": 2, "if_match": [1]}
    same = patch(client, tid, {"title": "VPN down again"}, **{"If-Match": '"2"'})
    assert same.status_code == 200 and same.get_json()["version"] == 2
    assert client.get(f"/api/tickets/{tid}").get_json()["priority"] == "high"


@pytest.mark.parametrize("body", [
    {}, {"status": "closed"}, {"version": 5}, {"title": ""}, {"title": None}, {"tags": None},
    {"tags": ["a"] * 11}, {"tags": ["x" * 33]}, {"tags": ["a", " a "]}, {"priority": "urgent"},
    {"description": "x" * 10_001}, {"title": "a\u0000b"},
])
def test_patch_refuses_bad_bodies(client, body):
    tid = post(client).get_json()["id"]
    resp = patch(client, tid, body)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"]["code"] == "validation_error"
    assert client.get(f"/api/tickets/{tid}").get_json()["version"] == 1


def test_patch_of_another_tenants_ticket_is_404(client):
    tid = post(client, tenant="a").get_json()["id"]
    assert patch(client, tid, {"title": "mine now"}, tenant="b").status_code == 404
    assert client.get(f"/api/tickets/{tid}", headers={"X-Tenant-ID": "a"}).get_json()[
        "title"] == "VPN down"


def _race(app, tid, bodies, headers):
    barrier = threading.Barrier(len(bodies))
    answers = []

    def send(body):
        client = app.test_client()
        barrier.wait()
        answers.append(client.patch(f"/api/tickets/{tid}", json=body, headers=headers))

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


def test_concurrent_patches_with_the_same_if_match_one_wins(app, client):
    tid = post(client).get_json()["id"]
    answers = _race(app, tid, [{"title": f"edit {n}"} for n in range(6)], {"If-Match": '"1"'})

    assert sorted(r.status_code for r in answers) == [200] + [412] * 5
    [winner] = [r.get_json() for r in answers if r.status_code == 200]
    final = client.get(f"/api/tickets/{tid}").get_json()
    assert (final["title"], final["version"]) == (winner["title"], 2)


def test_concurrent_patches_of_different_fields_lose_nothing(app, client):
    tid = post(client).get_json()["id"]
    answers = _race(app, tid, [{"title": "new title"}, {"tags": ["t"]}, {"priority": "low"}], {})

    assert [r.status_code for r in answers] == [200] * 3
    final = client.get(f"/api/tickets/{tid}").get_json()
    assert (final["title"], final["tags"], final["priority"], final["version"]) == (
        "new title", ["t"], "low", 4)


def test_comments_are_created_and_paged_oldest_first(client):
    tid = post(client).get_json()["id"]
    made = [client.post(f"/api/tickets/{tid}/comments", json={**COMMENT, "body": f"c{n}"})
            for n in range(5)]
    assert [r.status_code for r in made] == [201] * 5
    assert set(made[0].get_json()) == {"id", "ticket_id", "author_name", "author_email", "body",
                                       "created_at", "author_kind"}
    first = client.get(f"/api/tickets/{tid}/comments?limit=3").get_json()
    rest = client.get(f"/api/tickets/{tid}/comments",
                      query_string={"limit": 3, "cursor": first["next_cursor"]}).get_json()
    assert [c["body"] for c in first["comments"] + rest["comments"]] == [f"c{n}" for n in range(5)]
    assert rest["next_cursor"] is None and rest["count"] == 2
    assert client.get(f"/api/tickets/{tid}").get_json()["version"] == 6   # one per comment


@pytest.mark.parametrize("body", [
    {**COMMENT, "body": ""}, {**COMMENT, "body": "x" * 5001}, {**COMMENT, "author_email": "x"},
    {"body": "x"}, {**COMMENT, "ticket_id": 3},
])
def test_bad_comments_are_400(client, body):
    tid = post(client).get_json()["id"]
    assert client.post(f"/api/tickets/{tid}/comments", json=body).status_code == 400


def test_comments_of_other_tenants_tickets_are_404(client):
    tid = post(client, tenant="a").get_json()["id"]
    other = {"X-Tenant-ID": "b"}
    assert client.post(f"/api/tickets/{tid}/comments", json=COMMENT,
                       headers=other).status_code == 404
    assert client.get(f"/api/tickets/{tid}/comments", headers=other).status_code == 404
    assert client.get(f"/api/tickets/{tid}/history", headers=other).status_code == 404
    assert client.get("/api/tickets/99999/comments").status_code == 404


def test_history_is_the_ordered_audit_trail(client, engine):
    tid = post(client, **{"X-Request-ID": "req-h1", "X-Key-ID": "3"}).get_json()["id"]
    patch(client, tid, {"priority": "low"})
    client.put(f"/api/tickets/{tid}/status", json={"status": "in_progress"})
    client.post(f"/api/tickets/{tid}/comments", json=COMMENT)

    body = client.get(f"/api/tickets/{tid}/history").get_json()
    assert body["ticket_id"] == tid and body["count"] == 4
    entries = body["history"]
    assert [e["action"] for e in entries] == ["created", "updated", "status_changed", "commented"]
    assert [e["ticket_version"] for e in entries] == [1, 2, 3, 4]
    assert (entries[0]["actor"], entries[0]["request_id"]) == ("key:3", "req-h1")
    assert entries[1]["details"] == {"changes": {"priority": {"old": "high", "new": "low"}}}
    pages = client.get(f"/api/tickets/{tid}/history?limit=3").get_json()
    assert pages["count"] == 3 and pages["next_cursor"]
    with engine.connect() as conn:   # each change and its audit row share one transaction
        assert conn.scalar(sa.text("SELECT count(*) FROM audit")) == 4


def test_a_failed_change_leaves_no_audit_row(client, engine):
    tid = post(client).get_json()["id"]
    assert client.put(f"/api/tickets/{tid}/status", json={"status": "closed"}).status_code == 409
    assert patch(client, tid, {"title": "x"}, **{"If-Match": '"9"'}).status_code == 412
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT array_agg(action) FROM audit")) == ["created"]


def test_users_are_created_listed_and_unique_per_tenant(client):
    made = client.post("/api/users", json={"name": "Ann", "email": "Ann@Example.com"})
    assert made.status_code == 201
    user = made.get_json()
    assert made.headers["Location"] == f"/api/users/{user['id']}"
    dup = client.post("/api/users", json={"name": "Other", "email": "ann@EXAMPLE.com"})
    assert dup.status_code == 409
    assert dup.get_json()["error"]["code"] == "user_exists"
    assert dup.get_json()["error"]["details"]["user_id"] == user["id"]
    assert client.post("/api/users", json={"name": "Ann", "email": "ann@example.com"},
                       headers={"X-Tenant-ID": "b"}).status_code == 201
    ids = [client.post("/api/users", json={"name": f"u{n}", "email": f"u{n}@example.com"})
           .get_json()["id"] for n in range(4)]
    first = client.get("/api/users?limit=3").get_json()
    rest = client.get("/api/users", query_string={"cursor": first["next_cursor"]}).get_json()
    assert [u["id"] for u in first["users"] + rest["users"]] == ids[::-1] + [user["id"]]
    assert client.get("/api/users?email=ANN@example.com").get_json()["users"] == [user]
    assert client.get(f"/api/users/{user['id']}").get_json() == user
    assert client.get(f"/api/users/{user['id']}", headers={"X-Tenant-ID": "b"}).status_code == 404
    assert client.get("/api/users/abc").status_code == 404
    assert client.post("/api/users", json={"name": "x", "email": "nope"}).status_code == 400


def test_a_ticket_finds_or_creates_its_requester(client):
    made = client.post("/api/users", json={"name": "Ann Known", "email": "ann@example.com"})
    ticket = post(client, {**BODY, "user_email": "ANN@example.com"}).get_json()
    assert ticket["requester_id"] == made.get_json()["id"]
    assert ticket["user_email"] == "ANN@example.com"     # the ticket keeps what was sent
    other = post(client, {**BODY, "user_email": "new@example.com", "user_name": "New"}).get_json()
    assert client.get(f"/api/users/{other['requester_id']}").get_json()["name"] == "New"
    listed = client.get(f"/api/tickets?requester_id={ticket['requester_id']}").get_json()
    assert [t["id"] for t in listed["tickets"]] == [ticket["id"]]


def test_search_uses_postgres_text_search_with_filters_and_pages(client, engine):
    ids = [post(client, {**BODY, "title": f"Printer jam {n}",
                         "description": "paper stuck in the tray"}).get_json()["id"]
           for n in range(4)]
    post(client, {**BODY, "title": "VPN", "description": "tunnel refuses connections"})
    patch(client, ids[1], {"tags": ["hardware"]})

    def found(**query):
        return [t["id"] for t in client.get("/api/tickets", query_string=query)
                .get_json()["tickets"]]

    assert found(q="printers jammed") == ids[::-1]              # stemmed
    assert found(q="printer -tray") == []
    assert found(q='"paper stuck"', tag="hardware") == [ids[1]]
    assert found(q="printer OR tunnel", limit=10)[0] > ids[-1]
    first = client.get("/api/tickets?q=printer&limit=3").get_json()
    rest = client.get("/api/tickets", query_string={"q": "printer", "limit": 3,
                                                    "cursor": first["next_cursor"]}).get_json()
    assert [t["id"] for t in first["tickets"] + rest["tickets"]] == ids[::-1]
    assert client.get("/api/tickets?q=printer", headers={"X-Tenant-ID": "b"}).get_json()[
        "count"] == 0

def test_the_search_condition_matches_the_gin_index(make_uow):
    from ticket_service.tickets.persistence import _SEARCH

    with make_uow() as uow:        # planned without seq scans: only the GIN index can serve it
        uow.conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        condition = str(_SEARCH).replace(":q", "'printer'")
        plan = "\n".join(uow.conn.scalars(sa.text(f"EXPLAIN SELECT id FROM tickets WHERE "
                                                   f"{condition}")))
    assert "Bitmap Index Scan on tickets_fulltext" in plan


def test_pages_stay_stable_while_tickets_are_added(app, client):
    original = [post(client, {**BODY, "title": f"t{n}"}).get_json()["id"] for n in range(20)]
    stop = threading.Event()

    def writer():
        other = app.test_client()
        while not stop.is_set():
            post(other, {**BODY, "title": "late"})

    thread = threading.Thread(target=writer)
    thread.start()
    seen, cursor = [], None
    try:
        while True:
            page = client.get("/api/tickets", query_string={
                "limit": 3, **({"cursor": cursor} if cursor else {})}).get_json()
            seen += [t["id"] for t in page["tickets"]]
            if not (cursor := page["next_cursor"]):
                break
    finally:
        stop.set()
        thread.join(30)
    assert len(seen) == len(set(seen)) and set(original) <= set(seen)
    assert seen == sorted(seen, reverse=True)


def test_closed_is_final_until_reopened(client, engine):
    tid = post(client).get_json()["id"]
    for status in ("in_progress", "resolved", "closed"):
        assert client.put(f"/api/tickets/{tid}/status", json={"status": status}).status_code == 200
    closed_version = client.get(f"/api/tickets/{tid}").get_json()["version"]

    for resp in (patch(client, tid, {"priority": "low"}),
                 patch(client, tid, {"priority": "high"}),                 # even a no-op
                 client.post(f"/api/tickets/{tid}/comments", json=COMMENT)):
        assert resp.status_code == 409, resp.get_json()
        error = resp.get_json()["error"]
        assert error["code"] == "ticket_closed" and error["details"]["ticket_id"] == tid
    for status in ("resolved", "pending", "closed"):
        assert client.put(f"/api/tickets/{tid}/status",
                          json={"status": status}).status_code == 409
    assert client.get(f"/api/tickets/{tid}").get_json()["version"] == closed_version
    assert client.get(f"/api/tickets/{tid}/comments").get_json()["count"] == 0

    reopened = client.put(f"/api/tickets/{tid}/status", json={"status": "in_progress"})
    assert reopened.status_code == 200 and reopened.get_json()["status"] == "in_progress"
    assert patch(client, tid, {"priority": "low"}).status_code == 200
    assert client.post(f"/api/tickets/{tid}/comments", json=COMMENT).status_code == 201
    history = client.get(f"/api/tickets/{tid}/history").get_json()["history"]
    assert [e["details"] for e in history if e["action"] == "status_changed"][-1] == {
        "from": "closed", "to": "in_progress"}


@pytest.mark.parametrize("raw", ["１", "٣", "1.0", str(2**63)])
def test_non_ascii_or_impossible_ids_are_404(client, raw):
    tid = post(client).get_json()["id"]
    assert tid == 1 or raw != "１"
    for resp in (client.get(f"/api/tickets/{raw}"), patch(client, raw, {"priority": "low"}),
                 client.get(f"/api/tickets/{raw}/comments"), client.get(f"/api/users/{raw}")):
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_a_follow_up_refers_to_a_closed_ticket_of_the_same_tenant(client):
    tid = post(client).get_json()["id"]
    for status in ("in_progress", "resolved", "closed"):
        client.put(f"/api/tickets/{tid}/status", json={"status": status})
    follow = post(client, {**BODY, "title": "VPN down once more", "follow_up_of": tid})
    assert follow.status_code == 201, follow.get_json()
    assert follow.get_json()["follow_up_of"] == tid
    assert post(client).get_json()["follow_up_of"] is None
    history = client.get(f"/api/tickets/{follow.get_json()['id']}/history").get_json()["history"]
    assert history[0]["details"]["follow_up_of"] == tid
    for bad in (999_999, str(tid), True):
        resp = post(client, {**BODY, "follow_up_of": bad})
        assert resp.status_code == 400, (bad, resp.get_json())
        assert resp.get_json()["error"]["details"][0]["field"] == "follow_up_of"
    other = post(client, {**BODY, "follow_up_of": tid}, tenant="beta")
    assert other.status_code == 400                       # another tenant's ticket is no ticket
