"""The gateway's authentication under abuse (a real ``api-gateway web``, 2 workers, Redis):
keys without the issued shape never reach ticket-service, failed authentication is limited per
client address, and one rate-limit counter is shared by both workers."""
from __future__ import annotations

from typing import Iterator

import pytest
import requests

from support_shared.testing.helpers import unique_suffix

from .conftest import KEY, RATE_KEY, Served, StubTickets, free_port, gateway_env, serve, stop

FAILURES = 25
BOGUS = [f"bogus-{n}" for n in range(10)] + [f"tts_{n:08d}_short" for n in range(10)]


@pytest.fixture(scope="module")
def auth_gateway(stub_tickets: StubTickets) -> Iterator[Served]:
    """Its own counters (key prefix), few failures allowed, verified keys cached long (so each
    worker asks ticket-service once per key)."""
    port = free_port()
    env = gateway_env(stub_tickets, port, GATEWAY_AUTH_FAILURE_LIMIT=f"{FAILURES}/minute",
                      GATEWAY_AUTH_CACHE_TTL_S="300",
                      GATEWAY_RATELIMIT_KEY_PREFIX=f"sec-auth-{unique_suffix()}")
    env.pop("GATEWAY_RATELIMIT_STORAGE_URL")          # the default: Redis
    served = serve("api-gateway", port, env, "/openapi.json")
    yield served
    stop(served)


def test_workers_share_one_rate_limit_counter(auth_gateway, stub_tickets) -> None:
    remaining: list[int] = []
    while stub_tickets.verified.get(RATE_KEY, 0) < 2 or len(remaining) < 10:
        assert len(remaining) < 300, "the second worker never answered"
        resp = requests.get(auth_gateway.base + "/api/tickets", timeout=5,   # new connection
                            headers={"Authorization": f"Bearer {RATE_KEY}", "Connection": "close"})
        assert resp.status_code == 200, resp.text
        remaining.append(int(resp.headers["RateLimit-Remaining"]))
    assert stub_tickets.verified[RATE_KEY] == 2          # both workers served the key
    assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == len(remaining)


def test_bogus_keys_cost_no_upstream_call_and_are_limited(auth_gateway, stub_tickets) -> None:
    before = stub_tickets.verify_calls
    answers = [requests.get(auth_gateway.base + "/api/tickets", timeout=5,
                            headers={"Authorization": f"Bearer {key}"}) for key in BOGUS]
    assert [r.status_code for r in answers] == [401] * len(BOGUS)
    assert stub_tickets.verify_calls == before             # 20 bogus keys, no verify call
    assert [int(r.headers["RateLimit-Remaining"]) for r in answers] == \
        list(range(FAILURES - 1, FAILURES - 1 - len(BOGUS), -1))
    assert {r.headers["RateLimit-Limit"] for r in answers} == {str(FAILURES)}

    more = [requests.get(auth_gateway.base + "/api/tickets", timeout=5,
                         headers={"X-API-Key": "nope"}) for _ in range(FAILURES - len(BOGUS))]
    assert {r.status_code for r in more} == {401}
    blocked = requests.get(auth_gateway.base + "/api/tickets", timeout=5,
                           headers={"Authorization": f"Bearer {KEY}"})
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 61
    assert blocked.headers["RateLimit-Remaining"] == "0"
    assert stub_tickets.verify_calls == before             # even a real key waits
