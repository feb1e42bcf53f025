"""Erasing one tenant's data from a service's own schema, for an erasure request.

Every service registers ``DELETE /internal/tenants/<tenant_id>/data`` on its internal port; it
deletes, in its own schema only, every row with that ``tenant_id`` (children before parents)
and the outbox rows whose event names the tenant. ``ticketctl tenants remove`` calls each
service in turn; no service touches another's schema.
"""
from __future__ import annotations

import hmac
import logging
import re

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Engine

from .web import ApiError

logger = logging.getLogger(__name__)

EXTENSION = "support_shared.erasure"
TOKEN_HEADER = "X-Internal-Token"
_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ErasureSettings(BaseSettings):
    """``INTERNAL_API_TOKEN``: when set, the erasure endpoint needs it in X-Internal-Token."""

    model_config = SettingsConfigDict(extra="ignore")

    internal_token: str = Field("", validation_alias=AliasChoices("INTERNAL_API_TOKEN"))


def erase_tenant(engine: Engine, schema: str, tenant_id: str) -> dict[str, int]:
    """Delete ``tenant_id``'s rows from every table of ``schema`` in one transaction; return
    how many rows each table lost."""
    deleted: dict[str, int] = {}
    with engine.begin() as conn:
        tables = sa.MetaData()
        tables.reflect(conn, schema=schema)
        for table in reversed(tables.sorted_tables):     # rows that refer to others first
            if "tenant_id" in table.c:
                where = table.c.tenant_id == tenant_id
            elif table.name == "outbox":
                where = sa.text("payload->>'tenant_id' = :tenant").bindparams(tenant=tenant_id)
            else:
                continue
            deleted[table.name] = conn.execute(table.delete().where(where)).rowcount
    logger.info("erased tenant %s from schema %s: %s", tenant_id, schema, deleted)
    return deleted


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
