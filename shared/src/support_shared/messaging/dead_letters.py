"""Dead messages: what one says about itself (event, failure headers, history), how to replay it,
and the errors of dead-letter operations (used by ``messaging.dlq``, ticketctl and the gateway)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

import orjson
import pika

from ..manifest import DLQ_SUFFIX
from .topology import Topology


class DeadLetterError(Exception):
    """A dead-letter operation was refused or could not be carried out."""


class QueueNotFound(DeadLetterError):
    """The named queue does not exist on the broker."""


class QueueRefused(DeadLetterError):
    """The operation is only allowed on dead-letter queues (``*.dlq``) or the unroutable queue."""


class Unavailable(DeadLetterError):
    """RabbitMQ or its management API did not answer (or refused the login)."""


ERROR_HEADER_PREFIX = "x-error-"
ORIGINAL_QUEUE = "x-original-queue"
FAILED_AT = "x-failed-at"
DELIVERY_COUNT = "x-delivery-count"
REPLAYED_AT = "x-replayed-at"
REPLAY_COUNT = "x-replay-count"
# Dropped on replay besides x-error-*: the failure time would be stale once the message fails
# again in another way (delivery limit), and the delivery count is the broker's own.
DROPPED_ON_REPLAY = frozenset({FAILED_AT, DELIVERY_COUNT})

_COPIED_PROPERTIES = (
    "content_type", "content_encoding", "priority", "correlation_id", "reply_to", "expiration",
    "message_id", "timestamp", "type", "app_id", "cluster_id",
)


def plain(value: Any) -> Any:
    """A header value as plain JSON-friendly Python (pika gives bytes, datetimes, its own ints)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def _text(value: Any) -> str | None:
    value = plain(value)
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class Death:
    """One ``x-death`` entry: the broker dead-lettered the message ``count`` times, ``reason``."""

    reason: str | None
    count: int
    queue: str | None
    exchange: str | None = None
    routing_keys: tuple[str, ...] = ()


def deaths(headers: Mapping[str, Any] | None) -> list[Death]:
    """The ``x-death`` history, most recent first (the broker keeps it in that order)."""
    entries = (headers or {}).get("x-death")
    if not isinstance(entries, list):
        return []
    out = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        try:
            count = int(entry.get("count", 1))
        except (TypeError, ValueError):
            count = 1
        keys = tuple(str(plain(k)) for k in entry.get("routing-keys") or [])
        out.append(Death(_text(entry.get("reason")), count, _text(entry.get("queue")),
                         _text(entry.get("exchange")), keys))
    return out


@dataclass(frozen=True)
class ReplayTarget:
    """Where a replay is published: the default exchange and a queue, or a named exchange."""

    exchange: str
    routing_key: str

    def describe(self) -> str:
        if self.exchange == "":
            return self.routing_key
        return f"exchange {self.exchange} key {self.routing_key}"


def replay_target(dlq: str, headers: Mapping[str, Any] | None, routing_key: str | None,
                  topology: Topology) -> ReplayTarget | None:
    """The queue the dead message came from: ``x-original-queue``, else ``x-death[0].queue``, else
    the DLQ name minus ``.dlq``. Unroutable messages go back to the exchange with their own key.
    ``None`` when nothing names a place to go (or it would be the DLQ itself)."""
    headers = headers or {}
    if dlq == topology.unroutable_queue:
        return ReplayTarget(topology.exchange, routing_key) if routing_key else None
    history = deaths(headers)
    original = _text(headers.get(ORIGINAL_QUEUE)) or (history[0].queue if history else None)
    if original is None and dlq.endswith(DLQ_SUFFIX):
        original = dlq[: -len(DLQ_SUFFIX)]
    if not original or original == dlq:
        return None
    return ReplayTarget("", original)


def replay_count(headers: Mapping[str, Any] | None) -> int:
    try:
        return max(0, int(plain((headers or {}).get(REPLAY_COUNT)) or 0))
    except (TypeError, ValueError):
        return 0


def replay_headers(headers: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The headers a replayed message carries: the failure annotations removed, the replay noted."""
    kept = {
        k: v for k, v in (headers or {}).items()
        if not k.startswith(ERROR_HEADER_PREFIX) and k not in DROPPED_ON_REPLAY
    }
    kept[REPLAYED_AT] = now.astimezone(timezone.utc).isoformat()
    kept[REPLAY_COUNT] = replay_count(headers) + 1
    return kept


def replay_properties(props: pika.BasicProperties, now: datetime) -> pika.BasicProperties:
    """The dead message's properties for its replay (persistent; ``user_id`` is left out because
    the broker checks it against the replaying operator's login)."""
    values = {name: getattr(props, name) for name in _COPIED_PROPERTIES}
    return pika.BasicProperties(
        delivery_mode=props.delivery_mode or pika.DeliveryMode.Persistent.value,
        headers=replay_headers(props.headers, now),
        **values,
    )


def _body_fields(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class DeadMessage:
    """One message in a DLQ, as an operator needs to see it."""

    queue: str
    routing_key: str | None
    message_id: str | None
    event_id: str | None
    event_type: str | None
    ticket_id: Any
    tenant_id: str | None
    error_type: str | None
    error_reason: str | None
    original_queue: str | None
    failed_at: str | None
    deaths: tuple[Death, ...]
    replay_count: int
    delivery_count: int | None
    target: ReplayTarget | None
    headers: dict[str, Any]
    body: bytes = field(repr=False, default=b"")

    @classmethod
    def from_delivery(cls, queue: str, routing_key: str | None, props: pika.BasicProperties,
                      body: bytes, topology: Topology) -> "DeadMessage":
        headers = props.headers or {}
        data = _body_fields(body)
        delivery = plain(headers.get(DELIVERY_COUNT))
        return cls(
            queue=queue,
            routing_key=routing_key,
            message_id=props.message_id,
            event_id=_text(data.get("event_id")),
            event_type=_text(data.get("event_type")) or props.type,
            ticket_id=data.get("ticket_id"),
            tenant_id=_text(data.get("tenant_id")) or _text(headers.get("x-tenant-id")),
            error_type=_text(headers.get("x-error-type")),
            error_reason=_text(headers.get("x-error-reason")),
            original_queue=_text(headers.get(ORIGINAL_QUEUE)),
            failed_at=_text(headers.get(FAILED_AT)),
            deaths=tuple(deaths(headers)),
            replay_count=replay_count(headers),
            delivery_count=delivery if isinstance(delivery, int) else None,
            target=replay_target(queue, headers, routing_key, topology),
            headers=plain(dict(headers)),
            body=body,
        )

    def belongs_to(self, tenant_id: str | None) -> bool:
        """True when ``tenant_id`` is None (everyone's) or the dead envelope's tenant."""
        return tenant_id is None or self.tenant_id == tenant_id

    def matches(self, message_id: str) -> bool:
        """True for the AMQP message id or the envelope's event id."""
        return message_id in (self.message_id, self.event_id)

    def to_dict(self, include_body: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "queue": self.queue,
            "message_id": self.message_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "ticket_id": self.ticket_id,
            "tenant_id": self.tenant_id,
            "routing_key": self.routing_key,
            "x-error-type": self.error_type,
            "x-error-reason": self.error_reason,
            "x-original-queue": self.original_queue,
            "x-failed-at": self.failed_at,
            "x-death": [{"reason": d.reason, "count": d.count, "queue": d.queue}
                        for d in self.deaths],
            "x-replay-count": self.replay_count,
            "x-delivery-count": self.delivery_count,
            "replay_to": self.target.describe() if self.target else None,
            "headers": self.headers,
            "body_bytes": len(self.body),
        }
        if include_body:
            data = _body_fields(self.body)
            out["body"] = data if data else self.body.decode("utf-8", "replace")
        return out


def tickets_filter(tenant_id: str, ticket_ids: Iterable[int]) -> Callable[[DeadMessage], bool]:
    """Picks the dead envelopes of ``tenant_id`` about one of ``ticket_ids`` (by the envelope's
    ``ticket_id``, or a tenant event's ``data.ticket_id``)."""
    ids = {int(i) for i in ticket_ids}

    def wanted(message: DeadMessage) -> bool:
        if message.tenant_id != tenant_id:
            return False
        ticket = message.ticket_id
        if ticket is None:
            data = _body_data(message.body)
            ticket = data.get("ticket_id")
        return isinstance(ticket, int) and not isinstance(ticket, bool) and ticket in ids

    return wanted


def _body_data(body: bytes) -> dict[str, Any]:
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    data = raw.get("data") if isinstance(raw, dict) else None
    return data if isinstance(data, dict) else {}
