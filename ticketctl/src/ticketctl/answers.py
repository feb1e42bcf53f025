"""Reading the gateway's answers: ``Retry-After``, what is worth retrying, error messages."""
from __future__ import annotations

import email.utils
import json
from datetime import datetime, timezone
from typing import Any

import requests

RETRY_STATUSES = frozenset({429, 502, 503, 504})


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def retryable(resp: requests.Response) -> bool:
    return resp.status_code in RETRY_STATUSES or (
        resp.status_code == 409 and "Retry-After" in resp.headers)


def error_text(resp: requests.Response) -> str:
    try:
        error = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    parts = [f"HTTP {resp.status_code}"]
    if error.get("code"):
        parts.append(str(error["code"]))
    message = error.get("message") or resp.reason or ""
    return f"{' '.join(parts)}: {message}" + _details(error.get("details"), message)


def _details(details: Any, message: str) -> str:
    """`` (field: message; ...)`` for the API's validation details, else compact JSON (left out
    when the message already names every value)."""
    if not details:
        return ""
    if isinstance(details, dict) and all(str(v) in message for v in details.values()):
        return ""
    if isinstance(details, list) and all(isinstance(d, dict) and "message" in d
                                          for d in details):
        return " (" + "; ".join(f"{d.get('field') or d.get('loc') or '?'}: {d['message']}"
                                for d in details) + ")"
    return " " + json.dumps(details, separators=(",", ":"), default=str)
