"""API keys at the gateway: 401 without a valid key, 403 without the scope, public paths,
and the real verifier (ticket-service's /internal/keys/verify over HTTP) with its cache."""
import time

import pytest

from support_shared.testing.helpers import wait_until

from ..conftest import ADMIN_KEY, INTERNAL_TOKEN, READ_KEY, bearer

KEY = "tts_abcd1234_" + "k" * 43
VERIFIED = {"tenant_id": "acme", "scopes": ["read", "write"], "key_id": 42}


def _no_calls(services):
    return all(not s.calls for s in services.values())


def test_no_key_is_a_401_with_a_bearer_challenge(services, make_gateway):
    resp = make_gateway(key=None).test_client().get("/api/tickets")

    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"
    assert "API key is required" in resp.json["error"]["message"]
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="ticket-triage"'
    assert resp.headers["X-Request-ID"]
    assert _no_calls(services)


@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {KEY}"},                      # well formed, unknown
    {"X-API-Key": KEY},
    {"Authorization": "Basic dXNlcjpwYXNz"},                 # wrong scheme
    {"Authorization": "Bearer "},                            # no token
    {"Authorization": "Bearer " + "x" * 300},                # longer than any key
])
def test_invalid_credentials_are_a_401_invalid_token(services, make_gateway, headers):
    resp = make_gateway(key=None).test_client().get("/api/tickets", headers=headers)

    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="ticket-triage", error="invalid_token"'
    assert _no_calls(services)


def test_the_x_api_key_header_works_like_a_bearer_token(services, make_gateway):
    client = make_gateway(key=None).test_client()

    assert client.get("/api/tickets", headers={"X-API-Key": READ_KEY}).status_code == 200
    assert client.get("/api/tickets", headers=bearer(READ_KEY)).status_code == 200
    assert [c.headers["X-Tenant-Id"] for c in services["ticket-service"].calls] == ["default"] * 2


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/tickets"), ("PATCH", "/api/tickets/3"), ("PUT", "/api/tickets/3/status"),
    ("POST", "/api/tickets/3/comments"), ("POST", "/api/users"), ("POST", "/api/route"),
    ("PUT", "/api/route/3"), ("POST", "/api/categorize"),
])
def test_a_read_only_key_cannot_write(services, make_gateway, method, path):
    client = make_gateway(key=READ_KEY).test_client()

    resp = client.open(path, method=method, json={"title": "x"})

    assert resp.status_code == 403
    assert resp.json["error"] == {"code": "forbidden",
                                  "message": "this API key lacks the 'write' scope",
                                  "details": {"required_scope": "write"}}
    assert _no_calls(services)


def test_a_write_key_may_read_but_not_administer():
    from api_gateway.auth import Principal

    writer = Principal("default", frozenset({"write"}))
    assert writer.allows("write") and writer.allows("read") and not writer.allows("admin")
    reader = Principal("default", frozenset({"read"}))
    assert not reader.allows("write")
    admin = Principal("default", frozenset({"admin"}))
    assert not admin.allows("read") and not admin.allows("operator")


def test_admin_paths_need_the_admin_scope(services, make_gateway):
    for key, status in ((READ_KEY, 403), (ADMIN_KEY, 200)):
        app = make_gateway(key=key)
        app.add_url_rule("/api/admin/ping", "admin-ping", lambda: {"pong": True})

        resp = app.test_client().get("/api/admin/ping")

        assert resp.status_code == status
        if status == 403:
            assert resp.json["error"]["details"] == {"required_scope": "admin"}


@pytest.mark.parametrize("path", ["/api/health", "/openapi.json", "/docs", "/health"])
def test_public_paths_need_no_key(services, make_gateway, path):
    resp = make_gateway(key=None).test_client().get(path)

    assert resp.status_code in (200, 503)                 # health may be unhealthy here
    assert "WWW-Authenticate" not in resp.headers


def test_unknown_paths_and_methods_are_404_and_405_before_any_key_check(services, make_gateway):
    client = make_gateway(key=None).test_client()

    assert client.get("/api/nothing").status_code == 404
    assert client.delete("/api/tickets").status_code == 405
    assert client.get("/internal/keys").status_code == 404   # never exposed
    assert _no_calls(services)


# The real verifier: ticket-service over HTTP ----------------------------------------------------

def _real(make_gateway, **settings):
    return make_gateway(key=None, authenticator=None, **settings).test_client()


def test_a_verified_key_sets_tenant_and_key_id_downstream(services, make_gateway):
    ticket = services["ticket-service"]
    ticket.on("POST", "/internal/keys/verify", 200, VERIFIED)
    client = _real(make_gateway)

    resp = client.get("/api/dashboard/summary", headers={**bearer(KEY), "X-Request-ID": "v-1"})

    assert resp.status_code == 200
    [verify] = ticket.calls_to("/internal/keys/verify")
    assert verify.body == f'{{"key": "{KEY}"}}'.encode()
    assert verify.headers["X-Internal-Token"] == INTERNAL_TOKEN
    assert verify.headers["X-Request-Id"] == "v-1"
    [call] = services["analytics-service"].calls
    assert (call.headers["X-Tenant-Id"], call.headers["X-Key-Id"]) == ("acme", "42")


def test_answers_are_cached_for_the_ttl_then_asked_again(services, make_gateway):
    ticket = services["ticket-service"]
    ticket.on("POST", "/internal/keys/verify", 200, VERIFIED)
    client = _real(make_gateway, auth_cache_ttl_s=0.5)

    for _ in range(5):
        assert client.get("/api/departments", headers=bearer(KEY)).status_code == 200
    assert len(ticket.calls_to("/internal/keys/verify")) == 1
    time.sleep(0.6)
    assert client.get("/api/departments", headers=bearer(KEY)).status_code == 200
    assert len(ticket.calls_to("/internal/keys/verify")) == 2


def test_a_revoked_key_stops_working_within_the_ttl(services, make_gateway):
    ticket = services["ticket-service"]
    ticket.on("POST", "/internal/keys/verify", 200, VERIFIED)
    client = _real(make_gateway, auth_cache_ttl_s=0.5)
    assert client.get("/api/departments", headers=bearer(KEY)).status_code == 200

    ticket.on("POST", "/internal/keys/verify", 401,
              {"error": {"code": "invalid_api_key", "message": "revoked", "details": None}})
    revoked_at = time.monotonic()
    wait_until(lambda: client.get("/api/departments", headers=bearer(KEY)).status_code == 401,
               timeout=2, message="revocation to take effect")
    assert time.monotonic() - revoked_at < 1.0


def test_unknown_keys_are_cached_too(services, make_gateway):
    ticket = services["ticket-service"]
    ticket.on("POST", "/internal/keys/verify", 401, {})
    client = _real(make_gateway)

    assert [client.get("/api/tickets", headers=bearer(KEY)).status_code for _ in range(3)] \
        == [401] * 3
    assert len(ticket.calls_to("/internal/keys/verify")) == 1
    assert not ticket.calls_to("/api/tickets")


@pytest.mark.parametrize("status,body,expected", [
    (500, {}, 502), (200, {"tenant": "x"}, 502), (404, {}, 502),
])
def test_a_broken_verifier_is_a_502_never_a_pass(services, make_gateway, status, body, expected):
    services["ticket-service"].on("POST", "/internal/keys/verify", status, body)

    resp = _real(make_gateway).get("/api/tickets", headers=bearer(KEY))

    assert resp.status_code == expected
    assert resp.json["error"]["code"] == "bad_gateway"
    assert not services["ticket-service"].calls_to("/api/tickets")


def test_ticket_service_down_means_503_for_keyed_requests(services, make_gateway, closed_port_url):
    resp = _real(make_gateway, ticket_service_url=closed_port_url).get(
        "/api/departments", headers=bearer(KEY))

    assert resp.status_code == 503
    assert resp.json["error"]["details"] == {"service": "ticket-service"}
    assert not services["routing-service"].calls


# Bogus keys and failed authentication -----------------------------------------------------------

BOGUS = ["x" * 40, "tts_short_" + "k" * 43, "tts_ABCD1234_" + "k" * 43, "tts_abcd1234_" + "k" * 19,
         "tts_abcd1234_" + "k" * 101, "tts_abcd1234_" + "k" * 42 + "!", "tts_abcd1234_" + "k" * 20 + " " + "k" * 22,
         "tts_abcd1234_" + "k" * 42 + "é", "Bearer " + KEY, "tts-abcd1234-" + "k" * 43]


def test_keys_without_the_issued_shape_never_reach_ticket_service(services, make_gateway):
    client = _real(make_gateway, auth_failure_limit="1000/minute")

    answers = [client.get("/api/tickets", headers={"X-API-Key": k}) for k in BOGUS * 2]

    assert {r.status_code for r in answers} == {401}
    assert _no_calls(services)                   # 20 bogus keys, no verify call
    remaining = [int(r.headers["RateLimit-Remaining"]) for r in answers]
    assert remaining == list(range(999, 979, -1))
    assert {r.headers["RateLimit-Limit"] for r in answers} == {"1000"}
    assert all(int(r.headers["RateLimit-Reset"]) > time.time() for r in answers)


def test_failed_authentication_is_limited_per_client_address(services, make_gateway):
    ticket = services["ticket-service"]
    ticket.on("POST", "/internal/keys/verify", 401, {"error": {"code": "invalid_api_key"}})
    client = _real(make_gateway, auth_failure_limit="3/minute", auth_cache_ttl_s=0)

    failed = [client.get("/api/tickets", headers=bearer(KEY)) for _ in range(3)]
    blocked = client.get("/api/tickets", headers=bearer(READ_KEY))
    verified_before = len(ticket.calls_to("/internal/keys/verify"))
    elsewhere = client.get("/api/tickets", headers=bearer(KEY),
                           environ_base={"REMOTE_ADDR": "192.0.2.7"})

    assert [r.status_code for r in failed] == [401, 401, 401]
    assert [r.headers["RateLimit-Remaining"] for r in failed] == ["2", "1", "0"]
    assert blocked.status_code == 429
    assert blocked.json["error"]["code"] == "too_many_requests"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 61
    assert blocked.headers["RateLimit-Remaining"] == "0"
    assert verified_before == 3                                    # the blocked one: no call
    assert elsewhere.status_code == 401                            # another address's budget


def test_a_key_verified_within_the_ttl_is_served_from_an_address_out_of_failures(
        services, make_gateway):
    """A cached valid key is not a guess: it skips the address's budget (no lookup, no
    Redis read); every key not verified within the TTL still gets the 429."""
    ticket = services["ticket-service"]
    ticket.on("POST", "/internal/keys/verify", 200, VERIFIED)
    client = _real(make_gateway, auth_failure_limit="2/minute", auth_cache_ttl_s=60)
    assert client.get("/api/tickets", headers=bearer(KEY)).status_code == 200

    ticket.on("POST", "/internal/keys/verify", 401, {"error": {"code": "invalid_api_key"}})
    guesses = ["tts_abcd1234_" + c * 43 for c in "xyz"]
    failed = [client.get("/api/tickets", headers=bearer(k)) for k in guesses[:2]]
    calls_before = len(ticket.calls_to("/internal/keys/verify"))
    known = client.get("/api/tickets", headers=bearer(KEY))
    blocked = client.get("/api/tickets", headers=bearer(guesses[2]))

    assert [r.status_code for r in failed] == [401, 401]
    assert known.status_code == 200
    assert blocked.status_code == 429
    assert blocked.json["error"]["code"] == "too_many_requests"
    assert len(ticket.calls_to("/internal/keys/verify")) == calls_before   # neither looked up
