"""HTTP calls with bounded retries: 429 and 503 wait what ``Retry-After`` says (seconds or an
HTTP date, at most the cap), other 5xx and network errors back off exponentially."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable

import requests

RETRY_AFTER_STATUSES = (429, 503)
RETRY_STATUSES = (500, 502, 503, 504, 429)


class RetriesExhaustedError(RuntimeError):
    """The call kept failing; ``status`` is the last answer's (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 1.0
    cap_s: float = 60.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.cap_s, self.backoff_s * 2 ** (attempt - 1))


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def call_with_retries(send: Callable[[], requests.Response], policy: RetryPolicy, *,
                      sleep: Callable[[float], None] = time.sleep,
                      on_retry: Callable[[str], None] = lambda _m: None) -> requests.Response:
    """``send()`` until it answers other than a retryable status, at most ``policy.attempts``
    times. Returns the answer (which may be a 4xx: not retried)."""
    for attempt in range(1, policy.attempts + 1):
        status: int | None = None
        try:
            response = send()
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = f"network error: {exc.__class__.__name__}"
        else:
            if response.status_code not in RETRY_STATUSES:
                return response
            status = response.status_code
            reason = f"HTTP {status}"
        if attempt == policy.attempts:
            raise RetriesExhaustedError(f"gave up after {attempt} attempts ({reason})", status)
        wait = policy.backoff(attempt)
        if status in RETRY_AFTER_STATUSES:
            asked = retry_after(response.headers.get("Retry-After"))
            if asked is not None:
                wait = min(asked, policy.cap_s)
        on_retry(f"{reason}; retry {attempt} in {wait:.1f}s")
        sleep(wait)
    raise AssertionError("unreachable")
