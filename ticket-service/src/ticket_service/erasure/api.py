"""``POST /api/users/{id}/erase`` (admin scope at the gateway, which also removes dead letters
when asked)."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request
from support_shared.schemas import ErasureRequest, RequesterErasure
from support_shared.schemas import User as UserOut
from support_shared.web import parse_body, request_id, tenant_id

from ..web import deps
from . import handlers

bp = Blueprint("erasure", __name__, url_prefix="/api")


def init_app(app: Flask) -> None:
    """Register the erasure route (user errors are registered by ``activity``)."""
    app.register_blueprint(bp)


@bp.post("/users/<int:user_id>/erase")
def erase(user_id: int) -> Response:
    body = parse_body(ErasureRequest) if request.get_data(cache=True) else ErasureRequest()
    done = handlers.erase_requester(
        handlers.EraseRequester(tenant_id(), user_id, body.dead_letters, request_id() or None),
        uow=deps().uow())
    out = RequesterErasure(user=UserOut.model_validate(done.user, from_attributes=True),
                           ticket_ids=done.ticket_ids, rows=done.rows,
                           event_id=str(done.event.event_id))
    return jsonify(out.model_dump(mode="json", exclude_none=True))
