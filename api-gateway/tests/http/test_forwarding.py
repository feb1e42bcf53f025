"""Forwarding through the gateway to real HTTP services on loopback ports."""
import json
import re

import pytest

from api_gateway.auth import Principal

from ..conftest import INTERNAL_TOKEN

ROUTED = [
    ("GET", "/api/tickets", "ticket-service"),
    ("POST", "/api/tickets", "ticket-service"),
    ("GET", "/api/tickets/42", "ticket-service"),
    ("PUT", "/api/tickets/42/status", "ticket-service"),
    ("POST", "/api/categorize", "ai-categorization-service"),
    ("GET", "/api/departments", "routing-service"),
    ("GET", "/api/departments/HR", "routing-service"),
    ("POST", "/api/route", "routing-service"),
    ("PUT", "/api/route/42", "routing-service"),
    ("GET", "/api/routing/statistics", "routing-service"),
    ("GET", "/api/routing/history/42", "routing-service"),
    ("GET", "/api/dashboard/summary", "analytics-service"),
    ("GET", "/api/dashboard/routing", "analytics-service"),
    ("GET", "/api/analytics/tickets", "analytics-service"),
    ("GET", "/api/analytics/performance", "analytics-service"),
    ("GET", "/api/analytics/trends", "analytics-service"),
    ("GET", "/api/analytics/department/Finance", "analytics-service"),
]


def _only_call(services, expected_service):
    calls = {name: list(s.calls) for name, s in services.items()}
    assert [n for n, c in calls.items() if c] == [expected_service], calls
    assert len(calls[expected_service]) == 1
    return calls[expected_service][0]


@pytest.mark.parametrize("method,path,service", ROUTED)
def test_each_path_reaches_its_service_unchanged(services, client, method, path, service):
    resp = client.open(path, method=method)

    assert resp.status_code == 200
    assert resp.json == {"service": service, "method": method, "path": path}
    call = _only_call(services, service)
    assert (call.method, call.path) == (method, path)


def test_query_string_headers_and_identity_are_forwarded(services, client):
    resp = client.get("/api/tickets?status=pending&limit=5&cursor=abc%3D",
                      headers={"X-Tenant-ID": "someone-else", "If-Match": '"3"',
                               "X-API-Key": "also-not-forwarded", "X-Key-ID": "99"})

    call = _only_call(services, "ticket-service")
    assert call.query == "status=pending&limit=5&cursor=abc%3D"
    rid = call.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)                 # generated uuid4 hex
    assert resp.headers["X-Request-ID"] == rid
    assert call.headers["X-Tenant-Id"] == "default"           # the client's header is not trusted
    assert call.headers["If-Match"] == '"3"'
    assert call.headers["X-Key-Id"] == "1"                    # the verified key, not the client's
    assert "Authorization" not in call.headers and "X-Api-Key" not in call.headers


@pytest.mark.parametrize("sent,kept", [
    ("client-id_1.2", True),
    ("a" * 128, True),
    ("a" * 129, False),
    ("bad id", False),
    ("evil\u00e9", False),
])
def test_client_request_id_is_kept_only_when_well_formed(services, client, sent, kept):
    resp = client.get("/api/departments", headers={"X-Request-ID": sent})

    call = _only_call(services, "routing-service")
    forwarded = call.headers["X-Request-Id"]
    assert resp.headers["X-Request-ID"] == forwarded
    if kept:
        assert forwarded == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", forwarded)
    assert "X-Request-Id-Origin" not in call.headers   # a trace id only: nothing to mark


def test_body_and_write_headers_pass_through_byte_for_byte(services, client):
    ticket = services["ticket-service"]
    created = {"id": 7, "title": "Printer"}
    ticket.on("POST", "/api/tickets", 201, created, headers={
        "Location": f"{ticket.url}/api/tickets/7", "ETag": '"1"', "Idempotent-Replayed": "false",
        "X-Internal": "hidden"})
    body = b'{"title": "Printer", "description": "jammed \\u00e9"}'

    resp = client.post("/api/tickets", data=body, content_type="application/json",
                       headers={"Idempotency-Key": "key-1", "X-Request-ID": "req-1"})

    assert resp.status_code == 201
    assert resp.json == created
    assert resp.headers["Location"] == "/api/tickets/7"       # internal address removed
    assert resp.headers["ETag"] == '"1"'
    assert resp.headers["Idempotent-Replayed"] == "false"
    assert "X-Internal" not in resp.headers
    assert resp.headers["X-Request-ID"] == "req-1"
    call = _only_call(services, "ticket-service")
    assert call.body == body
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Idempotency-Key"] == "key-1"
    assert call.headers["X-Request-Id"] == "req-1"


@pytest.mark.parametrize("status,body,headers", [
    (404, {"error": {"code": "not_found", "message": "ticket 9 not found", "details": None}}, {}),
    (409, {"error": {"code": "conflict", "message": "closed", "details": {"status": "closed"}}},
     {"ETag": '"4"'}),
    (412, {"error": {"code": "precondition_failed", "message": "stale", "details": None}},
     {"ETag": '"5"'}),
    (429, {"error": {"code": "too_many_requests", "message": "slow down", "details": None}},
     {"Retry-After": "3"}),
])
def test_client_errors_pass_through_with_their_headers(services, client, status, body, headers):
    services["ticket-service"].on("PUT", "/api/tickets/9/status", status, body, headers=headers)

    resp = client.put("/api/tickets/9/status", json={"status": "closed"},
                      headers={"If-Match": '"3"'})

    assert resp.status_code == status
    assert resp.json == body
    for name, value in headers.items():
        assert resp.headers[name] == value
    assert _only_call(services, "ticket-service").headers["If-Match"] == '"3"'


def test_malformed_json_is_the_service_s_business(services, client):
    services["ticket-service"].on("POST", "/api/tickets", 400, {"error": {
        "code": "malformed_json", "message": "request body is not valid JSON", "details": None}})

    resp = client.post("/api/tickets", data=b'{"title": ', content_type="application/json")

    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "malformed_json"
    assert _only_call(services, "ticket-service").body == b'{"title": '


def test_department_names_are_sent_percent_encoded(services, client):
    resp = client.get("/api/analytics/department/IT%20Support?days=3")

    assert resp.status_code == 200
    call = _only_call(services, "analytics-service")
    assert call.path == "/api/analytics/department/IT Support"
    assert call.raw_uri == "/api/analytics/department/IT%20Support?days=3"


def test_a_custom_authenticator_decides_the_tenant(services, make_gateway):
    client = make_gateway(
        authenticator=lambda _req: Principal("acme", frozenset({"read"}))).test_client()

    client.get("/api/dashboard/summary", headers={"X-Tenant-ID": "default"})

    assert _only_call(services, "analytics-service").headers["X-Tenant-Id"] == "acme"


def test_unknown_path_is_a_json_404_not_forwarded(services, client):
    resp = client.get("/api/nothing-here", headers={"X-Request-ID": "r-404"})

    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found"
    assert resp.headers["X-Request-ID"] == "r-404"
    assert all(not s.calls for s in services.values())


def test_wrong_method_is_a_json_405_with_allow(services, client):
    resp = client.put("/api/tickets/3", json={})

    assert resp.status_code == 405
    assert resp.json["error"]["code"] == "method_not_allowed"
    assert {"GET", "HEAD", "OPTIONS"} <= {m.strip() for m in resp.headers["Allow"].split(",")}
    assert resp.headers["X-Request-ID"]
    assert all(not s.calls for s in services.values())


def test_body_over_64_kib_is_refused_without_calling_the_service(services, client):
    at_limit = json.dumps({"description": "x" * (64 * 1024 - 19)}).encode()
    assert len(at_limit) == 64 * 1024

    ok = client.post("/api/categorize", data=at_limit, content_type="application/json")
    too_big = client.post("/api/categorize", data=at_limit + b" ", content_type="application/json")

    assert ok.status_code == 200
    assert too_big.status_code == 413
    assert too_big.json["error"] == {"code": "payload_too_large",
                                     "message": "request body over 65536 bytes", "details": None}
    assert too_big.headers["X-Request-ID"]
    assert len(services["ai-categorization-service"].calls) == 1


def test_categorize_waits_longer_than_other_routes(services, client):
    services["ai-categorization-service"].on("POST", "/api/categorize", 200,
                                             {"department": "HR"}, delay=0.8)
    services["ticket-service"].on("GET", "/api/tickets", 200, {}, delay=0.8)

    categorized = client.post("/api/categorize", json={"title": "t", "description": "d"})
    assert categorized.status_code == 200
    assert client.get("/api/tickets").status_code == 504


def test_service_cookies_are_neither_kept_nor_passed_on(services, client):
    services["routing-service"].on("GET", "/api/departments", 200, [],
                                   headers={"Set-Cookie": "session=alice; Path=/"})

    first = client.get("/api/departments")
    client.get("/api/departments")

    assert "Set-Cookie" not in first.headers
    assert [c.headers.get("Cookie") for c in services["routing-service"].calls] == [None, None]


def test_gateway_liveness_does_not_depend_on_the_services(make_gateway, closed_port_url):
    urls = {f"{k}_service_url": closed_port_url for k in ("ticket", "ai", "routing", "analytics")}
    client = make_gateway(**urls).test_client()

    resp = client.get("/health")

    assert resp.status_code == 200
    assert resp.json == {"service": "api-gateway", "status": "healthy", "checks": {}}


@pytest.mark.parametrize("url", [
    "/api/departments/a%00b", "/api/departments/a%00b/tickets", "/api/tickets?q=a%00",
    "/api/analytics/department/%00", "/api/users?email=x%00y",
])
def test_nul_characters_in_urls_are_a_400_never_forwarded(services, client, url):
    resp = client.get(url)

    assert resp.status_code == 400
    assert resp.json["error"] == {"code": "validation_error",
                                  "message": "NUL characters are not allowed in URLs",
                                  "details": None}
    assert all(not s.calls for s in services.values())


def test_every_call_to_a_service_carries_the_internal_credential(services, client):
    for method, path, _service in ROUTED:
        client.open(path, method=method, json={} if method != "GET" else None,
                    headers={"X-Internal-Token": "forged-by-the-client"})
    client.get("/api/health")
    calls = [call for server in services.values() for call in server.calls]
    assert {call.path for call in calls} >= {"/health", "/api/tickets", "/api/categorize",
                                              "/api/departments", "/api/analytics/trends"}
    assert {call.headers.get("X-Internal-Token") for call in calls} == {INTERNAL_TOKEN}
