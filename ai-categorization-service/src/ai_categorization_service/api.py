"""HTTP API: categorization preview and stored decisions, under /api like the gateway."""
from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING, Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from support_shared import dependencies
from support_shared.schemas import CategorizeRequest
from support_shared.web import not_found, parse_body, tenant_id

from . import handlers
from .categorizer import Categorizer, Decision
from .persistence import AiUnitOfWork, StoredCategorization

if TYPE_CHECKING:
    from .app import Dependencies

MAX_TICKET_ID = 2**63 - 1

bp = Blueprint("categorization", __name__, url_prefix="/api")


def deps() -> Dependencies:
    """The app's ``Dependencies`` (built by ``create_app``)."""
    found: Dependencies = dependencies.of()
    return found


def _categorizer() -> Categorizer:
    return deps().categorizer


def _uow() -> AiUnitOfWork:
    return deps().uow()


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "department": decision.department,
        "priority": decision.priority,
        "confidence": decision.confidence,
        "method": decision.method,
        "model_version": decision.model_version,
        "urgency": decision.urgency,
    }


def stored_json(stored: StoredCategorization) -> dict[str, Any]:
    d = stored.decision
    return {
        "ticket_id": stored.ticket_id,
        **decision_json(d),
        "requested_priority": stored.requested_priority,
        "input_tokens": d.input_tokens,
        "output_tokens": d.output_tokens,
        "latency_ms": d.latency_ms,
        "source_event_id": str(stored.source_event_id),
        "created_at": stored.created_at.astimezone(timezone.utc).isoformat(),
    }


@bp.post("/categorize")
def categorize() -> ResponseReturnValue:
    """Preview: what the service would decide for this text; nothing stored, no event."""
    body = parse_body(CategorizeRequest)
    decision = handlers.preview(tenant_id(), body.title, body.description,
                                categorizer=_categorizer(), uow=_uow())
    return jsonify(decision_json(decision))


@bp.get("/categorizations/<int:ticket_id>")
def get_categorization(ticket_id: int) -> ResponseReturnValue:
    if not 1 <= ticket_id <= MAX_TICKET_ID:
        raise not_found("categorization for ticket", ticket_id)
    stored = handlers.get_categorization(tenant_id(), ticket_id, uow=_uow())
    if stored is None:
        raise not_found("categorization for ticket", ticket_id)
    return jsonify(stored_json(stored))
