"""Idempotency-Key on manual routes (POST /api/route, PUT /api/route/<id>), real database."""
import threading

import pytest

pytestmark = pytest.mark.integration

KEY = {"Idempotency-Key": "route-5-once"}


def _counts(query):
    return [query(f"SELECT count(*) FROM {table}")[0][0]
            for table in ("routing_history", "outbox")]


def _error(resp, status, code):
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["error"]["code"] == code
    return resp.get_json()["error"]


def test_a_retry_replays_the_first_answer_and_records_nothing(client, apply, events, query):
    apply(events.categorized(5, "HR"))
    first = client.post("/api/route", json={"ticket_id": 5, "department": "Finance"},
                        headers=KEY)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    client.put("/api/route/5", json={"department": "Facilities"})    # moved on since
    before = _counts(query)

    retry = client.post("/api/route", json={"ticket_id": 5, "department": "Finance"},
                        headers=KEY)
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == first.get_json()
    assert first.get_json()["changed"] is True
    assert _counts(query) == before
    assert query("SELECT department FROM routed_tickets WHERE ticket_id = 5") == [
        ("Facilities",)]


def test_the_same_key_with_another_body_is_a_422(client, apply, events, query):
    apply(events.categorized(5, "HR"))
    apply(events.categorized(6, "HR"))
    assert client.post("/api/route", json={"ticket_id": 5, "department": "Finance"},
                       headers=KEY).status_code == 200
    before = _counts(query)
    error = _error(client.post("/api/route", json={"ticket_id": 6, "department": "Finance"},
                               headers=KEY), 422, "idempotency_key_reused")
    assert error["details"] == {"idempotency_key": "route-5-once"}
    _error(client.put("/api/route/5", json={"department": "Finance"}, headers=KEY),
           422, "idempotency_key_reused")                             # reroute: other request
    assert _counts(query) == before


def test_reroute_honours_the_key_and_keys_are_per_tenant(client, apply, events, query):
    apply(events.categorized(5, "HR"))
    apply(events.categorized(5, "HR", tenant="acme"))
    reroute = client.put("/api/route/5", json={"department": "Finance"}, headers=KEY)
    client.put("/api/route/5", json={"department": "Facilities"})
    again = client.put("/api/route/5", json={"department": "Finance"}, headers=KEY)
    assert again.get_json() == reroute.get_json() and again.headers["Idempotent-Replayed"]
    acme = client.put("/api/route/5", json={"department": "Facilities"},
                      headers={**KEY, "X-Tenant-ID": "acme"})
    assert acme.status_code == 200 and "Idempotent-Replayed" not in acme.headers
    assert query("SELECT tenant_id, key FROM idempotency_keys ORDER BY 1") == [
        ("acme", "route-5-once"), ("default", "route-5-once")]


def test_a_failed_request_keeps_no_key_and_a_long_key_is_refused(client, apply, events,
                                                                 query):
    _error(client.post("/api/route", json={"ticket_id": 5, "department": "HR"}, headers=KEY),
           404, "ticket_not_found")
    apply(events.created(5))
    assert client.post("/api/route", json={"ticket_id": 5, "department": "HR"},
                       headers=KEY).get_json()["changed"] is True
    _error(client.post("/api/route", json={"ticket_id": 5, "department": "HR"},
                       headers={"Idempotency-Key": "k" * 201}), 400, "validation_error")
    assert query("SELECT count(*) FROM idempotency_keys") == [(1,)]


def test_a_request_id_is_not_an_idempotency_key(client, apply, events):
    apply(events.categorized(5, "HR"))
    rid = {"X-Request-ID": "trace-1"}
    first = client.post("/api/route", json={"ticket_id": 5, "department": "Finance"},
                        headers=rid)
    second = client.post("/api/route", json={"ticket_id": 5, "department": "Facilities"},
                         headers=rid)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json()["department"] == "Facilities"
    assert "Idempotent-Replayed" not in second.headers


def test_concurrent_retries_route_once(app, apply, events, query):
    apply(events.categorized(5, "HR"))
    answers = []
    barrier = threading.Barrier(4)

    def send():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/api/route", json={"ticket_id": 5, "department": "Finance"},
                                   headers=KEY))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.get_data() for a in answers}) == 1
    assert sum(1 for a in answers if "Idempotent-Replayed" not in a.headers) == 1
    assert query("SELECT method FROM routing_history WHERE ticket_id = 5 ORDER BY id") == [
        ("auto",), ("manual",)]
