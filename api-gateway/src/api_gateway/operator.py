"""The suite operator's power: a secret from the environment, never a tenant key's scope.

DLQs, queue depths and the other suite-wide data hold every tenant's messages, so no API key
can reach them: an operator sends ``X-Operator-Token: <GATEWAY_OPERATOR_TOKEN>``, compared in
constant time. Unset, nobody is an operator through the gateway (``ticketctl`` still works on
the machine). Tenant admins reach only their own tenant's dead letters (``admin.py``).
"""
from __future__ import annotations

import hmac

from flask import Flask, Request, current_app

from support_shared.web import ApiError

from .auth import Principal

EXTENSION = "api_gateway.operator"
OPERATOR_HEADER = "X-Operator-Token"
OPERATOR_SCOPE = "operator"
# Tenant keys never carry this scope: the key verifier keeps only read, write and admin.
OPERATOR = Principal(tenant_id="", scopes=frozenset({OPERATOR_SCOPE}), key_id=None)
# Only an operator: suite-wide depths, the list of every DLQ, purging a shared queue.
OPERATOR_ONLY_PATHS = frozenset({"/api/dashboard/queues", "/api/admin/dlq"})
OPERATOR_ONLY_SUFFIXES = ("/purge",)
# Where the operator token is looked at (elsewhere it is ignored: no tenant data for operators).
OPERATOR_PREFIX = "/api/admin/"
MIN_TOKEN_LENGTH = 16


def operator_only(path: str) -> bool:
    """True for the paths no tenant key may use, whatever its scopes."""
    return path in OPERATOR_ONLY_PATHS or (
        path.startswith(OPERATOR_PREFIX) and path.endswith(OPERATOR_ONLY_SUFFIXES))


def accepts_operator(path: str) -> bool:
    return operator_only(path) or path.startswith(OPERATOR_PREFIX)


def operator_required() -> ApiError:
    return ApiError(403, "operator_required",
                    "suite operator endpoint: send the operator credential in "
                    f"{OPERATOR_HEADER}; tenant API keys cannot use it",
                    {"required_scope": OPERATOR_SCOPE})


def configure(app: Flask, token: str) -> None:
    """Make ``token`` the operator credential of ``app`` (empty: operator endpoints closed)."""
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"GATEWAY_OPERATOR_TOKEN must be at least {MIN_TOKEN_LENGTH} "
                         "characters")
    app.extensions[EXTENSION] = token.encode()


def operator_principal(request: Request) -> Principal | None:
    """The operator, or None without the header (or off the operator paths); 401 for a wrong
    credential, or any credential while none is configured."""
    sent = request.headers.get(OPERATOR_HEADER)
    if sent is None or not accepts_operator(request.path):
        return None
    expected = current_app.extensions.get(EXTENSION, b"")
    if not expected or not hmac.compare_digest(sent.encode(), expected):
        raise ApiError(401, "unauthorized", "the operator credential is invalid")
    return OPERATOR
