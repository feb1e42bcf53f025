"""Dead-letter queue endpoints, mirroring ``ticketctl dlq list|show|replay|purge``.

DLQs hold every tenant's messages, so two powers meet here (``operator.py``): the suite
operator (``X-Operator-Token``) lists every DLQ, sees, replays and purges everything; a tenant
key with the ``admin`` scope sees and replays only its own tenant's dead letters (the dead
envelope's ``tenant_id``) and can neither list the queues' depths nor purge. Checked for every
request by ``context`` and again here, so a change of the path rules cannot open them. The
broker work is ``support_shared.messaging.dlq``, the library ticketctl uses: one short AMQP
connection per request, opened only here (the gateway otherwise never talks AMQP).
"""
from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from support_shared.config import CommonSettings
from support_shared.messaging import dlq
from support_shared.messaging.dead_letters import (DeadLetterError, DeadMessage, QueueNotFound,
                                                   QueueRefused, Unavailable)
from support_shared.messaging.management import Management, vhost_of
from support_shared.messaging.topology import Topology
from support_shared.web import ApiError, error_response, parse_body, parse_query

from . import operator
from .context import principal

EXTENSION = "api_gateway.admin"
ADMIN_SCOPE = "admin"


class AdminSettings(CommonSettings):
    """The broker settings every process reads, plus ``RABBITMQ_MANAGEMENT_URL`` (DLQ listing)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", populate_by_name=True, extra="ignore")

    management_url: str = Field("http://guest:guest@127.0.0.1:15672",
                                validation_alias=AliasChoices("RABBITMQ_MANAGEMENT_URL"))
    management_timeout_s: float = Field(5.0, gt=0, le=60)
    # The suite operator's credential (X-Operator-Token); empty: no operator via the gateway.
    operator_token: str = Field("", repr=False)


class ShowQuery(BaseModel):
    limit: int = Field(10, ge=1, le=1000, description="How many messages to show")
    body: bool = Field(False, description="Include the bodies (they hold personal data)")


class ReplayRequest(BaseModel):
    """What to replay: ``all``, the first ``limit``, or one ``message_id`` (searched among the
    first ``limit`` if given). A tenant admin's replay only ever moves its own tenant's."""

    model_config = ConfigDict(extra="forbid", strict=True)

    all: bool = False
    message_id: str | None = Field(None, min_length=1, max_length=200)
    limit: int | None = Field(None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _one_choice(self) -> "ReplayRequest":
        if self.all and self.message_id:
            raise ValueError("choose all or message_id, not both")
        if not (self.all or self.message_id or self.limit):
            raise ValueError("say what to replay: all, limit or message_id")
        return self


class PurgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    confirm: Literal[True] = Field(description="Must be true: purged messages are gone for good")


class DeadQueue(BaseModel):
    queue: str
    messages: int
    consumers: int
    replays_to: str | None


class DeadQueueList(BaseModel):
    queues: list[DeadQueue]
    count: int
    total_messages: int


class DeadMessageView(BaseModel):
    message_id: str | None
    event_id: str | None
    event_type: str | None
    ticket_id: Any
    tenant_id: str | None
    routing_key: str | None
    error_type: str | None
    error_reason: str | None
    original_queue: str | None
    failed_at: str | None
    deaths: list[dict[str, Any]]
    replay_count: int
    delivery_count: int | None
    replays_to: str | None
    headers: dict[str, Any]
    body: Any = None

    @classmethod
    def of(cls, message: DeadMessage, with_body: bool) -> "DeadMessageView":
        data = message.to_dict(include_body=with_body)
        return cls(
            message_id=message.message_id, event_id=message.event_id,
            event_type=message.event_type, ticket_id=message.ticket_id,
            tenant_id=message.tenant_id, routing_key=message.routing_key,
            error_type=message.error_type, error_reason=message.error_reason,
            original_queue=message.original_queue, failed_at=message.failed_at,
            deaths=data["x-death"], replay_count=message.replay_count,
            delivery_count=message.delivery_count, replays_to=data["replay_to"],
            headers=message.headers, body=data.get("body"),
        )


class DeadMessageList(BaseModel):
    queue: str
    messages: list[DeadMessageView]
    count: int


class ReplayOutcome(BaseModel):
    message_id: str | None
    event_id: str | None
    status: Literal["replayed", "skipped", "failed"]
    target: str | None
    error: str | None


class ReplayResultView(BaseModel):
    queue: str
    replayed: int
    skipped: int
    failed: int
    outcomes: list[ReplayOutcome]


class PurgeResult(BaseModel):
    queue: str
    purged: int


bp = Blueprint("admin_dlq", __name__, url_prefix="/api/admin/dlq")


def init_admin(app: Flask, settings: AdminSettings | None = None) -> None:
    """Give ``app`` the DLQ endpoints (registered once; ``settings`` replace earlier ones)."""
    app.extensions[EXTENSION] = settings = settings or AdminSettings()
    operator.configure(app, settings.operator_token)
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)


def _settings() -> AdminSettings:
    return current_app.extensions[EXTENSION]


@bp.before_request
def _require_admin() -> None:
    """The operator anywhere here; a tenant admin only where ``tenant_filter`` narrows."""
    who = principal()
    if who is not None and who.allows(operator.OPERATOR_SCOPE):
        return
    if operator.operator_only(request.path):
        raise operator.operator_required()
    if who is None or not who.allows(ADMIN_SCOPE):
        raise ApiError(403, "forbidden", f"this API key lacks the {ADMIN_SCOPE!r} scope",
                       {"required_scope": ADMIN_SCOPE})


def tenant_filter() -> str | None:
    """None for the operator (every tenant's messages), else the caller's tenant."""
    who = principal()
    if who is None:
        raise operator.operator_required()
    return None if who.allows(operator.OPERATOR_SCOPE) else who.tenant_id


@bp.errorhandler(DeadLetterError)
def _dead_letter_error(exc: DeadLetterError) -> ResponseReturnValue:
    if isinstance(exc, QueueNotFound):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, QueueRefused):
        return error_response(409, "not_a_dead_letter_queue", str(exc))
    if isinstance(exc, Unavailable):
        return error_response(503, "service_unavailable", str(exc), {"service": "rabbitmq"})
    return error_response(502, "bad_gateway", str(exc))


@bp.get("")
def list_queues() -> ResponseReturnValue:
    """Every ``*.dlq`` of the DLX (with the queue prefix), then the unroutable queue."""
    settings = _settings()
    vhost = vhost_of(settings.rabbitmq_url)
    management = Management(settings.management_url, vhost, settings.management_timeout_s)
    try:
        with dlq.broker_connection(settings.rabbitmq_url, "api-gateway-admin") as connection:
            depths = dlq.list_dead_letter_queues(connection, management,
                                                 _topology(settings), settings.queue_prefix)
    finally:
        management.close()
    unroutable = _topology(settings).unroutable_queue
    queues = [DeadQueue(queue=d.name, messages=d.messages, consumers=d.consumers,
                        replays_to=None if d.name == unroutable else dlq.original_queue_of(d.name))
              for d in depths]
    return jsonify(DeadQueueList(queues=queues, count=len(queues),
                                 total_messages=sum(q.messages for q in queues)).model_dump())


@bp.get("/<queue>")
def show(queue: str) -> ResponseReturnValue:
    """The first messages of a DLQ (a tenant admin's: its own), all put back (they move
    behind the others)."""
    query = parse_query(ShowQuery)
    settings = _settings()
    dlq.check_dead_letter_queue(queue, _topology(settings))
    with dlq.broker_connection(settings.rabbitmq_url, "api-gateway-admin") as connection:
        messages = dlq.peek(connection, queue, _topology(settings), query.limit,
                            tenant_id=tenant_filter())
    views = [DeadMessageView.of(m, query.body) for m in messages]
    return jsonify(DeadMessageList(queue=queue, messages=views, count=len(views)).model_dump())


@bp.post("/<queue>/replay")
def replay(queue: str) -> ResponseReturnValue:
    """Move dead messages back to the queue they came from (confirmed before each is removed)."""
    body = parse_body(ReplayRequest)
    settings = _settings()
    dlq.check_dead_letter_queue(queue, _topology(settings))
    with dlq.broker_connection(settings.rabbitmq_url, "api-gateway-admin") as connection:
        result = dlq.replay(connection, queue, _topology(settings),
                            message_id=body.message_id, limit=body.limit,
                            tenant_id=tenant_filter())
    if body.message_id and result.replayed == 0 and result.failed == 0:
        raise ApiError(404, "not_found", f"message {body.message_id} not found in {queue}")
    view = ReplayResultView(
        queue=queue, replayed=result.replayed, skipped=result.skipped, failed=result.failed,
        outcomes=[ReplayOutcome(message_id=o.message.message_id, event_id=o.message.event_id,
                                status=o.status, target=o.target.describe() if o.target else None,
                                error=o.error) for o in result.outcomes])
    return jsonify(view.model_dump())


@bp.post("/<queue>/purge")
def purge(queue: str) -> ResponseReturnValue:
    """Delete every message of a DLQ; needs ``{"confirm": true}`` (the operator only)."""
    parse_body(PurgeRequest)
    settings = _settings()
    dlq.check_dead_letter_queue(queue, _topology(settings))
    with dlq.broker_connection(settings.rabbitmq_url, "api-gateway-admin") as connection:
        removed = dlq.purge(connection, queue, _topology(settings))
    return jsonify(PurgeResult(queue=queue, purged=removed).model_dump())


def _topology(settings: AdminSettings) -> Topology:
    return Topology.from_settings(settings)
