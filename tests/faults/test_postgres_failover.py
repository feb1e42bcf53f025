"""The PostgreSQL primary crashes under steady load and its synchronous standby is promoted:
no ticket that got a 2xx is lost, the services reconnect without a restart, and the requests
in the gap get a fast JSON 503 instead of hanging.

The suite's ``DATABASE_URL`` names both servers with ``target_session_attrs=read-write``:
libpq tries them in turn and takes only the one accepting writes. Until the promotion that is
none (the primary refuses connections, the standby is read-only), so a request fails within
the connect timeout, and after a few such failures the gateway's circuit answers 503 at once
until its reset time has passed (``GATEWAY_BREAKER_RESET_S``); pooled connections to the dead primary fail the pre-ping and are
replaced. The standby confirms every commit before the client hears of it, so what a client
was told is stored survives the primary.
"""
from __future__ import annotations

import threading
import time

import pytest

from support_shared.testing.progress import ProgressSampler

pytestmark = [pytest.mark.faults, pytest.mark.heavy, pytest.mark.timeout(480)]

RATE, KILL_AT, PROMOTE_AFTER, TAIL = 10, 8.0, 5.0, 20.0
FAST_S = 5.0   # a request in the gap: connect timeout (3 s) and a retry, not the client's 20 s


def test_primary_crash_and_promotion_lose_no_accepted_ticket(failover_suite, pg_pair, figures):
    suite = failover_suite
    breaker_s = float(suite.env.get("GATEWAY_BREAKER_RESET_S", "15"))
    since = suite.baseline()
    pids = {name: p.pid for name, p in suite.suite.procs.items()}
    at: dict[str, float] = {}

    def promote() -> None:
        pg_pair.promote()                # pg_ctl promote -w: returns once it accepts writes
        at["promoted"] = time.monotonic()

    promoter = threading.Thread(target=promote)

    def fault(elapsed: float) -> None:   # runs between requests; must not block the load
        now = time.monotonic()
        if elapsed >= KILL_AT and "kill" not in at:
            pg_pair.primary.crash()      # SIGKILL postmaster and backends
            at["kill"] = time.monotonic()
        elif "kill" in at and promoter.ident is None and now - at["kill"] >= PROMOTE_AFTER:
            promoter.start()

    def done(_elapsed: float) -> bool:
        return "promoted" in at and time.monotonic() - at["promoted"] >= TAIL

    def routed() -> int:
        return suite.sql("ticket", "SELECT count(*) FROM tickets WHERE id > :i AND department "
                         "IS NOT NULL", i=since.max_ticket_id)[0][0]

    try:
        with ProgressSampler(routed) as progress:
            load = suite.run_load(RATE, 240, on_tick=fault, until=done)
            end = time.monotonic()
    finally:
        if promoter.ident is not None:
            promoter.join(60)
    assert {"kill", "promoted"} <= set(at), at
    audit = suite.audit(load.ids, since, timeout=180)

    failed = [(sent, answered, status, code) for sent, answered, status, code in load.timeline
              if not 200 <= status < 300]
    after_kill = sorted((sent, answered) for sent, answered, status, _ in load.timeline
                        if 200 <= status < 300 and sent >= at["kill"])
    first_ok = after_kill[0][1] if after_kill else float("nan")
    slowest_failure = max((answered - sent for sent, answered, *_ in failed), default=0.0)
    figures("pg-failover", sent=load.sent, accepted=len(load.accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, rate=RATE, answered_503=len(failed),
            slowest_503_s=round(slowest_failure, 2),
            promote_s=round(at["promoted"] - at["kill"], 1),
            writes_back_after_kill_s=round(first_ok - at["kill"], 1),
            writes_back_after_promote_s=round(first_ok - at["promoted"], 1),
            gateway_breaker_reset_s=breaker_s,
            routing_stalled_s=progress.stall_after(at["kill"], end))

    # Every request either stored its ticket (2xx) or got a quick JSON 503: no hang, no 500.
    assert {status for _, _, status, _ in failed} <= {503}, load.errors[:5]
    assert {code for *_, code in failed} <= {"service_unavailable"}, load.errors[:5]
    assert slowest_failure < FAST_S, failed[:5]
    assert failed, "the load did not reach the gap"
    # The gateway's circuit for ticket-service opened on the first 503s; writes come back
    # with the promotion or, if that came first, when the circuit lets a call through again.
    assert first_ok - at["kill"] < max(at["promoted"] - at["kill"], breaker_s) + 10
    audit.assert_exactly_once()
    # Reconnected, not restarted: every process is the one started before the crash.
    assert not suite.suite.dead()
    assert {name: p.pid for name, p in suite.suite.procs.items()} == pids
