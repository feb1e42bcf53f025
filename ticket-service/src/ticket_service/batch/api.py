"""HTTP route of the batch upsert: the body as a whole, then each item on its own."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from pydantic import ValidationError
from support_shared import jsonbody
from support_shared.exchange import (MAX_BATCH, MAX_BATCH_BYTES, TicketBatchEnvelope,
                                     TicketUpsert)
from support_shared.web import ApiError, allow_body, request_id, tenant_id, validation_details

from ..web import actor, deps
from .domain import ERROR, ItemOutcome, item_error
from .handlers import UpsertTickets, upsert_tickets
from .persistence import unit_of_work

bp = Blueprint("batch", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _envelope() -> list[dict[str, Any]]:
    """The body's raw items; a body that is not ``{"tickets": [1..1000 objects]}`` is a 400."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "send a JSON body (Content-Type: application/json)")
    try:
        data = jsonbody.loads(request.get_data(cache=False))
    except jsonbody.BodyError as exc:
        raise ApiError(400, exc.code, str(exc)) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "validation_error", "request body must be a JSON object")
    try:
        return TicketBatchEnvelope.model_validate(data).tickets
    except ValidationError as exc:
        raise ApiError(400, "validation_error",
                       f'send {{"tickets": [...]}} with 1 to {MAX_BATCH} objects',
                       validation_details(exc)) from exc


def _validated(index: int, raw: dict[str, Any]) -> TicketUpsert | ItemOutcome:
    try:
        return TicketUpsert.model_validate(raw)
    except ValidationError as exc:
        return item_error(index, "validation_error", "item is invalid", validation_details(exc))


def _counts(outcomes: list[ItemOutcome]) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    for outcome in outcomes:
        counts["failed" if outcome.status == ERROR else outcome.status] += 1
    return counts


@bp.post("/api/tickets/batch")
@allow_body(MAX_BATCH_BYTES)
def batch_route() -> Response:
    items = [_validated(i, raw) for i, raw in enumerate(_envelope())]
    settings = deps().settings
    cmd = UpsertTickets(tenant_id(), items, request_id(), actor())
    outcomes = upsert_tickets(cmd, uow=unit_of_work(deps().engine, settings.db_schema,
                                                     settings.batch_statement_timeout_ms))
    return jsonify({"results": [o.to_dict() for o in outcomes], "counts": _counts(outcomes)})
