"""HTTP routes of webhooks: outbound subscriptions and their deliveries, and inbound webhooks."""
from __future__ import annotations

import secrets
import uuid

from flask import Blueprint, Response, jsonify, request
from support_shared import jsonbody
from support_shared.integrations import WebhookCreate, WebhookPatch
from support_shared.schemas import Page
from support_shared.web import ApiError, decode_cursor, parse_body, parse_query, tenant_id

from . import views
from .api import check_target, deps
from .crypto import SecretsUnavailableError
from .inbound import InboundRefusedError, accept
from .signing import SIGNATURE_HEADER

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")


def webhook_not_found(sub_id: object) -> ApiError:
    return ApiError(404, "webhook_not_found", f"webhook {sub_id} not found")


@bp.post("")
def create_webhook() -> tuple[Response, int]:
    body = parse_body(WebhookCreate)
    url = str(body.url)
    check_target(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    try:
        sealed = deps().box.seal(secret)
    except SecretsUnavailableError as exc:
        raise ApiError(503, "secrets_unavailable", str(exc)) from exc
    with deps().uow() as uow:
        row = uow.subscriptions.add(tenant_id(), {
            "url": url, "event_types": list(dict.fromkeys(body.event_types)),
            "active": body.active, "description": body.description, "secret": sealed})
        uow.commit()
    return jsonify({**views.subscription_json(row), "secret": secret}), 201


@bp.get("")
def list_webhooks() -> Response:
    query = parse_query(Page)
    with deps().uow() as uow:
        rows = uow.subscriptions.page(tenant_id(), decode_cursor(query.cursor), query.limit + 1)
    return jsonify(views.page_json("webhooks", rows, query.limit, views.subscription_json))


@bp.get("/<uuid:sub_id>")
def get_webhook(sub_id: uuid.UUID) -> Response:
    with deps().uow() as uow:
        row = uow.subscriptions.get(tenant_id(), sub_id)
    if row is None:
        raise webhook_not_found(sub_id)
    return jsonify(views.subscription_json(row))


@bp.patch("/<uuid:sub_id>")
def update_webhook(sub_id: uuid.UUID) -> Response:
    patch = parse_body(WebhookPatch).model_dump(mode="json", exclude_unset=True)
    if patch.get("url"):
        check_target(patch["url"])
    if patch.get("active"):      # re-enabling clears the failure record
        patch.update(disabled_reason=None, failing_since=None)
    if patch.get("event_types"):
        patch["event_types"] = list(dict.fromkeys(patch["event_types"]))
    with deps().uow() as uow:
        row = uow.subscriptions.update(tenant_id(), sub_id,
                                       {k: v for k, v in patch.items() if v is not None or
                                        k in ("disabled_reason", "failing_since")})
        if row is None:
            raise webhook_not_found(sub_id)
        uow.commit()
    return jsonify(views.subscription_json(row))


@bp.delete("/<uuid:sub_id>")
def delete_webhook(sub_id: uuid.UUID) -> tuple[str, int]:
    with deps().uow() as uow:
        gone = uow.subscriptions.update(tenant_id(), sub_id, {"deleted": True, "active": False})
        if gone is None:
            raise webhook_not_found(sub_id)
        uow.commit()
    return "", 204


@bp.get("/<uuid:sub_id>/deliveries")
def list_deliveries(sub_id: uuid.UUID) -> Response:
    query = parse_query(Page)
    with deps().uow() as uow:
        if uow.subscriptions.get(tenant_id(), sub_id) is None:
            raise webhook_not_found(sub_id)
        rows = uow.deliveries.page(sub_id, decode_cursor(query.cursor), query.limit + 1)
    return jsonify(views.page_json("deliveries", rows, query.limit, views.delivery_json))


@bp.post("/<uuid:sub_id>/deliveries/<uuid:delivery_id>/redeliver")
def redeliver(sub_id: uuid.UUID, delivery_id: uuid.UUID) -> tuple[Response, int]:
    with deps().uow() as uow:
        if uow.subscriptions.get(tenant_id(), sub_id) is None:
            raise webhook_not_found(sub_id)
        row = uow.deliveries.redeliver(sub_id, delivery_id, deps().clock())
        if row is None:
            raise ApiError(404, "delivery_not_found", f"delivery {delivery_id} not found")
        uow.commit()
    return jsonify(views.delivery_json(row)), 202


@bp.post("/inbound/<source>")
def inbound_webhook(source: str) -> tuple[Response, int]:
    """Verify, store, answer 202; the worker maps and upserts it (like a batch item)."""
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if limit and len(raw) > limit:
        raise ApiError(413, "payload_too_large", f"request body over {limit} bytes")
    d = deps()
    try:
        body = jsonbody.loads(raw)
    except jsonbody.BodyError as exc:
        body, error = None, exc
    else:
        error = None
    try:
        event_id = accept(tenant_id(), source, raw, request.headers.get(SIGNATURE_HEADER, ""),
                          body, uow=d.uow(), box=d.box,
                          tolerance_s=d.settings.signature_tolerance_s,
                          valid_json=error is None)
    except InboundRefusedError as exc:
        raise ApiError(401, "invalid_signature", str(exc)) from exc
    except ValueError as exc:
        raise ApiError(400, "malformed_json", str(error or exc)) from exc
    return jsonify({"id": event_id, "status": "accepted"}), 202
