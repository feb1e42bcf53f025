"""Consumers SIGKILLed while they work: every effect happens exactly once.

No test-only hook in the services. A consumer commits its transaction (state + inbox claim +
outbox rows) and only then acks, so a kill between the two makes the broker redeliver a
message whose effects are already committed; the inbox claim must make that a no-op.

That window is about a millisecond wide, so random kills alone rarely land in it. So, for
this test only, PostgreSQL waits 20 ms in every commit (``commit_delay``, a server setting;
nothing in the services changes), and each round, while a burst is being created, watches
``pg_stat_activity`` until a consumer (its ``application_name``) is executing a COMMIT, and
freezes PostgreSQL (SIGSTOP) then: every consumer hangs in its current database call, at least
one of them in a COMMIT. They are all SIGKILLed, PostgreSQL is thawed, and the COMMITs it had
received take effect with no consumer left to ack them. The consumers log each redelivery their inbox drops ("already ...",
"duplicate event ..."): that count shows the window was really hit.
"""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

CONSUMERS = ["routing-consumer", "analytics-consumer", "ticket-consumer", "ai-consumer"]
DUPLICATE_DROPPED = ("already", "duplicate event")


def _consuming(suite, name: str, marks) -> bool:
    return "consuming " in suite.logs(since=marks).get(f"{name}.log", "")


def _round(suite, pg, rng: random.Random, start: int) -> list[int]:
    """A burst; mid-way PostgreSQL hangs, every consumer is killed, PostgreSQL resumes."""
    with ThreadPoolExecutor(1) as pool:
        burst = pool.submit(suite.create_tickets, 80, start=start)
        # Not a guess at timing: freeze the moment a consumer is inside a COMMIT.
        wait_until(lambda: pg.busy_committing("-consumer") > 0, timeout=60, interval=0.001,
                   message="a consumer executing a COMMIT")
        pg.freeze()
        try:
            time.sleep(rng.uniform(0.1, 0.3))    # each consumer is now stuck in a database call
            restarted = suite.log_marks()
            for name in CONSUMERS:
                suite.suite.kill(name)           # SIGKILL: no ack, no rollback, no goodbye
        finally:
            pg.thaw()                            # COMMITs already received now take effect
        accepted = burst.result(timeout=60)
    for name in CONSUMERS:
        suite.suite.start_process(name)
    for name in CONSUMERS:
        wait_until(lambda: _consuming(suite, name, restarted), timeout=60,  # ai: model load
                   message=f"{name} consuming again")
    return accepted


def test_consumers_killed_mid_commit_apply_every_event_once(suite, throwaway_pg, figures):
    since, marks = suite.baseline(), suite.log_marks()
    rng = random.Random(7)
    accepted: list[int] = []
    rounds = 0
    throwaway_pg.configure(fsync="on", commit_delay="20000", commit_siblings="0")
    try:
        # At least two rounds, then until a redelivery has met its inbox claim: a round
        # freezes a COMMIT in flight, which still may complete between the look and the
        # freeze, so allow up to eight.
        while rounds < 8:
            accepted += _round(suite, throwaway_pg, rng, start=len(accepted))
            rounds += 1
            if rounds >= 2 and suite.grep_logs(*DUPLICATE_DROPPED, since=marks):
                break
    finally:
        throwaway_pg.configure(fsync=None, commit_delay=None, commit_siblings=None)

    audit = suite.audit(accepted, since, timeout=120)
    dropped = suite.grep_logs(*DUPLICATE_DROPPED, since=marks)
    figures("consumer-crash", sent=len(accepted), accepted=len(accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, kills=rounds * len(CONSUMERS),
            redeliveries_after_commit=dropped)
    audit.assert_exactly_once()
    assert dropped > 0, "no kill landed between a commit and its ack; nothing was proven"
