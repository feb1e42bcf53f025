"""Internal HTTP routes (``/internal/...``): key verification for the gateway, account admin.

Never exposed by the gateway; like every route of an internal service, they need the internal
credential (``X-Internal-Token``, checked by ``support_shared.internal``).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from support_shared.web import error_response, parse_body

from ..web import conflict, deps, not_found_error
from . import handlers as accounts
from .domain import (ApiKey, KeyNotFoundError, Tenant, TenantExistsError, TenantNotFoundError,
                     check_tenant_id, normalize_scopes)
from .persistence import AccountsUnitOfWork

bp = Blueprint("internal", __name__, url_prefix="/internal")

def init_app(app: Flask) -> None:
    """Register the internal routes and the errors of the account rules."""
    app.register_error_handler(TenantNotFoundError, not_found_error)
    app.register_error_handler(KeyNotFoundError, not_found_error)
    app.register_error_handler(TenantExistsError, conflict("tenant_exists"))
    app.register_blueprint(bp)


def accounts_uow() -> AccountsUnitOfWork:
    return deps().accounts_uow()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class VerifyRequest(_Body):
    key: str = Field(min_length=1, max_length=256)


class TenantCreate(_Body):
    tenant_id: str = Field(min_length=1, max_length=63)
    name: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("tenant_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_tenant_id(value)


class KeyCreate(_Body):
    tenant_id: str = Field(min_length=1, max_length=63)
    scopes: list[str] = Field(min_length=1, max_length=3)
    name: str = Field("", max_length=200)

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str]) -> list[str]:
        return list(normalize_scopes(value))


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {"tenant_id": tenant.tenant_id, "name": tenant.name,
            "created_at": tenant.created_at.isoformat(),
            "status": "enabled" if tenant.enabled else "disabled",
            "disabled_at": tenant.disabled_at.isoformat() if tenant.disabled_at else None}


def key_json(key: ApiKey) -> dict[str, Any]:
    """A key's public facts: never its hash, never the key itself."""
    return {"id": key.id, "tenant_id": key.tenant_id, "prefix": f"tts_{key.prefix}",
            "scopes": list(key.scopes), "name": key.name,
            "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


@bp.post("/keys/verify")
def verify() -> Response | tuple[Response, int]:
    body = parse_body(VerifyRequest)
    key = accounts.verify_key(body.key, uow=accounts_uow())
    if key is None:
        return error_response(401, "invalid_api_key", "unknown or revoked API key")
    return jsonify({"tenant_id": key.tenant_id, "scopes": list(key.scopes), "key_id": key.id})


@bp.post("/tenants")
def create_tenant() -> tuple[Response, int]:
    body = parse_body(TenantCreate)
    tenant = accounts.create_tenant(body.tenant_id, body.name, uow=accounts_uow())
    return jsonify(tenant_json(tenant)), 201


@bp.get("/tenants")
def list_tenants() -> Response:
    return jsonify({"tenants": [tenant_json(t) for t in accounts.list_tenants(uow=accounts_uow())]})


@bp.get("/tenants/<tenant_id>")
def get_tenant(tenant_id: str) -> Response:
    return jsonify(tenant_json(accounts.get_tenant(tenant_id, uow=accounts_uow())))


@bp.post("/tenants/<tenant_id>/disable")
def disable_tenant(tenant_id: str) -> Response:
    return jsonify(tenant_json(accounts.set_tenant_enabled(tenant_id, False, uow=accounts_uow())))


@bp.post("/tenants/<tenant_id>/enable")
def enable_tenant(tenant_id: str) -> Response:
    return jsonify(tenant_json(accounts.set_tenant_enabled(tenant_id, True, uow=accounts_uow())))


@bp.post("/keys")
def create_key() -> tuple[Response, int]:
    body = parse_body(KeyCreate)
    key, plain = accounts.create_key(body.tenant_id, body.scopes, body.name, uow=accounts_uow())
    return jsonify({**key_json(key), "key": plain}), 201


@bp.get("/keys")
def list_keys() -> Response:
    tenant = request.args.get("tenant_id") or None
    found = accounts.list_keys(tenant, uow=accounts_uow())
    return jsonify({"keys": [key_json(k) for k in found]})


@bp.post("/keys/<int:key_id>/revoke")
def revoke_key(key_id: int) -> Response:
    key = accounts.revoke_key(key_id, uow=accounts_uow())
    return jsonify(key_json(key))
