"""Per-key rate limits: headers, 429 with Retry-After, separate budgets, shared Redis storage."""
import socket

import pytest
import redis

from support_shared.testing.helpers import unique_suffix

from ..conftest import ADMIN_KEY, READ_KEY, bearer

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_headers_count_down_then_429_with_retry_after(services, make_gateway):
    client = make_gateway(rate_limit="3/minute").test_client()

    answers = [client.get("/api/tickets") for _ in range(4)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert {r.headers["RateLimit-Limit"] for r in answers} == {"3"}
    assert all(int(r.headers["RateLimit-Reset"]) > 1_700_000_000 for r in answers)
    assert all("Retry-After" not in r.headers for r in answers[:3])
    limited = answers[3]
    assert limited.json["error"]["code"] == "too_many_requests"
    assert limited.json["error"]["details"] == {"limit": "3 per 1 minute"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 61          # window + rounding
    assert limited.headers["X-Request-ID"]
    assert len(services["ticket-service"].calls) == 3          # the 4th never left the gateway
    assert not any(h.startswith("X-Gateway") for h in limited.headers.keys())


def test_each_key_has_its_own_budget_across_routes(services, make_gateway):
    app = make_gateway(key=None, rate_limit="2/minute")
    client = app.test_client()

    admin = [client.get(p, headers=bearer(ADMIN_KEY)).status_code
             for p in ("/api/tickets", "/api/departments", "/api/dashboard/summary")]
    reader = [client.get("/api/tickets", headers=bearer(READ_KEY)).status_code for _ in range(2)]

    assert admin == [200, 200, 429]                    # one budget for every route
    assert reader == [200, 200]


def test_public_paths_are_limited_per_address_and_liveness_never(services, make_gateway):
    client = make_gateway(key=None, rate_limit="2/minute").test_client()

    docs = [client.get("/openapi.json").status_code for _ in range(3)]
    live = [client.get("/health").status_code for _ in range(5)]

    assert docs == [200, 200, 429]
    assert live == [200] * 5


def test_a_service_retry_after_is_kept(services, make_gateway):
    services["ticket-service"].on("GET", "/api/tickets", 503, {}, headers={"Retry-After": "7"})

    resp = make_gateway(rate_limit="5/minute").test_client().get("/api/tickets")

    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "7"
    assert resp.headers["RateLimit-Remaining"] == "4"


def _redis_up() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.mark.integration
def test_redis_storage_is_shared_by_gateway_processes(services, make_gateway):
    if not _redis_up():
        pytest.skip("Redis unavailable at " + REDIS_URL)
    prefix = f"test-{unique_suffix()}"
    settings = {"rate_limit": "3/minute", "ratelimit_storage_url": REDIS_URL,
                "ratelimit_key_prefix": prefix}
    first, second = (make_gateway(**settings).test_client() for _ in range(2))

    statuses = [c.get("/api/tickets").status_code for c in (first, second, first, second)]

    assert statuses == [200, 200, 200, 429]
    store = redis.Redis.from_url(REDIS_URL)
    keys = store.keys(f"*{prefix}*")
    assert keys
    store.delete(*keys)


def test_unreachable_storage_falls_back_to_memory(services, make_gateway):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_gateway(rate_limit="2/minute",
                          ratelimit_storage_url=f"redis://127.0.0.1:{port}/0").test_client()

    assert [client.get("/api/tickets").status_code for _ in range(3)] == [200, 200, 429]
