"""The tenant erasure endpoint every service with a schema serves:
``DELETE /internal/tenants/<tenant_id>/data`` (``erasure.erase_tenant`` over HTTP).

Apart from ``support_shared.erasure`` so that relays and consumers, which erase requesters but
serve no HTTP, do not import Flask.
"""
from __future__ import annotations

import hmac
import re

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Engine

from .erasure import erase_tenant
from .web import ApiError

EXTENSION = "support_shared.erasure"
TOKEN_HEADER = "X-Internal-Token"
_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ErasureSettings(BaseSettings):
    """``INTERNAL_API_TOKEN``: when set, the erasure endpoint needs it in X-Internal-Token."""

    model_config = SettingsConfigDict(extra="ignore")

    internal_token: str = Field("", validation_alias=AliasChoices("INTERNAL_API_TOKEN"))


bp = Blueprint("tenant_erasure", __name__)


def register_erasure(app: Flask, service: str, engine: Engine, schema: str) -> None:
    """Give ``app`` the erasure endpoint for ``schema`` (call after ``web.init_app``)."""
    app.extensions[EXTENSION] = (service, engine, schema, ErasureSettings().internal_token)
    app.register_blueprint(bp)


@bp.delete("/internal/tenants/<tenant_id>/data")
def erase(tenant_id: str) -> Response:
    service, engine, schema, token = current_app.extensions[EXTENSION]
    sent = request.headers.get(TOKEN_HEADER, "")
    if token and not hmac.compare_digest(sent.encode(), token.encode()):
        raise ApiError(403, "forbidden", "internal endpoints need the internal token")
    if not _TENANT_RE.match(tenant_id):
        raise ApiError(404, "not_found", f"tenant {tenant_id!r} not found")
    deleted = erase_tenant(engine, schema, tenant_id)
    return jsonify({"service": service, "tenant_id": tenant_id, "deleted": deleted,
                    "rows": sum(deleted.values())})
