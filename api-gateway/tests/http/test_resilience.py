"""Timeouts, refused connections, server errors and the circuit breaker, against real servers."""
import threading
import time

import pytest

from support_shared.testing.helpers import wait_until

FAIL_MAX = 5


def _error(resp):
    return resp.status_code, resp.json["error"]["code"]


def test_read_timeout_is_a_504_within_the_timeout(services, client):
    services["routing-service"].on("GET", "/api/routing/statistics", 200, {}, delay=5)

    started = time.monotonic()
    resp = client.get("/api/routing/statistics", headers={"X-Request-ID": "slow-1"})
    elapsed = time.monotonic() - started

    assert _error(resp) == (504, "upstream_timeout")
    assert resp.json["error"]["details"] == {"service": "routing-service"}
    assert resp.headers["X-Request-ID"] == "slow-1"
    assert elapsed < 1.5                                      # read timeout is 0.5 s, no retry
    assert len(services["routing-service"].calls) == 1


def test_a_post_that_times_out_is_sent_once(services, client):
    services["ticket-service"].on("POST", "/api/tickets", 201, {}, delay=5)

    assert _error(client.post("/api/tickets", json={"title": "x"})) == (504, "upstream_timeout")
    assert len(services["ticket-service"].calls) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_refused_connection_is_a_503(services, make_gateway, closed_port_url, method):
    client = make_gateway(ticket_service_url=closed_port_url).test_client()

    resp = client.open("/api/tickets", method=method, json={} if method == "POST" else None)

    assert _error(resp) == (503, "service_unavailable")
    assert resp.json["error"]["details"] == {"service": "ticket-service"}


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_errors_become_502_bad_gateway(services, client, status):
    services["ticket-service"].on("GET", "/api/tickets/1", status, {"trace": "internal detail"})

    resp = client.get("/api/tickets/1")

    assert _error(resp) == (502, "bad_gateway")
    assert resp.json["error"]["details"] == {"service": "ticket-service", "status": status}
    assert "internal detail" not in resp.get_data(as_text=True)


def test_a_create_with_outcome_unknown_passes_through_as_504(services, client):
    body = {"error": {"code": "outcome_unknown", "message": "may still complete",
                      "details": None}}
    services["ticket-service"].on("POST", "/api/tickets", 504, body)

    resp = client.post("/api/tickets", json={"title": "x"}, headers={"Idempotency-Key": "k"})

    assert _error(resp) == (504, "outcome_unknown")
    assert resp.json == body
    assert len(services["ticket-service"].calls) == 1        # never retried by the gateway


@pytest.mark.parametrize("status", [503, 429])
def test_a_service_503_or_429_passes_through_with_retry_after_and_once(services, client, status):
    body = {"error": {"code": "service_unavailable", "message": "database unavailable, retry later",
                      "details": None}}
    services["ticket-service"].on("GET", "/api/tickets", status, body, headers={"Retry-After": "7"})

    resp = client.get("/api/tickets")

    assert resp.status_code == status
    assert resp.json == body
    assert resp.headers["Retry-After"] == "7"
    assert len(services["ticket-service"].calls) == 1        # the gateway does not retry it


def test_breaker_opens_after_fail_max_failures_and_stops_calling(services, make_gateway):
    client = make_gateway(breaker_fail_max=FAIL_MAX, breaker_reset_s=30).test_client()
    routing = services["routing-service"]
    routing.on("GET", "/api/departments", 500, {})

    failures = [client.get("/api/departments").status_code for _ in range(FAIL_MAX)]
    blocked = [client.get("/api/departments") for _ in range(3)]

    assert failures == [502] * FAIL_MAX
    assert [_error(r) for r in blocked] == [(503, "service_unavailable")] * 3
    assert all(1 <= int(r.headers["Retry-After"]) <= 30 for r in blocked)
    assert len(routing.calls) == FAIL_MAX                     # the open circuit calls nobody
    # one service's breaker does not block another
    assert client.get("/api/dashboard/summary").status_code == 200


def test_timeouts_open_the_breaker_too(services, make_gateway):
    client = make_gateway(breaker_fail_max=3, read_timeout_s=0.2).test_client()
    services["analytics-service"].on("GET", "/api/analytics/tickets", 200, {}, delay=5)

    codes = [client.get("/api/analytics/tickets").status_code for _ in range(4)]

    assert codes == [504, 504, 504, 503]
    assert len(services["analytics-service"].calls) == 3


def test_client_errors_never_open_the_breaker(services, make_gateway):
    client = make_gateway(breaker_fail_max=3).test_client()
    services["ticket-service"].on("GET", "/api/tickets/9", 404, {"error": {"code": "not_found"}})

    codes = [client.get("/api/tickets/9").status_code for _ in range(10)]

    assert codes == [404] * 10
    assert len(services["ticket-service"].calls) == 10


def test_a_success_resets_the_failure_count(services, make_gateway):
    client = make_gateway(breaker_fail_max=3).test_client()
    ticket = services["ticket-service"]

    for _ in range(3):
        ticket.on("GET", "/api/tickets", 500, {})
        assert client.get("/api/tickets").status_code == 502
        assert client.get("/api/tickets").status_code == 502
        ticket.on("GET", "/api/tickets", 200, {"tickets": []})
        assert client.get("/api/tickets").status_code == 200

    assert len(ticket.calls) == 9


def test_breaker_lets_a_trial_call_through_after_the_reset_timeout(services, make_gateway):
    app = make_gateway(breaker_fail_max=2, breaker_reset_s=0.5)
    client = app.test_client()
    ai = services["ai-categorization-service"]
    ai.on("POST", "/api/categorize", 500, {})
    for _ in range(2):
        client.post("/api/categorize", json={})
    assert client.post("/api/categorize", json={}).status_code == 503

    ai.on("POST", "/api/categorize", 200, {"department": "HR"})
    breaker = app.extensions["api_gateway"].clients["ai-categorization-service"].breaker
    wait_until(lambda: breaker.retry_after() is None, timeout=3, message="reset timeout")
    resp = client.post("/api/categorize", json={})

    assert resp.status_code == 200
    assert breaker.state == "closed"
    assert len(ai.calls) == 3


def test_concurrent_calls_to_one_service_are_not_serialized(services, make_gateway):
    """pybreaker's own call() would hold its lock for the whole request (pybreaker #55)."""
    app = make_gateway(read_timeout_s=3)
    services["analytics-service"].on("GET", "/api/analytics/trends", 200, {"days": 7}, delay=0.6)
    codes: list[int] = []

    def call() -> None:
        codes.append(app.test_client().get("/api/analytics/trends").status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - started

    assert codes == [200] * 4
    assert elapsed < 1.8                                      # serialized would take 2.4 s


DB_DOWN = {"error": {"code": "service_unavailable", "message": "database unavailable, retry later",
                     "details": None}}


def test_a_services_own_503_does_not_open_the_breaker(services, make_gateway):
    """A database outage: the service answers its JSON 503 at once. That is an answer, so
    when the database is back the very next request goes through (no open period to sit out)."""
    client = make_gateway(breaker_fail_max=3, breaker_reset_s=30).test_client()
    ticket = services["ticket-service"]
    ticket.on("GET", "/api/tickets", 503, DB_DOWN, headers={"Retry-After": "2"})

    during = [client.get("/api/tickets") for _ in range(10)]
    ticket.on("GET", "/api/tickets", 200, {"tickets": []})
    after = client.get("/api/tickets")

    assert [(r.status_code, r.json["error"]["message"]) for r in during] == \
        [(503, "database unavailable, retry later")] * 10       # passed through, not refused
    assert after.status_code == 200
    assert len(ticket.calls) == 11
    assert app_breaker(client, "ticket-service").state == "closed"


def test_a_503_that_is_not_the_services_answer_still_counts(services, make_gateway):
    client = make_gateway(breaker_fail_max=3, breaker_reset_s=30).test_client()
    ticket = services["ticket-service"]
    ticket.on("GET", "/api/tickets", 503, raw=b"<html>503 Service Temporarily Unavailable</html>")

    codes = [client.get("/api/tickets").status_code for _ in range(5)]

    assert codes == [503] * 5 and len(ticket.calls) == 3      # the last two: circuit open
    assert app_breaker(client, "ticket-service").state == "open"


def app_breaker(client, service):
    return client.application.extensions["api_gateway"].clients[service].breaker
