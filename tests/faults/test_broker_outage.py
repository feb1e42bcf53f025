"""RabbitMQ crashes for 10 s under steady load: every accepted ticket is routed and counted once."""
from __future__ import annotations

import threading
import time

import pytest

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

RATE, SECONDS, DOWN_AT, DOWN_FOR = 10, 30, 8.0, 10.0


def test_broker_crash_under_load_loses_and_duplicates_nothing(suite, throwaway_rabbit, figures):
    since = suite.baseline()
    outage: dict[str, float] = {}

    def restart() -> None:
        throwaway_rabbit.start()             # same data dir: durable quorum queues come back
        outage["up"] = time.monotonic()

    starter = threading.Thread(target=restart)

    def fault(elapsed: float) -> None:       # runs between requests; must not block the load
        if elapsed >= DOWN_AT and "down" not in outage:
            throwaway_rabbit.kill()          # SIGKILL: a crash, sockets reset, no goodbye
            outage["down"] = time.monotonic()
        elif "down" in outage and starter.ident is None \
                and time.monotonic() - outage["down"] >= DOWN_FOR:
            starter.start()

    load = suite.run_load(RATE, SECONDS, on_tick=fault)
    starter.join(60)
    assert "up" in outage, "the broker was restarted during the load"
    audit = suite.audit(load.ids, since, timeout=150)
    figures("rabbit-outage", sent=load.sent, accepted=len(load.accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, down_s=round(outage["up"] - outage["down"], 1),  # + boot
            max_post_latency_s=round(load.max_latency_s, 2))
    # The broker is not on the path of POST /api/tickets: every request is accepted.
    assert load.statuses == {201: load.sent}, load.errors[:5]
    audit.assert_exactly_once()
