"""A relay SIGKILLed between commit and publish, and while publishing: every event goes out once."""
from __future__ import annotations

import time

import pytest

from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]

DUPLICATE_DROPPED = ("already", "duplicate event")  # the consumers' inbox hits, as logged


def _relay_started(suite, marks) -> bool:
    return suite.grep_logs("relay started", since=marks) > 0


def test_relay_killed_between_commit_and_publish_loses_nothing(suite, figures):
    since, marks = suite.baseline(), suite.log_marks()
    suite.suite.kill("ticket-relay")
    accepted = suite.create_tickets(40)
    time.sleep(1.5)  # a live relay publishes within ~10 ms (NOTIFY) or 0.5 s (poll)
    assert suite.backlogs()["ticket"] == 40, "the committed events wait in the outbox"

    # Then killed again and again while it publishes a bigger backlog: rows the broker
    # confirmed but the relay had not marked yet go out a second time.
    accepted += suite.create_tickets(160, start=40)
    kills = 0
    for delay in (0.05, 0.15, 0.3, 0.6):
        restart = suite.log_marks()
        suite.suite.start_process("ticket-relay")
        wait_until(lambda: _relay_started(suite, restart), timeout=20, message="relay started")
        time.sleep(delay)
        suite.suite.kill("ticket-relay")
        kills += 1
    suite.suite.start_process("ticket-relay")
    wait_until(lambda: suite.backlogs()["ticket"] == 0, timeout=30, message="outbox published")

    audit = suite.audit(accepted, since)
    figures("relay-crash", sent=len(accepted), accepted=len(accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, relay_kills=kills + 1,
            duplicate_deliveries_dropped=suite.grep_logs(*DUPLICATE_DROPPED, since=marks))
    audit.assert_exactly_once()
