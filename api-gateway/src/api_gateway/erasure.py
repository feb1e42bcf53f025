"""``POST /api/users/{id}/erase`` (admin scope): ticket-service erases and announces the
requester's erasure; with ``{"dead_letters": true}`` the gateway then removes the dead letters
of the requester's tickets (the caller's tenant only) from every dead-letter queue of the suite,
with one short AMQP connection, as the admin DLQ endpoints do (``admin.py``).
"""
from __future__ import annotations

import logging

import orjson
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from support_shared.manifest import SUITE, dead_letter_queue
from support_shared.messaging import dlq
from support_shared.messaging.dead_letters import QueueNotFound, Unavailable, tickets_filter
from support_shared.messaging.topology import Topology
from support_shared.schemas import DeadLetterErasure
from support_shared.web import ApiError, error_response

from . import admin
from .config import TICKET_SERVICE
from .context import principal
from .routes import forward

logger = logging.getLogger(__name__)

bp = Blueprint("erasure", __name__)


def init_erasure(app: Flask) -> None:
    """Register the erasure route (after ``init_admin``: it reads the broker settings)."""
    app.register_blueprint(bp)


@bp.post("/api/users/<int:user_id>/erase")
def erase(user_id: int) -> Response:
    raw = request.get_data(cache=True)    # kept for below: forwarding reads the body too
    answer = forward(TICKET_SERVICE)
    if answer.status_code != 200 or not _dead_letters_asked(raw):
        return answer
    body = orjson.loads(answer.get_data())
    who = principal()
    if who is None:   # the route needs a key; checked before this view runs
        raise ApiError(401, "unauthorized", "an API key is required")
    body["dead_letters"] = remove_dead_letters(who.tenant_id, body["ticket_ids"]).model_dump()
    return jsonify(body)


@bp.errorhandler(Unavailable)
def _broker_unavailable(exc: Unavailable) -> Response:
    """The erasure itself is done (ticket-service answered); only the dead letters wait."""
    return error_response(503, "service_unavailable",
                          f"erased, but the dead letters could not be removed: {exc}; "
                          "erase again (idempotent) when the broker is back",
                          {"service": "rabbitmq"})


def _dead_letters_asked(raw: bytes) -> bool:
    """Whether the body (ticket-service accepted it) asks for the dead letters."""
    return bool(raw) and orjson.loads(raw).get("dead_letters") is True


def remove_dead_letters(tenant_id: str, ticket_ids: list[int]) -> DeadLetterErasure:
    """Remove ``tenant_id``'s dead letters of ``ticket_ids`` from every DLQ of the manifest and
    from the unroutable queue; a queue not declared yet holds nothing."""
    settings: admin.AdminSettings = current_app.extensions[admin.EXTENSION]
    topology = Topology.from_settings(settings)
    queues = [dead_letter_queue(q) for q in SUITE.queues(settings.queue_prefix)]
    queues.append(topology.unroutable_queue)
    wanted = tickets_filter(tenant_id, ticket_ids)
    removed: dict[str, int] = {}
    if ticket_ids:
        with dlq.broker_connection(settings.rabbitmq_url, "api-gateway-erasure") as connection:
            for queue in queues:
                try:
                    count = dlq.remove_matching(connection, queue, topology, wanted)
                except QueueNotFound:
                    continue
                if count:
                    removed[queue] = count
    logger.info("removed %d dead letters of %d erased tickets", sum(removed.values()),
                len(ticket_ids))
    return DeadLetterErasure(removed=sum(removed.values()), queues=removed)
