"""Rate limits per API key (per client address on public paths) with Flask-Limiter.

Counters live in Redis (``GATEWAY_RATELIMIT_STORAGE_URL``, default ``redis://127.0.0.1:6379/0``),
shared by every worker and gateway replica; ``memory://`` (only when configured) keeps them per
worker process. Over the limit: 429 JSON with
``Retry-After``; every limited answer carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and
``RateLimit-Reset`` (Unix time the window frees up).
"""
from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, current_app, g, request
from flask_limiter import HeaderNames, Limiter, RateLimitExceeded

from support_shared.web import error_response

from .auth_failures import init_auth_failures
from .config import GatewaySettings

logger = logging.getLogger(__name__)

# Flask-Limiter would write Retry-After on every answer (overwriting a service's own on a 503),
# so its value goes to a scratch header that ``_drop_scratch`` removes; 429s set their own.
_SCRATCH = "X-Gateway-Limiter-Retry-After"
HEADERS = {HeaderNames.LIMIT: "RateLimit-Limit", HeaderNames.REMAINING: "RateLimit-Remaining",
           HeaderNames.RESET: "RateLimit-Reset", HeaderNames.RETRY_AFTER: _SCRATCH}
UNLIMITED_PATHS = frozenset({"/health"})
UNLIMITED_PREFIXES = ("/docs/assets/",)
EXTENSION = "api_gateway.limiter"


def rate_key() -> str:
    """Whose budget a request spends: its API key, or its address when it sent none."""
    who = g.get("principal")
    if who is not None and who.key_id:
        return f"key:{who.key_id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def _unlimited() -> bool:
    return request.path in UNLIMITED_PATHS or request.path.startswith(UNLIMITED_PREFIXES)


def _drop_scratch(resp: Response) -> Response:
    resp.headers.pop(_SCRATCH, None)
    return resp


def _too_many(exc: RateLimitExceeded) -> Response:
    who = g.get("principal")
    logger.info("rate limit %s hit by %s", exc.description,
                f"key {who.key_id}" if who is not None else request.remote_addr)
    resp = error_response(429, "too_many_requests",
                          f"rate limit of {exc.description} exceeded; retry after "
                          "Retry-After seconds", {"limit": exc.description})
    current = _limiter().current_limit
    wait = current.reset_at - time.time() if current is not None else 1.0
    resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return resp


def _limiter() -> Limiter:
    return current_app.extensions[EXTENSION]


def init_limits(app: Flask, settings: GatewaySettings) -> Limiter:
    """Install the limiter; call after ``context.install`` so the principal is known."""
    limiter = Limiter(
        rate_key,
        application_limits=[settings.rate_limit],
        headers_enabled=True,
        header_name_mapping=HEADERS,
        strategy=settings.ratelimit_strategy,
        storage_uri=settings.ratelimit_storage_url,
        key_prefix=settings.ratelimit_key_prefix,
        # Storage down (Redis): keep limiting per process rather than failing requests.
        in_memory_fallback_enabled=True,
        storage_options={"wrap_exceptions": True},   # StorageError, whatever the backend
    )
    limiter.request_filter(_unlimited)
    app.after_request(_drop_scratch)  # registered first, so it runs after the limiter's hook
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many)
    init_auth_failures(app, limiter, settings.auth_failure_limit, settings.ratelimit_key_prefix,
                       settings.ratelimit_strategy)
    return limiter
