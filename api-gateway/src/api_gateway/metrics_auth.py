"""Who may read the gateway's ``GET /metrics``: the one public-port path that needs neither an
API key nor nothing. The gateway's port faces the Internet, and its metrics tell route counts,
error rates and latencies, so a scraper sends ``Authorization: Bearer <GATEWAY_METRICS_TOKEN>``
(Prometheus: ``authorization: {credentials_file: ...}``), compared in constant time. Unset,
``/metrics`` answers 404 as if it did not exist. The services' own ``/metrics`` are on the
internal network only and stay open to the scraper there (``support_shared.internal``).
"""
from __future__ import annotations

import hmac

from flask import Flask, Request, current_app

from support_shared.web import ApiError

from .auth import AuthError

EXTENSION = "api_gateway.metrics_token"
METRICS_PATH = "/metrics"
MIN_TOKEN_LENGTH = 16


def configure(app: Flask, token: str) -> None:
    """Make ``token`` the scrape credential of ``app`` (empty: /metrics is not served)."""
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"GATEWAY_METRICS_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
    app.extensions[EXTENSION] = token.encode()


def check(request: Request) -> None:
    """404 while no credential is configured; 401 unless the request carries it."""
    expected = current_app.extensions.get(EXTENSION, b"")
    if not expected:
        raise ApiError(404, "not_found", "no such path")
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(),
                                                              expected):
        raise AuthError("the metrics credential is missing or invalid", invalid_token=True)
