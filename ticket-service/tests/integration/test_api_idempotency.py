"""Idempotent ticket creation through the API: replays, key reuse, racing duplicates."""
import threading

import pytest
import sqlalchemy as sa

from ticket_service.db import claim_key

pytestmark = pytest.mark.integration

BODY = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
        "user_email": "ann@example.com", "priority": "high"}


def post(client, body=None, headers=None, tenant=None):
    headers = dict(headers or {})
    if tenant:
        headers["X-Tenant-ID"] = tenant
    return client.post("/api/tickets", json=BODY if body is None else body, headers=headers)


def counts(engine):
    with engine.connect() as conn:
        return (conn.scalar(sa.text("SELECT count(*) FROM tickets")),
                conn.scalar(sa.text("SELECT count(*) FROM outbox")))


def test_idempotency_key_replays_the_first_ticket(client, engine):
    first = post(client, headers={"Idempotency-Key": "key-1"})
    again = post(client, headers={"Idempotency-Key": "key-1", "X-Request-ID": "other"})
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert counts(engine) == (1, 1)


def test_reused_idempotency_key_with_other_body_is_422(client, engine):
    post(client, headers={"Idempotency-Key": "key-1"})
    resp = post(client, {**BODY, "title": "Printer jam"}, headers={"Idempotency-Key": "key-1"})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "idempotency_key_reused"
    assert counts(engine) == (1, 1)


def test_a_request_id_is_a_trace_id_never_an_idempotency_key(client, engine):
    headers = {"X-Request-ID": "rid-1"}
    first = post(client, headers=headers)
    again = post(client, headers=headers)
    other_body = post(client, {**BODY, "title": "x"}, headers=headers)
    assert [r.status_code for r in (first, again, other_body)] == [201, 201, 201]
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]
    assert again.headers["X-Request-ID"] == "rid-1"          # still the trace id
    assert counts(engine) == (3, 3)


def test_overlong_idempotency_key_is_400(client, engine):
    resp = post(client, headers={"Idempotency-Key": "k" * 201})
    assert resp.status_code == 400
    assert counts(engine) == (0, 0)


def test_same_key_in_other_tenant_is_a_different_ticket(client, engine):
    a = post(client, headers={"Idempotency-Key": "k"}, tenant="a").get_json()
    b = post(client, headers={"Idempotency-Key": "k"}, tenant="b").get_json()
    assert a["id"] != b["id"] and counts(engine) == (2, 2)


def test_concurrent_duplicates_create_one_ticket_and_one_event(app, engine):
    barrier = threading.Barrier(8)
    responses = []

    def send():
        client = app.test_client()
        barrier.wait()
        responses.append(post(client, headers={"Idempotency-Key": "burst"}))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # One creates; the others either arrive while it is in flight (409, retry) or replay it.
    assert {r.status_code for r in responses} <= {201, 409}
    created = [r for r in responses if r.status_code == 201]
    assert len({r.get_json()["id"] for r in created}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in created) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.get_json()["error"]["code"] == "idempotency_conflict"
            assert r.headers["Retry-After"] == "1"
    assert counts(engine) == (1, 1)


def _hold_key(engine, tenant, key):
    """Another transaction in flight with (tenant, key): the lock the create handler takes."""
    conn = engine.connect()
    conn.begin()
    assert claim_key(conn, "tickets", tenant, key)
    return conn


def test_duplicate_while_the_first_is_in_flight_is_409_then_retry_creates(client, engine):
    conn = _hold_key(engine, "default", "slow")
    try:
        resp = post(client, headers={"Idempotency-Key": "slow"})
        other_tenant = post(client, headers={"Idempotency-Key": "slow"}, tenant="b")
        other_key = post(client, headers={"Idempotency-Key": "fast"})
    finally:
        conn.rollback()         # the first request failed: nothing committed, lock released
        conn.close()
    assert resp.status_code == 409
    assert resp.get_json()["error"] == {
        "code": "idempotency_conflict",
        "message": "a request with idempotency key 'slow' is still in progress; retry shortly "
                   "to get its result",
        "details": {"idempotency_key": "slow"}}
    assert other_tenant.status_code == 201 and other_key.status_code == 201
    retry = post(client, headers={"Idempotency-Key": "slow"})
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert counts(engine) == (3, 3)


def _count(engine, table):
    with engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))


@pytest.mark.parametrize("table,path,body,other", [
    ("users", "/api/users", {"name": "Bo", "email": "bo@example.com"},
     {"name": "Bo", "email": "bob@example.com"}),
    ("comments", "/api/tickets/1/comments",
     {"author_name": "Bo", "author_email": "bo@example.com", "body": "any news?"},
     {"author_name": "Bo", "author_email": "bo@example.com", "body": "hello?"}),
])
def test_every_create_is_idempotent_with_a_key(client, engine, table, path, body, other):
    assert post(client).status_code == 201                  # ticket 1 and its requester
    before = _count(engine, table)
    headers = {"Idempotency-Key": f"{table}-1"}
    first = client.post(path, json=body, headers=headers)
    again = client.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    reused = client.post(path, json=other, headers=headers)
    assert reused.status_code == 422
    assert reused.get_json()["error"]["code"] == "idempotency_key_reused"
    # Without a key (a trace id is not one) each request creates.
    plain = {"X-Request-ID": "trace-1"}
    assert client.post(path, json=other, headers=plain).status_code == 201
    assert _count(engine, table) == before + 2


def test_a_comment_key_reused_on_another_ticket_is_422(client, engine):
    post(client)
    post(client, {**BODY, "title": "Printer jam"})
    body = {"author_name": "Bo", "author_email": "bo@example.com", "body": "any news?"}
    headers = {"Idempotency-Key": "c-1"}
    assert client.post("/api/tickets/1/comments", json=body, headers=headers).status_code == 201
    resp = client.post("/api/tickets/2/comments", json=body, headers=headers)
    assert resp.status_code == 422 and _count(engine, "comments") == 1
