"""Polling to a deadline, unique names, and broker clean-up through the management API."""
from __future__ import annotations

import os
import time
import uuid
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import quote

import requests

T = TypeVar("T")

MANAGEMENT_URL = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")


def unique_suffix() -> str:
    return "t" + uuid.uuid4().hex[:10]


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
               message: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")


def _mgmt(path: str) -> str:
    return f"{MANAGEMENT_URL.rstrip('/')}/api/{path}"


def delete_broker_objects(name_prefix: str, exchange_prefix: str) -> None:
    """Delete queues and exchanges a test created (names carry the test's unique suffix)."""
    try:
        queues = requests.get(_mgmt("queues/%2F?columns=name"), timeout=5).json()
        exchanges = requests.get(_mgmt("exchanges/%2F?columns=name"), timeout=5).json()
    except (requests.RequestException, ValueError):
        return  # management plugin not enabled: leave them, names are unique per test
    for q in queues:
        if q["name"].startswith(name_prefix) or q["name"].startswith(exchange_prefix):
            requests.delete(_mgmt(f"queues/%2F/{quote(q['name'], safe='')}"), timeout=5)
    for e in exchanges:
        if e["name"].startswith(exchange_prefix):
            requests.delete(_mgmt(f"exchanges/%2F/{quote(e['name'], safe='')}"), timeout=5)


def each_event(handle: Callable[[Any], None]) -> Callable[[Sequence[Any]], None]:
    """A set-based handler that calls ``handle`` on each envelope of its batch (for tests of
    the consumer's own machinery, where what the handler does does not matter)."""
    def handler(envelopes: Sequence[Any]) -> None:
        for envelope in envelopes:
            handle(envelope)
    return handler
