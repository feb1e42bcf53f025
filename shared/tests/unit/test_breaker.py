"""The circuit breaker: counting, open period, and one trial call while half-open."""
import queue
import threading

import pytest

from support_shared.breaker import CircuitBreaker, CircuitOpenError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tripped(clock: Clock, *, reset_s: float = 10) -> CircuitBreaker:
    breaker = CircuitBreaker("svc", fail_max=1, reset_timeout_s=reset_s, clock=clock)
    breaker.record(breaker.allow(), failed=True)
    assert breaker.state == "open"
    return breaker


def test_opens_after_fail_max_consecutive_failures_and_fails_fast():
    clock = Clock()
    b = CircuitBreaker("svc", fail_max=3, reset_timeout_s=10, clock=clock)
    for _ in range(2):
        b.record(b.allow(), failed=True)
    assert b.state == "closed" and b.retry_after() is None

    b.record(b.allow(), failed=True)
    clock.now += 4

    assert b.state == "open"
    assert b.retry_after() == pytest.approx(6)
    with pytest.raises(CircuitOpenError) as raised:
        b.allow()
    assert raised.value.retry_after_s == pytest.approx(6)


def test_a_success_resets_the_count():
    b = CircuitBreaker("svc", fail_max=2, reset_timeout_s=10, clock=Clock())
    for _ in range(5):
        b.record(b.allow(), failed=True)
        b.record(b.allow(), failed=False)
    assert b.state == "closed"


def test_trial_success_closes_and_trial_failure_reopens():
    clock = Clock()
    b = tripped(clock)
    clock.now += 10
    assert b.state == "half-open" and b.retry_after() is None

    b.record(b.allow(), failed=True)                 # failed trial: another open period
    assert b.state == "open" and b.retry_after() == pytest.approx(10)

    clock.now += 10
    b.record(b.allow(), failed=False)                # successful trial
    assert b.state == "closed"


def test_outcomes_of_calls_let_through_before_the_circuit_opened_change_nothing():
    clock = Clock()
    b = CircuitBreaker("svc", fail_max=1, reset_timeout_s=10, clock=clock)
    early = b.allow()
    b.record(b.allow(), failed=True)
    clock.now += 10
    trial = b.allow()

    b.record(early, failed=False)                    # not the trial: ignored

    assert b.retry_after() == 0.0                    # the trial is still out
    b.record(trial, failed=False)
    assert b.state == "closed"


def test_a_released_trial_lets_the_next_caller_try():
    clock = Clock()
    b = tripped(clock)
    clock.now += 10
    b.release(b.allow())

    assert b.allow().trial


def test_an_uncounted_error_in_call_neither_counts_nor_keeps_the_trial():
    clock = Clock()
    b = tripped(clock)
    clock.now += 10

    def bug() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        b.call(bug, counted=(OSError,))
    assert b.call(lambda: "ok", counted=(OSError,)) == "ok"
    assert b.state == "closed"


def test_exactly_one_trial_call_while_half_open_under_concurrency():
    clock = Clock()
    b = tripped(clock)
    clock.now += 10
    threads_n = 8
    start = threading.Barrier(threads_n)
    trial_entered, finish_trial = threading.Event(), threading.Event()
    calls: list[str] = []
    outcomes: queue.Queue[str] = queue.Queue()

    def trial_call() -> str:
        calls.append("called")
        trial_entered.set()
        assert finish_trial.wait(10)
        return "ok"

    def worker() -> None:
        start.wait(10)
        try:
            outcomes.put(b.call(trial_call, counted=(OSError,)))
        except CircuitOpenError:
            outcomes.put("rejected")

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    try:
        assert trial_entered.wait(10)
        # Every other caller fails fast while the trial is still running.
        others = [outcomes.get(timeout=10) for _ in range(threads_n - 1)]
    finally:
        finish_trial.set()
        for t in threads:
            t.join(10)

    assert others == ["rejected"] * (threads_n - 1)
    assert outcomes.get(timeout=10) == "ok"
    assert calls == ["called"]
    assert b.state == "closed"


def test_the_breaker_state_is_a_gauge_and_openings_are_counted():
    from prometheus_client import REGISTRY

    now = [0.0]
    breaker = CircuitBreaker("gauge-test", fail_max=1, reset_timeout_s=5, clock=lambda: now[0])

    def value(name):
        return REGISTRY.get_sample_value(name, {"breaker": "gauge-test"})

    assert value("circuit_breaker_open") == 0
    breaker.record(breaker.allow(), failed=True)
    assert value("circuit_breaker_open") == 1 and value("circuit_breaker_openings_total") == 1
    now[0] += 6
    breaker.record(breaker.allow(), failed=False)            # the trial succeeds
    assert value("circuit_breaker_open") == 0 and value("circuit_breaker_openings_total") == 1
