"""HTTP routes of a tenant's settings: ``GET``/``PUT /api/settings`` (the gateway asks admin
scope for the PUT)."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Flask, Response, jsonify
from support_shared.schemas import TenantSettings as SettingsBody
from support_shared.web import parse_body, tenant_id

from ..web import deps
from .domain import TenantSettings
from .handlers import get_settings, put_settings

bp = Blueprint("settings", __name__, url_prefix="/api/settings")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("")
def get_route() -> Response:
    return jsonify(asdict(get_settings(tenant_id(), uow=deps().uow())))


@bp.put("")
def put_route() -> Response:
    body = parse_body(SettingsBody)
    settings = put_settings(tenant_id(), TenantSettings(ai_priority=body.ai_priority),
                            uow=deps().uow())
    return jsonify(asdict(settings))
