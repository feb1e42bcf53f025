"""Failed authentication, limited per client address: guessing keys costs the guesser.

Every 401 spends one of ``GATEWAY_AUTH_FAILURE_LIMIT`` (default 30/minute) of the caller's
address, in the rate limiter's storage (Redis: shared by every worker and replica). Once
spent, the address gets 429 with ``Retry-After`` before any key is looked up, until the
window frees up; a key verified valid within the cache's TTL is served without reading the
budget (``context._authenticate``). 401s and these 429s carry ``RateLimit-Limit``/``-Remaining``/``-Reset`` of
that budget.
"""
from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import STRATEGIES, RateLimiter

from support_shared.web import ApiError, error_response

logger = logging.getLogger(__name__)

EXTENSION = "api_gateway.auth_failures"


class TooManyFailures(ApiError):
    """429: this address failed to authenticate too often."""

    def __init__(self, limit: str, headers: dict[str, str]) -> None:
        super().__init__(429, "too_many_requests",
                         f"too many failed authentications from this address ({limit}); "
                         "retry after Retry-After seconds", {"limit": limit})
        self.headers = headers


class AuthFailureLimit:
    """Counts failed authentications per client address against ``limit``."""

    def __init__(self, limiter: Limiter, limit: str, key_prefix: str, strategy: str) -> None:
        self.limiter = limiter
        self.limit = limit
        self.items: list[RateLimitItem] = parse_many(limit)
        self.key_prefix = key_prefix
        # Used while the shared storage is unreachable: per process, but still a limit.
        self._fallback: RateLimiter = STRATEGIES[strategy](MemoryStorage())

    def _ids(self) -> tuple[str, ...]:
        return (self.key_prefix, "auth-failures", request.remote_addr or "unknown")

    def _run(self, method: str, item: RateLimitItem):
        try:
            return getattr(self.limiter.limiter, method)(item, *self._ids())
        except StorageError as exc:
            logger.warning("rate limit storage unavailable (%s): auth failures counted in "
                           "process memory", exc.storage_error)
            return getattr(self._fallback, method)(item, *self._ids())

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` of the tightest of the limits, for this address."""
        stats = [(item, self._run("get_window_stats", item)) for item in self.items]
        item, window = min(stats, key=lambda pair: pair[1].remaining)
        return {"RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": str(max(0, window.remaining)),
                "RateLimit-Reset": str(math.ceil(window.reset_time))}

    def check(self) -> None:
        """Raise ``TooManyFailures`` when this address has no failure left."""
        if all(self._run("test", item) for item in self.items):
            return
        headers = self.headers()
        wait = int(headers["RateLimit-Reset"]) - time.time()
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
        logger.info("auth failure limit %s hit by %s", self.limit, request.remote_addr)
        raise TooManyFailures(self.limit, headers)

    def record(self) -> dict[str, str]:
        """Spend one failure of this address; the ``RateLimit-*`` headers after it."""
        for item in self.items:
            self._run("hit", item)
        return self.headers()


def current() -> AuthFailureLimit | None:
    return current_app.extensions.get(EXTENSION)


def _too_many(exc: TooManyFailures) -> Response:
    resp = error_response(exc.status, exc.code, exc.message, exc.details)
    resp.headers.update(exc.headers)
    return resp


def init_auth_failures(app: Flask, limiter: Limiter, limit: str, key_prefix: str,
                       strategy: str) -> AuthFailureLimit:
    failures = AuthFailureLimit(limiter, limit, key_prefix, strategy)
    app.extensions[EXTENSION] = failures
    app.register_error_handler(TooManyFailures, _too_many)
    return failures
