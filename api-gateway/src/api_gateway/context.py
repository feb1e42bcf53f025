"""Per-request identity: a well-formed request id, the authenticated principal and its scope."""
from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

from support_shared.logging import correlation_id
from support_shared.web import REQUEST_ID_HEADER, TENANT_HEADER

from . import auth_failures, metrics_auth
from .auth import AuthError, Authenticator, Principal, forbidden, required_scope
from .operator import operator_only, operator_principal, operator_required

_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
KEY_ID_HEADER = "X-Key-ID"
# Answer without a key: health, the API description, the dashboard page (its own API calls
# carry a key), and the process's own probes.
PUBLIC_PATHS = frozenset({"/api/health", "/openapi.json", "/docs", "/health", "/metrics",
                          "/dashboard"})
PUBLIC_PREFIXES = ("/docs/assets/", "/dashboard/")


def valid_request_id(value: str | None) -> str | None:
    """``value`` if it is a request id we can pass on and log safely, else ``None``."""
    if value and _REQUEST_ID_RE.fullmatch(value):
        return value
    return None


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _authenticate(authenticator: Authenticator) -> Principal:
    """The principal; an address out of failed authentications gets 429 before any key is
    looked up, and each 401 spends one of them (``auth_failures``).

    A key verified valid within the cache's TTL (``ApiKeyAuthenticator.known``) is not a
    guess and costs no lookup: it is served without reading the address's budget, which
    saves a Redis round trip on nearly every request (and keeps the clients that share an
    address with a guesser working).
    """
    known = getattr(authenticator, "known", None)      # a plain callable has no cache
    if known is not None:
        principal = known(request)
        if principal is not None:
            return principal
    failures = auth_failures.current()
    if failures is not None:
        failures.check()
    try:
        return authenticator(request)
    except AuthError as exc:
        if failures is not None:
            exc.headers.update(failures.record())
        raise


def install(app: Flask, authenticator: Authenticator) -> None:
    """Run after ``support_shared.web.init_app``'s hook: fix the request id, authenticate.

    Unknown paths and methods answer 404/405 before any key check; every other path outside
    ``PUBLIC_PATHS`` needs a valid key (401) with the method's scope (403). The operator's
    credential (``operator.py``) stands in for a key on the operator paths, and only it opens the
    operator-only ones (403 for every tenant key).
    """

    def _identify() -> None:
        rid = valid_request_id(request.headers.get(REQUEST_ID_HEADER))
        if rid is None:
            rid = uuid.uuid4().hex
            g.request_id = rid
            correlation_id.set(rid)  # the shared teardown resets the variable to its prior value
        g.principal = None
        if request.routing_exception is None and request.path == metrics_auth.METRICS_PATH:
            metrics_auth.check(request)
            return
        if request.routing_exception is not None or is_public(request.path):
            return
        g.principal = operator_principal(request)
        if g.principal is not None:
            return
        principal = _authenticate(authenticator)
        g.principal = principal
        g.tenant_id = principal.tenant_id
        if operator_only(request.path):
            raise operator_required()
        scope = required_scope(request.method, request.path)
        if not principal.allows(scope):
            raise forbidden(scope)

    app.before_request(_identify)


def principal() -> Principal | None:
    return g.get("principal")


def downstream_identity() -> dict[str, str]:
    """Headers every downstream call carries: the request id and, once authenticated, the
    tenant and key id (the client's own X-Tenant-ID is never passed on)."""
    headers = {REQUEST_ID_HEADER: g.request_id}
    who = principal()
    if who is not None and who.tenant_id:   # the operator speaks for no tenant
        headers[TENANT_HEADER] = who.tenant_id
        if who.key_id:
            headers[KEY_ID_HEADER] = who.key_id
    return headers
