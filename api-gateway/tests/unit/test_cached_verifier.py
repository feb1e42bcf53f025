"""The gateway's key cache: one question per key at a time when an answer expires under load."""
import threading

import pytest

from api_gateway.auth import CachedVerifier


class _SlowVerifier:
    """Answers after ``release`` is set; counts the questions."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.release = threading.Event()
        self.asked = threading.Event()
        self._lock = threading.Lock()

    def verify(self, key: str):
        with self._lock:
            self.calls += 1
        self.asked.set()
        self.release.wait(5)
        if self.fail:
            raise ConnectionError("ticket-service down")
        return None if key == "bad" else f"principal-of-{key}"


def _ask_concurrently(cached: CachedVerifier, key: str,
                      n: int) -> tuple[list[object], list[threading.Thread]]:
    answers: list[object] = []
    threads = [threading.Thread(target=lambda: answers.append(_try(cached, key)))
               for _ in range(n)]
    for t in threads:
        t.start()
    return answers, threads


def _try(cached: CachedVerifier, key: str) -> object:
    try:
        return cached.verify(key)
    except ConnectionError as exc:
        return exc


def test_concurrent_requests_for_one_key_ask_once():
    inner = _SlowVerifier()
    cached = CachedVerifier(inner, ttl_s=10)
    answers, threads = _ask_concurrently(cached, "k1", 20)
    assert inner.asked.wait(5)
    inner.release.set()
    for t in threads:
        t.join(5)
    assert answers == ["principal-of-k1"] * 20
    assert inner.calls == 1
    assert cached.verify("k1") == "principal-of-k1" and inner.calls == 1    # cached


def test_an_unknown_key_is_shared_and_cached_too():
    inner = _SlowVerifier()
    inner.release.set()
    cached = CachedVerifier(inner, ttl_s=10)
    assert cached.verify("bad") is None and cached.verify("bad") is None
    assert inner.calls == 1


@pytest.mark.parametrize("ttl", [0, 10])
def test_a_failing_question_fails_every_waiter_and_caches_nothing(ttl):
    inner = _SlowVerifier(fail=True)
    cached = CachedVerifier(inner, ttl_s=ttl)
    answers, threads = _ask_concurrently(cached, "k2", 5)
    assert inner.asked.wait(5)
    inner.release.set()
    for t in threads:
        t.join(5)
    assert len(answers) == 5 and all(isinstance(a, ConnectionError) for a in answers)
    inner.fail = False
    assert cached.verify("k2") == "principal-of-k2"     # nothing cached from the failure
