"""Webhook signatures, both ways: ``X-Webhook-Signature: t=<unix seconds>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, "<t>." + raw body)`` (the scheme Stripe uses).

Outbound deliveries are signed with the subscription's secret; inbound webhooks must be
signed with the source's secret. ``verify`` is the documented verifier (docs/integrations.md
shows the same code for receivers): a bad signature or a timestamp outside the tolerance
(replays of old deliveries) is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Webhook-Signature"
DELIVERY_HEADER = "X-Webhook-Id"
EVENT_HEADER = "X-Webhook-Event"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, wrong, or too old."""


def compute(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` signed now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute(secret, t, body)}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: int = DEFAULT_TOLERANCE_S,
           now: float | None = None) -> int:
    """Check ``header`` against ``body``; the signed timestamp, or ``SignatureError``."""
    fields: dict[str, list[str]] = {}
    for part in (header or "").split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError) as exc:
        raise SignatureError("no timestamp in the signature header") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError("timestamp outside the tolerance window")
    expected = compute(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, v) for v in fields.get("v1", [])):
        raise SignatureError("signature does not match")
    return timestamp
