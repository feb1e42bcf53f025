"""PostgreSQL crashes and comes back under load: 503 JSON meanwhile, no accepted ticket lost,
and every process recovers by itself."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

RATE, SECONDS, DOWN_AT, DOWN_FOR = 10, 30, 8.0, 8.0
GATEWAY_READ_TIMEOUT_S = 5.0  # GATEWAY_READ_TIMEOUT_S default


def test_database_crash_under_load_recovers_without_restarts(suite, throwaway_pg, figures):
    since = suite.baseline()
    pids = {name: p.pid for name, p in suite.suite.procs.items()}
    outage: dict[str, float] = {}

    def restart() -> None:
        throwaway_pg.start()
        outage["up"] = time.monotonic()

    starter = threading.Thread(target=restart)

    def fault(elapsed: float) -> None:
        if elapsed >= DOWN_AT and "down" not in outage:
            throwaway_pg.kill()              # pg_ctl stop -m immediate: every backend dies
            outage["down"] = time.monotonic()
        elif "down" in outage and starter.ident is None \
                and time.monotonic() - outage["down"] >= DOWN_FOR:
            starter.start()                  # crash recovery, then accepting connections

    load = suite.run_load(RATE, SECONDS, on_tick=fault, timeout=GATEWAY_READ_TIMEOUT_S + 10)
    starter.join(60)
    assert "up" in outage, "the database came back during the load"
    audit = suite.audit(load.ids, since, timeout=150)
    refused = load.statuses.get(503, 0)
    codes = Counter(_code(e) for e in load.errors)
    figures("postgres-restart", sent=load.sent, accepted=len(load.accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, answered_503=refused,
            stored_without_2xx=audit.stored - audit.accepted,
            down_s=round(outage["up"] - outage["down"], 1),
            max_post_latency_s=round(load.max_latency_s, 2),
            error_codes=",".join(f"{k}:{v}" for k, v in sorted(codes.items())))

    assert set(load.statuses) <= {201, 503}, (load.statuses, load.errors[:5])
    assert refused > 0, "the outage was seen by clients"
    assert "?" not in codes, load.errors[:5]   # every refusal is a JSON error body
    assert load.max_latency_s < GATEWAY_READ_TIMEOUT_S + 2, "a request hung past the timeout"
    assert {name: p.pid for name, p in suite.suite.procs.items()} == pids
    assert not suite.suite.dead(), "a process died instead of riding out the outage"
    audit.assert_exactly_once()


def _code(error: str) -> str:
    """What a recorded non-2xx answer ("<status> <content type> <body>") said: the JSON error
    code, told apart by who answered (the service's own database check or the gateway's
    open circuit); "?" when the body is not a JSON error."""
    try:
        error_body = json.loads(error.split(" ", 2)[2])["error"]
    except (IndexError, ValueError, KeyError, TypeError):
        return "?"
    if "database" in error_body["message"]:
        return f"{error_body['code']}(database)"
    if "retry later" in error_body["message"]:
        return f"{error_body['code']}(circuit open)"
    return error_body["code"]
