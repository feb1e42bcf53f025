"""The internal credential: every internal service refuses calls without ``X-Internal-Token``.

Internal services (ticket, AI, routing, analytics) trust the tenant header and serve
``/internal/...``, so whoever can reach their port must prove to be the gateway or an
operator's tool. ``INTERNAL_API_TOKEN`` (``CommonSettings.internal_token``) is that proof:
the gateway and ticketctl send it on every call, the services compare it in constant time
and answer anything else with a JSON 401. Only the probes stay open: ``/health`` (load
balancers, kubelets) and ``/metrics`` (Prometheus; route templates and counts, no data).

A service without a token refuses to start, unless ``INSECURE_NO_INTERNAL_TOKEN`` is set
for development; then every start logs a WARNING and nothing is checked.
"""
from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Flask, request

from .config import CommonSettings
from .web import CURSOR_SECRET_EXTENSION, ApiError

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Internal-Token"
TOKEN_ENV = "INTERNAL_API_TOKEN"
INSECURE_FLAG = "INSECURE_NO_INTERNAL_TOKEN"
MIN_TOKEN_LENGTH = 16
OPEN_PATHS = frozenset({"/health", "/metrics"})
# app.extensions key: the token a test client must send.
EXTENSION = "support_shared.internal_token"
# Insecure development only: cursors are then signed with a key anyone can read here.
INSECURE_CURSOR_SECRET = "insecure-development-cursor-secret"


class InternalTokenError(RuntimeError):
    """The process has no usable internal token and the insecure flag is not set."""


def check_internal_token(settings: CommonSettings, service: str) -> str:
    """The configured token; raise ``InternalTokenError`` without one (or with a short one)
    unless the insecure development flag is set, which is logged as a WARNING."""
    token = settings.internal_token
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise InternalTokenError(f"{TOKEN_ENV} is shorter than {MIN_TOKEN_LENGTH} characters")
    if token:
        return token
    if not settings.insecure_no_internal_token:
        raise InternalTokenError(
            f"{service}: {TOKEN_ENV} is not set; internal services refuse to run without a "
            f"credential (make run/up write one to var/internal-token). For development only, "
            f"{INSECURE_FLAG}=1 runs without one.")
    logger.warning("%s runs WITHOUT an internal credential (%s=1): anyone who reaches its "
                   "port can act as any tenant. Never use this outside development.",
                   service, INSECURE_FLAG)
    return ""


def cursor_secret(token: str) -> bytes:
    """The key that signs list cursors, derived from the internal token so every worker and
    replica agrees (and a rotated token retires old cursors)."""
    if not token:
        return INSECURE_CURSOR_SECRET.encode()
    return hmac.new(token.encode(), b"support_shared.cursor.v1", hashlib.sha256).digest()


def _guard(token: str):
    expected = token.encode()

    def check_token() -> None:
        if request.path in OPEN_PATHS:
            return
        sent = request.headers.get(TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(sent, expected):
            raise ApiError(401, "unauthorized",
                           f"internal services need the internal credential ({TOKEN_HEADER})")

    return check_token


def require_internal_token(app: Flask, settings: CommonSettings) -> None:
    """Install the credential check on an internal service's ``app`` (after ``init_app``);
    refuses, as ``check_internal_token`` does, when there is no token."""
    token = check_internal_token(settings, app.name)
    app.extensions[CURSOR_SECRET_EXTENSION] = cursor_secret(token)
    app.extensions[EXTENSION] = token
    if token:
        app.before_request(_guard(token))
