"""Who is calling: API keys from ``Authorization: Bearer`` or ``X-API-Key``; one without the
suite's key shape is refused locally, the others are verified by ticket-service
(``POST /internal/keys/verify``) and cached for a short TTL.

A revoked key keeps working for at most ``GATEWAY_AUTH_CACHE_TTL_S`` (default 10 s) on a
gateway process that verified it just before the revocation.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol

from cachetools import TTLCache
from flask import Request, Response, g

from support_shared.api_keys import looks_like_key
from support_shared.web import ApiError, error_response

from .clients import ServiceClient

logger = logging.getLogger(__name__)

SCOPES: tuple[str, ...] = ("read", "write", "admin")
API_KEY_HEADER = "X-API-Key"
REALM = 'Bearer realm="ticket-triage"'
VERIFY_PATH = "/internal/keys/verify"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Write implies read: every write answers with the resource it wrote, so a write-only key
# could read through no-op writes anyway; the scope says so instead of pretending otherwise.
IMPLIED_SCOPES: dict[str, frozenset[str]] = {"write": frozenset({"read"})}


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    key_id: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or any(scope in IMPLIED_SCOPES.get(held, ())
                                           for held in self.scopes)


Authenticator = Callable[[Request], Principal]


class AuthError(ApiError):
    """401 with a ``WWW-Authenticate`` challenge (RFC 6750)."""

    def __init__(self, message: str, *, invalid_token: bool = False) -> None:
        super().__init__(401, "unauthorized", message)
        self.challenge = REALM + (', error="invalid_token"' if invalid_token else "")
        self.headers: dict[str, str] = {}     # e.g. the failed-authentication budget


def auth_error_response(exc: AuthError) -> Response:
    resp = error_response(exc.status, exc.code, exc.message, exc.details)
    resp.headers.update(exc.headers)
    resp.headers["WWW-Authenticate"] = exc.challenge
    return resp


# Suite-wide operator data, not one tenant's: queue depths are the same for every tenant.
ADMIN_PATHS = frozenset({"/api/dashboard/queues"})
# Writes that change a tenant's configuration, not its tickets: admin scope (reads stay read).
ADMIN_WRITE_PREFIXES: tuple[str, ...] = ("/api/departments", "/api/settings", "/api/agents",
                                         "/api/sla", "/api/sources", "/api/webhooks")
# Under those prefixes but not configuration: a helpdesk posting an inbound webhook (write).
WRITE_PREFIXES: tuple[str, ...] = ("/api/webhooks/inbound/",)


# Other writes that need the admin scope, by whole path: erasing a requester's personal data.
ADMIN_WRITE_PATTERNS: tuple[re.Pattern[str], ...] = (re.compile(r"/api/users/[^/]+/erase/?"),)


def _admin_write(method: str, path: str) -> bool:
    if any(path.startswith(prefix) for prefix in WRITE_PREFIXES):
        return False
    return method.upper() not in READ_METHODS and (
        any(path == prefix or path.startswith(prefix + "/") for prefix in ADMIN_WRITE_PREFIXES)
        or any(pattern.fullmatch(path) for pattern in ADMIN_WRITE_PATTERNS))


def required_scope(method: str, path: str) -> str:
    """``admin`` under /api/admin, for operator data and for writes of a tenant's departments
    agents and service levels,
    else ``read`` for reads and ``write`` for every other method."""
    if path == "/api/admin" or path.startswith("/api/admin/") or path in ADMIN_PATHS:
        return "admin"
    if _admin_write(method, path):
        return "admin"
    return "read" if method.upper() in READ_METHODS else "write"


def forbidden(scope: str) -> ApiError:
    return ApiError(403, "forbidden", f"this API key lacks the {scope!r} scope",
                    {"required_scope": scope})


def presented_key(request: Request) -> str | None:
    """The key the client sent, or None; a malformed Authorization header is a 401."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("use 'Authorization: Bearer <API key>' or the X-API-Key header",
                            invalid_token=True)
        return token.strip()
    key = request.headers.get(API_KEY_HEADER, "").strip()
    return key or None


class KeyVerifier(Protocol):
    def verify(self, key: str) -> Principal | None:
        """The key's principal, or None for an unknown or revoked key."""


class ApiKeyAuthenticator:
    """The gateway's ``Authenticator``: a valid key or a 401."""

    def __init__(self, verifier: KeyVerifier) -> None:
        self.verifier = verifier

    def known(self, request: Request) -> Principal | None:
        """The principal of the request's key if it was verified valid within the cache's TTL:
        nothing is looked up (no I/O). None for anything else, including a malformed header."""
        if not isinstance(self.verifier, CachedVerifier):
            return None
        try:
            key = presented_key(request)
        except AuthError:
            return None
        if key is None or not looks_like_key(key):
            return None
        return self.verifier.cached(key)

    def __call__(self, request: Request) -> Principal:
        key = presented_key(request)
        if key is None:
            raise AuthError("an API key is required (Authorization: Bearer <key> or X-API-Key)")
        principal = None
        if looks_like_key(key):      # anything else is refused here, without a lookup
            principal = self.verifier.verify(key)
        if principal is None:
            raise AuthError("the API key is invalid or revoked", invalid_token=True)
        return principal


class HttpKeyVerifier:
    """Asks ticket-service, through its client (timeouts, circuit breaker)."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client     # which sends the internal credential

    def verify(self, key: str) -> Principal | None:
        headers = {"Content-Type": "application/json", "X-Request-ID": g.get("request_id", "")}
        resp = self.client.request("POST", VERIFY_PATH, body=json.dumps({"key": key}).encode(),
                                   headers=headers)
        if resp.status_code in (400, 401):
            return None
        try:
            if resp.status_code != 200:
                raise ValueError(f"HTTP {resp.status_code}")
            body = resp.json()
            return Principal(tenant_id=str(body["tenant_id"]),
                             scopes=frozenset(s for s in body["scopes"] if s in SCOPES),
                             key_id=str(body["key_id"]))
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("key verification answered unexpectedly: %s", exc)
            raise ApiError(502, "bad_gateway", "could not verify the API key",
                           {"service": self.client.name}) from exc


_MISSING = object()


class _Flight:
    """One verification in progress; the requests that want the same key wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.principal: Principal | None | object = _MISSING


class CachedVerifier:
    """Remembers answers (valid and invalid) for ``ttl_s``, keyed by the key's SHA-256.

    When an answer expires under load, one request per key asks ticket-service again and the
    others wait for that answer (up to ``wait_s``), instead of every concurrent request of the
    key asking at once (measured: 3% of ticket-web's CPU at 100 connections).
    """

    def __init__(self, inner: KeyVerifier, ttl_s: float, maxsize: int = 10_000,
                 wait_s: float = 5.0) -> None:
        self.inner = inner
        self.enabled = ttl_s > 0
        self.wait_s = wait_s
        self._cache: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl_s or 1)
        self._flights: dict[bytes, _Flight] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> Principal | None:
        """The principal of a key verified valid within the TTL, without asking; else None."""
        if not self.enabled:
            return None
        digest = hashlib.sha256(key.encode()).digest()
        with self._lock:
            hit = self._cache.get(digest)
        return hit if isinstance(hit, Principal) else None

    def verify(self, key: str) -> Principal | None:
        if not self.enabled:
            return self.inner.verify(key)
        digest = hashlib.sha256(key.encode()).digest()
        with self._lock:
            hit = self._cache.get(digest, _MISSING)
            if hit is not _MISSING:
                return hit  # type: ignore[return-value]
            flight = self._flights.get(digest)
            leader = flight is None
            if flight is None:
                flight = self._flights[digest] = _Flight()
        if not leader:
            # Another request is asking: take its answer; if it failed or is slow, ask too.
            if flight.done.wait(self.wait_s) and flight.principal is not _MISSING:
                return flight.principal  # type: ignore[return-value]
            return self.inner.verify(key)
        try:
            principal = self.inner.verify(key)   # no lock held over the network call
            flight.principal = principal
            with self._lock:
                self._cache[digest] = principal
            return principal
        finally:
            with self._lock:
                self._flights.pop(digest, None)
            flight.done.set()
