"""Breaker bookkeeping: pybreaker's rules, without its lock around the call."""
from support_shared.testing.helpers import wait_until

from api_gateway.breaker import Breaker


def test_opens_after_fail_max_consecutive_failures():
    b = Breaker("svc", fail_max=3, reset_timeout_s=10)

    for _ in range(2):
        b.record(failed=True)
    assert b.retry_after() is None
    b.record(failed=True)

    assert b.state == "open"
    assert 9 < b.retry_after() <= 10


def test_a_success_resets_the_count():
    b = Breaker("svc", fail_max=2, reset_timeout_s=10)

    for _ in range(5):
        b.record(failed=True)
        b.record(failed=False)

    assert b.state == "closed"


def test_half_open_trial_closes_on_success_and_reopens_on_failure():
    b = Breaker("svc", fail_max=1, reset_timeout_s=0.2)
    b.record(failed=True)
    wait_until(lambda: b.retry_after() is None, timeout=2, message="reset timeout")
    b.record(failed=True)                      # failed trial
    assert b.state == "open" and b.retry_after() is not None

    wait_until(lambda: b.retry_after() is None, timeout=2, message="reset timeout")
    b.record(failed=False)                     # successful trial
    assert b.state == "closed"


def test_outcomes_arriving_while_open_change_nothing():
    b = Breaker("svc", fail_max=1, reset_timeout_s=10)
    b.record(failed=True)
    before = b.retry_after()

    b.record(failed=False)
    b.record(failed=True)

    assert b.state == "open"
    assert b.retry_after() <= before
